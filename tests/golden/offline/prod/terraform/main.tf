# Namespace, storage class and image pull secret on an existing on-prem
# cluster. PostgreSQL and Redis run in-cluster and are deployed by Helm.

locals {
  labels = {
    "app.kubernetes.io/part-of"    = "testmesh"
    "app.kubernetes.io/managed-by" = "terraform"
    "app.kubernetes.io/instance"   = var.release_name
    "testmesh.io/environment"      = var.environment
  }

  create_pull_secret = nonsensitive(var.registry_username != null)

  # Kubernetes Secret name the Helm chart uses for the connection URLs.
  connections_secret_name = "${trim(replace(lower(var.secrets_prefix), "/[^a-z0-9-]/", "-"), "-")}-connections"
}

check "node_counts" {
  assert {
    condition     = var.node_min_count <= var.node_max_count
    error_message = "The node_min_count must be less than or equal to node_max_count."
  }
}

resource "kubernetes_namespace_v1" "this" {
  metadata {
    name   = var.namespace
    labels = local.labels

    annotations = {
      "testmesh.io/tags"         = jsonencode(var.tags)
      "testmesh.io/site"         = var.region
      "testmesh.io/cluster-name" = var.cluster_name
    }
  }
}

resource "kubernetes_storage_class_v1" "this" {
  metadata {
    name   = var.storage_class_name
    labels = local.labels
  }

  storage_provisioner = var.storage_provisioner
  reclaim_policy      = "Retain"
  volume_binding_mode = "WaitForFirstConsumer"
}

resource "kubernetes_secret_v1" "registry" {
  count = local.create_pull_secret ? 1 : 0

  metadata {
    name      = var.registry_pull_secret_name
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = local.labels
  }

  type = "kubernetes.io/dockerconfigjson"

  data = {
    ".dockerconfigjson" = jsonencode({
      auths = {
        (var.registry_server) = {
          username = var.registry_username
          password = var.registry_password
          auth     = base64encode("${var.registry_username}:${var.registry_password}")
        }
      }
    })
  }

  lifecycle {
    precondition {
      condition     = nonsensitive(var.registry_password != null)
      error_message = "The registry_password (TF_VAR_registry_password) must be set when registry_username is set."
    }
  }
}
