# Key Vault holding the connection URLs consumed by TestMesh.

data "azurerm_client_config" "current" {}

locals {
  # Key Vault secret names allow only letters, digits and "-".
  secret_name = "${trim(replace(var.secrets_prefix, "/[^0-9A-Za-z-]/", "-"), "-")}-connections"

  database_url = format(
    "postgres://%s:%s@%s:5432/%s?sslmode=require",
    local.database_username,
    urlencode(random_password.database.result),
    azurerm_postgresql_flexible_server.this.fqdn,
    local.database_name,
  )

  redis_url = format(
    "rediss://:%s@%s:%d",
    urlencode(azurerm_redis_cache.this.primary_access_key),
    azurerm_redis_cache.this.hostname,
    azurerm_redis_cache.this.ssl_port,
  )
}

resource "azurerm_key_vault" "this" {
  # The profile's secrets.vaultUrl names this vault, so the chart's
  # SecretStore and Terraform agree on it.
  name                = var.key_vault_name
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tenant_id           = data.azurerm_client_config.current.tenant_id
  sku_name            = "standard"

  soft_delete_retention_days = local.is_prod ? 90 : 7
  purge_protection_enabled   = local.is_prod

  access_policy {
    tenant_id          = data.azurerm_client_config.current.tenant_id
    object_id          = data.azurerm_client_config.current.object_id
    secret_permissions = ["Get", "List", "Set", "Delete", "Purge", "Recover"]
  }

  tags = local.tags
}

resource "azurerm_key_vault_secret" "connections" {
  name         = local.secret_name
  key_vault_id = azurerm_key_vault.this.id
  content_type = "application/json"

  value = jsonencode({
    "database-url" = local.database_url
    "redis-url"    = local.redis_url
  })

  tags = local.tags

  # The Redis private endpoint must exist before the URL is usable.
  depends_on = [azurerm_private_endpoint.redis]
}
