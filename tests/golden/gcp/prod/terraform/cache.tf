# Memorystore for Redis reached through private service access, with AUTH
# and in-transit encryption.

resource "google_redis_instance" "this" {
  name           = "${local.name}-redis"
  display_name   = "TestMesh Redis (${local.name})"
  tier           = var.cache_tier
  memory_size_gb = var.cache_size_gb
  region         = var.region
  redis_version  = "REDIS_7_2"

  authorized_network = google_compute_network.this.id
  connect_mode       = "PRIVATE_SERVICE_ACCESS"
  reserved_ip_range  = google_compute_global_address.private_services.name

  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION"

  labels = local.labels

  depends_on = [google_service_networking_connection.private_services]
}
