# Pointing the provider at a local AWS emulator is only a matter of provider settings: the module creates the same
# resources as on AWS (examples/aws).
#
# The emulator's endpoint (var.aws_endpoint_url) reaches the provider as the AWS SDK's own AWS_ENDPOINT_URL, which
# pipeline/build/terraform.py sets to the same value for every Terraform command (with dummy credentials): when
# applying this example by hand, export AWS_ENDPOINT_URL too. Not an `endpoints {}` block: the provider validates its
# configuration in each of the three walks of an apply (validate, plan, apply), and with the 14 service endpoints of
# this stack that validation took 3-17 s each (docs/scaling.md#embedded-terraform-apply); without it, well under 1 s.
provider "aws" {
  region = var.aws_region

  # An emulator has no real credentials, account lookup or instance metadata. The keys are the emulator's dummy
  # ones on purpose: applied by hand without AWS_ENDPOINT_URL, this example reaches real AWS, which refuses them,
  # instead of creating the stack in whatever account the shell's credentials belong to.
  access_key                  = "embedded"
  secret_key                  = "embedded"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true

  default_tags {
    tags = var.tags
  }
}
