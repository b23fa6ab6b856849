# PostgreSQL flexible server with private access (delegated subnet and
# private DNS zone).

locals {
  # storage_mb only accepts these sizes; round database_storage_gb up.
  postgres_storage_sizes_mb = [32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4194304, 8388608, 16777216, 33553408]
  database_storage_mb       = [for s in local.postgres_storage_sizes_mb : s if s >= var.database_storage_gb * 1024][0]
}

resource "random_password" "database" {
  length      = 32
  special     = false
  min_lower   = 1
  min_upper   = 1
  min_numeric = 1
}

resource "azurerm_private_dns_zone" "postgres" {
  name                = "${local.name}.private.postgres.database.azure.com"
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "postgres" {
  name                  = "postgres-${local.name}"
  resource_group_name   = azurerm_resource_group.this.name
  private_dns_zone_name = azurerm_private_dns_zone.postgres.name
  virtual_network_id    = azurerm_virtual_network.this.id
  registration_enabled  = false
  tags                  = local.tags
}

resource "azurerm_postgresql_flexible_server" "this" {
  name                = "psql-${local.name}-${random_string.suffix.result}"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  version             = var.database_version
  sku_name            = var.database_tier
  storage_mb          = local.database_storage_mb
  auto_grow_enabled   = true

  delegated_subnet_id           = azurerm_subnet.postgres.id
  private_dns_zone_id           = azurerm_private_dns_zone.postgres.id
  public_network_access_enabled = false

  administrator_login    = local.database_username
  administrator_password = random_password.database.result

  backup_retention_days        = local.is_prod ? 35 : 7
  geo_redundant_backup_enabled = false

  dynamic "high_availability" {
    for_each = local.is_prod ? [1] : []

    content {
      mode = "ZoneRedundant"
    }
  }

  tags = local.tags

  lifecycle {
    # Azure picks the zones; do not fight it on later plans.
    ignore_changes = [zone, high_availability[0].standby_availability_zone]

    precondition {
      condition     = !(local.is_prod && startswith(var.database_tier, "B_"))
      error_message = "Burstable (B_) PostgreSQL SKUs do not support the zone-redundant high availability used in prod."
    }
  }

  depends_on = [azurerm_private_dns_zone_virtual_network_link.postgres]
}

resource "azurerm_postgresql_flexible_server_database" "this" {
  name      = local.database_name
  server_id = azurerm_postgresql_flexible_server.this.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}
