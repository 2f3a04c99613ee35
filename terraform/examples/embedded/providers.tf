# Pointing the provider at a local AWS emulator is only a matter of provider settings: the module creates the same
# resources as on AWS (examples/aws).
provider "aws" {
  region = var.aws_region

  # An emulator has no real credentials, account lookup or instance metadata.
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true

  endpoints {
    cloudwatch = var.aws_endpoint_url
    dynamodb   = var.aws_endpoint_url
    events     = var.aws_endpoint_url
    glue       = var.aws_endpoint_url
    iam        = var.aws_endpoint_url
    kms        = var.aws_endpoint_url
    lambda     = var.aws_endpoint_url
    logs       = var.aws_endpoint_url
    s3         = var.aws_endpoint_url
    scheduler  = var.aws_endpoint_url
    sfn        = var.aws_endpoint_url
    sns        = var.aws_endpoint_url
    sqs        = var.aws_endpoint_url
    sts        = var.aws_endpoint_url
  }

  default_tags {
    tags = var.tags
  }
}
