# Every output of the module under its own name: the operator commands read `terraform output -json` by these
# names (PIPELINE_STACK_OUTPUTS, docs/deploy.md).

output "input_bucket" {
  description = "Bucket to drop NDJSON files into."
  value       = module.pipeline.input_bucket
}

output "manifest_bucket" {
  description = "Bucket of the manifests."
  value       = module.pipeline.manifest_bucket
}

output "output_bucket" {
  description = "Bucket of the Parquet table and the quarantine."
  value       = module.pipeline.output_bucket
}

output "artifacts_bucket" {
  description = "Bucket of the Glue script and its extra files."
  value       = module.pipeline.artifacts_bucket
}

output "manifest_prefix" {
  description = "Key prefix of the manifests."
  value       = module.pipeline.manifest_prefix
}

output "output_path" {
  description = "s3:// URI of the Parquet table (partitions dt=YYYY-MM-DD/, job reports under _reports/)."
  value       = module.pipeline.output_path
}

output "bad_records_path" {
  description = "s3:// URI of the quarantined bad records."
  value       = module.pipeline.bad_records_path
}

output "compression_type" {
  description = "Parquet codec of the output."
  value       = module.pipeline.compression_type
}

output "glue_table_name" {
  description = "Name of the output table in the Glue database (committed by the job for iceberg; registered by the status update for parquet)."
  value       = module.pipeline.glue_table_name
}

output "input_prefix" {
  description = "Key prefix of the input bucket that is ingested (empty: the whole bucket)."
  value       = module.pipeline.input_prefix
}

output "ingest_queue_url" {
  description = "URL of the ingest queue (S3 notifications)."
  value       = module.pipeline.ingest_queue_url
}

output "ingest_queue_arn" {
  description = "ARN of the ingest queue."
  value       = module.pipeline.ingest_queue_arn
}

output "ingest_dlq_url" {
  description = "URL of the ingest dead-letter queue."
  value       = module.pipeline.ingest_dlq_url
}

output "ingest_dlq_arn" {
  description = "ARN of the ingest dead-letter queue."
  value       = module.pipeline.ingest_dlq_arn
}

output "tracking_table_name" {
  description = "Name of the DynamoDB tracking table."
  value       = module.pipeline.tracking_table_name
}

output "state_machine_arn" {
  description = "ARN of the conversion state machine."
  value       = module.pipeline.state_machine_arn
}

output "state_machine_log_group" {
  description = "Log group of the state machine's executions."
  value       = module.pipeline.state_machine_log_group
}

output "glue_job_name" {
  description = "Name of the Glue job."
  value       = module.pipeline.glue_job_name
}

output "glue_database_name" {
  description = "Glue Data Catalog database for the output table."
  value       = module.pipeline.glue_database_name
}

output "glue_security_configuration" {
  description = "Glue security configuration attached to the job."
  value       = module.pipeline.glue_security_configuration
}

output "manifest_builder_function_name" {
  description = "Name of the manifest builder Lambda function."
  value       = module.pipeline.manifest_builder_function_name
}

output "manifest_builder_function_arn" {
  description = "ARN of the manifest builder Lambda function."
  value       = module.pipeline.manifest_builder_function_arn
}

output "status_updater_function_name" {
  description = "Name of the function the state machine calls for status updates (the manifest builder unless separate_status_updater)."
  value       = module.pipeline.status_updater_function_name
}

output "status_updater_function_arn" {
  description = "ARN of the status update function."
  value       = module.pipeline.status_updater_function_arn
}

output "event_source_mapping_uuid" {
  description = "UUID of the SQS -> manifest builder event source mapping."
  value       = module.pipeline.event_source_mapping_uuid
}

output "alert_topic_arn" {
  description = "ARN of the SNS topic of alerts and alarms (subscribe your endpoints to it)."
  value       = module.pipeline.alert_topic_arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the stack."
  value       = module.pipeline.kms_key_arn
}

output "kms_key_policy_service_statements" {
  description = "Key policy statements for the AWS services that write to the stack's encrypted resources (what a brought key's policy needs)."
  value       = module.pipeline.kms_key_policy_service_statements
}

output "flush_rule_name" {
  description = "EventBridge rule that invokes the manifest builder with {\"action\": \"flush\"}."
  value       = module.pipeline.flush_rule_name
}

output "flush_schedule_expression" {
  description = "Schedule of the flush."
  value       = module.pipeline.flush_schedule_expression
}

output "alarm_names" {
  description = "Every CloudWatch alarm of the stack."
  value       = module.pipeline.alarm_names
}

output "region" {
  description = "Region of the stack."
  value       = module.pipeline.region
}

output "table_format" {
  description = "Table format of the output: iceberg (the Iceberg table glue_database_name.glue_table_name) or parquet."
  value       = module.pipeline.table_format
}

output "maintenance_schedule_name" {
  description = "EventBridge Scheduler schedule of the Iceberg table maintenance runs (\"\" when off or with parquet)."
  value       = module.pipeline.maintenance_schedule_name
}

output "glue_log_group_names" {
  description = "The Glue job's CloudWatch log groups: {error = driver/executor/Spark logs, output = stdout/stderr}."
  value       = module.pipeline.glue_log_group_names
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the pipeline's own metrics (docs/observability.md)."
  value       = module.pipeline.metrics_namespace
}

output "dashboard_name" {
  description = "The pipeline's CloudWatch dashboard."
  value       = module.pipeline.dashboard_name
}

output "freshness_objective_seconds" {
  description = "The freshness objective in seconds (freshness_objective_minutes x 60): `pipeline status` compares the latest freshness with it."
  value       = module.pipeline.freshness_objective_seconds
}

output "operator_policy_json" {
  description = "Least-privilege IAM policy (JSON) for the `pipeline` operator commands on this stack: attach it to the operators' role (docs/iam.md)."
  value       = module.pipeline.operator_policy_json
}
