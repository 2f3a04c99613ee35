# What a deployment usually sets. Unset (null) means the module's default (terraform/variables.tf, where every other
# setting is described): add a variable here and a line in main.tf for any other one you change.

variable "aws_region" {
  description = "Region to deploy to (the provider's and the module's)."
  type        = string
  default     = "us-east-1"
}

variable "tags" {
  description = "Tags added to every resource (the provider's default_tags), e.g. { team = \"data\", env = \"prod\" }."
  type        = map(string)
  default     = {}
}

variable "name_prefix" {
  description = "Prefix of every resource name (3-24 lowercase letters, digits and hyphens); one per stack in an account."
  type        = string
  default     = null
}

variable "lambda_zip_path" {
  description = "Path of the Lambda package built by `pipeline build-lambda --out dist/lambda.zip` (relative to this folder, or absolute)."
  type        = string
}

variable "glue_script_path" {
  description = "Path of the Glue job's entry script built by `pipeline build-glue --out dist/glue` (relative to this folder, or absolute)."
  type        = string
}

variable "glue_package_path" {
  description = "Path of the Glue job's package zip built by `pipeline build-glue --out dist/glue` (relative to this folder, or absolute)."
  type        = string
}

variable "alert_email" {
  description = "Email address subscribed to the alert topic (null: none)."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "Your own customer managed KMS key (ARN); null: the module creates one with rotation."
  type        = string
  default     = null
}

variable "access_logs_bucket" {
  description = "Existing bucket receiving the S3 server access logs of the four buckets (null: none)."
  type        = string
  default     = null
}

variable "table_name" {
  description = "Name of the output table (lake/<table_name>/ in the output bucket)."
  type        = string
  default     = null
}

variable "input_prefix" {
  description = "Only keys under this prefix of the input bucket are ingested (null: the whole bucket)."
  type        = string
  default     = null
}

variable "max_bad_record_ratio" {
  description = "A batch fails without publishing when more than this share of its lines is bad (--MAX_BAD_RECORD_RATIO)."
  type        = number
  default     = null
}

variable "compression_type" {
  description = "Parquet codec of the output (one of glue_jobs/codecs.json's supported codecs)."
  type        = string
  default     = null
}

variable "max_files_per_manifest" {
  description = "A batch closes at this many files."
  type        = number
  default     = null
}

variable "max_bytes_per_manifest" {
  description = "A batch closes at this many bytes (bigger batches: fewer Glue runs, docs/deploy.md on cost)."
  type        = number
  default     = null
}

variable "glue_worker_type" {
  description = "Glue worker type: G.1X, G.2X, G.4X or G.8X."
  type        = string
  default     = null
}

variable "glue_execution_class" {
  description = "Glue execution class: STANDARD (default) or FLEX (cheaper, G.1X or G.2X, no guaranteed start time)."
  type        = string
  default     = null
}

variable "glue_number_of_workers" {
  description = "Workers per Glue run (at least 2)."
  type        = number
  default     = null
}

variable "glue_max_concurrent_runs" {
  description = "Concurrent runs of the Glue job (within the account's Glue quota)."
  type        = number
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the Lambda, Step Functions and Glue log groups (a value CloudWatch Logs accepts)."
  type        = number
  default     = null
}

variable "table_format" {
  description = "Table format of the output: iceberg (the default) or parquet (Hive-style dt=D/ folders)."
  type        = string
  default     = null
}

variable "maintenance_schedule_expression" {
  description = "Schedule of the Iceberg table maintenance runs, e.g. rate(1 day); \"\" disables it."
  type        = string
  default     = null
}

variable "snapshot_retention_hours" {
  description = "Maintenance expires Iceberg snapshots older than this many hours."
  type        = number
  default     = null
}

variable "orphan_age_hours" {
  description = "Maintenance removes unreferenced files older than this many hours."
  type        = number
  default     = null
}

variable "glue_wheel_bundle_dir" {
  description = "No PyPI egress for Glue: a local folder of the job's wheels (docs/deploy.md); null installs the pinned modules from PyPI."
  type        = string
  default     = null
}

variable "lambda_concurrent_executions_quota" {
  description = "The account's Lambda concurrent executions quota in the region (aws lambda get-account-settings); the functions' reservations must leave 100 unreserved."
  type        = number
  default     = null
}

variable "freshness_objective_minutes" {
  description = "Freshness objective in minutes (the freshness alarm); the module's default is 15."
  type        = number
  default     = null
}
