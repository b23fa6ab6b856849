# Shared naming, tagging and the resource group of the Azure root module.

locals {
  name    = "${var.release_name}-${var.environment}"
  is_prod = var.environment == "prod"

  tags = merge(var.tags, {
    environment  = var.environment
    release      = var.release_name
    "managed-by" = "terraform"
  })

  database_name     = replace(var.release_name, "-", "_")
  database_username = "meshadmin"
}

# Suffix for globally unique names (PostgreSQL server, Redis cache, Key Vault).
resource "random_string" "suffix" {
  length  = 6
  upper   = false
  special = false
  numeric = true
}

resource "azurerm_resource_group" "this" {
  name     = "rg-${local.name}"
  location = var.region
  tags     = local.tags
}
