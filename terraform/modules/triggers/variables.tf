variable "name_prefix" {
  description = "Prefix of the schedule rule name."
  type        = string
}

variable "function_name" {
  description = "Name of the manifest builder function."
  type        = string
}

variable "function_arn" {
  description = "ARN of the manifest builder function."
  type        = string
}

variable "queue_arn" {
  description = "ARN of the ingest queue."
  type        = string
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
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
