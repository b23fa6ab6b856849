//! The profile model and its loading.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::ProfileError;
use crate::assets::Assets;
use crate::error::{Error, Result};
use crate::profile::values::merge_into;
use crate::violation::{schema_violations, Violation};
use crate::yaml;

/// The environments every profile defines, in promotion order.
pub const ENVIRONMENTS: &[&str] = &["dev", "staging", "prod"];

const SCHEMA_PATH: &str = "profiles/profile.schema.json";

/// The cloud a profile targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Amazon Web Services (EKS).
    Aws,
    /// Google Cloud (GKE).
    Gcp,
    /// Microsoft Azure (AKS).
    Azure,
    /// An existing on-prem cluster with no cloud API (air-gapped).
    Offline,
}

impl Provider {
    /// The lowercase name used in paths and values.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Gcp => "gcp",
            Provider::Azure => "azure",
            Provider::Offline => "offline",
        }
    }
}

/// The Kubernetes cluster of a target.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    /// Cluster name.
    pub name: String,
    /// `1.N`.
    pub kubernetes_version: String,
    /// Instance type, machine type or VM size of the nodes.
    pub node_size: String,
    /// Autoscaling lower bound.
    pub min_nodes: u32,
    /// Autoscaling upper bound.
    pub max_nodes: u32,
    /// Kubeconfig Terraform uses (offline).
    #[serde(default)]
    pub kubeconfig_path: Option<String>,
    /// Kubeconfig context Terraform uses (offline; empty for current).
    #[serde(default)]
    pub kube_context: Option<String>,
}

/// The container registry images are pulled from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registry {
    /// Registry host and path prefix.
    pub host: String,
    /// True for a local mirror of the public images.
    #[serde(default)]
    pub mirror: bool,
    /// Image pull secret name.
    #[serde(default)]
    pub pull_secret: Option<String>,
}

/// TLS of the ingress.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tls {
    /// Serve TLS.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// cert-manager ClusterIssuer.
    pub issuer: String,
}

fn yes() -> bool {
    true
}

/// The ingress of a target.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ingress {
    /// IngressClass name.
    pub class_name: String,
    /// Public host name.
    pub host: String,
    /// TLS settings.
    pub tls: Tls,
}

/// PostgreSQL of a target.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Database {
    /// `managed` (cloud service) or `in-cluster` (StatefulSet).
    pub mode: String,
    /// Instance class / tier / SKU.
    pub tier: String,
    /// Storage size.
    #[serde(rename = "storageGiB")]
    pub storage_gib: u32,
    /// PostgreSQL major version.
    pub version: String,
}

/// Redis of a target.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cache {
    /// `managed` or `in-cluster`.
    pub mode: String,
    /// Node type / tier / SKU.
    pub tier: String,
    /// Memory size (GCP) or capacity (Azure).
    #[serde(rename = "sizeGiB")]
    pub size_gib: u32,
}

/// Where secrets come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secrets {
    /// `aws-secrets-manager`, `gcp-secret-manager`, `azure-key-vault` or `kubernetes`.
    pub backend: String,
    /// Name prefix of the secret-manager entries.
    pub prefix: String,
    /// Azure Key Vault URL.
    #[serde(default)]
    pub vault_url: Option<String>,
    /// External Secrets refresh interval.
    #[serde(default)]
    pub refresh_interval: Option<String>,
}

/// Monitoring and logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Observability {
    /// Render a ServiceMonitor.
    pub monitoring: bool,
    /// Log level of the services.
    #[serde(default = "info")]
    pub log_level: String,
}

fn info() -> String {
    "info".to_owned()
}

/// A deployment target: a profile's `spec` with one environment's
/// overrides merged in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// The cloud.
    pub provider: Provider,
    /// Region, location or site.
    pub region: String,
    /// GCP project.
    #[serde(default)]
    pub project: Option<String>,
    /// The cluster.
    pub cluster: Cluster,
    /// Network CIDR.
    #[serde(default)]
    pub network: Option<Network>,
    /// The image registry.
    pub registry: Registry,
    /// The ingress.
    pub ingress: Ingress,
    /// Storage class of the PVCs.
    pub storage_class: String,
    /// Provisioner of the storage class Terraform creates (offline).
    #[serde(default)]
    pub storage_provisioner: Option<String>,
    /// PostgreSQL.
    pub database: Database,
    /// Redis.
    pub cache: Cache,
    /// Secrets backend.
    pub secrets: Secrets,
    /// Monitoring and logging.
    pub observability: Observability,
    /// Cloud resource tags.
    #[serde(default)]
    pub tags: Map<String, Value>,
    /// Offline values overlays (file names in `offline-values/`).
    #[serde(default)]
    pub offline_values: Vec<String>,
}

/// The network of a target.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    /// VPC / VNet CIDR.
    pub cidr: String,
}

/// A loaded, schema-checked profile with all its environments.
#[derive(Debug, Clone)]
pub struct Profile {
    /// `metadata.name`, equal to the file stem.
    pub name: String,
    /// The file it was loaded from, as shown in messages.
    pub file: String,
    /// The project path (`profiles/<name>.yaml`).
    pub rel_path: String,
    /// `metadata.description`.
    pub description: String,
    /// The whole document.
    pub document: Value,
}

/// One environment of a profile, resolved.
#[derive(Debug, Clone)]
pub struct EffectiveProfile {
    /// The profile name.
    pub name: String,
    /// The profile file, as shown in messages.
    pub file: String,
    /// The project path of the profile file.
    pub rel_path: String,
    /// `dev`, `staging` or `prod`.
    pub environment: String,
    /// The target with the environment's overrides.
    pub target: Target,
    /// `spec.values`: the profile's chart values.
    pub values: Value,
    /// `spec.environments.<env>.values`.
    pub environment_values: Value,
    /// The effective spec as a document (for `profiles show`).
    pub spec: Value,
}

/// Checks a profile document wherever it came from (`meshctl validate
/// profiles/x.yaml`): the profile schema, then each environment resolved
/// and checked for the rules that span fields — the same checks `render`
/// makes when it loads a profile.
pub fn profile_violations(assets: &Assets, document: &Value) -> Result<Vec<Violation>> {
    let validator = assets.json_schema(SCHEMA_PATH)?;
    let violations = schema_violations(&validator, document);
    if !violations.is_empty() {
        return Ok(violations);
    }
    let profile = Profile {
        name: document["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
        file: String::new(),
        rel_path: String::new(),
        description: String::new(),
        document: document.clone(),
    };
    let mut out = Vec::new();
    for env in ENVIRONMENTS {
        match profile.resolve(env) {
            Ok(_) => {}
            Err(Error::Profile(ProfileError::Invalid { violations, .. })) => out.extend(violations),
            Err(e) => out.push(Violation { pointer: format!("/spec/environments/{env}"), message: e.to_string() }),
        }
    }
    Ok(out)
}

/// The names of the profiles in `profiles/`, sorted.
pub fn list_profiles(assets: &Assets) -> Vec<String> {
    assets
        .list("profiles")
        .filter_map(|(path, _)| {
            let file = path.strip_prefix("profiles/")?;
            let stem = file.strip_suffix(".yaml")?;
            (!stem.contains('/') && !stem.ends_with(".schema")).then(|| stem.to_owned())
        })
        .collect()
}

/// Loads `profiles/<name>.yaml` and checks it against the profile schema.
pub fn load_profile(assets: &Assets, name: &str) -> Result<Profile> {
    let known = list_profiles(assets);
    if !known.iter().any(|k| k == name) {
        return Err(ProfileError::Unknown { name: name.to_owned(), known }.into());
    }
    let rel_path = format!("profiles/{name}.yaml");
    let file = assets.display_path(&rel_path);
    let document = yaml::parse_one(&file, assets.text(&rel_path)?)?;

    let validator = assets.json_schema(SCHEMA_PATH)?;
    let violations = schema_violations(&validator, &document);
    if !violations.is_empty() {
        return Err(ProfileError::Invalid { file, violations }.into());
    }
    let declared = document["metadata"]["name"].as_str().unwrap_or_default();
    if declared != name {
        return Err(ProfileError::Invalid {
            file,
            violations: vec![Violation {
                pointer: "/metadata/name".into(),
                message: format!("`{declared}` must equal the file name `{name}`"),
            }],
        }
        .into());
    }
    let description = document["metadata"]["description"].as_str().unwrap_or_default().to_owned();
    Ok(Profile { name: name.to_owned(), file, rel_path, description, document })
}

impl Profile {
    /// Resolves one environment: the spec with the environment's overrides
    /// merged in (maps merge, lists replace, null deletes), then checked for
    /// the rules that span fields.
    pub fn resolve(&self, env: &str) -> Result<EffectiveProfile> {
        let spec = &self.document["spec"];
        let envs = spec["environments"].as_object().cloned().unwrap_or_default();
        let Some(env_doc) = envs.get(env) else {
            return Err(ProfileError::UnknownEnvironment {
                profile: self.name.clone(),
                env: env.to_owned(),
                known: envs.keys().cloned().collect(),
            }
            .into());
        };

        let mut base = spec.clone();
        let base_map = base.as_object_mut().expect("schema: spec is an object");
        base_map.remove("environments");
        let values = base_map.remove("values").unwrap_or_else(|| Value::Object(Map::new()));
        let mut overrides = env_doc.clone();
        let environment_values =
            overrides.as_object_mut().and_then(|m| m.remove("values")).unwrap_or_else(|| Value::Object(Map::new()));
        merge_into(&mut base, overrides);

        let target: Target = serde_json::from_value(base.clone()).map_err(|e| ProfileError::Invalid {
            file: self.file.clone(),
            violations: vec![Violation {
                pointer: format!("/spec/environments/{env}"),
                message: format!("the merged target is incomplete: {e}"),
            }],
        })?;
        let violations = target_rules(&target, env);
        if !violations.is_empty() {
            return Err(ProfileError::Invalid { file: self.file.clone(), violations }.into());
        }

        let mut shown = base;
        if let Value::Object(m) = &mut shown {
            let mut merged_values = values.clone();
            merge_into(&mut merged_values, environment_values.clone());
            m.insert("values".into(), merged_values);
        }
        Ok(EffectiveProfile {
            name: self.name.clone(),
            file: self.file.clone(),
            rel_path: self.rel_path.clone(),
            environment: env.to_owned(),
            target,
            values,
            environment_values,
            spec: shown,
        })
    }
}

/// Rules that involve more than one field, which the JSON schema does not
/// express readably. Pointers name the spec field; the environment can be
/// the one that broke it.
fn target_rules(t: &Target, env: &str) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut bad = |pointer: &str, message: String| {
        out.push(Violation { pointer: pointer.to_owned(), message: format!("{message} (environment `{env}`)") })
    };
    if t.cluster.min_nodes > t.cluster.max_nodes {
        bad(
            "/spec/cluster/minNodes",
            format!("minNodes ({}) must not exceed maxNodes ({})", t.cluster.min_nodes, t.cluster.max_nodes),
        );
    }
    let expected_backend = match t.provider {
        Provider::Aws => "aws-secrets-manager",
        Provider::Gcp => "gcp-secret-manager",
        Provider::Azure => "azure-key-vault",
        Provider::Offline => "kubernetes",
    };
    if t.secrets.backend != expected_backend {
        bad(
            "/spec/secrets/backend",
            format!(
                "provider `{}` expects secrets backend `{expected_backend}`, found `{}`",
                t.provider.as_str(),
                t.secrets.backend
            ),
        );
    }
    if t.provider == Provider::Gcp && t.project.is_none() {
        bad("/spec/project", "a gcp profile must name its project".into());
    }
    if t.secrets.backend == "azure-key-vault" && t.secrets.vault_url.is_none() {
        bad("/spec/secrets/vaultUrl", "azure-key-vault needs the vault URL".into());
    }
    if t.provider == Provider::Offline {
        if !t.registry.mirror {
            bad("/spec/registry/mirror", "an offline profile must pull from a local mirror (mirror: true)".into());
        }
        if t.database.mode != "in-cluster" || t.cache.mode != "in-cluster" {
            bad(
                "/spec/database/mode",
                "an offline profile has no managed services: database and cache must be in-cluster".into(),
            );
        }
        if t.storage_provisioner.is_none() {
            bad("/spec/storageProvisioner", "an offline profile must name the provisioner of its storage class".into());
        }
        if t.cluster.kubeconfig_path.is_none() {
            bad("/spec/cluster/kubeconfigPath", "an offline profile must name the kubeconfig Terraform uses".into());
        }
    } else if !t.offline_values.is_empty() {
        bad("/spec/offlineValues", "only offline profiles take offline values overlays".into());
    }
    if t.network.is_none() && t.provider != Provider::Offline {
        bad("/spec/network/cidr", "a cloud profile needs a network CIDR".into());
    }
    out
}
