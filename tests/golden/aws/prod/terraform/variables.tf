# Input variables. Every value is supplied by the terraform.tfvars.json that
# meshctl generates; only optional extras carry defaults.

variable "release_name" {
  description = "Name of the TestMesh release (e.g. \"testmesh\"). Used as prefix for every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,22}[a-z0-9])?$", var.release_name)) && !strcontains(var.release_name, "--")
    error_message = "The release_name must be 1-24 characters of lowercase letters, digits and single hyphens, start with a letter and end with a letter or digit."
  }
}

variable "environment" {
  description = "Deployment environment: one of \"dev\", \"staging\" or \"prod\". Prod enables high availability and deletion protection."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "The environment must be one of \"dev\", \"staging\" or \"prod\"."
  }
}

variable "namespace" {
  description = "Kubernetes namespace the TestMesh Helm release is installed into (e.g. \"testmesh\")."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "The namespace must be a valid DNS-1123 label: at most 63 lowercase letters, digits or hyphens, starting and ending with a letter or digit."
  }
}

variable "tags" {
  description = "Tags applied to every AWS resource (through the provider default_tags), merged with environment, release and managed-by tags."
  type        = map(string)

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) > 0 && length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "Tag keys must be 1-128 characters and must not start with \"aws:\"; tag values must be at most 256 characters."
  }
}

variable "region" {
  description = "AWS region to deploy into (e.g. \"eu-west-1\")."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "The region must be a non-empty AWS region name such as \"eu-west-1\"."
  }
}

variable "cluster_name" {
  description = "Name of the EKS cluster."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$", var.cluster_name))
    error_message = "The cluster_name must be 1-40 lowercase letters, digits or hyphens, start with a letter and end with a letter or digit."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the EKS control plane (e.g. \"1.33\")."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.kubernetes_version))
    error_message = "The kubernetes_version must look like \"1.33\" (major.minor)."
  }
}

variable "node_size" {
  description = "EC2 instance type of the managed node group (e.g. \"m6i.large\"; Graviton types such as \"m7g.large\" select an ARM AMI)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.node_size))
    error_message = "The node_size must be an EC2 instance type such as \"m6i.large\"."
  }
}

variable "node_min_count" {
  description = "Minimum number of worker nodes (also the initial desired size). Must not exceed node_max_count."
  type        = number

  validation {
    condition     = var.node_min_count >= 1 && floor(var.node_min_count) == var.node_min_count
    error_message = "The node_min_count must be a whole number >= 1."
  }
}

variable "node_max_count" {
  description = "Maximum number of worker nodes. Must be >= node_min_count."
  type        = number

  validation {
    condition     = var.node_max_count >= 1 && var.node_max_count <= 1000 && floor(var.node_max_count) == var.node_max_count
    error_message = "The node_max_count must be a whole number between 1 and 1000."
  }
}

variable "network_cidr" {
  description = "IPv4 CIDR of the VPC (e.g. \"10.40.0.0/16\"); prefix length between /16 and /20. Private subnets use three quarters of it, public subnets the rest."
  type        = string

  validation {
    condition     = can(cidrhost(var.network_cidr, 0)) && try(cidrsubnet(var.network_cidr, 0, 0) == var.network_cidr, false)
    error_message = "The network_cidr must be a valid IPv4 network address in CIDR notation, e.g. \"10.40.0.0/16\" (no host bits set)."
  }

  validation {
    condition     = try(tonumber(split("/", var.network_cidr)[1]) >= 16 && tonumber(split("/", var.network_cidr)[1]) <= 20, false)
    error_message = "The network_cidr prefix length must be between /16 and /20."
  }
}

variable "database_tier" {
  description = "RDS DB instance class of the PostgreSQL instance (e.g. \"db.t4g.medium\")."
  type        = string

  validation {
    condition     = can(regex("^db\\.[a-z0-9-]+\\.[a-z0-9]+$", var.database_tier))
    error_message = "The database_tier must be an RDS instance class such as \"db.t4g.medium\"."
  }
}

variable "database_storage_gb" {
  description = "Allocated storage of the PostgreSQL instance in GiB (gp3); storage autoscaling may grow it up to twice this size."
  type        = number

  validation {
    condition     = var.database_storage_gb >= 20 && var.database_storage_gb <= 32768 && floor(var.database_storage_gb) == var.database_storage_gb
    error_message = "The database_storage_gb must be a whole number between 20 and 32768."
  }
}

variable "database_version" {
  description = "PostgreSQL major version (e.g. \"16\"); RDS picks the latest minor version."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+$", var.database_version)) && try(tonumber(var.database_version) >= 13, false)
    error_message = "The database_version must be a PostgreSQL major version such as \"16\" (13 or later)."
  }
}

variable "cache_tier" {
  description = "ElastiCache node type of the Redis replication group (e.g. \"cache.t4g.small\")."
  type        = string

  validation {
    condition     = can(regex("^cache\\.[a-z0-9-]+\\.[a-z0-9]+$", var.cache_tier))
    error_message = "The cache_tier must be an ElastiCache node type such as \"cache.t4g.small\"."
  }
}

variable "secrets_prefix" {
  description = "Name prefix of the Secrets Manager entries (e.g. \"testmesh/dev\"); the connection secret is \"<secrets_prefix>/connections\"."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9/_-]{0,98}[A-Za-z0-9])?$", var.secrets_prefix))
    error_message = "The secrets_prefix must be 1-100 characters of letters, digits, \"/\", \"_\" or \"-\", starting and ending with a letter or digit."
  }
}
