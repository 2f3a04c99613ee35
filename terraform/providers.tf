locals {
  # Pointing the provider at a local AWS emulator (the embedded mode, tests) is only a matter of variables:
  # the same resources are created either way.
  emulated = var.aws_endpoint_url != null
}

provider "aws" {
  region = var.aws_region

  # Only with aws_endpoint_url: an emulator has no real credentials, account lookup or instance metadata.
  skip_credentials_validation = local.emulated
  skip_requesting_account_id  = local.emulated
  skip_metadata_api_check     = local.emulated
  s3_use_path_style           = local.emulated

  dynamic "endpoints" {
    for_each = local.emulated ? [var.aws_endpoint_url] : []
    content {
      cloudwatch = endpoints.value
      dynamodb   = endpoints.value
      events     = endpoints.value
      glue       = endpoints.value
      iam        = endpoints.value
      kms        = endpoints.value
      lambda     = endpoints.value
      logs       = endpoints.value
      s3         = endpoints.value
      scheduler  = endpoints.value
      sfn        = endpoints.value
      sns        = endpoints.value
      sqs        = endpoints.value
      sts        = endpoints.value
    }
  }

  default_tags {
    tags = var.tags
  }
}
