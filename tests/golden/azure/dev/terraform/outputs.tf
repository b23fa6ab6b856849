output "cluster_endpoint" {
  description = "HTTPS endpoint of the AKS API server."
  value       = "https://${azurerm_kubernetes_cluster.this.fqdn}:443"
}

output "cluster_name" {
  description = "Name of the AKS cluster."
  value       = azurerm_kubernetes_cluster.this.name
}

output "resource_group_name" {
  description = "Resource group holding all resources of the deployment."
  value       = azurerm_resource_group.this.name
}

output "region" {
  description = "Azure location of the deployment."
  value       = azurerm_resource_group.this.location
}

output "database_host" {
  description = "FQDN of the PostgreSQL flexible server (resolves privately inside the VNet)."
  value       = azurerm_postgresql_flexible_server.this.fqdn
}

output "cache_host" {
  description = "Hostname of the Azure Cache for Redis (TLS port 6380, resolves to the private endpoint inside the VNet)."
  value       = azurerm_redis_cache.this.hostname
}

output "namespace" {
  description = "Kubernetes namespace for the TestMesh Helm release."
  value       = var.namespace
}

output "storage_class" {
  description = "StorageClass the Helm values should use (AKS built-in Azure Disk CSI class)."
  value       = "managed-csi"
}

output "secrets_name" {
  description = "Name of the Key Vault secret holding the connection URLs."
  value       = azurerm_key_vault_secret.connections.name
}

output "key_vault_name" {
  description = "Name of the Key Vault holding the connection secret."
  value       = azurerm_key_vault.this.name
}

output "key_vault_uri" {
  description = "URI of the Key Vault holding the connection secret."
  value       = azurerm_key_vault.this.vault_uri
}
