data "aws_partition" "current" {}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.function_name}-role"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Application logs; retention is the log_retention_days variable, not an audit requirement.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "runtime" {
  source_policy_documents = [var.policy_json]

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid       = "AsyncFailuresToAlertTopic"
    actions   = ["sns:Publish"]
    resources = [var.async_failure_topic_arn]
  }

  statement {
    sid       = "EncryptedEnvironmentLogsAndDlq"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  # X-Ray's PutTraceSegments/PutTelemetryRecords have no resource-level permissions: "*" is the only valid resource.
  statement {
    sid       = "XRayTracingHasNoResourceLevelPermissions"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.function_name}-policy"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.runtime.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The function only calls AWS APIs (S3, DynamoDB, Step Functions); a VPC would add NAT or endpoints and no isolation.
  #checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the on-failure destination (the alert topic) of aws_lambda_function_event_invoke_config; SQS failures go to the ingest queue's DLQ.
  #checkov:skip=CKV_AWS_272:The package is built by the project's own reproducible build (pipeline build-lambda); code signing is left to deployers with a signing profile.
  function_name                  = var.function_name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)
  handler                        = var.handler
  runtime                        = var.runtime
  architectures                  = [var.architecture]
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = var.environment
  }

  tracing_config {
    mode = "Active"
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.this, aws_cloudwatch_log_group.this]
}

# Failed asynchronous invocations (the scheduled flush) are published to the alert topic: an operator is told, and
# the next flush redoes the same work, so there is nothing to redrive.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.maximum_retry_attempts
  maximum_event_age_in_seconds = 3600

  destination_config {
    on_failure {
      destination = var.async_failure_topic_arn
    }
  }
}
