variable "name" {
  description = "Name of the state machine (also names its role and log group)."
  type        = string


  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}$", var.name))
    error_message = "name must be a state machine name (1-80 letters, digits, hyphens and underscores)."
  }
}

variable "definition_template_path" {
  description = "Path of the ASL template (state_machines/ndjson_to_parquet.asl.json)."
  type        = string


  validation {
    condition     = fileexists(var.definition_template_path)
    error_message = "definition_template_path does not point to a file."
  }
}

variable "kms_key_arn" {
  description = "KMS key of the log group, the table, the topic and the buckets."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias."
  }
}

variable "tracking_table_name" {
  description = "Tracking table (the state machine marks the MANIFEST item processing)."
  type        = string


  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.tracking_table_name))
    error_message = "tracking_table_name must be a DynamoDB table name (3-255 letters, digits, underscores, hyphens and dots)."
  }
}

variable "tracking_table_arn" {
  description = "ARN of the tracking table."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}$", var.tracking_table_arn))
    error_message = "tracking_table_arn must be a DynamoDB table ARN (arn:aws:dynamodb:<region>:<account>:table/<name>)."
  }
}

variable "glue_job_name" {
  description = "Glue job the state machine runs."
  type        = string


  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,255}$", var.glue_job_name))
    error_message = "glue_job_name must be a Glue job name (1-255 letters, digits, underscores, hyphens and dots)."
  }
}

variable "glue_job_arn" {
  description = "ARN of the Glue job."
  type        = string


  validation {
    # The provider builds this ARN from the account it looked up: none on an emulator (skip_requesting_account_id).
    condition     = can(regex("^arn:aws[a-z-]*:glue:[a-z0-9-]+:([0-9]{12})?:job/[A-Za-z0-9_.-]{1,255}$", var.glue_job_arn))
    error_message = "glue_job_arn must be a Glue job ARN (arn:aws:glue:<region>:<account>:job/<name>)."
  }
}

variable "output_path" {
  description = "s3:// URI passed as --OUTPUT_PATH."
  type        = string


  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/([A-Za-z0-9!_.*'()=-]+/)+$", var.output_path))
    error_message = "output_path must be an s3:// URI of a prefix ending with /, e.g. s3://bucket/lake/events/."
  }
}

variable "bad_records_path" {
  description = "s3:// URI passed as --BAD_RECORDS_PATH."
  type        = string


  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/([A-Za-z0-9!_.*'()=-]+/)+$", var.bad_records_path))
    error_message = "bad_records_path must be an s3:// URI of a prefix ending with /, e.g. s3://bucket/lake/events/."
  }
}

variable "compression_type" {
  description = "Codec passed as --COMPRESSION_TYPE."
  type        = string


  validation {
    condition     = can(regex("^[a-z0-9]+$", var.compression_type))
    error_message = "compression_type must be a codec name such as zstd or snappy (the root module checks it against glue_jobs/codecs.json)."
  }
}

variable "output_bucket" {
  description = "Bucket holding the job reports."
  type        = string


  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.output_bucket))
    error_message = "output_bucket must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)."
  }
}

variable "output_bucket_arn" {
  description = "ARN of the output bucket."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.output_bucket_arn))
    error_message = "output_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::<bucket>)."
  }
}

variable "output_prefix" {
  description = "Key prefix of the table; the job writes its report to <prefix>_reports/<manifest_id>.json."
  type        = string


  validation {
    condition     = can(regex("^([A-Za-z0-9!_.*'()=-]+/)+$", var.output_prefix))
    error_message = "output_prefix must be an S3 key prefix ending with /, e.g. lake/events/."
  }
}

variable "status_updater_function_arn" {
  description = "Function the state machine invokes with {\"action\": \"complete\", ...}."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?$", var.status_updater_function_arn))
    error_message = "status_updater_function_arn must be a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)."
  }
}

variable "alert_topic_arn" {
  description = "SNS topic of the failure alerts."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alert_topic_arn))
    error_message = "alert_topic_arn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)."
  }
}

variable "execution_timeout_seconds" {
  description = "Timeout of a whole execution."
  type        = number


  validation {
    condition     = var.execution_timeout_seconds >= 1 && var.execution_timeout_seconds <= 31536000 && floor(var.execution_timeout_seconds) == var.execution_timeout_seconds
    error_message = "execution_timeout_seconds must be a whole number between 1 and 31536000 (one year, the Standard workflow maximum)."
  }
}

variable "glue_task_timeout_seconds" {
  description = "Timeout of the Glue task (the run and its polling)."
  type        = number


  validation {
    condition     = var.glue_task_timeout_seconds >= 1 && var.glue_task_timeout_seconds <= 99999999 && floor(var.glue_task_timeout_seconds) == var.glue_task_timeout_seconds
    error_message = "glue_task_timeout_seconds must be a whole number between 1 and 99999999."
  }
}

variable "glue_retry_interval_seconds" {
  description = "First wait before retrying a Glue start refused for concurrency or throttling (doubles each attempt)."
  type        = number


  validation {
    condition     = var.glue_retry_interval_seconds >= 1 && var.glue_retry_interval_seconds <= 99999999 && floor(var.glue_retry_interval_seconds) == var.glue_retry_interval_seconds
    error_message = "glue_retry_interval_seconds must be a whole number between 1 and 99999999."
  }
}

variable "glue_retry_max_attempts" {
  description = "Retries of a Glue start refused for concurrency or throttling."
  type        = number


  validation {
    condition     = var.glue_retry_max_attempts >= 0 && var.glue_retry_max_attempts <= 99999999 && floor(var.glue_retry_max_attempts) == var.glue_retry_max_attempts
    error_message = "glue_retry_max_attempts must be a whole number between 0 and 99999999."
  }
}

variable "glue_retry_max_delay_seconds" {
  description = "Cap on the wait between Glue retries."
  type        = number


  validation {
    condition     = var.glue_retry_max_delay_seconds >= var.glue_retry_interval_seconds && var.glue_retry_max_delay_seconds <= 31622400
    error_message = "glue_retry_max_delay_seconds must be at least glue_retry_interval_seconds and at most 31622400."
  }
}

variable "retry_interval_seconds" {
  description = "First wait before retrying a transient DynamoDB, S3, Lambda or SNS error (doubles each attempt)."
  type        = number


  validation {
    condition     = var.retry_interval_seconds >= 1 && var.retry_interval_seconds <= 99999999 && floor(var.retry_interval_seconds) == var.retry_interval_seconds
    error_message = "retry_interval_seconds must be a whole number between 1 and 99999999."
  }
}

variable "log_level" {
  description = "Execution history logged to CloudWatch: ALL, ERROR, FATAL or OFF."
  type        = string
  default     = "ERROR"


  validation {
    condition     = contains(["ALL", "ERROR", "FATAL", "OFF"], var.log_level)
    error_message = "log_level must be one of ALL, ERROR, FATAL or OFF."
  }
}

variable "log_retention_days" {
  description = "Retention of the state machine's log group."
  type        = number


  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, ... 3653)."
  }
}

variable "tags" {
  description = "Tags of the module's resources (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}


  validation {
    condition     = alltrue([for k, value in var.tags : length(k) >= 1 && length(k) <= 128 && length(value) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "tags keys must be 1-128 characters and not start with aws:, values at most 256 characters."
  }
}
