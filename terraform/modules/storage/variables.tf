variable "name_prefix" {
  description = "Prefix of the bucket names (followed by the bucket's role, the account id and the region)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS on every bucket."
  type        = string
}

variable "enforce_tls" {
  description = "Attach a bucket policy denying every request made without TLS (aws:SecureTransport = false)."
  type        = bool
  default     = true
}

variable "access_logs_bucket" {
  description = "Existing bucket that receives the server access logs of the four buckets (null: no access logging)."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let terraform destroy delete non-empty buckets (for throw-away stacks only)."
  type        = bool
  default     = false
}

variable "manifest_expiration_days" {
  description = "Days after which manifest objects (and their old versions) expire."
  type        = number
  default     = 30

  validation {
    condition     = var.manifest_expiration_days >= 1
    error_message = "manifest_expiration_days must be at least 1."
  }
}

variable "quarantine_prefix" {
  description = "Key prefix of quarantined (bad) records in the output bucket."
  type        = string
  default     = "quarantine/"
}

variable "quarantine_expiration_days" {
  description = "Days after which quarantined records expire."
  type        = number
  default     = 90

  validation {
    condition     = var.quarantine_expiration_days >= 1
    error_message = "quarantine_expiration_days must be at least 1."
  }
}

variable "input_expiration_days" {
  description = "Days after which input NDJSON objects expire (null keeps them)."
  type        = number
  default     = null

  validation {
    condition     = var.input_expiration_days == null || try(var.input_expiration_days >= 1, false)
    error_message = "input_expiration_days must be null or at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions expire."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "tags" {
  description = "Tags for the buckets."
  type        = map(string)
  default     = {}
}
