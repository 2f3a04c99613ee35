output "key_arn" {
  description = "ARN of the KMS key that encrypts the stack (created or brought)."
  value       = local.create_key ? aws_kms_key.this[0].arn : var.existing_key_arn
}

output "created" {
  description = "Whether this module created the key."
  value       = local.create_key
}
