terraform {
  # 1.9+: the module's variable validations refer to other variables and files.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }

  # No backend: the embedded mode keeps the state in its work folder (terraform -state=..., TerraformRunner).
}
