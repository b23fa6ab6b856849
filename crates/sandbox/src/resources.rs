//! The resource types the sandbox serves: the built-in kinds the chart
//! renders, plus the custom resources of every CRD created in it.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// One REST resource, e.g. `apps/v1` `deployments`.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: String,
    pub version: String,
    /// Plural lower-case name used in URLs.
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    /// Whether the resource has a `status` subresource.
    pub has_status: bool,
    /// Whether this is a custom resource (served from a CRD).
    pub custom: bool,
    /// The CRD's openAPIV3Schema for this version, used for strict field
    /// validation of custom resources.
    pub schema: Option<Value>,
}

impl ResourceType {
    /// `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The `APIResource` entry of a discovery document.
    pub fn discovery_entry(&self) -> Value {
        let verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
        let mut entry = json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": verbs,
        });
        if !self.short_names.is_empty() {
            entry["shortNames"] = json!(self.short_names);
        }
        if self.in_category_all() {
            entry["categories"] = json!(["all"]);
        }
        entry
    }

    /// Whether `kubectl get all` includes this resource (as in Kubernetes,
    /// plus every custom resource).
    pub fn in_category_all(&self) -> bool {
        self.custom
            || matches!(
                (self.group.as_str(), self.plural.as_str()),
                ("", "pods" | "services")
                    | ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets")
                    | ("batch", "jobs" | "cronjobs")
                    | ("autoscaling", "horizontalpodautoscalers")
            )
    }
}

/// (group, version, plural, kind, namespaced, short names, has status)
type Builtin = (&'static str, &'static str, &'static str, &'static str, bool, &'static [&'static str], bool);

const BUILTIN: &[Builtin] = &[
    ("", "v1", "namespaces", "Namespace", false, &["ns"], true),
    ("", "v1", "configmaps", "ConfigMap", true, &["cm"], false),
    ("", "v1", "secrets", "Secret", true, &[], false),
    ("", "v1", "serviceaccounts", "ServiceAccount", true, &["sa"], false),
    ("", "v1", "services", "Service", true, &["svc"], true),
    ("", "v1", "endpoints", "Endpoints", true, &["ep"], false),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, &["pvc"], true),
    ("", "v1", "persistentvolumes", "PersistentVolume", false, &["pv"], true),
    ("", "v1", "pods", "Pod", true, &["po"], true),
    ("", "v1", "events", "Event", true, &["ev"], false),
    ("apps", "v1", "deployments", "Deployment", true, &["deploy"], true),
    ("apps", "v1", "replicasets", "ReplicaSet", true, &["rs"], true),
    ("apps", "v1", "statefulsets", "StatefulSet", true, &["sts"], true),
    ("apps", "v1", "daemonsets", "DaemonSet", true, &["ds"], true),
    ("apps", "v1", "controllerrevisions", "ControllerRevision", true, &[], false),
    ("batch", "v1", "jobs", "Job", true, &[], true),
    ("batch", "v1", "cronjobs", "CronJob", true, &["cj"], true),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", true, &["ing"], true),
    ("networking.k8s.io", "v1", "ingressclasses", "IngressClass", false, &[], false),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true, &["netpol"], false),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", true, &[], false),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, &[], false),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, &[], false),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false, &[], false),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, &["hpa"], true),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, &["pdb"], true),
    ("coordination.k8s.io", "v1", "leases", "Lease", true, &[], false),
    ("events.k8s.io", "v1", "events", "Event", true, &["ev"], false),
    ("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, &[], false),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", false, &["sc"], false),
    (
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        &["crd", "crds"],
        true,
    ),
];

/// All resource types currently served, keyed by (group, version, plural).
#[derive(Clone, Debug)]
pub struct Registry {
    types: BTreeMap<(String, String, String), ResourceType>,
}

impl Default for Registry {
    fn default() -> Self {
        let mut types = BTreeMap::new();
        for &(group, version, plural, kind, namespaced, short, status) in BUILTIN {
            let rt = ResourceType {
                group: group.into(),
                version: version.into(),
                plural: plural.into(),
                singular: kind.to_lowercase(),
                kind: kind.into(),
                namespaced,
                short_names: short.iter().map(|s| s.to_string()).collect(),
                has_status: status,
                custom: false,
                schema: None,
            };
            types.insert((group.into(), version.into(), plural.into()), rt);
        }
        Registry { types }
    }
}

impl Registry {
    /// Looks a resource up by its URL parts.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types.get(&(group.to_string(), version.to_string(), plural.to_string()))
    }

    /// Looks a resource up by apiVersion and kind.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        let (group, version) = split_api_version(api_version);
        self.types.values().find(|t| t.group == group && t.version == version && t.kind == kind)
    }

    /// The preferred (first) version of a resource, by group and plural.
    pub fn by_plural(&self, group: &str, plural: &str) -> Option<&ResourceType> {
        self.types.values().find(|t| t.group == group && t.plural == plural)
    }

    /// Every served resource, sorted by group, version and plural.
    pub fn all(&self) -> impl Iterator<Item = &ResourceType> {
        self.types.values()
    }

    /// The served group-versions, in discovery order: core first, then groups
    /// by name (Kubernetes lists built-in groups first; clients do not care).
    pub fn groups(&self) -> BTreeMap<String, Vec<String>> {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in self.types.values() {
            let versions = groups.entry(t.group.clone()).or_default();
            if !versions.contains(&t.version) {
                versions.push(t.version.clone());
            }
        }
        groups
    }

    /// Installs or replaces the resources a CRD defines (its served versions).
    /// Returns an error message when the CRD would shadow a built-in type.
    pub fn install_crd(&mut self, crd: &Value) -> Result<(), String> {
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap_or_default().to_string();
        let names = &spec["names"];
        let plural = names["plural"].as_str().unwrap_or_default().to_string();
        let kind = names["kind"].as_str().unwrap_or_default().to_string();
        if group.is_empty() || plural.is_empty() || kind.is_empty() {
            return Err("spec.group, spec.names.plural and spec.names.kind are required".into());
        }
        self.remove_crd(crd);
        let namespaced = spec["scope"].as_str() != Some("Cluster");
        let singular = names["singular"].as_str().map(str::to_string).unwrap_or_else(|| kind.to_lowercase());
        let short_names: Vec<String> = names["shortNames"]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
            .unwrap_or_default();
        for version in spec["versions"].as_array().into_iter().flatten() {
            if version["served"].as_bool() == Some(false) {
                continue;
            }
            let name = version["name"].as_str().unwrap_or_default().to_string();
            let key = (group.clone(), name.clone(), plural.clone());
            if self.types.get(&key).is_some_and(|t| !t.custom) {
                return Err(format!("{group}/{name} {plural} is a built-in resource"));
            }
            let schema = version["schema"]["openAPIV3Schema"].clone();
            self.types.insert(
                key,
                ResourceType {
                    group: group.clone(),
                    version: name,
                    plural: plural.clone(),
                    singular: singular.clone(),
                    kind: kind.clone(),
                    namespaced,
                    short_names: short_names.clone(),
                    has_status: !version["subresources"]["status"].is_null(),
                    custom: true,
                    schema: (!schema.is_null()).then_some(schema),
                },
            );
        }
        Ok(())
    }

    /// Removes the resources of a CRD.
    pub fn remove_crd(&mut self, crd: &Value) {
        let group = crd["spec"]["group"].as_str().unwrap_or_default();
        let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or_default();
        self.types.retain(|(g, _, p), t| !(t.custom && g == group && p == plural));
    }
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}
