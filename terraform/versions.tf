terraform {
  # 1.9+: variable validations refer to other variables and files (compression_type, repair_grace_seconds).
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }
}
