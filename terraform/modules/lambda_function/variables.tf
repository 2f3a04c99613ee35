variable "function_name" {
  description = "Name of the function (also names its role and log group)."
  type        = string
}

variable "description" {
  description = "Description of the function."
  type        = string
  default     = ""
}

variable "zip_path" {
  description = "Path of the deployment package built by `pipeline build-lambda`."
  type        = string
}

variable "handler" {
  description = "Handler, module.function inside the zip."
  type        = string
}

variable "runtime" {
  description = "Lambda runtime."
  type        = string
  default     = "python3.11"
}

variable "architecture" {
  description = "Instruction set: arm64 (cheaper per GB-second) or x86_64. The package is pure Python, so both work."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Memory in MB."
  type        = number
  default     = 512
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
  default     = 120
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions (caps the load on DynamoDB and Step Functions)."
  type        = number
}

variable "environment" {
  description = "Environment variables."
  type        = map(string)
  default     = {}
}

variable "policy_json" {
  description = "IAM policy of the function's own role (logs, X-Ray, KMS and the dead-letter topic are added here)."
  type        = string
}

variable "async_failure_topic_arn" {
  description = "SNS topic that receives failed asynchronous invocations (the function's dead-letter target)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for environment variables, the log group and the dead-letter topic."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
}

variable "maximum_retry_attempts" {
  description = "Retries of failed asynchronous invocations (e.g. the scheduled flush) before they go to the dead-letter topic."
  type        = number
  default     = 2
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
