data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  create_key = var.existing_key_arn == null
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
}

# In a key policy "Resource" is always "*": it means "this key" (the policy is attached to the key itself).
#
# The service principals below are the ones that write to a resource of this stack encrypted with the key (the
# functions, the Glue job and the state machine use it through their roles, which the account statement below lets IAM
# grant). tests/infra/test_key_policy.py derives that list from the applied resources and checks it against this
# policy; a brought key (existing_key_arn) needs the same statements: output kms_key_policy_service_statements.
# Not here on purpose: states.amazonaws.com and scheduler.amazonaws.com (the state machine and the maintenance
# schedule encrypt with the key as their execution roles, whose IAM policies grant kms:Decrypt/GenerateDataKey),
# events.amazonaws.com (the flush rule's only target is the Lambda function, nothing encrypted), sns.amazonaws.com
# (the alert topic delivers to e-mail, not to an encrypted queue).
data "aws_iam_policy_document" "services" {
  #checkov:skip=CKV_AWS_109:Key policies must use Resource "*" (the key itself); access is scoped by principal and conditions.
  #checkov:skip=CKV_AWS_111:Key policies must use Resource "*" (the key itself); access is scoped by principal and conditions.
  #checkov:skip=CKV_AWS_356:Key policies must use Resource "*" (the key itself); access is scoped by principal and conditions.

  # The Lambda, Step Functions and Glue log groups (Glue's through the security configuration's CloudWatch
  # encryption): CloudWatch Logs encrypts with the log group's ARN as encryption context.
  statement {
    sid = "CloudWatchLogsEncryptsThisAccountsLogGroups"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  # The state machine is encrypted with this key and logs with execution data: the log delivery service (vended
  # logs) decrypts the execution data before it writes it to the log group. Without it no execution log is
  # delivered and the Glue failure alarm, which reads that log, can never fire.
  statement {
    sid       = "VendedLogDeliveryDecryptsEncryptedExecutionData"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["delivery.logs.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  # CloudWatch alarms publish to the encrypted alert topic; S3 event notifications send to the encrypted ingest
  # queue. Both need a data key, and only for this account's alarms and buckets.
  statement {
    sid       = "AlarmsAndS3NotificationsPublishToEncryptedTopicAndQueue"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:Key policies must use Resource "*" (the key itself); access is scoped by principal and conditions.
  #checkov:skip=CKV_AWS_111:Key policies must use Resource "*" (the key itself); access is scoped by principal and conditions.
  #checkov:skip=CKV_AWS_356:Key policies must use Resource "*" (the key itself); access is scoped by principal and conditions.
  count = local.create_key ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.services.json]

  statement {
    sid       = "AccountAdministersKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "this" {
  count = local.create_key ? 1 : 0

  description             = "${var.name_prefix}: encrypts the pipeline's buckets, queues, table, logs, topic and Glue output"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.key[0].json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = local.create_key ? 1 : 0

  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.this[0].key_id
}
