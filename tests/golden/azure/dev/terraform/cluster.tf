# AKS cluster (Azure CNI overlay) with an autoscaling default node pool.

locals {
  # Service and pod CIDRs must not overlap the VNet address space.
  aks_service_cidr = startswith(var.network_cidr, "10.") ? "172.20.0.0/16" : "10.250.0.0/16"
  aks_pod_cidr     = startswith(var.network_cidr, "10.") ? "172.21.0.0/16" : "10.244.0.0/16"
}

resource "azurerm_kubernetes_cluster" "this" {
  name                = var.cluster_name
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  dns_prefix          = var.cluster_name
  kubernetes_version  = var.kubernetes_version
  sku_tier            = local.is_prod ? "Standard" : "Free"

  automatic_upgrade_channel = "patch"
  oidc_issuer_enabled       = true
  workload_identity_enabled = true

  default_node_pool {
    name                        = "system"
    vm_size                     = var.node_size
    vnet_subnet_id              = azurerm_subnet.aks.id
    auto_scaling_enabled        = true
    min_count                   = var.node_min_count
    max_count                   = var.node_max_count
    node_count                  = var.node_min_count
    os_disk_size_gb             = 128
    temporary_name_for_rotation = "systemtmp"
    tags                        = local.tags

    upgrade_settings {
      max_surge = "10%"
    }
  }

  identity {
    type = "SystemAssigned"
  }

  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    load_balancer_sku   = "standard"
    outbound_type       = "loadBalancer"
    service_cidr        = local.aks_service_cidr
    dns_service_ip      = cidrhost(local.aks_service_cidr, 10)
    pod_cidr            = local.aks_pod_cidr
  }

  tags = local.tags

  lifecycle {
    # The cluster autoscaler owns the node count after creation.
    ignore_changes = [default_node_pool[0].node_count]

    precondition {
      condition     = var.node_min_count <= var.node_max_count
      error_message = "The node_min_count must be less than or equal to node_max_count."
    }
  }
}

# The cluster identity manages load balancers and IPs in the custom subnet.
resource "azurerm_role_assignment" "aks_network" {
  scope                = azurerm_subnet.aks.id
  role_definition_name = "Network Contributor"
  principal_id         = azurerm_kubernetes_cluster.this.identity[0].principal_id
}
