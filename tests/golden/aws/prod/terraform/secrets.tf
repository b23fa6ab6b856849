# Secrets Manager entry holding the connection URLs consumed by TestMesh.

locals {
  database_url = format(
    "postgres://%s:%s@%s:%d/%s?sslmode=require",
    local.database_username,
    urlencode(random_password.database.result),
    aws_db_instance.this.address,
    aws_db_instance.this.port,
    local.database_name,
  )

  redis_url = format(
    "rediss://:%s@%s:%d",
    urlencode(random_password.cache.result),
    aws_elasticache_replication_group.this.primary_endpoint_address,
    aws_elasticache_replication_group.this.port,
  )
}

resource "aws_secretsmanager_secret" "connections" {
  name                    = "${var.secrets_prefix}/connections"
  description             = "TestMesh connection URLs (database, redis) for ${local.name}"
  recovery_window_in_days = local.is_prod ? 30 : 0
}

resource "aws_secretsmanager_secret_version" "connections" {
  secret_id = aws_secretsmanager_secret.connections.id

  secret_string = jsonencode({
    "database-url" = local.database_url
    "redis-url"    = local.redis_url
  })
}
