data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  name              = var.name
  account_id        = data.aws_caller_identity.current.account_id
  region            = data.aws_region.current.name
  partition         = data.aws_partition.current.partition
  report_key_prefix = "${var.output_prefix}_reports/"

  # The same substitution pipeline/build/asl.py performs for the tests and the embedded mode.
  definition = templatefile(var.definition_template_path, {
    partition                    = local.partition
    tracking_table_name          = var.tracking_table_name
    glue_job_name                = var.glue_job_name
    output_path                  = var.output_path
    bad_records_path             = var.bad_records_path
    compression_type             = var.compression_type
    report_bucket                = var.output_bucket
    report_key_prefix            = local.report_key_prefix
    status_updater_function_arn  = var.status_updater_function_arn
    alert_topic_arn              = var.alert_topic_arn
    execution_timeout_seconds    = var.execution_timeout_seconds
    glue_task_timeout_seconds    = var.glue_task_timeout_seconds
    glue_retry_interval_seconds  = var.glue_retry_interval_seconds
    glue_retry_max_attempts      = var.glue_retry_max_attempts
    glue_retry_max_delay_seconds = var.glue_retry_max_delay_seconds
    retry_interval_seconds       = var.retry_interval_seconds
  })
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Execution logs; retention is the log_retention_days variable, not an audit requirement.
  name              = "/aws/vendedlogs/states/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${local.name}-sfn-role"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "MarkManifestProcessing"
    actions   = ["dynamodb:UpdateItem"]
    resources = [var.tracking_table_arn]
  }

  statement {
    sid       = "RunGlueJobSync"
    actions   = ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"]
    resources = [var.glue_job_arn]
  }

  statement {
    sid       = "ReadJobReport"
    actions   = ["s3:GetObject"]
    resources = ["${var.output_bucket_arn}/${local.report_key_prefix}*"]
  }

  statement {
    sid       = "StatusUpdate"
    actions   = ["lambda:InvokeFunction"]
    resources = [var.status_updater_function_arn, "${var.status_updater_function_arn}:*"]
  }

  statement {
    sid       = "Alert"
    actions   = ["sns:Publish"]
    resources = [var.alert_topic_arn]
  }

  statement {
    sid       = "EncryptedTableTopicAndReports"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  # CloudWatch Logs delivery for Step Functions (vended logs) supports no resource-level permissions:
  # AWS documents "*" as the only valid resource for these actions.
  statement {
    sid = "LogDeliveryHasNoResourceLevelPermissions"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  # X-Ray's trace APIs support no resource-level permissions: "*" is the only valid resource.
  statement {
    sid = "XRayTracingHasNoResourceLevelPermissions"
    actions = [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${local.name}-sfn-policy"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_sfn_state_machine" "this" {
  name       = local.name
  type       = "STANDARD"
  role_arn   = aws_iam_role.this.arn
  definition = local.definition

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.this.arn}:*"
    include_execution_data = true
    level                  = var.log_level
  }

  tracing_configuration {
    enabled = true
  }

  encryption_configuration {
    type                              = "CUSTOMER_MANAGED_KMS_KEY"
    kms_key_id                        = var.kms_key_arn
    kms_data_key_reuse_period_seconds = 300
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.this]
}
