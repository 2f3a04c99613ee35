# Final Glue task failures as the state machine logs them (type TaskFailed/TaskTimedOut/... with resourceType glue),
# a metric that exists whatever the Glue job's own metrics settings are. The state machine retries a start refused
# with one of var.glue_retried_errors (concurrency, throttling, internal errors: its Retry on RunGlueJob); each
# refused attempt is logged as a TaskFailed with that error, so those are not failures of a run and are left out.
# A start refused until the retries run out fails the batch: the executions-failed alarm and the SNS alert (which
# names the error) report it.
locals {
  glue_task_failure = "($.type = \"TaskFailed\" || $.type = \"TaskTimedOut\" || $.type = \"TaskStartFailed\" || $.type = \"TaskSubmitFailed\") && $.details.resourceType = \"glue\""
  glue_not_retried  = join(" && ", [for error in var.glue_retried_errors : "$.details.error != \"${error}\""])
}

resource "aws_cloudwatch_log_metric_filter" "glue_failures" {
  name           = "${var.name_prefix}-glue-job-failures"
  log_group_name = var.state_machine_log_group_name
  pattern        = "{ ${local.glue_task_failure} && ${local.glue_not_retried} }"

  metric_transformation {
    name          = "GlueJobFailures"
    namespace     = "${var.name_prefix}/pipeline"
    value         = "1"
    default_value = "0"
  }
}

locals {
  actions          = [var.alarm_topic_arn]
  metric_namespace = "${var.name_prefix}/pipeline"

  lambda_alarms = merge([
    for label, function_name in var.lambda_function_names : {
      "${label}-errors" = {
        description = "The ${label} function raised errors (failed invocations; SQS messages will be retried, then go to the DLQ)."
        namespace   = "AWS/Lambda"
        metric      = "Errors"
        statistic   = "Sum"
        threshold   = 0
        dimensions  = { FunctionName = function_name }
      }
      "${label}-throttles" = {
        description = "The ${label} function was throttled (reserved concurrency reached)."
        namespace   = "AWS/Lambda"
        metric      = "Throttles"
        statistic   = "Sum"
        threshold   = 0
        dimensions  = { FunctionName = function_name }
      }
      "${label}-duration" = {
        description = "The ${label} function ran close to its timeout."
        namespace   = "AWS/Lambda"
        metric      = "Duration"
        statistic   = "Maximum"
        threshold   = var.lambda_duration_threshold_ms[label]
        dimensions  = { FunctionName = function_name }
      }
    }
  ]...)

  dlq_alarms = {
    for label, queue in var.dead_letter_queue_names : "${label}-dlq-not-empty" => {
      description = "Messages reached the dead-letter queue ${queue}: inspect them, fix the cause and redrive."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      statistic   = "Maximum"
      threshold   = 0
      dimensions  = { QueueName = queue }
    }
  }

  other_alarms = {
    "ingest-oldest-message-age" = {
      description = "The oldest message of the ingest queue waits too long: the manifest builder is failing or falling behind."
      namespace   = "AWS/SQS"
      metric      = "ApproximateAgeOfOldestMessage"
      statistic   = "Maximum"
      threshold   = var.oldest_message_age_threshold_seconds
      dimensions  = { QueueName = var.ingest_queue_name }
    }
    "executions-failed" = {
      description = "Conversion executions failed (the SNS alert of each names the manifest and the error)."
      namespace   = "AWS/States"
      metric      = "ExecutionsFailed"
      statistic   = "Sum"
      threshold   = 0
      dimensions  = { StateMachineArn = var.state_machine_arn }
    }
    "executions-timed-out" = {
      description = "Conversion executions timed out."
      namespace   = "AWS/States"
      metric      = "ExecutionsTimedOut"
      statistic   = "Sum"
      threshold   = 0
      dimensions  = { StateMachineArn = var.state_machine_arn }
    }
    "glue-job-failed" = {
      description = "Glue runs of ${var.glue_job_name} failed, timed out or could not start (from the state machine's execution log; refused starts the state machine retries are not counted)."
      namespace   = local.metric_namespace
      metric      = aws_cloudwatch_log_metric_filter.glue_failures.metric_transformation[0].name
      statistic   = "Sum"
      threshold   = 0
      dimensions  = {}
    }
    "tracking-read-throttles" = {
      description = "Reads of the tracking table were throttled."
      namespace   = "AWS/DynamoDB"
      metric      = "ReadThrottleEvents"
      statistic   = "Sum"
      threshold   = 0
      dimensions  = { TableName = var.tracking_table_name }
    }
    "tracking-write-throttles" = {
      description = "Writes to the tracking table were throttled."
      namespace   = "AWS/DynamoDB"
      metric      = "WriteThrottleEvents"
      statistic   = "Sum"
      threshold   = 0
      dimensions  = { TableName = var.tracking_table_name }
    }
  }

  alarms = merge(local.lambda_alarms, local.dlq_alarms, local.other_alarms)
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name_prefix}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  dimensions          = each.value.dimensions
  period              = var.period_seconds
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}
