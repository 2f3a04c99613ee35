output "queue_url" {
  description = "URL of the ingest queue."
  value       = aws_sqs_queue.ingest.id
}

output "queue_arn" {
  description = "ARN of the ingest queue."
  value       = aws_sqs_queue.ingest.arn
}

output "queue_name" {
  description = "Name of the ingest queue."
  value       = aws_sqs_queue.ingest.name
}

output "dlq_url" {
  description = "URL of the ingest dead-letter queue."
  value       = aws_sqs_queue.dlq.id
}

output "dlq_arn" {
  description = "ARN of the ingest dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_name" {
  description = "Name of the ingest dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "queue_arn_from_name" {
  description = "ARN of the ingest queue built from its name, known before the queue exists: for IAM policies, so a function's role (and so the function) need not wait for the queue's attribute propagation; the same ARN as queue_arn."
  value       = local.queue_arn
}
