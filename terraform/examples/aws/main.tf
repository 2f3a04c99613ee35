# The pipeline in an AWS account. Copy this folder next to your other stacks, point `source` at the module (a git
# URL such as "git::https://example.com/ndjson-pipeline.git//terraform?ref=v1.2.0", or a relative path), set the
# variables in a terraform.tfvars (terraform.tfvars.example) and the backend in versions.tf: docs/deploy.md.

module "pipeline" {
  source = "../.."

  aws_region                         = var.aws_region
  name_prefix                        = var.name_prefix
  lambda_zip_path                    = var.lambda_zip_path
  glue_script_path                   = var.glue_script_path
  glue_package_path                  = var.glue_package_path
  alert_email                        = var.alert_email
  kms_key_arn                        = var.kms_key_arn
  access_logs_bucket                 = var.access_logs_bucket
  table_name                         = var.table_name
  input_prefix                       = var.input_prefix
  compression_type                   = var.compression_type
  max_bad_record_ratio               = var.max_bad_record_ratio
  freshness_objective_minutes        = var.freshness_objective_minutes
  max_files_per_manifest             = var.max_files_per_manifest
  max_bytes_per_manifest             = var.max_bytes_per_manifest
  glue_worker_type                   = var.glue_worker_type
  glue_execution_class               = var.glue_execution_class
  glue_number_of_workers             = var.glue_number_of_workers
  glue_max_concurrent_runs           = var.glue_max_concurrent_runs
  log_retention_days                 = var.log_retention_days
  table_format                       = var.table_format
  maintenance_schedule_expression    = var.maintenance_schedule_expression
  snapshot_retention_hours           = var.snapshot_retention_hours
  orphan_age_hours                   = var.orphan_age_hours
  glue_wheel_bundle_dir              = var.glue_wheel_bundle_dir
  lambda_concurrent_executions_quota = var.lambda_concurrent_executions_quota
}
