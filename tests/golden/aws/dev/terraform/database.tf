# RDS for PostgreSQL in the private subnets, reachable from the EKS nodes.

resource "random_password" "database" {
  length      = 32
  special     = false
  min_lower   = 1
  min_upper   = 1
  min_numeric = 1
}

resource "aws_db_subnet_group" "this" {
  name       = "${local.name}-postgres"
  subnet_ids = aws_subnet.private[*].id

  tags = {
    Name = "${local.name}-postgres"
  }
}

resource "aws_security_group" "database" {
  name        = "${local.name}-postgres"
  description = "PostgreSQL access from the ${var.cluster_name} EKS cluster"
  vpc_id      = aws_vpc.this.id

  tags = {
    Name = "${local.name}-postgres"
  }
}

resource "aws_vpc_security_group_ingress_rule" "database_from_cluster" {
  security_group_id            = aws_security_group.database.id
  referenced_security_group_id = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  description                  = "PostgreSQL from EKS nodes and pods"
}

resource "aws_db_instance" "this" {
  identifier     = "${local.name}-postgres"
  engine         = "postgres"
  engine_version = var.database_version
  instance_class = var.database_tier

  allocated_storage     = var.database_storage_gb
  max_allocated_storage = var.database_storage_gb * 2
  storage_type          = "gp3"
  storage_encrypted     = true

  db_name  = local.database_name
  username = local.database_username
  password = random_password.database.result
  port     = 5432

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.database.id]
  publicly_accessible    = false

  multi_az                  = local.is_prod
  deletion_protection       = local.is_prod
  skip_final_snapshot       = !local.is_prod
  final_snapshot_identifier = local.is_prod ? "${local.name}-postgres-final" : null
  backup_retention_period   = local.is_prod ? 14 : 1
  copy_tags_to_snapshot     = true

  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false
  apply_immediately           = !local.is_prod

  tags = {
    Name = "${local.name}-postgres"
  }
}
