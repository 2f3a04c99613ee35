data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  # Bucket names are global: the account id and region keep them unique without a random suffix.
  suffix = "${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
}

module "input" {
  source = "./bucket"

  bucket_name                        = "${var.name_prefix}-input-${local.suffix}"
  role                               = "input"
  kms_key_arn                        = var.kms_key_arn
  enforce_tls                        = var.enforce_tls
  force_destroy                      = var.force_destroy
  access_logs_bucket                 = var.access_logs_bucket
  expiration                         = var.input_expiration_days == null ? null : { prefix = "", days = var.input_expiration_days }
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  tags                               = var.tags
}

module "manifest" {
  source = "./bucket"

  bucket_name                        = "${var.name_prefix}-manifest-${local.suffix}"
  role                               = "manifest"
  kms_key_arn                        = var.kms_key_arn
  enforce_tls                        = var.enforce_tls
  force_destroy                      = var.force_destroy
  access_logs_bucket                 = var.access_logs_bucket
  expiration                         = { prefix = "", days = var.manifest_expiration_days }
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  tags                               = var.tags
}

module "output" {
  source = "./bucket"

  bucket_name                        = "${var.name_prefix}-output-${local.suffix}"
  role                               = "output"
  kms_key_arn                        = var.kms_key_arn
  enforce_tls                        = var.enforce_tls
  force_destroy                      = var.force_destroy
  access_logs_bucket                 = var.access_logs_bucket
  expiration                         = { prefix = var.quarantine_prefix, days = var.quarantine_expiration_days }
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  tags                               = var.tags
}

module "artifacts" {
  source = "./bucket"

  bucket_name                        = "${var.name_prefix}-artifacts-${local.suffix}"
  role                               = "artifacts"
  kms_key_arn                        = var.kms_key_arn
  enforce_tls                        = var.enforce_tls
  force_destroy                      = var.force_destroy
  access_logs_bucket                 = var.access_logs_bucket
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  tags                               = var.tags
}
