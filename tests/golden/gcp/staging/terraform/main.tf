# Shared naming, labels and API enablement for the GCP root module.

locals {
  name    = "${var.release_name}-${var.environment}"
  is_prod = var.environment == "prod"

  # GCP labels allow only lowercase letters, digits, "_" and "-" (max 63
  # characters). Keys that collide after sanitising keep their first value.
  sanitized_tags = {
    for k, v in var.tags :
    substr(replace(lower(k), "/[^a-z0-9_-]/", "_"), 0, 63) => substr(replace(lower(v), "/[^a-z0-9_-]/", "_"), 0, 63)...
  }

  labels = merge(
    { for k, v in local.sanitized_tags : k => v[0] },
    {
      environment  = var.environment
      release      = var.release_name
      "managed-by" = "terraform"
    },
  )

  database_name     = replace(var.release_name, "-", "_")
  database_username = "testmesh"
}

resource "google_project_service" "this" {
  for_each = toset([
    "compute.googleapis.com",
    "container.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
    "redis.googleapis.com",
    "secretmanager.googleapis.com",
  ])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
