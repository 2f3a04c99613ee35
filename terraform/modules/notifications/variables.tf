variable "name_prefix" {
  description = "Prefix of the topic name."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for the topic's server-side encryption."
  type        = string
}

variable "alert_email" {
  description = "Email address subscribed to the alerts (null: no subscription). AWS sends a confirmation email first."
  type        = string
  default     = null

  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an email address or null."
  }
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
