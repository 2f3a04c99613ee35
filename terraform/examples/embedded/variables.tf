# The emulator's own settings, then every variable of the root module passed straight through: unset (null) means
# the module's default (terraform/variables.tf, `nullable = false`), so the embedded mode and the tests can set any
# of them by name (pipeline/build/terraform.py writes them into a tfvars file). tests/infra/test_terraform_static.py
# checks that none is missing.

variable "aws_endpoint_url" {
  description = "Endpoint of the local AWS emulator (the embedded mode's moto server), e.g. http://127.0.0.1:5000."
  type        = string

  validation {
    condition     = can(regex("^https?://[^/]+/?$", var.aws_endpoint_url))
    error_message = "aws_endpoint_url must be an http(s) URL with no path, e.g. http://127.0.0.1:5000."
  }
}

variable "tags" {
  description = "Tags added to every resource (the provider's default_tags)."
  type        = map(string)
  default     = {}
}

# ------------------------------------------------------------------------------ the module's variables

variable "name_prefix" {
  description = "Prefix of every resource name (lowercase letters, digits and hyphens; bucket names add the role, account id and region)."
  type        = string
  default     = null
}

variable "aws_region" {
  description = "Region of the stack (it names ARNs in policies and the state machine): the region of the aws provider the caller configures."
  type        = string
  default     = "us-east-1"
}

variable "kms_key_arn" {
  description = "Bring your own customer managed KMS key (ARN) instead of the one this stack creates with rotation. Its key policy needs the statements of terraform/modules/kms (output kms_key_policy_service_statements)."
  type        = string
  default     = null
}

variable "enforce_tls_bucket_policies" {
  description = "Deny requests made without TLS in every bucket policy. Keep true on AWS. Only an emulator reached over plain HTTP that cannot evaluate policy conditions needs false (moto applies a conditional Deny to every request)."
  type        = bool
  default     = null
}

variable "access_logs_bucket" {
  description = "Existing bucket (in the same account and region) that receives S3 server access logs of the four buckets; null: none."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let terraform destroy delete non-empty buckets. Only for throw-away stacks."
  type        = bool
  default     = null
}

variable "deletion_protection" {
  description = "Protect the tracking table against deletion."
  type        = bool
  default     = null
}

variable "point_in_time_recovery" {
  description = "Point-in-time recovery of the tracking table."
  type        = bool
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the Lambda, Step Functions and Glue log groups."
  type        = number
  default     = null
}

variable "table_name" {
  description = "Name of the output table: Parquet goes to s3://<output bucket>/lake/<table_name>/, bad records to s3://<output bucket>/quarantine/<table_name>/."
  type        = string
  default     = null
}

variable "manifest_prefix" {
  description = "Key prefix of the manifests in the manifest bucket (ends with /)."
  type        = string
  default     = null
}

variable "input_prefix" {
  description = "Only keys under this prefix of the input bucket are ingested (empty: the whole bucket)."
  type        = string
  default     = null
}

variable "accepted_suffixes" {
  description = "Object key suffixes ingested from the input bucket (each one S3 notification filter and the Lambda's ACCEPTED_SUFFIXES)."
  type        = list(string)
  default     = null
}

variable "manifest_expiration_days" {
  description = "Days before manifest objects expire."
  type        = number
  default     = null
}

variable "quarantine_expiration_days" {
  description = "Days before quarantined bad records expire."
  type        = number
  default     = null
}

variable "sqs_batch_size" {
  description = "SQS messages per manifest builder invocation."
  type        = number
  default     = null
}

variable "sqs_maximum_batching_window_seconds" {
  description = "Seconds the event source mapping gathers messages before invoking the manifest builder."
  type        = number
  default     = null
}

variable "sqs_max_receive_count" {
  description = "Receives of an ingest message before it moves to the dead-letter queue."
  type        = number
  default     = null
}

variable "ingest_message_retention_seconds" {
  description = "Retention of the ingest queue (the dead-letter queue always keeps 14 days)."
  type        = number
  default     = null
}

variable "lambda_zip_path" {
  description = "Path of the Lambda package built by `pipeline build-lambda` (default output: dist/lambda.zip)."
  type        = string
}

variable "glue_script_path" {
  description = "Path of the Glue job's entry script built by `pipeline build-glue` (default output: dist/glue/run_ndjson_to_parquet.py)."
  type        = string
}

variable "glue_package_path" {
  description = "Path of the Glue job's package zip built by `pipeline build-glue` (default output: dist/glue/ndjson_to_parquet.zip)."
  type        = string
}

variable "lambda_runtime" {
  description = "Lambda runtime of the functions (the package is built for Python 3.11)."
  type        = string
  default     = null
}

variable "lambda_architecture" {
  description = "Lambda instruction set: arm64 (about 20% cheaper) or x86_64."
  type        = string
  default     = null
}

variable "lambda_memory_mb" {
  description = "Memory of the manifest builder (and status updater) in MB."
  type        = number
  default     = null
}

variable "lambda_timeout_seconds" {
  description = "Timeout of the manifest builder; the ingest queue's visibility timeout is six times this."
  type        = number
  default     = null
}

variable "manifest_builder_reserved_concurrency" {
  description = "Reserved concurrency of the manifest builder (also the event source mapping's maximum concurrency)."
  type        = number
  default     = null
}

variable "separate_status_updater" {
  description = "Deploy the state machine's status update as its own function (lambda/batch_status_updater.py) with its own, smaller role. When false the manifest builder handles it."
  type        = bool
  default     = null
}

variable "status_updater_reserved_concurrency" {
  description = "Reserved concurrency of the status updater function."
  type        = number
  default     = null
}

variable "lambda_concurrent_executions_quota" {
  description = "The account's Lambda concurrent executions quota (the reservations must leave 100 unreserved)."
  type        = number
  default     = null
}

variable "log_level" {
  description = "LOG_LEVEL of the functions."
  type        = string
  default     = null
}

variable "max_files_per_manifest" {
  description = "A batch closes at this many files (MAX_FILES_PER_MANIFEST)."
  type        = number
  default     = null
}

variable "max_bytes_per_manifest" {
  description = "A batch closes at this many bytes (MAX_BYTES_PER_MANIFEST). Bigger batches mean fewer Glue runs: see docs/deploy.md on cost."
  type        = number
  default     = null
}

variable "max_batch_wait_seconds" {
  description = "The scheduled flush starts partial batches whose oldest file waited this long (MAX_BATCH_WAIT_SECONDS)."
  type        = number
  default     = null
}

variable "ttl_days" {
  description = "Days before tracking items expire (TTL_DAYS); keep it above the queue retention."
  type        = number
  default     = null
}

variable "pending_shards" {
  description = "Shards of the pending-files index (PENDING_SHARDS); raise it above ~2,000 new files per second, only ever increase it."
  type        = number
  default     = null
}

variable "repair_grace_seconds" {
  description = "A claim older than this without a MANIFEST item is repaired by the flush (REPAIR_GRACE_SECONDS); must exceed the Lambda timeout."
  type        = number
  default     = null
}

variable "max_manifests_per_invocation" {
  description = "Cap on the batches one invocation starts (MAX_MANIFESTS_PER_INVOCATION)."
  type        = number
  default     = null
}

variable "flush_schedule_expression" {
  description = "EventBridge schedule of the flush, e.g. rate(5 minutes) or cron(0/5 * * * ? *)."
  type        = string
  default     = null
}

variable "max_bad_record_ratio" {
  description = "A batch fails without publishing when more than this share of its lines is bad (--MAX_BAD_RECORD_RATIO)."
  type        = number
  default     = null
}

variable "compression_type" {
  description = "Parquet codec of the output (--COMPRESSION_TYPE); one of the job's supported codecs in glue_jobs/codecs.json."
  type        = string
  default     = null
}

variable "compression_level" {
  description = "Level of compression_type (--COMPRESSION_LEVEL; ranges in glue_jobs/codecs.json \"levels\"); null: the job's default."
  type        = number
  default     = null
}

variable "allow_codec_athena_cannot_read" {
  description = "Accept a codec Athena cannot read (brotli): the embedded run queries the table with DuckDB, which reads every codec."
  type        = bool
  default     = true
}

variable "glue_version" {
  description = "Glue version of the job: 5.0 (Spark 3.5.4, Python 3.11, Java 17) or 5.1."
  type        = string
  default     = null
}

variable "glue_worker_type" {
  description = "Glue worker type (G.1X: 4 vCPU, 16 GB, 1 DPU)."
  type        = string
  default     = null
}

variable "glue_execution_class" {
  description = "Glue execution class: STANDARD (default) or FLEX (cheaper, G.1X or G.2X, no guaranteed start time)."
  type        = string
  default     = null
}

variable "glue_number_of_workers" {
  description = "Workers per Glue run (minimum 2). Cost: workers x DPU per worker x minutes."
  type        = number
  default     = null
}

variable "glue_timeout_minutes" {
  description = "Timeout of one Glue run."
  type        = number
  default     = null
}

variable "glue_additional_python_modules" {
  description = "Passed to the job as --additional-python-modules (default: the exact pins of pyarrow, orjson and pyiceberg[glue] the tests run)."
  type        = string
  default     = null
}

variable "glue_wheel_bundle_dir" {
  description = "Local folder of .whl files installed by the job with pip --no-index instead of glue_additional_python_modules (accounts without PyPI egress)."
  type        = string
  default     = null
}

variable "glue_max_concurrent_runs" {
  description = "Concurrent runs of the Glue job; beyond it the state machine retries the start with backoff. The default covers the busiest hour of ~340,000 files a day at the default batching (peak ~6 runs, docs/scaling.md); raise it with the volume, within the account's Glue quota on concurrent job runs."
  type        = number
  default     = null
}

variable "glue_retry_interval_seconds" {
  description = "First wait before the state machine retries a Glue start refused for concurrency, throttling or an internal error (doubles each attempt)."
  type        = number
  default     = null
}

variable "glue_retry_max_attempts" {
  description = "Retries of a refused Glue start."
  type        = number
  default     = null
}

variable "glue_retry_max_delay_seconds" {
  description = "Cap on the wait between Glue retries."
  type        = number
  default     = null
}

variable "retry_interval_seconds" {
  description = "First wait before the state machine retries a transient DynamoDB, S3, Lambda or SNS error (doubles each attempt)."
  type        = number
  default     = null
}

variable "state_machine_log_level" {
  description = "Execution history logged to CloudWatch: ALL, ERROR or FATAL (ERROR is needed for the Glue failure alarm)."
  type        = string
  default     = null
}

variable "alert_email" {
  description = "Email address subscribed to the alert topic (null: none; subscribe your own endpoints to the topic output)."
  type        = string
  default     = null
}

variable "oldest_message_age_alarm_seconds" {
  description = "Alarm when the oldest ingest message is older than this."
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

variable "freshness_objective_minutes" {
  description = "Freshness objective in minutes (the freshness alarm); the module's default is 15."
  type        = number
  default     = null
}

variable "bad_record_ratio_alarm_threshold" {
  description = "Share of an hour's records quarantined above which the bad-record ratio alarm fires."
  type        = number
  default     = null
}
