variable "name_prefix" {
  description = "Prefix of the job, role, security configuration and database names."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the security configuration (S3, CloudWatch logs, job bookmarks) and of the buckets."
  type        = string
}

variable "script_path" {
  description = "Local path of the job's entry script (built by `pipeline build-glue`: dist/glue/run_ndjson_to_parquet.py), uploaded as the ScriptLocation."
  type        = string
}

variable "package_path" {
  description = "Local path of the job package zip (built by `pipeline build-glue`: dist/glue/ndjson_to_parquet.zip), uploaded and passed with --extra-py-files."
  type        = string
}

variable "artifacts_bucket" {
  description = "Bucket that holds the job script and its package."
  type        = string
}

variable "artifacts_bucket_arn" {
  description = "ARN of the artifacts bucket."
  type        = string
}

variable "input_bucket_arn" {
  description = "ARN of the input bucket (the job reads the NDJSON files)."
  type        = string
}

variable "manifest_bucket_arn" {
  description = "ARN of the manifest bucket (the job reads its manifest)."
  type        = string
}

variable "manifest_prefix" {
  description = "Key prefix of the manifests."
  type        = string
}

variable "output_bucket" {
  description = "Bucket of the Parquet output and the quarantine."
  type        = string
}

variable "output_bucket_arn" {
  description = "ARN of the output bucket."
  type        = string
}

variable "output_prefix" {
  description = "Key prefix of the Parquet table in the output bucket (ends with /)."
  type        = string
}

variable "quarantine_prefix" {
  description = "Key prefix of quarantined records in the output bucket (ends with /)."
  type        = string
}

variable "compression_type" {
  description = "Parquet codec, validated by the root module against glue_jobs/codecs.json."
  type        = string
}

variable "glue_version" {
  description = "Glue version (5.0: Spark 3.5, Python 3.11, Java 17)."
  type        = string
  default     = "5.0"
}

variable "worker_type" {
  description = "Glue worker type."
  type        = string
  default     = "G.1X"
}

variable "number_of_workers" {
  description = "Workers per run (2 is the minimum for G.1X)."
  type        = number
  default     = 2
}

variable "timeout_minutes" {
  description = "Job run timeout in minutes."
  type        = number
  default     = 60
}

variable "additional_python_modules" {
  description = "Value of --additional-python-modules (pip requirements, comma-separated); empty to omit the argument."
  type        = string
  default     = ""
}

variable "max_concurrent_runs" {
  description = "Concurrent runs of the job; a start beyond it fails with ConcurrentRunsExceededException, which the state machine retries."
  type        = number
  default     = 5
}

variable "extra_default_arguments" {
  description = "Extra default arguments of the job (merged over the built-in ones)."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
