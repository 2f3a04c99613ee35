data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  output_prefix     = "lake/${var.table_name}/"
  quarantine_prefix = "quarantine/${var.table_name}/"

  tracking_table_name   = "${var.name_prefix}-tracking"
  manifest_builder_name = "${var.name_prefix}-manifest-builder"
  status_updater_name   = "${var.name_prefix}-status-updater"
  # Known before the state machine exists, so the manifest builder (which starts executions) and the state machine
  # (which may call the same function back) do not depend on each other.
  state_machine_name = "${var.name_prefix}-ndjson-to-parquet"
  state_machine_arn  = "arn:${local.partition}:states:${var.aws_region}:${local.account_id}:stateMachine:${local.state_machine_name}"
  # One CloudWatch namespace per stack (pipeline/contracts/metrics.py: namespace_for).
  metrics_namespace = "${var.name_prefix}/pipeline"
  dpus_per_worker   = { "G.1X" = 1, "G.2X" = 2, "G.4X" = 4, "G.8X" = 8 }

  lambda_environment = {
    TRACKING_TABLE               = module.tracking.table_name
    MANIFEST_BUCKET              = module.storage.bucket_names["manifest"]
    MANIFEST_PREFIX              = var.manifest_prefix
    STATE_MACHINE_ARN            = local.state_machine_arn
    MAX_FILES_PER_MANIFEST       = tostring(var.max_files_per_manifest)
    MAX_BYTES_PER_MANIFEST       = tostring(var.max_bytes_per_manifest)
    MAX_BATCH_WAIT_SECONDS       = tostring(var.max_batch_wait_seconds)
    TTL_DAYS                     = tostring(var.ttl_days)
    LOG_LEVEL                    = var.log_level
    ACCEPTED_SUFFIXES            = join(",", var.accepted_suffixes)
    PENDING_SHARDS               = tostring(var.pending_shards)
    REPAIR_GRACE_SECONDS         = tostring(var.repair_grace_seconds)
    MAX_MANIFESTS_PER_INVOCATION = tostring(var.max_manifests_per_invocation)
    POWERTOOLS_SERVICE_NAME      = "ndjson-pipeline"
    METRICS_NAMESPACE            = local.metrics_namespace
    # With TABLE_FORMAT parquet the status update registers each completed manifest's partition in the Glue Data
    # Catalog (pipeline/control_plane/adapters/catalog.py); with iceberg the job commits the table itself.
    TABLE_FORMAT  = var.table_format
    GLUE_DATABASE = module.glue.database_name
    GLUE_TABLE    = var.table_name
    OUTPUT_PATH   = module.glue.output_path
  }
}

module "kms" {
  source = "./modules/kms"

  name_prefix      = var.name_prefix
  existing_key_arn = var.kms_key_arn
}

module "storage" {
  source = "./modules/storage"

  name_prefix                = var.name_prefix
  kms_key_arn                = module.kms.key_arn
  force_destroy              = var.force_destroy
  enforce_tls                = var.enforce_tls_bucket_policies
  access_logs_bucket         = var.access_logs_bucket
  manifest_expiration_days   = var.manifest_expiration_days
  quarantine_prefix          = local.quarantine_prefix
  quarantine_expiration_days = var.quarantine_expiration_days
}

module "notifications" {
  source = "./modules/notifications"

  name_prefix = var.name_prefix
  kms_key_arn = module.kms.key_arn
  alert_email = var.alert_email
}

module "ingest" {
  source = "./modules/ingest"

  name_prefix                = var.name_prefix
  kms_key_id                 = module.kms.key_id_for_dependents
  kms_key_arn                = module.kms.key_arn
  input_bucket_id            = module.storage.input_bucket_id
  input_bucket_arn           = module.storage.bucket_arns["input"]
  input_prefix               = var.input_prefix
  accepted_suffixes          = var.accepted_suffixes
  visibility_timeout_seconds = 6 * var.lambda_timeout_seconds
  max_receive_count          = var.sqs_max_receive_count
  message_retention_seconds  = var.ingest_message_retention_seconds
}

module "tracking" {
  source = "./modules/tracking"

  table_name             = local.tracking_table_name
  kms_key_arn            = module.kms.key_arn
  point_in_time_recovery = var.point_in_time_recovery
  deletion_protection    = var.deletion_protection
}

module "manifest_builder" {
  source = "./modules/lambda_function"

  function_name           = local.manifest_builder_name
  description             = "Tracks NDJSON drops, batches them into manifests and starts the conversion."
  zip_path                = var.lambda_zip_path
  handler                 = "manifest_builder.lambda_handler"
  runtime                 = var.lambda_runtime
  architecture            = var.lambda_architecture
  memory_size             = var.lambda_memory_mb
  timeout                 = var.lambda_timeout_seconds
  reserved_concurrency    = var.manifest_builder_reserved_concurrency
  environment             = local.lambda_environment
  policy_json             = var.separate_status_updater ? data.aws_iam_policy_document.manifest_builder.json : data.aws_iam_policy_document.manifest_builder_and_status_update.json
  kms_key_arn             = module.kms.key_arn
  async_failure_topic_arn = module.notifications.topic_arn
  log_retention_days      = var.log_retention_days
}

module "status_updater" {
  source = "./modules/lambda_function"
  count  = var.separate_status_updater ? 1 : 0

  function_name           = local.status_updater_name
  description             = "Records the outcome of a conversion (completed or failed) on the manifest and its files."
  zip_path                = var.lambda_zip_path
  handler                 = "batch_status_updater.lambda_handler"
  runtime                 = var.lambda_runtime
  architecture            = var.lambda_architecture
  memory_size             = var.lambda_memory_mb
  timeout                 = var.lambda_timeout_seconds
  reserved_concurrency    = var.status_updater_reserved_concurrency
  environment             = local.lambda_environment
  policy_json             = data.aws_iam_policy_document.status_updater.json
  kms_key_arn             = module.kms.key_arn
  async_failure_topic_arn = module.notifications.topic_arn
  log_retention_days      = var.log_retention_days
}

locals {
  status_updater_function_name = var.separate_status_updater ? module.status_updater[0].function_name : module.manifest_builder.function_name
  status_updater_function_arn  = var.separate_status_updater ? module.status_updater[0].function_arn : module.manifest_builder.function_arn
}

module "triggers" {
  source = "./modules/triggers"

  name_prefix                        = var.name_prefix
  function_name                      = module.manifest_builder.function_name
  function_arn                       = module.manifest_builder.function_arn
  queue_arn                          = module.ingest.queue_arn
  batch_size                         = var.sqs_batch_size
  maximum_batching_window_in_seconds = var.sqs_maximum_batching_window_seconds
  # With the status update on the same function, one reserved slot stays free of SQS pollers for Step Functions.
  maximum_concurrency       = var.separate_status_updater ? var.manifest_builder_reserved_concurrency : var.manifest_builder_reserved_concurrency - 1
  flush_schedule_expression = var.flush_schedule_expression
  kms_key_arn               = module.kms.key_arn

  # Iceberg only: a Glue run of the conversion job in maintenance mode on a schedule.
  maintenance_schedule_expression = var.table_format == "iceberg" ? var.maintenance_schedule_expression : ""
  maintenance_job_name            = module.glue.job_name
  # Built from the looked-up account (the provider's own job ARN has none on an emulator).
  maintenance_job_arn = "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:job/${module.glue.job_name}"
  maintenance_arguments = {
    "--SNAPSHOT_RETENTION_HOURS" = tostring(var.snapshot_retention_hours)
    "--ORPHAN_AGE_HOURS"         = tostring(var.orphan_age_hours)
  }
}

module "glue" {
  source = "./modules/glue"

  name_prefix          = var.name_prefix
  kms_key_arn          = module.kms.key_arn
  script_path          = var.glue_script_path
  package_path         = var.glue_package_path
  artifacts_bucket     = module.storage.bucket_names["artifacts"]
  artifacts_bucket_arn = module.storage.bucket_arns["artifacts"]
  input_bucket_arn     = module.storage.bucket_arns["input"]
  manifest_bucket_arn  = module.storage.bucket_arns["manifest"]
  manifest_prefix      = var.manifest_prefix
  output_bucket        = module.storage.bucket_names["output"]
  output_bucket_arn    = module.storage.bucket_arns["output"]
  output_prefix        = local.output_prefix
  quarantine_prefix    = local.quarantine_prefix
  compression_type     = var.compression_type
  compression_level    = var.compression_level
  max_bad_record_ratio = var.max_bad_record_ratio
  table_format         = var.table_format
  catalog_table        = var.table_name
  metrics_namespace    = local.metrics_namespace
  glue_version         = var.glue_version
  worker_type          = var.glue_worker_type
  execution_class      = var.glue_execution_class
  number_of_workers    = var.glue_number_of_workers
  timeout_minutes      = var.glue_timeout_minutes
  max_concurrent_runs  = var.glue_max_concurrent_runs

  additional_python_modules = var.glue_additional_python_modules
  wheel_bundle_dir          = var.glue_wheel_bundle_dir
  log_retention_days        = var.log_retention_days
}

module "orchestration" {
  source = "./modules/orchestration"

  name                         = local.state_machine_name
  definition_template_path     = "${path.module}/../state_machines/ndjson_to_parquet.asl.json"
  kms_key_arn                  = module.kms.key_arn
  tracking_table_name          = module.tracking.table_name
  tracking_table_arn           = module.tracking.table_arn
  glue_job_name                = module.glue.job_name
  glue_job_arn                 = module.glue.job_arn
  output_path                  = module.glue.output_path
  bad_records_path             = module.glue.bad_records_path
  compression_type             = var.compression_type
  output_bucket                = module.storage.bucket_names["output"]
  output_bucket_arn            = module.storage.bucket_arns["output"]
  output_prefix                = local.output_prefix
  status_updater_function_arn  = local.status_updater_function_arn
  alert_topic_arn              = module.notifications.topic_arn
  execution_timeout_seconds    = var.glue_timeout_minutes * 60 * 3
  glue_task_timeout_seconds    = var.glue_timeout_minutes * 60 + 600
  glue_retry_interval_seconds  = var.glue_retry_interval_seconds
  glue_retry_max_attempts      = var.glue_retry_max_attempts
  glue_retry_max_delay_seconds = var.glue_retry_max_delay_seconds
  retry_interval_seconds       = var.retry_interval_seconds
  log_level                    = var.state_machine_log_level
  log_retention_days           = var.log_retention_days
}

module "monitoring" {
  source = "./modules/monitoring"

  name_prefix     = var.name_prefix
  alarm_topic_arn = module.notifications.topic_arn
  lambda_function_names = merge(
    { "manifest-builder" = module.manifest_builder.function_name },
    var.separate_status_updater ? { "status-updater" = module.status_updater[0].function_name } : {},
  )
  lambda_duration_threshold_ms = {
    "manifest-builder" = var.lambda_timeout_seconds * 800
    "status-updater"   = var.lambda_timeout_seconds * 800
  }
  ingest_queue_name                    = module.ingest.queue_name
  oldest_message_age_threshold_seconds = var.oldest_message_age_alarm_seconds
  dead_letter_queue_names              = { "ingest" = module.ingest.dlq_name }
  state_machine_arn                    = module.orchestration.state_machine_arn
  state_machine_log_group_name         = module.orchestration.log_group_name
  glue_job_name                        = module.glue.job_name
  tracking_table_name                  = module.tracking.table_name
  freshness_objective_seconds          = var.freshness_objective_minutes * 60
  bad_record_ratio_threshold           = var.bad_record_ratio_alarm_threshold
  region                               = var.aws_region
  glue_dpus                            = var.glue_number_of_workers * local.dpus_per_worker[var.glue_worker_type]
}
