variable "name_prefix" {
  description = "Prefix of the queue names."
  type        = string


  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "kms_key_id" {
  description = "KMS key of the queues' server-side encryption: an alias (alias/...) or a key ARN."
  type        = string


  validation {
    condition     = can(regex("^(alias/[A-Za-z0-9/_-]+|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+)$", var.kms_key_id))
    error_message = "kms_key_id must be a KMS alias (alias/<name>) or a key ARN."
  }
}

variable "kms_key_arn" {
  description = "ARN of the same key; the S3 notification waits for it to exist."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias."
  }
}

variable "input_bucket_id" {
  description = "Name of the bucket whose ObjectCreated events feed the queue."
  type        = string


  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.input_bucket_id))
    error_message = "input_bucket_id must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)."
  }
}

variable "input_bucket_arn" {
  description = "ARN of the input bucket (the only source allowed to send to the queue)."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.input_bucket_arn))
    error_message = "input_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::<bucket>)."
  }
}

variable "accepted_suffixes" {
  description = "Object key suffixes that are sent to the queue (one S3 notification filter each)."
  type        = list(string)

  validation {
    condition     = length(var.accepted_suffixes) > 0 && alltrue([for s in var.accepted_suffixes : can(regex("^\\.[A-Za-z0-9._-]+$", s))])
    error_message = "accepted_suffixes must be a non-empty list of suffixes starting with a dot, e.g. \".ndjson.gz\"."
  }
}

variable "input_prefix" {
  description = "Only keys under this prefix are sent to the queue (empty: the whole bucket)."
  type        = string
  default     = ""


  validation {
    condition     = length(var.input_prefix) <= 1024 && !startswith(var.input_prefix, "/")
    error_message = "input_prefix must be empty or a key prefix (at most 1024 characters, not starting with /)."
  }
}

variable "visibility_timeout_seconds" {
  description = "Queue visibility timeout; at least 6 times the Lambda timeout as AWS recommends for event source mappings."
  type        = number


  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200 && floor(var.visibility_timeout_seconds) == var.visibility_timeout_seconds
    error_message = "visibility_timeout_seconds must be a whole number between 0 and 43200 (12 hours)."
  }
}

variable "max_receive_count" {
  description = "Receives before a message moves to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "message_retention_seconds" {
  description = "Retention of the ingest queue."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "tags" {
  description = "Tags for the queues."
  type        = map(string)
  default     = {}


  validation {
    condition     = alltrue([for k, value in var.tags : length(k) >= 1 && length(k) <= 128 && length(value) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "tags keys must be 1-128 characters and not start with aws:, values at most 256 characters."
  }
}
