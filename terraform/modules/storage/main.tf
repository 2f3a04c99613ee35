data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  roles = toset(["input", "manifest", "output", "artifacts"])
  # Bucket names are global: the account id and region keep them unique without a random suffix.
  bucket_names = {
    for role in local.roles :
    role => "${var.name_prefix}-${role}-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
  }
  # Expiry of current objects per bucket and prefix (null = keep).
  expirations = {
    input     = { prefix = "", days = var.input_expiration_days }
    manifest  = { prefix = "", days = var.manifest_expiration_days }
    output    = { prefix = var.quarantine_prefix, days = var.quarantine_expiration_days }
    artifacts = { prefix = "", days = null }
  }
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice of the deployer, not a default of this stack.
  #checkov:skip=CKV_AWS_18:Server access logging needs a separate log bucket the deployer chooses; CloudTrail data events are the recommended audit trail.
  #checkov:skip=CKV2_AWS_62:Only the input bucket needs event notifications (declared in the ingest module); the others are written by the pipeline itself.
  for_each = local.roles

  bucket        = local.bucket_names[each.key]
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { "pipeline:role" = each.key })
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    id     = "housekeeping"
    status = "Enabled"
    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  dynamic "rule" {
    for_each = local.expirations[each.key].days == null ? [] : [local.expirations[each.key]]
    content {
      id     = "expire-${each.key}"
      status = "Enabled"
      filter {
        prefix = rule.value.prefix
      }
      expiration {
        days = rule.value.days
      }
    }
  }
}

data "aws_iam_policy_document" "tls_only" {
  for_each = var.enforce_tls ? aws_s3_bucket.this : {}

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      each.value.arn,
      "${each.value.arn}/*",
    ]
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

resource "aws_s3_bucket_policy" "tls_only" {
  for_each = var.enforce_tls ? aws_s3_bucket.this : {}

  bucket = each.value.id
  policy = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
