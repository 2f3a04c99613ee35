output "name" {
  description = "Name of the bucket."
  value       = aws_s3_bucket.this.bucket
}

output "arn" {
  description = "ARN of the bucket."
  value       = aws_s3_bucket.this.arn
}

output "ready_id" {
  description = "Name of the bucket once its encryption and policy are in place."
  value       = aws_s3_bucket.this.id
  depends_on  = [aws_s3_bucket_policy.tls_only, aws_s3_bucket_server_side_encryption_configuration.this]
}
