variable "name" {
  description = "Name of the state machine (also names its role and log group)."
  type        = string
}

variable "definition_template_path" {
  description = "Path of the ASL template (state_machines/ndjson_to_parquet.asl.json)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the log group, the table, the topic and the buckets."
  type        = string
}

variable "tracking_table_name" {
  description = "Tracking table (the state machine marks the MANIFEST item processing)."
  type        = string
}

variable "tracking_table_arn" {
  description = "ARN of the tracking table."
  type        = string
}

variable "glue_job_name" {
  description = "Glue job the state machine runs."
  type        = string
}

variable "glue_job_arn" {
  description = "ARN of the Glue job."
  type        = string
}

variable "output_path" {
  description = "s3:// URI passed as --OUTPUT_PATH."
  type        = string
}

variable "bad_records_path" {
  description = "s3:// URI passed as --BAD_RECORDS_PATH."
  type        = string
}

variable "compression_type" {
  description = "Codec passed as --COMPRESSION_TYPE."
  type        = string
}

variable "output_bucket" {
  description = "Bucket holding the job reports."
  type        = string
}

variable "output_bucket_arn" {
  description = "ARN of the output bucket."
  type        = string
}

variable "output_prefix" {
  description = "Key prefix of the table; the job writes its report to <prefix>_reports/<manifest_id>.json."
  type        = string
}

variable "status_updater_function_arn" {
  description = "Function the state machine invokes with {\"action\": \"complete\", ...}."
  type        = string
}

variable "alert_topic_arn" {
  description = "SNS topic of the failure alerts."
  type        = string
}

variable "execution_timeout_seconds" {
  description = "Timeout of a whole execution."
  type        = number
}

variable "glue_task_timeout_seconds" {
  description = "Timeout of the Glue task (the run and its polling)."
  type        = number
}

variable "glue_retry_interval_seconds" {
  description = "First wait before retrying a Glue start refused for concurrency or throttling (doubles each attempt)."
  type        = number
}

variable "glue_retry_max_attempts" {
  description = "Retries of a Glue start refused for concurrency or throttling."
  type        = number
}

variable "glue_retry_max_delay_seconds" {
  description = "Cap on the wait between Glue retries."
  type        = number
}

variable "retry_interval_seconds" {
  description = "First wait before retrying a transient DynamoDB, S3, Lambda or SNS error (doubles each attempt)."
  type        = number
}

variable "log_level" {
  description = "Execution history logged to CloudWatch: ALL, ERROR, FATAL or OFF."
  type        = string
  default     = "ERROR"
}

variable "log_retention_days" {
  description = "Retention of the state machine's log group."
  type        = number
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
