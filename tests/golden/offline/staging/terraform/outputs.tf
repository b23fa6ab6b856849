output "cluster_endpoint" {
  description = "On-prem: the endpoint is the one in kubeconfig (kubeconfig_path / kube_context); always null."
  value       = null
}

output "cluster_name" {
  description = "Name of the existing on-prem cluster."
  value       = var.cluster_name
}

output "database_host" {
  description = "In-cluster DNS name of the PostgreSQL service deployed by the Helm chart."
  value       = "${var.release_name}-postgresql.${kubernetes_namespace_v1.this.metadata[0].name}.svc.cluster.local"
}

output "cache_host" {
  description = "In-cluster DNS name of the Redis service deployed by the Helm chart."
  value       = "${var.release_name}-redis.${kubernetes_namespace_v1.this.metadata[0].name}.svc.cluster.local"
}

output "namespace" {
  description = "Kubernetes namespace created for the TestMesh Helm release."
  value       = kubernetes_namespace_v1.this.metadata[0].name
}

output "storage_class" {
  description = "StorageClass created for TestMesh volumes; the Helm values should use it."
  value       = kubernetes_storage_class_v1.this.metadata[0].name
}

output "secrets_name" {
  description = "Name of the in-cluster Kubernetes Secret for the connection URLs (no secret manager on-prem; the Helm chart creates it)."
  value       = local.connections_secret_name
}

output "registry_pull_secret_name" {
  description = "Name of the image pull secret, or null when no registry credentials were given."
  value       = local.create_pull_secret ? kubernetes_secret_v1.registry[0].metadata[0].name : null
}
