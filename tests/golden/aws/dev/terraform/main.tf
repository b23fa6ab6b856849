# Shared naming and tagging for the AWS root module.

locals {
  name    = "${var.release_name}-${var.environment}"
  is_prod = var.environment == "prod"

  tags = merge(var.tags, {
    environment  = var.environment
    release      = var.release_name
    "managed-by" = "terraform"
  })

  # Graviton instance families (m7g, c7gn, t4g, r8g, ...) need an ARM AMI.
  node_ami_type = can(regex("^[a-z]+[0-9]+g", var.node_size)) ? "AL2023_ARM_64_STANDARD" : "AL2023_x86_64_STANDARD"

  database_name     = replace(var.release_name, "-", "_")
  database_username = "meshadmin"
}

data "aws_partition" "current" {}
