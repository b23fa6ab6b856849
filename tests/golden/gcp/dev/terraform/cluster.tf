# Regional GKE cluster with private nodes and one autoscaling node pool.

resource "google_service_account" "nodes" {
  account_id   = "${substr(local.name, 0, 23)}-nodes"
  display_name = "GKE nodes of ${var.cluster_name}"

  depends_on = [google_project_service.this]
}

resource "google_project_iam_member" "nodes" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
  ])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.nodes.email}"
}

data "google_compute_zones" "available" {
  region = var.region
  status = "UP"

  depends_on = [google_project_service.this]
}

locals {
  # Never span more zones than the pool may have nodes (one initial node per zone).
  node_locations = slice(
    sort(data.google_compute_zones.available.names),
    0,
    min(3, var.node_max_count, length(data.google_compute_zones.available.names)),
  )
}

resource "google_container_cluster" "this" {
  name     = var.cluster_name
  location = var.region

  network    = google_compute_network.this.id
  subnetwork = google_compute_subnetwork.nodes.id

  remove_default_node_pool = true
  initial_node_count       = 1

  min_master_version  = var.kubernetes_version
  deletion_protection = local.is_prod
  networking_mode     = "VPC_NATIVE"
  resource_labels     = local.labels

  release_channel {
    channel = "REGULAR"
  }

  ip_allocation_policy {
    cluster_secondary_range_name  = local.pods_range_name
    services_secondary_range_name = local.services_range_name
  }

  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
  }

  workload_identity_config {
    workload_pool = "${var.project_id}.svc.id.goog"
  }

  depends_on = [
    google_project_service.this,
    google_compute_router_nat.this,
  ]
}

resource "google_container_node_pool" "primary" {
  name           = "primary"
  cluster        = google_container_cluster.this.id
  location       = var.region
  node_locations = local.node_locations

  initial_node_count = 1

  autoscaling {
    total_min_node_count = var.node_min_count
    total_max_node_count = var.node_max_count
    location_policy      = "BALANCED"
  }

  management {
    auto_repair  = true
    auto_upgrade = true
  }

  upgrade_settings {
    max_surge       = 1
    max_unavailable = 0
  }

  node_config {
    machine_type    = var.node_size
    disk_type       = "pd-balanced"
    disk_size_gb    = 100
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    resource_labels = local.labels

    labels = {
      "testmesh.io/environment" = var.environment
    }

    metadata = {
      disable-legacy-endpoints = "true"
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }

    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }
  }

  lifecycle {
    ignore_changes = [initial_node_count]

    precondition {
      condition     = var.node_min_count <= var.node_max_count
      error_message = "The node_min_count must be less than or equal to node_max_count."
    }
  }

  depends_on = [google_project_iam_member.nodes]
}
