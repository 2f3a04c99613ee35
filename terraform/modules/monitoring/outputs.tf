output "alarm_names" {
  description = "Names of every alarm (each notifies the SNS topic on ALARM and on OK)."
  value = sort(concat(
    [for alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_name],
    [aws_cloudwatch_metric_alarm.freshness.alarm_name, aws_cloudwatch_metric_alarm.bad_record_ratio.alarm_name],
  ))
}

output "dashboard_name" {
  description = "The pipeline's CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.pipeline.dashboard_name
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the pipeline's own metrics."
  value       = local.metric_namespace
}
