variable "name_prefix" {
  description = "Prefix of the alarm names."
  type        = string
}

variable "alarm_topic_arn" {
  description = "SNS topic notified when an alarm fires and when it recovers."
  type        = string
}

variable "lambda_function_names" {
  description = "Functions watched for errors, throttles and duration, keyed by a short label."
  type        = map(string)
}

variable "lambda_duration_threshold_ms" {
  description = "Alarm when a function's maximum duration exceeds this (set it near the timeout), keyed like lambda_function_names."
  type        = map(number)
}

variable "ingest_queue_name" {
  description = "Ingest queue (age of the oldest message)."
  type        = string
}

variable "oldest_message_age_threshold_seconds" {
  description = "Alarm when the oldest ingest message is older than this."
  type        = number
  default     = 900
}

variable "dead_letter_queue_names" {
  description = "Dead-letter queues that must stay empty, keyed by a short label."
  type        = map(string)
}

variable "state_machine_arn" {
  description = "State machine watched for failed and timed-out executions."
  type        = string
}

variable "state_machine_log_group_name" {
  description = "Log group of the state machine's executions (Glue task failures are counted from it)."
  type        = string
}

variable "glue_job_name" {
  description = "Glue job watched for failed runs."
  type        = string
}

variable "tracking_table_name" {
  description = "DynamoDB table watched for throttled requests."
  type        = string
}

variable "period_seconds" {
  description = "Period of every alarm's metric."
  type        = number
  default     = 300
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
