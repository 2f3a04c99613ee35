resource "aws_lambda_event_source_mapping" "ingest" {
  event_source_arn                   = var.queue_arn
  function_name                      = var.function_arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  # The handler reports the failed messages of a batch; the others are deleted, not retried.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.maximum_concurrency
  }
}

resource "aws_cloudwatch_event_rule" "flush" {
  name                = "${var.name_prefix}-flush"
  description         = "Flushes partial batches older than MAX_BATCH_WAIT_SECONDS and repairs interrupted claims."
  schedule_expression = var.flush_schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "flush" {
  rule  = aws_cloudwatch_event_rule.flush.name
  arn   = var.function_arn
  input = jsonencode({ action = "flush" })

  retry_policy {
    maximum_retry_attempts       = 2
    maximum_event_age_in_seconds = 600
  }
}

resource "aws_lambda_permission" "flush" {
  statement_id  = "AllowFlushSchedule"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.flush.arn
}
