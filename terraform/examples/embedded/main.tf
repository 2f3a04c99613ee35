# The pipeline on the local AWS emulator: what `pipeline demo`, `run` and `up` and the infrastructure tests apply
# (pipeline/embedded/stack.py through pipeline/build/terraform.py). The same module an AWS account gets
# (examples/aws); only the provider differs (providers.tf).

module "pipeline" {
  source = "../.."

  name_prefix                           = var.name_prefix
  aws_region                            = var.aws_region
  kms_key_arn                           = var.kms_key_arn
  enforce_tls_bucket_policies           = var.enforce_tls_bucket_policies
  access_logs_bucket                    = var.access_logs_bucket
  force_destroy                         = var.force_destroy
  deletion_protection                   = var.deletion_protection
  point_in_time_recovery                = var.point_in_time_recovery
  log_retention_days                    = var.log_retention_days
  table_name                            = var.table_name
  manifest_prefix                       = var.manifest_prefix
  input_prefix                          = var.input_prefix
  accepted_suffixes                     = var.accepted_suffixes
  manifest_expiration_days              = var.manifest_expiration_days
  quarantine_expiration_days            = var.quarantine_expiration_days
  sqs_batch_size                        = var.sqs_batch_size
  sqs_maximum_batching_window_seconds   = var.sqs_maximum_batching_window_seconds
  sqs_max_receive_count                 = var.sqs_max_receive_count
  ingest_message_retention_seconds      = var.ingest_message_retention_seconds
  lambda_zip_path                       = var.lambda_zip_path
  glue_script_path                      = var.glue_script_path
  glue_package_path                     = var.glue_package_path
  lambda_runtime                        = var.lambda_runtime
  lambda_architecture                   = var.lambda_architecture
  lambda_memory_mb                      = var.lambda_memory_mb
  lambda_timeout_seconds                = var.lambda_timeout_seconds
  manifest_builder_reserved_concurrency = var.manifest_builder_reserved_concurrency
  separate_status_updater               = var.separate_status_updater
  status_updater_reserved_concurrency   = var.status_updater_reserved_concurrency
  lambda_concurrent_executions_quota    = var.lambda_concurrent_executions_quota
  log_level                             = var.log_level
  max_files_per_manifest                = var.max_files_per_manifest
  max_bytes_per_manifest                = var.max_bytes_per_manifest
  max_batch_wait_seconds                = var.max_batch_wait_seconds
  ttl_days                              = var.ttl_days
  pending_shards                        = var.pending_shards
  repair_grace_seconds                  = var.repair_grace_seconds
  max_manifests_per_invocation          = var.max_manifests_per_invocation
  flush_schedule_expression             = var.flush_schedule_expression
  compression_type                      = var.compression_type
  compression_level                     = var.compression_level
  allow_codec_athena_cannot_read        = var.allow_codec_athena_cannot_read
  max_bad_record_ratio                  = var.max_bad_record_ratio
  freshness_objective_minutes           = var.freshness_objective_minutes
  bad_record_ratio_alarm_threshold      = var.bad_record_ratio_alarm_threshold
  glue_version                          = var.glue_version
  glue_worker_type                      = var.glue_worker_type
  glue_execution_class                  = var.glue_execution_class
  glue_number_of_workers                = var.glue_number_of_workers
  glue_timeout_minutes                  = var.glue_timeout_minutes
  glue_additional_python_modules        = var.glue_additional_python_modules
  glue_wheel_bundle_dir                 = var.glue_wheel_bundle_dir
  glue_max_concurrent_runs              = var.glue_max_concurrent_runs
  glue_retry_interval_seconds           = var.glue_retry_interval_seconds
  glue_retry_max_attempts               = var.glue_retry_max_attempts
  glue_retry_max_delay_seconds          = var.glue_retry_max_delay_seconds
  retry_interval_seconds                = var.retry_interval_seconds
  state_machine_log_level               = var.state_machine_log_level
  alert_email                           = var.alert_email
  oldest_message_age_alarm_seconds      = var.oldest_message_age_alarm_seconds
  table_format                          = var.table_format
  maintenance_schedule_expression       = var.maintenance_schedule_expression
  snapshot_retention_hours              = var.snapshot_retention_hours
  orphan_age_hours                      = var.orphan_age_hours
}

# The operators' role of the embedded stack, <name_prefix>-operator: `pipeline up` prints its credentials for the
# operator commands, so they run with exactly the module's operator policy (docs/iam.md). On AWS, attach `operator_policy_json` to your
# own operators' role instead.
data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_iam_policy_document" "operator_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

locals {
  # the module's name prefix (var.name_prefix may be null: the module's default applies)
  operator_role_name = "${trimsuffix(module.pipeline.manifest_builder_function_name, "-manifest-builder")}-operator"
}

resource "aws_iam_role" "operator" {
  name               = local.operator_role_name
  assume_role_policy = data.aws_iam_policy_document.operator_trust.json
}

resource "aws_iam_role_policy" "operator" {
  name   = local.operator_role_name
  role   = aws_iam_role.operator.id
  policy = module.pipeline.operator_policy_json
}
