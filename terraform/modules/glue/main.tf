data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  job_name             = "${var.name_prefix}-ndjson-to-parquet"
  security_config_name = "${var.name_prefix}-glue"
  database_name        = replace("${var.name_prefix}_lake", "-", "_")
  script_key           = "glue/run_ndjson_to_parquet.py"
  package_key          = "glue/ndjson_to_parquet.zip"
  output_path          = "s3://${var.output_bucket}/${var.output_prefix}"
  bad_records_path     = "s3://${var.output_bucket}/${var.quarantine_prefix}"
  account_id           = data.aws_caller_identity.current.account_id
  region               = data.aws_region.current.name
  partition            = data.aws_partition.current.partition
  # Glue 5 writes driver/executor logs to <prefix>/error and print/stdout to <prefix>/output, prefix given by
  # --custom-logGroup-prefix; created here so they have the stack's retention and key (Glue would create
  # /aws-glue/jobs/error|output itself, with neither).
  log_group_prefix = "/aws-glue/jobs/${local.job_name}"
  log_groups       = { for stream in ["error", "output"] : stream => "${local.log_group_prefix}/${stream}" }
  # No PyPI egress: every wheel of the bundle, installed with pip --no-index.
  wheel_files    = var.wheel_bundle_dir == null ? [] : sort(tolist(fileset(var.wheel_bundle_dir, "*.whl")))
  python_modules = var.wheel_bundle_dir == null ? var.additional_python_modules : join(",", [for name in local.wheel_files : "s3://${var.artifacts_bucket}/glue/wheels/${name}"])
  catalog_arns = [
    "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
    "arn:${local.partition}:glue:${local.region}:${local.account_id}:database/${local.database_name}",
    "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${local.database_name}/${var.catalog_table}",
  ]
}

resource "aws_s3_object" "script" {
  bucket                 = var.artifacts_bucket
  key                    = local.script_key
  source                 = var.script_path
  source_hash            = filemd5(var.script_path)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  tags                   = var.tags
}

# The job package (ndjson_to_parquet/ with codecs.json, and pipeline/contracts/), built by `pipeline build-glue`:
# Glue puts --extra-py-files zips on the driver's and every executor's Python path.
resource "aws_s3_object" "package" {
  bucket                 = var.artifacts_bucket
  key                    = local.package_key
  source                 = var.package_path
  source_hash            = filemd5(var.package_path)
  content_type           = "application/zip"
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  tags                   = var.tags
}

resource "aws_s3_object" "wheel" {
  for_each = toset(local.wheel_files)

  bucket                 = var.artifacts_bucket
  key                    = "glue/wheels/${each.key}"
  source                 = "${var.wheel_bundle_dir}/${each.key}"
  source_hash            = filemd5("${var.wheel_bundle_dir}/${each.key}")
  content_type           = "application/zip"
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  tags                   = var.tags
}

resource "aws_cloudwatch_log_group" "job" {
  #checkov:skip=CKV_AWS_338:Job logs; retention is the log_retention_days variable, not an audit requirement.
  for_each = local.log_groups

  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_glue_security_configuration" "this" {
  name = local.security_config_name

  encryption_configuration {
    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = var.kms_key_arn
    }
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = var.kms_key_arn
    }
    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = var.kms_key_arn
    }
  }
}

resource "aws_glue_catalog_database" "lake" {
  name        = local.database_name
  description = "Tables written by ${local.job_name}."
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "job" {
  name               = "${local.job_name}-role"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "job" {
  statement {
    sid       = "ReadScriptAndPackage"
    actions   = ["s3:GetObject"]
    resources = ["${var.artifacts_bucket_arn}/glue/*"]
  }

  statement {
    sid       = "ReadManifests"
    actions   = ["s3:GetObject"]
    resources = ["${var.manifest_bucket_arn}/${var.manifest_prefix}*"]
  }

  statement {
    sid       = "ReadInputFiles"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${var.input_bucket_arn}/*"]
  }

  # The table location holds the Iceberg metadata/ and data/ folders (or the Parquet dt=D/ folders); Delete is
  # for a run's own uncommitted files, compaction and orphan removal.
  statement {
    sid       = "WriteTableAndQuarantine"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${var.output_bucket_arn}/${var.output_prefix}*", "${var.output_bucket_arn}/${var.quarantine_prefix}*"]
  }

  # The table's catalog entry: an Iceberg table (pyiceberg's Glue catalog: GetDatabase on create and commit,
  # GetTable on load, CreateTable on the first batch, UpdateTable with the Glue VersionId on every commit) or the
  # plain-Parquet table whose columns are the schema contract. That database and that table only.
  statement {
    sid       = "CatalogOfTheOutputTable"
    actions   = ["glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable"]
    resources = local.catalog_arns
  }

  # Spark's S3 file systems list a path's parent to tell a missing object from a directory; Iceberg maintenance
  # lists the table location to find orphan files.
  statement {
    sid       = "ListInputManifestAndOutputBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.input_bucket_arn, var.manifest_bucket_arn, var.output_bucket_arn]
  }

  statement {
    sid       = "EncryptWithPipelineKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncrypt*", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid     = "WriteOwnLogs"
    actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"]
    resources = [
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws-glue/*",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws-glue/*:*",
    ]
  }

  # cloudwatch:PutMetricData supports no resource-level permissions; the namespace condition scopes it to Glue.
  statement {
    sid       = "JobMetricsHaveNoResourceLevelPermissions"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Glue"]
    }
  }
}

resource "aws_iam_role_policy" "job" {
  name   = "${local.job_name}-policy"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job.json
}

resource "aws_glue_job" "this" {
  name                   = local.job_name
  description            = "Converts the NDJSON files of one manifest to partitioned Parquet; bad lines go to the quarantine."
  role_arn               = aws_iam_role.job.arn
  glue_version           = var.glue_version
  worker_type            = var.worker_type
  number_of_workers      = var.number_of_workers
  timeout                = var.timeout_minutes
  execution_class        = var.execution_class
  max_retries            = 0 # retries are the state machine's decision (it knows which errors are transient)
  security_configuration = aws_glue_security_configuration.this.name

  command {
    name            = "glueetl"
    script_location = "s3://${var.artifacts_bucket}/${aws_s3_object.script.key}"
    python_version  = "3"
  }

  execution_property {
    max_concurrent_runs = var.max_concurrent_runs
  }

  default_arguments = merge(
    {
      "--COMPRESSION_TYPE"             = var.compression_type
      "--MAX_BAD_RECORD_RATIO"         = tostring(var.max_bad_record_ratio)
      "--TABLE_FORMAT"                 = var.table_format
      "--CATALOG_DATABASE"             = aws_glue_catalog_database.lake.name
      "--CATALOG_TABLE"                = var.catalog_table
      "--OUTPUT_PATH"                  = local.output_path
      "--BAD_RECORDS_PATH"             = local.bad_records_path
      "--extra-py-files"               = "s3://${var.artifacts_bucket}/${aws_s3_object.package.key}"
      "--job-language"                 = "python"
      "--job-bookmark-option"          = "job-bookmark-disable"
      "--enable-metrics"               = "true"
      "--enable-observability-metrics" = "true"
      "--custom-logGroup-prefix"       = local.log_group_prefix
    },
    var.metrics_namespace == null ? {} : { "--METRICS_NAMESPACE" = var.metrics_namespace },
    var.compression_level == null ? {} : { "--COMPRESSION_LEVEL" = tostring(var.compression_level) },
    local.python_modules == "" ? {} : { "--additional-python-modules" = local.python_modules },
    var.wheel_bundle_dir == null ? {} : { "--python-modules-installer-option" = "--no-index" },
    var.extra_default_arguments,
  )

  tags = var.tags

  depends_on = [aws_iam_role_policy.job, aws_cloudwatch_log_group.job, aws_s3_object.wheel]
}
