variable "function_name" {
  description = "Name of the function (also names its role and log group)."
  type        = string


  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be a Lambda function name (1-64 letters, digits, hyphens and underscores)."
  }
}

variable "description" {
  description = "Description of the function."
  type        = string
  default     = ""


  validation {
    condition     = length(var.description) <= 256
    error_message = "description must be at most 256 characters."
  }
}

variable "zip_path" {
  description = "Path of the deployment package built by `pipeline build-lambda`."
  type        = string


  validation {
    condition     = fileexists(var.zip_path)
    error_message = "zip_path does not point to a file: build the package first with `pipeline build-lambda`."
  }
}

variable "handler" {
  description = "Handler, module.function inside the zip."
  type        = string


  validation {
    condition     = can(regex("^[A-Za-z0-9_]+\\.[A-Za-z0-9_]+$", var.handler))
    error_message = "handler must be module.function, e.g. manifest_builder.lambda_handler."
  }
}

variable "runtime" {
  description = "Lambda runtime."
  type        = string
  default     = "python3.11"


  validation {
    condition     = can(regex("^python3\\.1[1-9]$", var.runtime))
    error_message = "runtime must be python3.11 or a newer python3 runtime (the package is built for Python 3.11)."
  }
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


  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number between 128 and 10240."
  }
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
  default     = 120


  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number between 1 and 900."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions (caps the load on DynamoDB and Step Functions)."
  type        = number


  validation {
    condition     = var.reserved_concurrency >= 0 && var.reserved_concurrency <= 1000 && floor(var.reserved_concurrency) == var.reserved_concurrency
    error_message = "reserved_concurrency must be a whole number between 0 and 1000 (0 stops the function)."
  }
}

variable "environment" {
  description = "Environment variables."
  type        = map(string)
  default     = {}


  validation {
    condition     = alltrue([for k in keys(var.environment) : can(regex("^[A-Za-z][A-Za-z0-9_]*$", k))]) && length(jsonencode(var.environment)) <= 4096
    error_message = "environment keys must be letters, digits and underscores starting with a letter, and all variables together at most 4 KB."
  }
}

variable "policy_json" {
  description = "IAM policy of the function's own role (logs, X-Ray, KMS and the dead-letter topic are added here)."
  type        = string


  validation {
    condition     = can(jsondecode(var.policy_json))
    error_message = "policy_json must be an IAM policy document in JSON."
  }
}

variable "async_failure_topic_arn" {
  description = "SNS topic that receives failed asynchronous invocations (the function's dead-letter target)."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.async_failure_topic_arn))
    error_message = "async_failure_topic_arn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)."
  }
}

variable "kms_key_arn" {
  description = "KMS key for environment variables, the log group and the dead-letter topic."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number


  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, ... 3653)."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of failed asynchronous invocations (e.g. the scheduled flush) before they go to the dead-letter topic."
  type        = number
  default     = 2


  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 2 && floor(var.maximum_retry_attempts) == var.maximum_retry_attempts
    error_message = "maximum_retry_attempts must be a whole number between 0 and 2."
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
