output "event_source_mapping_uuid" {
  description = "UUID of the SQS event source mapping."
  value       = aws_lambda_event_source_mapping.ingest.uuid
}

output "flush_rule_name" {
  description = "Name of the EventBridge rule that schedules the flush."
  value       = aws_cloudwatch_event_rule.flush.name
}

output "flush_schedule_expression" {
  description = "Schedule expression of the flush."
  value       = aws_cloudwatch_event_rule.flush.schedule_expression
}

output "maintenance_schedule_name" {
  description = "Name of the EventBridge Scheduler schedule that starts the job's maintenance runs (\"\" when off)."
  value       = local.maintenance_enabled ? aws_scheduler_schedule.maintenance[0].name : ""
}
