output "bucket_names" {
  description = "Bucket name per role: input, manifest, output, artifacts."
  value = {
    input     = module.input.name
    manifest  = module.manifest.name
    output    = module.output.name
    artifacts = module.artifacts.name
  }
}

output "bucket_arns" {
  description = "Bucket ARN per role: input, manifest, output, artifacts."
  value = {
    input     = module.input.arn
    manifest  = module.manifest.arn
    output    = module.output.arn
    artifacts = module.artifacts.arn
  }
}

output "input_bucket_id" {
  description = "The input bucket, once its policy and encryption are in place (for the notification)."
  value       = module.input.ready_id
}
