variable "name_prefix" {
  description = "Prefix of the alarm names."
  type        = string


  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "alarm_topic_arn" {
  description = "SNS topic notified when an alarm fires and when it recovers."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)."
  }
}

variable "lambda_function_names" {
  description = "Functions watched for errors, throttles and duration, keyed by a short label."
  type        = map(string)


  validation {
    condition     = length(var.lambda_function_names) > 0 && alltrue([for name in values(var.lambda_function_names) : can(regex("^[A-Za-z0-9_-]{1,64}$", name))])
    error_message = "lambda_function_names must map labels to Lambda function names (at least one)."
  }
}

variable "lambda_duration_threshold_ms" {
  description = "Alarm when a function's maximum duration exceeds this (set it near the timeout), keyed like lambda_function_names."
  type        = map(number)


  validation {
    condition     = alltrue([for ms in values(var.lambda_duration_threshold_ms) : ms > 0 && ms <= 900000])
    error_message = "lambda_duration_threshold_ms values must be above 0 and at most 900000 (the Lambda maximum timeout)."
  }
}

variable "ingest_queue_name" {
  description = "Ingest queue (age of the oldest message)."
  type        = string


  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}$", var.ingest_queue_name))
    error_message = "ingest_queue_name must be an SQS queue name (1-80 letters, digits, hyphens and underscores)."
  }
}

variable "oldest_message_age_threshold_seconds" {
  description = "Alarm when the oldest ingest message is older than this."
  type        = number
  default     = 900


  validation {
    condition     = var.oldest_message_age_threshold_seconds >= 60 && var.oldest_message_age_threshold_seconds <= 1209600 && floor(var.oldest_message_age_threshold_seconds) == var.oldest_message_age_threshold_seconds
    error_message = "oldest_message_age_threshold_seconds must be a whole number between 60 and 1209600 (14 days)."
  }
}

variable "dead_letter_queue_names" {
  description = "Dead-letter queues that must stay empty, keyed by a short label."
  type        = map(string)


  validation {
    condition     = alltrue([for name in values(var.dead_letter_queue_names) : can(regex("^[A-Za-z0-9_-]{1,80}$", name))])
    error_message = "dead_letter_queue_names values must be SQS queue names."
  }
}

variable "state_machine_arn" {
  description = "State machine watched for failed and timed-out executions."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}$", var.state_machine_arn))
    error_message = "state_machine_arn must be a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)."
  }
}

variable "state_machine_log_group_name" {
  description = "Log group of the state machine's executions (Glue task failures are counted from it)."
  type        = string


  validation {
    condition     = can(regex("^[A-Za-z0-9_/.#-]{1,512}$", var.state_machine_log_group_name))
    error_message = "state_machine_log_group_name must be a CloudWatch Logs log group name."
  }
}

variable "glue_job_name" {
  description = "Glue job watched for failed runs."
  type        = string


  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,255}$", var.glue_job_name))
    error_message = "glue_job_name must be a Glue job name (1-255 letters, digits, underscores, hyphens and dots)."
  }
}

variable "tracking_table_name" {
  description = "DynamoDB table watched for throttled requests."
  type        = string


  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.tracking_table_name))
    error_message = "tracking_table_name must be a DynamoDB table name (3-255 letters, digits, underscores, hyphens and dots)."
  }
}

variable "period_seconds" {
  description = "Period of every alarm's metric."
  type        = number
  default     = 300


  validation {
    condition     = contains([10, 30], var.period_seconds) || (var.period_seconds >= 60 && var.period_seconds % 60 == 0)
    error_message = "period_seconds must be 10, 30 or a multiple of 60 (what CloudWatch alarms accept)."
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

variable "glue_retried_errors" {
  description = "Errors on which the state machine retries the Glue start (the ErrorEquals of its RunGlueJob Retry): logged once per attempt, not counted as failures."
  type        = list(string)
  default     = ["Glue.ConcurrentRunsExceededException", "Glue.ThrottlingException", "Glue.InternalServiceException", "Glue.OperationTimeoutException"]

  validation {
    condition     = length(var.glue_retried_errors) > 0 && alltrue([for e in var.glue_retried_errors : can(regex("^[A-Za-z0-9.]+$", e))])
    error_message = "glue_retried_errors must be a non-empty list of error names such as Glue.ConcurrentRunsExceededException."
  }
}

variable "freshness_objective_seconds" {
  description = "Freshness objective: the oldest landed file not yet queryable (pending, or in a batch not completed) is younger than this (OldestPendingAgeSeconds)."
  type        = number
  nullable    = false

  validation {
    condition     = var.freshness_objective_seconds >= 60
    error_message = "freshness_objective_seconds must be at least 60."
  }
}

variable "bad_record_ratio_threshold" {
  description = "The bad-record ratio alarm fires when more than this share of an hour's records was quarantined."
  type        = number
  default     = 0.01
  nullable    = false

  validation {
    condition     = var.bad_record_ratio_threshold > 0 && var.bad_record_ratio_threshold < 1
    error_message = "bad_record_ratio_threshold must be between 0 and 1 (exclusive)."
  }
}

variable "region" {
  description = "Region of the dashboard's widgets."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "glue_dpus" {
  description = "DPUs of one Glue run (workers x DPUs per worker): the dashboard's DPU-seconds are run seconds times this."
  type        = number

  validation {
    condition     = var.glue_dpus >= 1
    error_message = "glue_dpus must be at least 1."
  }
}
