output "table_name" {
  description = "Name of the tracking table."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the tracking table."
  value       = aws_dynamodb_table.this.arn
}

output "index_arns" {
  description = "ARNs of the table's global secondary indexes."
  value       = [for index in aws_dynamodb_table.this.global_secondary_index : "${aws_dynamodb_table.this.arn}/index/${index.name}"]
}
