variable "name_prefix" {
  description = "Prefix of the queue names."
  type        = string
}

variable "kms_key_id" {
  description = "KMS key of the queues' server-side encryption: an alias (alias/...) or a key ARN."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the same key; the S3 notification waits for it to exist."
  type        = string
}

variable "input_bucket_id" {
  description = "Name of the bucket whose ObjectCreated events feed the queue."
  type        = string
}

variable "input_bucket_arn" {
  description = "ARN of the input bucket (the only source allowed to send to the queue)."
  type        = string
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
}

variable "visibility_timeout_seconds" {
  description = "Queue visibility timeout; at least 6 times the Lambda timeout as AWS recommends for event source mappings."
  type        = number
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
}
