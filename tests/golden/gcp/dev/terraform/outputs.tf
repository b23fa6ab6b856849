output "cluster_endpoint" {
  description = "HTTPS endpoint of the GKE API server."
  value       = "https://${google_container_cluster.this.endpoint}"
}

output "cluster_name" {
  description = "Name of the GKE cluster."
  value       = google_container_cluster.this.name
}

output "cluster_ca_certificate" {
  description = "Base64-encoded CA certificate of the GKE API server."
  value       = google_container_cluster.this.master_auth[0].cluster_ca_certificate
}

output "region" {
  description = "GCP region of the deployment."
  value       = var.region
}

output "project_id" {
  description = "GCP project of the deployment."
  value       = var.project_id
}

output "database_host" {
  description = "Private IP address of the Cloud SQL PostgreSQL instance."
  value       = google_sql_database_instance.this.private_ip_address
}

output "cache_host" {
  description = "Private IP address of the Memorystore Redis instance (TLS, server authentication)."
  value       = google_redis_instance.this.host
}

output "cache_ca_certificate" {
  description = "PEM CA certificate that signs the Memorystore Redis server certificate (null until available)."
  value       = try(google_redis_instance.this.server_ca_certs[0].cert, null)
}

output "namespace" {
  description = "Kubernetes namespace for the TestMesh Helm release."
  value       = var.namespace
}

output "storage_class" {
  description = "StorageClass the Helm values should use (GKE built-in PD CSI class)."
  value       = "standard-rwo"
}

output "secrets_name" {
  description = "ID of the Secret Manager secret holding the connection URLs."
  value       = google_secret_manager_secret.connections.secret_id
}
