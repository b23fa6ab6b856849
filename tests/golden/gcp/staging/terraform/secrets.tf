# Secret Manager entry holding the connection URLs consumed by TestMesh.

locals {
  secret_id = "${replace(var.secrets_prefix, "/", "-")}-connections"

  database_url = format(
    "postgres://%s:%s@%s:5432/%s?sslmode=require",
    local.database_username,
    urlencode(random_password.database.result),
    google_sql_database_instance.this.private_ip_address,
    local.database_name,
  )

  redis_url = format(
    "rediss://:%s@%s:%d",
    urlencode(google_redis_instance.this.auth_string),
    google_redis_instance.this.host,
    google_redis_instance.this.port,
  )
}

resource "google_secret_manager_secret" "connections" {
  secret_id = local.secret_id
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.this]
}

resource "google_secret_manager_secret_version" "connections" {
  secret = google_secret_manager_secret.connections.id

  secret_data = jsonencode({
    "database-url" = local.database_url
    "redis-url"    = local.redis_url
  })
}
