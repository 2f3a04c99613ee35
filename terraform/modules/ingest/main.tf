data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  queue_name = "${var.name_prefix}-ingest"
  # Built from the name so the access policy is part of the queue's creation (one SQS propagation wait, not two).
  queue_arn = "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${local.queue_name}"
}

resource "aws_sqs_queue" "dlq" {
  name                              = "${var.name_prefix}-ingest-dlq"
  message_retention_seconds         = 1209600 # 14 days: the longest SQS allows, time to inspect and redrive
  kms_master_key_id                 = var.kms_key_id
  kms_data_key_reuse_period_seconds = 3600
  tags                              = var.tags
}

resource "aws_sqs_queue" "ingest" {
  name                              = local.queue_name
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  kms_master_key_id                 = var.kms_key_id
  kms_data_key_reuse_period_seconds = 3600
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
  # Inline (not aws_sqs_queue_policy): one propagation wait instead of two.
  policy = data.aws_iam_policy_document.ingest.json
  tags   = var.tags
}

# The queues name their key by alias (or the brought key's ARN) so they need not wait for the key's creation; the
# notification, whose test message needs the key, waits for it.
resource "terraform_data" "key_ready" {
  input = var.kms_key_arn
}

data "aws_iam_policy_document" "ingest" {
  statement {
    sid       = "InputBucketNotifications"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arn]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    # As AWS's example for S3 event notifications: the bucket by ARN, and the account that owns it (a bucket name
    # is global; a deleted bucket's name can be taken by another account).
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [var.input_bucket_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [local.queue_arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_notification" "input" {
  bucket = var.input_bucket_id

  dynamic "queue" {
    for_each = var.accepted_suffixes
    content {
      id            = "ndjson${replace(queue.value, ".", "-")}"
      queue_arn     = aws_sqs_queue.ingest.arn
      events        = ["s3:ObjectCreated:*"]
      filter_prefix = var.input_prefix == "" ? null : var.input_prefix
      filter_suffix = queue.value
    }
  }

  depends_on = [aws_sqs_queue.ingest, terraform_data.key_ready]
}
