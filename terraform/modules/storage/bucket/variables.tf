variable "bucket_name" {
  description = "Name of the bucket."
  type        = string


  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)."
  }
}

variable "role" {
  description = "Role of the bucket in the pipeline (input, manifest, output, artifacts), as a tag."
  type        = string


  validation {
    condition     = contains(["input", "manifest", "output", "artifacts"], var.role)
    error_message = "role must be one of input, manifest, output or artifacts."
  }
}

variable "kms_key_arn" {
  description = "KMS key of the bucket's default SSE-KMS encryption."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias."
  }
}

variable "enforce_tls" {
  description = "Attach a bucket policy that denies requests made without TLS."
  type        = bool
}

variable "access_logs_bucket" {
  description = "Bucket receiving the server access logs (null: no access logging)."
  type        = string
  default     = null


  validation {
    condition     = var.access_logs_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_logs_bucket))
    error_message = "access_logs_bucket must be an S3 bucket name or null."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete the bucket when it is not empty."
  type        = bool
}

variable "expiration" {
  description = "Expire current objects under prefix after days (null: keep them)."
  type = object({
    prefix = string
    days   = number
  })
  default = null


  validation {
    condition     = var.expiration == null || try(var.expiration.days >= 1 && can(regex("^([A-Za-z0-9!_.*'()=-]+/)*$", var.expiration.prefix)), false)
    error_message = "expiration must be null or { prefix = \"\" or a key prefix ending with /, days = at least 1 }."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions expire."
  type        = number


  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of at least 1."
  }
}

variable "tags" {
  description = "Tags of the bucket."
  type        = map(string)
  default     = {}


  validation {
    condition     = alltrue([for k, value in var.tags : length(k) >= 1 && length(k) <= 128 && length(value) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "tags keys must be 1-128 characters and not start with aws:, values at most 256 characters."
  }
}
