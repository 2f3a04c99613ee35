"""Infrastructure helpers: running the project's Terraform (terraform.py) and scanning it (checkov.py)."""
