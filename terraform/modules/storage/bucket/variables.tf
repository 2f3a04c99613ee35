variable "bucket_name" {
  description = "Name of the bucket."
  type        = string
}

variable "role" {
  description = "Role of the bucket in the pipeline (input, manifest, output, artifacts), as a tag."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the bucket's default SSE-KMS encryption."
  type        = string
}

variable "enforce_tls" {
  description = "Attach a bucket policy that denies requests made without TLS."
  type        = bool
}

variable "access_logs_bucket" {
  description = "Bucket receiving the server access logs (null: no access logging)."
  type        = string
  default     = null
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
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions expire."
  type        = number
}

variable "tags" {
  description = "Tags of the bucket."
  type        = map(string)
  default     = {}
}
