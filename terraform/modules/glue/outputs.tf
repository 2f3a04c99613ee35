output "job_name" {
  description = "Name of the Glue job."
  value       = aws_glue_job.this.name
}

output "job_arn" {
  description = "ARN of the Glue job."
  value       = aws_glue_job.this.arn
}

output "role_arn" {
  description = "ARN of the job's role."
  value       = aws_iam_role.job.arn
}

output "role_name" {
  description = "Name of the job's role."
  value       = aws_iam_role.job.name
}

output "security_configuration_name" {
  description = "Name of the Glue security configuration attached to the job."
  value       = aws_glue_security_configuration.this.name
}

output "database_name" {
  description = "Glue Data Catalog database of the output table."
  value       = aws_glue_catalog_database.lake.name
}

output "output_path" {
  description = "s3:// URI of the Parquet table (the job's --OUTPUT_PATH)."
  value       = local.output_path
}

output "bad_records_path" {
  description = "s3:// URI of the quarantine (the job's --BAD_RECORDS_PATH)."
  value       = local.bad_records_path
}

output "script_location" {
  description = "s3:// URI of the job script."
  value       = aws_glue_job.this.command[0].script_location
}

output "package_location" {
  description = "s3:// URI of the job package zip (the job's --extra-py-files)."
  value       = "s3://${var.artifacts_bucket}/${aws_s3_object.package.key}"
}

output "log_group_names" {
  description = "The job's CloudWatch log groups: error (driver and executor logs, Spark, the Glue logger) and output (stdout/stderr)."
  value       = { for stream, group in aws_cloudwatch_log_group.job : stream => group.name }
}
