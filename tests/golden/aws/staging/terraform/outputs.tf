output "cluster_endpoint" {
  description = "HTTPS endpoint of the EKS API server."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "cluster_certificate_authority" {
  description = "Base64-encoded CA certificate of the EKS API server."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "region" {
  description = "AWS region of the deployment."
  value       = var.region
}

output "database_host" {
  description = "Hostname of the RDS PostgreSQL instance."
  value       = aws_db_instance.this.address
}

output "cache_host" {
  description = "Primary endpoint hostname of the ElastiCache Redis replication group (TLS on port 6379)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "namespace" {
  description = "Kubernetes namespace for the TestMesh Helm release."
  value       = var.namespace
}

output "storage_class" {
  description = "StorageClass the Helm values should use (EBS CSI gp3; the StorageClass object itself is not created by this module)."
  value       = "gp3"
}

output "secrets_name" {
  description = "Name of the Secrets Manager secret holding the connection URLs."
  value       = aws_secretsmanager_secret.connections.name
}

output "secrets_arn" {
  description = "ARN of the Secrets Manager secret holding the connection URLs."
  value       = aws_secretsmanager_secret.connections.arn
}
