terraform {
  # 1.9+: the module's variable validations refer to other variables and files.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }

  # Keep the state in S3 (one state per stack; use_lockfile needs Terraform 1.10+, else a DynamoDB lock table).
  # Uncomment, set your own bucket and key, then `terraform init` (docs/deploy.md):
  #
  # backend "s3" {
  #   bucket       = "my-terraform-state"
  #   key          = "ndjson-pipeline/prod.tfstate"
  #   region       = "us-east-1"
  #   encrypt      = true
  #   use_lockfile = true
  # }
}
