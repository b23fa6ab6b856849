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
  description = "Tags applied to every Azure resource, merged with environment, release and managed-by tags."
  type        = map(string)

  validation {
    condition     = length(var.tags) <= 45 && alltrue([for k, v in var.tags : length(k) > 0 && length(k) <= 512 && length(v) <= 256 && !can(regex("[<>%&\\\\?/]", k))])
    error_message = "At most 45 tags are allowed; keys must be 1-512 characters without < > % & \\ ? /, values at most 256 characters."
  }
}

variable "region" {
  description = "Azure location to deploy into (e.g. \"westeurope\")."
  type        = string

  validation {
    condition     = length(trimspace(var.region)) > 0
    error_message = "The region (Azure location) must not be empty."
  }
}

variable "subscription_id" {
  description = "Azure subscription ID. When null, the azurerm provider reads ARM_SUBSCRIPTION_ID from the environment."
  type        = string
  default     = null

  validation {
    condition     = var.subscription_id == null || can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.subscription_id))
    error_message = "The subscription_id must be null or a subscription GUID."
  }
}

variable "cluster_name" {
  description = "Name (and DNS prefix) of the AKS cluster."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$", var.cluster_name))
    error_message = "The cluster_name must be 1-40 lowercase letters, digits or hyphens, start with a letter and end with a letter or digit."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the AKS cluster (e.g. \"1.33\"); patch versions are upgraded automatically."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.kubernetes_version))
    error_message = "The kubernetes_version must look like \"1.33\" (major.minor)."
  }
}

variable "node_size" {
  description = "VM size of the AKS default node pool (e.g. \"Standard_D4s_v5\")."
  type        = string

  validation {
    condition     = can(regex("^Standard_[A-Za-z0-9_]+$", var.node_size))
    error_message = "The node_size must be an Azure VM size such as \"Standard_D4s_v5\"."
  }
}

variable "node_min_count" {
  description = "Minimum node count of the autoscaling AKS default node pool (also the initial count). Must not exceed node_max_count."
  type        = number

  validation {
    condition     = var.node_min_count >= 1 && floor(var.node_min_count) == var.node_min_count
    error_message = "The node_min_count must be a whole number >= 1."
  }
}

variable "node_max_count" {
  description = "Maximum node count of the autoscaling AKS default node pool. Must be >= node_min_count."
  type        = number

  validation {
    condition     = var.node_max_count >= 1 && var.node_max_count <= 1000 && floor(var.node_max_count) == var.node_max_count
    error_message = "The node_max_count must be a whole number between 1 and 1000."
  }
}

variable "network_cidr" {
  description = "IPv4 address space of the VNet (e.g. \"10.40.0.0/16\"), prefix /8 to /20. First quarter: AKS nodes; fifth and sixth sixteenths: PostgreSQL (delegated) and private endpoints. Pods use an overlay network outside it."
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
  description = "SKU name of the PostgreSQL flexible server (e.g. \"GP_Standard_D2ds_v5\", \"B_Standard_B1ms\", \"MO_Standard_E4ds_v5\"). Burstable (B_) SKUs cannot be used in prod, which enables zone-redundant HA."
  type        = string

  validation {
    condition     = can(regex("^(B|GP|MO)_Standard_[A-Za-z0-9_]+$", var.database_tier))
    error_message = "The database_tier must be a flexible server SKU such as \"GP_Standard_D2ds_v5\"."
  }
}

variable "database_storage_gb" {
  description = "Storage of the PostgreSQL flexible server in GB; rounded up to the next size Azure supports (32, 64, 128, ... 32767 GB)."
  type        = number

  validation {
    condition     = var.database_storage_gb >= 1 && var.database_storage_gb <= 32767
    error_message = "The database_storage_gb must be between 1 and 32767."
  }
}

variable "database_version" {
  description = "PostgreSQL major version of the flexible server (e.g. \"16\")."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+$", var.database_version)) && try(tonumber(var.database_version) >= 13, false)
    error_message = "The database_version must be a PostgreSQL major version such as \"16\" (13 or later)."
  }
}

variable "cache_tier" {
  description = "Azure Cache for Redis SKU name: \"Basic\", \"Standard\" (family C) or \"Premium\" (family P)."
  type        = string

  validation {
    condition     = contains(["Basic", "Standard", "Premium"], var.cache_tier)
    error_message = "The cache_tier must be \"Basic\", \"Standard\" or \"Premium\"."
  }
}

variable "cache_size_gb" {
  description = "Azure Cache for Redis capacity index (0-6 for Basic/Standard C0-C6, 1-5 for Premium P1-P5); not literally gigabytes."
  type        = number

  validation {
    condition     = var.cache_size_gb >= 0 && var.cache_size_gb <= 6 && floor(var.cache_size_gb) == var.cache_size_gb
    error_message = "The cache_size_gb (capacity) must be a whole number between 0 and 6."
  }
}

variable "secrets_prefix" {
  description = "Name prefix of the Key Vault secrets (e.g. \"testmesh/dev\"); characters other than letters, digits and \"-\" become \"-\", so the connection secret is \"<prefix>-connections\" (e.g. \"testmesh-dev-connections\")."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9/_-]{0,98}[A-Za-z0-9])?$", var.secrets_prefix))
    error_message = "The secrets_prefix must be 1-100 characters of letters, digits, \"/\", \"_\" or \"-\", starting and ending with a letter or digit."
  }
}

variable "key_vault_name" {
  description = "Name of the Key Vault holding the connection URLs: the first label of the profile's secrets.vaultUrl (3-24 characters, globally unique)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", var.key_vault_name)) && !strcontains(var.key_vault_name, "--")
    error_message = "key_vault_name must be 3-24 letters, digits and single hyphens, starting with a letter."
  }
}
