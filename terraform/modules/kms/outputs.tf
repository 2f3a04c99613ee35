output "key_arn" {
  description = "ARN of the KMS key that encrypts the stack (created or brought)."
  value       = local.create_key ? aws_kms_key.this[0].arn : var.existing_key_arn
}

output "created" {
  description = "Whether this module created the key."
  value       = local.create_key
}

output "key_id_for_dependents" {
  description = "The key as dependents may name it before it exists: its alias when created here, else the brought key's ARN."
  value       = local.create_key ? "alias/${var.name_prefix}" : var.existing_key_arn
}

output "service_statements_json" {
  description = "The key policy statements for the AWS services that write to the stack's encrypted resources (a policy document): what a brought key's policy must contain besides the account's own access."
  value       = data.aws_iam_policy_document.services.json
}
