variable "name_prefix" {
  description = "Prefix of the bucket names (followed by the bucket's role, the account id and the region)."
  type        = string


  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS on every bucket."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias."
  }
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


  validation {
    condition     = var.access_logs_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_logs_bucket))
    error_message = "access_logs_bucket must be an S3 bucket name or null."
  }
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


  validation {
    condition     = can(regex("^([A-Za-z0-9!_.*'()=-]+/)+$", var.quarantine_prefix))
    error_message = "quarantine_prefix must be an S3 key prefix ending with /, e.g. lake/events/."
  }
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


  validation {
    condition     = alltrue([for k, value in var.tags : length(k) >= 1 && length(k) <= 128 && length(value) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "tags keys must be 1-128 characters and not start with aws:, values at most 256 characters."
  }
}
