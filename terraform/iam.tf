# Policies of the two function roles (each module adds its own logs, X-Ray, KMS and dead-letter statements).
# The contract of these actions is docs/tracking-table.md.

locals {
  manifest_objects_arn = "${module.storage.bucket_arns["manifest"]}/${var.manifest_prefix}*"
  executions_arn       = "arn:${local.partition}:states:${var.aws_region}:${local.account_id}:execution:${local.state_machine_name}:*"
}

data "aws_iam_policy_document" "manifest_builder" {
  statement {
    sid = "TrackingTable"
    actions = [
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:GetItem",
      "dynamodb:DeleteItem",
      "dynamodb:Query",
      "dynamodb:ConditionCheckItem",
    ]
    resources = [module.tracking.table_arn]
  }

  statement {
    sid       = "TrackingIndexes"
    actions   = ["dynamodb:Query"]
    resources = module.tracking.index_arns
  }

  statement {
    sid       = "Manifests"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
    resources = [local.manifest_objects_arn]
  }

  statement {
    sid       = "StartConversion"
    actions   = ["states:StartExecution"]
    resources = [local.state_machine_arn]
  }

  statement {
    sid       = "FindExecutionsOfOwnManifests"
    actions   = ["states:DescribeExecution"]
    resources = [local.executions_arn]
  }

  statement {
    sid = "ConsumeIngestQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ChangeMessageVisibility",
    ]
    resources = [module.ingest.queue_arn]
  }
}

data "aws_iam_policy_document" "status_updater" {
  statement {
    sid       = "TrackingTable"
    actions   = ["dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"]
    resources = [module.tracking.table_arn]
  }

  statement {
    sid       = "ManifestFiles"
    actions   = ["dynamodb:Query"]
    resources = ["${module.tracking.table_arn}/index/manifest-index"]
  }
}
