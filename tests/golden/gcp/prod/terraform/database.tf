# Cloud SQL for PostgreSQL with a private IP only.

resource "random_id" "database_suffix" {
  byte_length = 3
}

resource "random_password" "database" {
  length      = 32
  special     = false
  min_lower   = 1
  min_upper   = 1
  min_numeric = 1
}

resource "google_sql_database_instance" "this" {
  # Cloud SQL instance names cannot be reused for a week after deletion.
  name                = "${local.name}-pg-${random_id.database_suffix.hex}"
  database_version    = "POSTGRES_${var.database_version}"
  region              = var.region
  deletion_protection = local.is_prod

  settings {
    tier                        = var.database_tier
    edition                     = startswith(var.database_tier, "db-perf-optimized") ? "ENTERPRISE_PLUS" : "ENTERPRISE"
    availability_type           = local.is_prod ? "REGIONAL" : "ZONAL"
    disk_type                   = "PD_SSD"
    disk_size                   = var.database_storage_gb
    disk_autoresize             = true
    deletion_protection_enabled = local.is_prod
    user_labels                 = local.labels

    ip_configuration {
      ipv4_enabled    = false
      private_network = google_compute_network.this.id
      ssl_mode        = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "03:00"
    }

    maintenance_window {
      day  = 7
      hour = 3
    }
  }

  lifecycle {
    # Disk autoresize grows the disk outside Terraform.
    ignore_changes = [settings[0].disk_size]
  }

  depends_on = [google_service_networking_connection.private_services]
}

resource "google_sql_database" "this" {
  name     = local.database_name
  instance = google_sql_database_instance.this.name
}

resource "google_sql_user" "this" {
  name     = local.database_username
  instance = google_sql_database_instance.this.name
  password = random_password.database.result

  # PostgreSQL refuses to drop a role that still owns objects.
  deletion_policy = "ABANDON"
}
