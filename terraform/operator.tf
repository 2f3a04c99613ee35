# What the `pipeline` operator commands need (status, trace, retry, redrive, reconcile, backfill, replay, maintain), as a
# policy document to attach to the people or CI roles that operate the stack (e.g. an aws_iam_policy from
# `operator_policy_json`). Found by running every command against the embedded AWS with IAM enforced and this
# document as the caller's only policy (docs/iam.md); no wildcard action, one "*" resource (cloudwatch:GetMetricData,
# which has no resource-level permissions).
data "aws_iam_policy_document" "operator" {
  statement {
    sid       = "ReadTheManifestBuildersConfiguration"
    actions   = ["lambda:GetFunctionConfiguration"]
    resources = [module.manifest_builder.function_arn]
  }

  # status and reconcile read; retry, backfill and replay claim, re-record and replace tracking items.
  statement {
    sid = "TrackingTable"
    actions = [
      "dynamodb:Query",
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      # replay: a file finished by reference is reset in a transaction with a condition check on its MANIFEST item
      "dynamodb:ConditionCheckItem",
    ]
    resources = concat([module.tracking.table_arn], module.tracking.index_arns)
  }

  statement {
    sid       = "StartAndListExecutions"
    actions   = ["states:StartExecution", "states:ListExecutions", "states:DescribeStateMachine"]
    resources = [local.state_machine_arn]
  }

  statement {
    sid       = "DescribeExecutions"
    actions   = ["states:DescribeExecution", "states:GetExecutionHistory"]
    resources = [local.executions_arn]
  }

  # trace: the Glue run of a file's batch.
  statement {
    sid       = "ReadJobRuns"
    actions   = ["glue:GetJobRun"]
    resources = [module.glue.job_arn]
  }

  # trace reads a file's quarantined lines; replay moves the date's quarantine aside (copy, then delete) and
  # deletes that snapshot once the new runs have finished.
  statement {
    sid       = "QuarantineReadAndReplay"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${module.storage.bucket_arns["output"]}/${local.quarantine_prefix}*"]
  }

  # redrive: SQS's message-move task (or receive-send-delete) from the DLQ back to the ingest queue.
  statement {
    sid = "RedriveTheIngestDeadLetterQueue"
    actions = [
      "sqs:GetQueueAttributes",
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:SendMessage",
      "sqs:StartMessageMoveTask",
      "sqs:ListMessageMoveTasks",
    ]
    resources = [module.ingest.queue_arn, module.ingest.dlq_arn]
  }

  statement {
    sid       = "ListInputManifestsAndTable"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = [module.storage.bucket_arns["input"], module.storage.bucket_arns["manifest"], module.storage.bucket_arns["output"]]
  }

  statement {
    sid       = "ReadInputFiles"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${module.storage.bucket_arns["input"]}/*"]
  }

  # retry writes the new attempt's manifest; reconcile rolls back a claim whose execution never started and
  # deletes its manifest object (the manifest builder's crash repair, pipeline/control_plane/repair.py).
  statement {
    sid       = "RetryAndReconcileManifests"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [local.manifest_objects_arn]
  }

  # Job reports, replay markers, and maintain's compaction, expiry and orphan removal of the table's files.
  statement {
    sid       = "TableFilesReportsAndReplays"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${module.storage.bucket_arns["output"]}/${local.output_prefix}*"]
  }

  statement {
    sid     = "CatalogOfTheOutputTable"
    actions = ["glue:GetDatabase", "glue:GetTable", "glue:UpdateTable", "glue:GetPartitions"]
    resources = [
      "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:catalog",
      "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:database/${module.glue.database_name}",
      "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:table/${module.glue.database_name}/${var.table_name}",
    ]
  }

  # replay of a parquet table points the date's catalog partition at the replay's snapshot and back; reconcile
  # registers what a lost status update did not: the table (created when missing) and the date's partition
  # (pipeline/control_plane/adapters/catalog.py). An Iceberg table has no catalog partitions.
  dynamic "statement" {
    for_each = var.table_format == "parquet" ? [1] : []
    content {
      sid     = "ReplayAndReconcileTheDatesPartition"
      actions = ["glue:GetPartition", "glue:UpdatePartition", "glue:CreatePartition", "glue:CreateTable"]
      resources = [
        "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:catalog",
        "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:database/${module.glue.database_name}",
        "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:table/${module.glue.database_name}/${var.table_name}",
      ]
    }
  }

  # status reads the stack's metrics (one GetMetricData call). CloudWatch supports no resource-level
  # permissions for GetMetricData: "*" is the only valid resource (tests/infra/test_iam_static.py WILDCARDS).
  statement {
    sid       = "ReadThePipelineMetrics"
    actions   = ["cloudwatch:GetMetricData"]
    resources = ["*"]
  }

  # The buckets, queues and table are encrypted with the stack key (moto checks no KMS: statically reviewed).
  statement {
    sid       = "UseThePipelineKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.kms.key_arn]
  }
}

output "operator_policy_json" {
  description = "Least-privilege IAM policy (JSON) for the `pipeline` operator commands on this stack: attach it to the operators' role (docs/iam.md)."
  value       = data.aws_iam_policy_document.operator.json
}
