variable "table_name" {
  description = "Name of the tracking table."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for the table's server-side encryption."
  type        = string
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
}
