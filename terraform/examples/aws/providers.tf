# An AWS account: credentials come from the usual chain (AWS_PROFILE, SSO, an assumed role in CI).
provider "aws" {
  region = var.aws_region

  default_tags {
    tags = var.tags
  }
}
