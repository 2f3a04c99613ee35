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

  # Without s3:ListBucket, S3 answers 403 AccessDenied (not 404) for a missing key, and crash repair could not tell
  # a manifest that was never written from a denied read. The bucket holds manifests only.
  statement {
    sid       = "MissingManifestIs404"
    actions   = ["s3:ListBucket"]
    resources = [module.storage.bucket_arns["manifest"]]
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
    # From the name: the role policy, and the function after it, need not wait for the queue's creation (~25 s of
    # SQS attribute propagation); the event source mapping waits for the queue itself (triggers).
    resources = [module.ingest.queue_arn_from_name]
  }
}

data "aws_iam_policy_document" "status_updater" {
  source_policy_documents = concat([data.aws_iam_policy_document.read_job_reports.json], local.catalog_registration_policies)

  statement {
    sid       = "TrackingTable"
    actions   = ["dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query"]
    resources = [module.tracking.table_arn]
  }

  statement {
    sid       = "ManifestFiles"
    actions   = ["dynamodb:Query"]
    resources = ["${module.tracking.table_arn}/index/manifest-index"]
  }
}

# With table_format = "parquet" the status update registers the output table and the date's partition in the Glue
# Data Catalog; with "iceberg" the Glue job commits the table (its own role) and the functions get no Glue access.
locals {
  catalog_registration_policies = var.table_format == "parquet" ? [data.aws_iam_policy_document.catalog_registration.json] : []
}

data "aws_iam_policy_document" "catalog_registration" {
  statement {
    sid = "RegisterOutputTableAndPartitions"
    actions = [
      "glue:GetTable",
      "glue:CreateTable",
      "glue:UpdateTable",
      "glue:GetPartition",
      "glue:CreatePartition",
      "glue:UpdatePartition",
    ]
    resources = [
      "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:catalog",
      "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:database/${module.glue.database_name}",
      "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:table/${module.glue.database_name}/${var.table_name}",
    ]
  }
}

# The state machine passes the job report's location only (a wide schema exceeds its 256 KiB state limit): the
# status update reads the report itself.
data "aws_iam_policy_document" "read_job_reports" {
  statement {
    sid       = "ReadJobReports"
    actions   = ["s3:GetObject"]
    resources = ["${module.storage.bucket_arns["output"]}/${local.output_prefix}_reports/*"]
  }
}

# When the manifest builder also serves the status update (separate_status_updater = false).
data "aws_iam_policy_document" "manifest_builder_and_status_update" {
  source_policy_documents = concat([data.aws_iam_policy_document.manifest_builder.json, data.aws_iam_policy_document.read_job_reports.json], local.catalog_registration_policies)
}
