//! The Terraform side of a render: the root module of the profile's cloud,
//! and `terraform.tfvars.json`, the only way values reach it.

use serde_json::{json, Map, Value};

use crate::profile::{EffectiveProfile, Provider};

/// The variables the root module receives, derived from the effective
/// profile and the merged values (`releaseName`, `namespace`, `cloudTags`).
/// Variables a module does not use are left out (see the end).
pub fn tfvars(profile: &EffectiveProfile, values: &Value) -> Value {
    let t = &profile.target;
    let mut tags = Map::new();
    for (k, v) in &t.tags {
        tags.insert(k.clone(), v.clone());
    }
    if let Some(user) = values["cloudTags"].as_object() {
        for (k, v) in user {
            tags.insert(k.clone(), v.clone());
        }
    }
    tags.insert("environment".into(), json!(profile.environment));
    tags.insert("managed-by".into(), json!("meshctl"));

    let mut vars = json!({
        "release_name": values["releaseName"],
        "environment": profile.environment,
        "namespace": values["namespace"],
        "tags": tags,
        "region": t.region,
        "cluster_name": t.cluster.name,
        "kubernetes_version": t.cluster.kubernetes_version,
        "node_size": t.cluster.node_size,
        "node_min_count": t.cluster.min_nodes,
        "node_max_count": t.cluster.max_nodes,
        "network_cidr": t.network.as_ref().map_or("10.0.0.0/16", |n| n.cidr.as_str()),
        "database_tier": t.database.tier,
        "database_storage_gb": t.database.storage_gib,
        "database_version": t.database.version,
        "cache_tier": t.cache.tier,
        "cache_size_gb": t.cache.size_gib,
        "secrets_prefix": t.secrets.prefix,
    });
    let extra = vars.as_object_mut().expect("object literal");
    match t.provider {
        Provider::Gcp => {
            extra.insert("project_id".into(), json!(t.project));
        }
        Provider::Offline => {
            let server = t.registry.host.split('/').next().unwrap_or_default();
            extra.insert("storage_class_name".into(), json!(t.storage_class));
            extra.insert("storage_provisioner".into(), json!(t.storage_provisioner));
            extra.insert("registry_server".into(), json!(server));
            extra.insert(
                "registry_pull_secret_name".into(),
                json!(t.registry.pull_secret.as_deref().unwrap_or("registry")),
            );
            extra.insert("kubeconfig_path".into(), json!(t.cluster.kubeconfig_path));
            extra.insert("kube_context".into(), json!(t.cluster.kube_context.as_deref().unwrap_or("")));
        }
        Provider::Azure => {
            // https://<name>.vault.azure.net: the module creates the vault
            // the chart's SecretStore reads from.
            let vault = t.secrets.vault_url.as_deref().unwrap_or_default();
            let host = vault.trim_start_matches("https://").split(['.', '/']).next().unwrap_or_default();
            extra.insert("key_vault_name".into(), json!(host));
        }
        Provider::Aws => {}
    }
    // Each module declares only what it uses: ElastiCache sizes by node
    // type, and an existing on-prem cluster has no node, network, database
    // or cache settings for Terraform to apply.
    let unused: &[&str] = match t.provider {
        Provider::Aws => &["cache_size_gb"],
        Provider::Offline => &[
            "kubernetes_version",
            "node_size",
            "network_cidr",
            "database_tier",
            "database_storage_gb",
            "database_version",
            "cache_tier",
            "cache_size_gb",
        ],
        Provider::Gcp | Provider::Azure => &[],
    };
    for key in unused {
        extra.remove(*key);
    }
    vars
}
