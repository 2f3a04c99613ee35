output "bucket_names" {
  description = "Bucket name per role: input, manifest, output, artifacts."
  value       = { for role, bucket in aws_s3_bucket.this : role => bucket.bucket }
}

output "bucket_arns" {
  description = "Bucket ARN per role: input, manifest, output, artifacts."
  value       = { for role, bucket in aws_s3_bucket.this : role => bucket.arn }
}

output "input_bucket_id" {
  description = "The input bucket, once its policy and encryption are in place (for the notification)."
  value       = aws_s3_bucket.this["input"].id
  depends_on  = [aws_s3_bucket_policy.tls_only, aws_s3_bucket_server_side_encryption_configuration.this]
}
