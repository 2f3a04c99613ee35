variable "name_prefix" {
  description = "Prefix of the schedule rule name."
  type        = string


  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "function_name" {
  description = "Name of the manifest builder function."
  type        = string


  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be a Lambda function name (1-64 letters, digits, hyphens and underscores)."
  }
}

variable "function_arn" {
  description = "ARN of the manifest builder function."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?$", var.function_arn))
    error_message = "function_arn must be a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)."
  }
}

variable "queue_arn" {
  description = "ARN of the ingest queue."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}$", var.queue_arn))
    error_message = "queue_arn must be an SQS queue ARN (arn:aws:sqs:<region>:<account>:<queue>)."
  }
}

variable "batch_size" {
  description = "SQS messages per invocation."
  type        = number
  default     = 10

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be between 1 and 10000."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "How long the event source mapping gathers messages before invoking (0-300 s); required above 10 messages per batch."
  type        = number
  default     = 5

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300
    error_message = "maximum_batching_window_in_seconds must be between 0 and 300."
  }
}

variable "maximum_concurrency" {
  description = "Concurrent invocations the event source mapping may use (2-1000); keep it at or below the function's reserved concurrency."
  type        = number

  validation {
    condition     = var.maximum_concurrency >= 2 && var.maximum_concurrency <= 1000
    error_message = "maximum_concurrency must be between 2 and 1000 (an AWS limit of SQS event source mappings)."
  }
}

variable "flush_schedule_expression" {
  description = "EventBridge schedule of the flush, e.g. rate(5 minutes)."
  type        = string


  validation {
    condition     = can(regex("^(rate\\(1 (minute|hour|day)\\)|rate\\([1-9][0-9]* (minutes|hours|days)\\)|cron\\(.+\\))$", var.flush_schedule_expression))
    error_message = "flush_schedule_expression must be rate(N unit) (singular unit for 1) or cron(...)."
  }
}

variable "maintenance_schedule_expression" {
  description = "EventBridge Scheduler schedule of the table maintenance runs, e.g. rate(1 day); \"\" for none."
  type        = string
  default     = ""

  validation {
    condition     = var.maintenance_schedule_expression == "" || can(regex("^(rate\\(1 (minute|hour|day)\\)|rate\\([1-9][0-9]* (minutes|hours|days)\\)|cron\\(.+\\))$", var.maintenance_schedule_expression))
    error_message = "maintenance_schedule_expression must be rate(N unit) (singular unit for 1), cron(...) or \"\"."
  }
}

variable "maintenance_job_name" {
  description = "Name of the Glue job the maintenance schedule starts."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{0,255}$", var.maintenance_job_name))
    error_message = "maintenance_job_name must be a Glue job name (letters, digits, hyphens and underscores)."
  }
}

variable "maintenance_job_arn" {
  description = "ARN of that Glue job (the only resource the schedule's role may start)."
  type        = string
  default     = ""

  validation {
    condition     = var.maintenance_job_arn == "" || can(regex("^arn:aws[a-z-]*:glue:[a-z0-9-]+:[0-9]{12}:job/[A-Za-z0-9_.-]{1,255}$", var.maintenance_job_arn))
    error_message = "maintenance_job_arn must be a Glue job ARN (arn:aws:glue:<region>:<account>:job/<name>)."
  }
}

variable "maintenance_arguments" {
  description = "Job arguments of a maintenance run besides --MODE maintain, e.g. --SNAPSHOT_RETENTION_HOURS."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.maintenance_arguments) : can(regex("^--[A-Z0-9_]+$", k))])
    error_message = "maintenance_arguments keys must be job arguments such as --ORPHAN_AGE_HOURS."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the maintenance schedule's target input."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias."
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
