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
  description = "Tags of the deployment. Kubernetes label values are too restricted for arbitrary tags, so they are stored as JSON in the namespace annotation \"testmesh.io/tags\"."
  type        = map(string)
}

variable "region" {
  description = "Free-form site name of the on-prem installation (e.g. \"onprem\"); recorded as the namespace annotation \"testmesh.io/site\"."
  type        = string

  validation {
    condition     = length(trimspace(var.region)) > 0
    error_message = "The region (site name) must not be empty."
  }
}

variable "cluster_name" {
  description = "Name of the existing on-prem cluster; recorded as a namespace annotation and returned as an output."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$", var.cluster_name))
    error_message = "The cluster_name must be 1-63 letters, digits, \".\", \"_\" or \"-\", starting and ending with a letter or digit."
  }
}

variable "node_min_count" {
  description = "Minimum node count. Informational on-prem (nodes are not managed here); checked to be <= node_max_count."
  type        = number

  validation {
    condition     = var.node_min_count >= 0 && floor(var.node_min_count) == var.node_min_count
    error_message = "The node_min_count must be a whole number >= 0."
  }
}

variable "node_max_count" {
  description = "Maximum node count. Informational on-prem (nodes are not managed here)."
  type        = number

  validation {
    condition     = var.node_max_count >= 0 && floor(var.node_max_count) == var.node_max_count
    error_message = "The node_max_count must be a whole number >= 0."
  }
}

variable "secrets_prefix" {
  description = "Secrets name prefix (e.g. \"testmesh/dev\"). On-prem there is no secret manager: the connection Secret is a Kubernetes Secret named \"<prefix>-connections\" (sanitised to a DNS name) created by the Helm chart."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9/_-]{0,98}[A-Za-z0-9])?$", var.secrets_prefix))
    error_message = "The secrets_prefix must be 1-100 characters of letters, digits, \"/\", \"_\" or \"-\", starting and ending with a letter or digit."
  }
}

variable "storage_class_name" {
  description = "Name of the StorageClass created for TestMesh volumes."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$", var.storage_class_name))
    error_message = "The storage_class_name must be a valid DNS-1123 subdomain (lowercase letters, digits, \".\" and \"-\")."
  }
}

variable "storage_provisioner" {
  description = "CSI driver / provisioner of the StorageClass (e.g. \"rancher.io/local-path\")."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._/-]*$", var.storage_provisioner))
    error_message = "The storage_provisioner must be a non-empty provisioner name such as \"rancher.io/local-path\"."
  }
}

variable "registry_server" {
  description = "Container registry host (and optional port) the images are pulled from (e.g. \"registry.local:5000\")."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9.-]+(:[0-9]+)?(/.*)?$", var.registry_server))
    error_message = "The registry_server must be a host name with optional port, e.g. \"registry.local:5000\"."
  }
}

variable "registry_pull_secret_name" {
  description = "Name of the kubernetes.io/dockerconfigjson Secret created in the namespace for pulling images."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$", var.registry_pull_secret_name))
    error_message = "The registry_pull_secret_name must be a valid DNS-1123 subdomain (lowercase letters, digits, \".\" and \"-\")."
  }
}

variable "kubeconfig_path" {
  description = "Path of the kubeconfig file used to reach the existing cluster."
  type        = string

  validation {
    condition     = length(trimspace(var.kubeconfig_path)) > 0
    error_message = "The kubeconfig_path must not be empty."
  }
}

variable "kube_context" {
  description = "Context of the kubeconfig to use; empty string selects the current context."
  type        = string
}

variable "registry_username" {
  description = "Registry user name for the image pull secret. Pass it as TF_VAR_registry_username (never in tfvars). When null, no pull secret is created."
  type        = string
  default     = null
  sensitive   = true
}

variable "registry_password" {
  description = "Registry password or token for the image pull secret. Pass it as TF_VAR_registry_password (never in tfvars). Required when registry_username is set."
  type        = string
  default     = null
  sensitive   = true
}
