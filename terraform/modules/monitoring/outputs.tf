output "alarm_names" {
  description = "Names of every alarm (each notifies the SNS topic on ALARM and on OK)."
  value       = sort([for alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_name])
}
