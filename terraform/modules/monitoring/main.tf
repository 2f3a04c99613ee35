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

# The pipeline's own metrics (pipeline/contracts/metrics.py; the Lambdas and the Glue job write them as EMF lines).
locals {
  service_dimension = { service = "manifest-builder" }
  glue_dimension    = { service = "ndjson-to-parquet" }
}

# Freshness SLO: every flush reports the age of the oldest landed file not yet in a started batch. No datapoint
# means no flush ran, which is as stale as it gets: missing data breaches.
resource "aws_cloudwatch_metric_alarm" "freshness" {
  alarm_name          = "${var.name_prefix}-freshness-objective"
  alarm_description   = "The oldest landed file has waited more than ${var.freshness_objective_seconds} s to be batched, or no flush reported it: runbook 'freshness-objective'."
  namespace           = local.metric_namespace
  metric_name         = "OldestPendingAgeSeconds"
  statistic           = "Maximum"
  dimensions          = local.service_dimension
  period              = var.period_seconds
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = var.freshness_objective_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# Bad-record ratio per hour: quarantined lines over records read, both summed over the hour's Glue runs.
resource "aws_cloudwatch_metric_alarm" "bad_record_ratio" {
  alarm_name          = "${var.name_prefix}-bad-record-ratio"
  alarm_description   = "More than ${var.bad_record_ratio_threshold * 100}% of the last hour's records were quarantined: runbook 'bad-record-ratio'."
  evaluation_periods  = 1
  threshold           = var.bad_record_ratio_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags

  metric_query {
    id          = "ratio"
    expression  = "IF(rin > 0, bad / rin, 0)"
    label       = "bad-record ratio"
    return_data = true
  }
  metric_query {
    id = "bad"
    metric {
      namespace   = local.metric_namespace
      metric_name = "RecordsQuarantined"
      dimensions  = local.glue_dimension
      period      = 3600
      stat        = "Sum"
    }
  }
  metric_query {
    id = "rin"
    metric {
      namespace   = local.metric_namespace
      metric_name = "RecordsIn"
      dimensions  = local.glue_dimension
      period      = 3600
      stat        = "Sum"
    }
  }
}

# Generated from the metric names the code emits (python -m pipeline.build.dashboard; tests/infra/test_dashboard.py).
resource "aws_cloudwatch_dashboard" "pipeline" {
  dashboard_name = "${var.name_prefix}-pipeline"
  dashboard_body = templatefile("${path.module}/dashboard.json.tftpl", {
    namespace         = local.metric_namespace
    region            = var.region
    ingest_queue_name = var.ingest_queue_name
    objective_seconds = var.freshness_objective_seconds
    glue_dpus         = var.glue_dpus
    dlq_metrics = join(",", [
      for label, queue in var.dead_letter_queue_names :
      jsonencode(["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue, { stat = "Maximum", label = label }])
    ])
  })
}
