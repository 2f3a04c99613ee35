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

# Iceberg table maintenance: an EventBridge Scheduler schedule starts a run of the conversion job in maintenance mode
# (compaction, snapshot expiry, orphan removal) through the universal target for Glue's StartJobRun; the job's
# default arguments (--OUTPUT_PATH, --TABLE_FORMAT, --CATALOG_*) apply, the schedule adds --MODE maintain and the
# retention settings. Off when maintenance_schedule_expression is "".
locals {
  maintenance_enabled = var.maintenance_schedule_expression != ""
  account_id          = data.aws_caller_identity.current.account_id
  partition           = data.aws_partition.current.partition
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_iam_policy_document" "maintenance_assume" {
  count = local.maintenance_enabled ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "maintenance" {
  count = local.maintenance_enabled ? 1 : 0

  name               = "${var.name_prefix}-maintenance-schedule-role"
  assume_role_policy = data.aws_iam_policy_document.maintenance_assume[0].json
  tags               = var.tags
}

data "aws_iam_policy_document" "maintenance" {
  count = local.maintenance_enabled ? 1 : 0

  statement {
    sid       = "StartMaintenanceRunOfTheJob"
    actions   = ["glue:StartJobRun"]
    resources = [var.maintenance_job_arn]
  }

  # The schedule's target input is encrypted with the pipeline key.
  statement {
    sid       = "DecryptScheduleInput"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "maintenance" {
  count = local.maintenance_enabled ? 1 : 0

  name   = "${var.name_prefix}-maintenance-schedule-policy"
  role   = aws_iam_role.maintenance[0].id
  policy = data.aws_iam_policy_document.maintenance[0].json
}

resource "aws_scheduler_schedule" "maintenance" {
  count = local.maintenance_enabled ? 1 : 0

  name                = "${var.name_prefix}-maintenance"
  description         = "Starts ${var.maintenance_job_name} with --MODE maintain: compacts small files, expires old snapshots, removes orphan files."
  schedule_expression = var.maintenance_schedule_expression
  kms_key_arn         = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = "arn:${local.partition}:scheduler:::aws-sdk:glue:startJobRun"
    role_arn = aws_iam_role.maintenance[0].arn
    input = jsonencode({
      JobName   = var.maintenance_job_name
      Arguments = merge({ "--MODE" = "maintain" }, var.maintenance_arguments)
    })

    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 3600
    }
  }

  lifecycle {
    precondition {
      condition     = var.maintenance_job_name != "" && var.maintenance_job_arn != ""
      error_message = "A maintenance schedule needs maintenance_job_name and maintenance_job_arn."
    }
  }

  depends_on = [aws_iam_role_policy.maintenance]
}
