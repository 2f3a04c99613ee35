variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
}

variable "existing_key_arn" {
  description = "ARN of a customer managed KMS key to use instead of creating one (its key policy must let CloudWatch Logs, CloudWatch alarms and S3 notifications use it, as the policy in main.tf does)."
  type        = string
  default     = null

  validation {
    condition     = var.existing_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.existing_key_arn))
    error_message = "existing_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias."
  }
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled key deletion takes effect."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "tags" {
  description = "Tags for the key."
  type        = map(string)
  default     = {}
}
