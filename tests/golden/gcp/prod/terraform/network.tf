# VPC, node subnetwork with secondary ranges for pods and services, Cloud NAT
# for the private nodes and private service access for Cloud SQL / Memorystore.

# Address plan inside network_cidr: 1st sixteenth nodes, 2nd sixteenth
# services, 2nd eighth private service access (Cloud SQL needs a /24 of it,
# Memorystore a /29), upper half pods.
locals {
  network_prefix_length = tonumber(split("/", var.network_cidr)[1])

  nodes_cidr            = cidrsubnet(var.network_cidr, 4, 0)
  services_cidr         = cidrsubnet(var.network_cidr, 4, 1)
  private_services_cidr = cidrsubnet(var.network_cidr, 3, 1)
  pods_cidr             = cidrsubnet(var.network_cidr, 1, 1)

  pods_range_name     = "pods"
  services_range_name = "services"
}

resource "google_compute_network" "this" {
  name                    = "${local.name}-vpc"
  auto_create_subnetworks = false

  depends_on = [google_project_service.this]
}

resource "google_compute_subnetwork" "nodes" {
  name                     = "${local.name}-nodes"
  region                   = var.region
  network                  = google_compute_network.this.id
  ip_cidr_range            = local.nodes_cidr
  private_ip_google_access = true

  secondary_ip_range {
    range_name    = local.pods_range_name
    ip_cidr_range = local.pods_cidr
  }

  secondary_ip_range {
    range_name    = local.services_range_name
    ip_cidr_range = local.services_cidr
  }
}

resource "google_compute_router" "this" {
  name    = "${local.name}-router"
  region  = var.region
  network = google_compute_network.this.id
}

resource "google_compute_router_nat" "this" {
  name                               = "${local.name}-nat"
  router                             = google_compute_router.this.name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

resource "google_compute_global_address" "private_services" {
  name          = "${local.name}-private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  address       = cidrhost(local.private_services_cidr, 0)
  prefix_length = local.network_prefix_length + 3
  network       = google_compute_network.this.id
}

resource "google_service_networking_connection" "private_services" {
  network                 = google_compute_network.this.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_services.name]

  depends_on = [google_project_service.this]
}
