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
  description = "Labels applied to every GCP resource that supports them (provider default_labels), merged with environment, release and managed-by. Keys and values are lower-cased and characters outside [a-z0-9_-] are replaced with \"_\" to satisfy GCP label rules."
  type        = map(string)

  validation {
    condition     = length(var.tags) <= 60 && alltrue([for k, v in var.tags : length(k) > 0])
    error_message = "At most 60 tags are allowed (GCP limits resources to 64 labels) and tag keys must not be empty."
  }
}

variable "region" {
  description = "GCP region to deploy into (e.g. \"europe-west1\"). The GKE cluster is regional."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "The region must be a non-empty GCP region name such as \"europe-west1\"."
  }
}

variable "project_id" {
  description = "ID of the GCP project to deploy into."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "The project_id must be a valid GCP project ID (6-30 lowercase letters, digits or hyphens, starting with a letter)."
  }
}

variable "cluster_name" {
  description = "Name of the GKE cluster."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$", var.cluster_name))
    error_message = "The cluster_name must be 1-40 lowercase letters, digits or hyphens, start with a letter and end with a letter or digit."
  }
}

variable "kubernetes_version" {
  description = "Minimum Kubernetes minor version of the GKE control plane (e.g. \"1.33\"); must be available in the REGULAR release channel."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.kubernetes_version))
    error_message = "The kubernetes_version must look like \"1.33\" (major.minor)."
  }
}

variable "node_size" {
  description = "Compute Engine machine type of the GKE node pool (e.g. \"e2-standard-4\")."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+-[a-z0-9-]+$", var.node_size))
    error_message = "The node_size must be a Compute Engine machine type such as \"e2-standard-4\"."
  }
}

variable "node_min_count" {
  description = "Minimum total number of nodes of the autoscaling node pool (across all zones). Must not exceed node_max_count."
  type        = number

  validation {
    condition     = var.node_min_count >= 1 && floor(var.node_min_count) == var.node_min_count
    error_message = "The node_min_count must be a whole number >= 1."
  }
}

variable "node_max_count" {
  description = "Maximum total number of nodes of the autoscaling node pool (across all zones). Must be >= node_min_count; the pool spans min(3, node_max_count) zones."
  type        = number

  validation {
    condition     = var.node_max_count >= 1 && var.node_max_count <= 1000 && floor(var.node_max_count) == var.node_max_count
    error_message = "The node_max_count must be a whole number between 1 and 1000."
  }
}

variable "network_cidr" {
  description = "IPv4 CIDR of the VPC address plan (e.g. \"10.40.0.0/16\"), prefix /8 to /20. First 1/16: nodes, second 1/16: services, second 1/8: private service access (Cloud SQL, Memorystore), upper half: pods."
  type        = string

  validation {
    condition     = can(cidrhost(var.network_cidr, 0)) && try(cidrsubnet(var.network_cidr, 0, 0) == var.network_cidr, false)
    error_message = "The network_cidr must be a valid IPv4 network address in CIDR notation, e.g. \"10.40.0.0/16\" (no host bits set)."
  }

  validation {
    condition     = try(tonumber(split("/", var.network_cidr)[1]) >= 8 && tonumber(split("/", var.network_cidr)[1]) <= 20, false)
    error_message = "The network_cidr prefix length must be between /8 and /20."
  }
}

variable "database_tier" {
  description = "Cloud SQL machine tier (e.g. \"db-custom-2-7680\"; \"db-perf-optimized-N-*\" tiers select the Enterprise Plus edition)."
  type        = string

  validation {
    condition     = can(regex("^db-[a-z0-9-]+$", var.database_tier))
    error_message = "The database_tier must be a Cloud SQL tier such as \"db-custom-2-7680\"."
  }
}

variable "database_storage_gb" {
  description = "Initial SSD disk size of the Cloud SQL instance in GB (disk autoresize is enabled)."
  type        = number

  validation {
    condition     = var.database_storage_gb >= 10 && var.database_storage_gb <= 65536 && floor(var.database_storage_gb) == var.database_storage_gb
    error_message = "The database_storage_gb must be a whole number between 10 and 65536."
  }
}

variable "database_version" {
  description = "PostgreSQL major version (e.g. \"16\"); used as database_version \"POSTGRES_<version>\"."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+$", var.database_version)) && try(tonumber(var.database_version) >= 13, false)
    error_message = "The database_version must be a PostgreSQL major version such as \"16\" (13 or later)."
  }
}

variable "cache_tier" {
  description = "Memorystore for Redis service tier: \"BASIC\" or \"STANDARD_HA\"."
  type        = string

  validation {
    condition     = contains(["BASIC", "STANDARD_HA"], var.cache_tier)
    error_message = "The cache_tier must be \"BASIC\" or \"STANDARD_HA\"."
  }
}

variable "cache_size_gb" {
  description = "Memorystore for Redis memory size in GB (memory_size_gb)."
  type        = number

  validation {
    condition     = var.cache_size_gb >= 1 && var.cache_size_gb <= 300 && floor(var.cache_size_gb) == var.cache_size_gb
    error_message = "The cache_size_gb must be a whole number between 1 and 300."
  }
}

variable "secrets_prefix" {
  description = "Name prefix of the Secret Manager entries (e.g. \"testmesh/dev\"); \"/\" is replaced with \"-\", so the connection secret is \"<prefix>-connections\" (e.g. \"testmesh-dev-connections\")."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9/_-]{0,98}[A-Za-z0-9])?$", var.secrets_prefix))
    error_message = "The secrets_prefix must be 1-100 characters of letters, digits, \"/\", \"_\" or \"-\", starting and ending with a letter or digit."
  }
}
