variable "table_name" {
  description = "Name of the tracking table."
  type        = string


  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.table_name))
    error_message = "table_name must be a DynamoDB table name (3-255 letters, digits, underscores, hyphens and dots)."
  }
}

variable "kms_key_arn" {
  description = "KMS key for the table's server-side encryption."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias."
  }
}

variable "point_in_time_recovery" {
  description = "Enable point-in-time recovery (35 days of continuous backups)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the table against deletion."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for the table."
  type        = map(string)
  default     = {}


  validation {
    condition     = alltrue([for k, value in var.tags : length(k) >= 1 && length(k) <= 128 && length(value) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "tags keys must be 1-128 characters and not start with aws:, values at most 256 characters."
  }
}
