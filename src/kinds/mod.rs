//! What meshctl knows about Kubernetes kinds, in one place: scope
//! (namespaced or cluster-wide), the apply tier and its name, which kinds
//! are workloads with a rollout to wait for, and which kinds a blue/green
//! colour copies. Render, validate, cluster and ops all ask here; nothing
//! here imports another stage.

pub mod builtin;
pub mod pointer;

pub use builtin::KUBERNETES_VERSION;

/// Custom kinds of well-known operators that are cluster-scoped; a CRD in
/// the set itself says more (see [`Scope::of`]).
const CLUSTER_SCOPED_CUSTOM: &[&str] =
    &["ClusterSecretStore", "ClusterExternalSecret", "ClusterIssuer", "ClusterPolicy", "ClusterRoleTemplate"];

/// Where objects of a kind live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// In a namespace.
    Namespaced,
    /// Cluster-wide (Namespace, ClusterRole, StorageClass, CRDs, ...).
    Cluster,
}

impl Scope {
    /// The scope of `kind`: the compiled-in Kubernetes types for built-in
    /// kinds, a few well-known operators' cluster-scoped kinds, else
    /// `None` (only the CRD or the cluster's discovery can tell).
    pub fn of(kind: &str) -> Option<Scope> {
        if let Some(namespaced) = builtin::namespaced_by_name(kind) {
            return Some(if namespaced { Scope::Namespaced } else { Scope::Cluster });
        }
        CLUSTER_SCOPED_CUSTOM.contains(&kind).then_some(Scope::Cluster)
    }

    /// The scope a CustomResourceDefinition object declares for its kind:
    /// `(kind, scope)`.
    pub fn declared_by_crd(crd: &serde_json::Value) -> Option<(String, Scope)> {
        if crd["kind"] != "CustomResourceDefinition" {
            return None;
        }
        let kind = crd["spec"]["names"]["kind"].as_str()?.to_owned();
        let scope = match crd["spec"]["scope"].as_str()? {
            "Cluster" => Scope::Cluster,
            _ => Scope::Namespaced,
        };
        Some((kind, scope))
    }
}

/// The apply order: each tier is applied (and CRDs established) before the
/// next starts. Rendered file names start with the tier's number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// CustomResourceDefinitions.
    Crds = 0,
    /// Namespaces.
    Namespaces = 1,
    /// Identity, RBAC, configuration, secrets and storage claims.
    Config = 2,
    /// Services.
    Services = 3,
    /// Workloads.
    Workloads = 4,
    /// Ingress, autoscaling, disruption budgets, network policies,
    /// monitors and anything else.
    Policy = 5,
    /// Post-deploy Jobs.
    Jobs = 6,
}

impl Tier {
    /// Every tier, in apply order.
    pub const ALL: [Tier; 7] =
        [Tier::Crds, Tier::Namespaces, Tier::Config, Tier::Services, Tier::Workloads, Tier::Policy, Tier::Jobs];

    /// The tier of a kind.
    pub fn of(kind: &str) -> Tier {
        match kind {
            "CustomResourceDefinition" => Tier::Crds,
            "Namespace" => Tier::Namespaces,
            "ServiceAccount"
            | "Role"
            | "ClusterRole"
            | "RoleBinding"
            | "ClusterRoleBinding"
            | "ConfigMap"
            | "Secret"
            | "PersistentVolumeClaim"
            | "StorageClass"
            | "PriorityClass"
            | "LimitRange"
            | "ResourceQuota"
            | "SecretStore"
            | "ClusterSecretStore"
            | "ExternalSecret" => Tier::Config,
            "Service" => Tier::Services,
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Pod" | "CronJob" => Tier::Workloads,
            "Job" => Tier::Jobs,
            _ => Tier::Policy,
        }
    }

    /// Its number: the prefix of rendered file names (`04-deployment-...`).
    pub fn number(self) -> u8 {
        self as u8
    }

    /// Its name in progress output.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Crds => "crds",
            Tier::Namespaces => "namespaces",
            Tier::Config => "config",
            Tier::Services => "services",
            Tier::Workloads => "workloads",
            Tier::Policy => "policy",
            Tier::Jobs => "jobs",
        }
    }
}

/// Kinds whose readiness is a rollout or a run (what `quickstart` and
/// `status` summarise as the workloads).
pub fn is_workload(kind: &str) -> bool {
    matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "CronJob" | "Pod")
}

/// Kinds a blue/green colour gets its own copy of: the pods' controllers
/// and the configuration they read, so each colour keeps exactly what it
/// was started with. Services stay shared (they are switched, not copied).
pub fn copied_per_colour(kind: &str) -> bool {
    matches!(kind, "Deployment" | "StatefulSet" | "ConfigMap" | "Secret")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_comes_from_the_kubernetes_types() {
        assert_eq!(Scope::of("Deployment"), Some(Scope::Namespaced));
        assert_eq!(Scope::of("Namespace"), Some(Scope::Cluster));
        // The two a name-prefix guess missed.
        assert_eq!(Scope::of("StorageClass"), Some(Scope::Cluster));
        assert_eq!(Scope::of("PriorityClass"), Some(Scope::Cluster));
        assert_eq!(Scope::of("IngressClass"), Some(Scope::Cluster));
        assert_eq!(Scope::of("ClusterSecretStore"), Some(Scope::Cluster));
        assert_eq!(Scope::of("Widget"), None);
    }

    #[test]
    fn a_crd_declares_its_kinds_scope() {
        let crd = serde_json::json!({"kind": "CustomResourceDefinition",
            "spec": {"scope": "Cluster", "names": {"kind": "Widget"}}});
        assert_eq!(Scope::declared_by_crd(&crd), Some(("Widget".into(), Scope::Cluster)));
    }

    #[test]
    fn tiers_number_and_name_together() {
        assert_eq!(Tier::of("CustomResourceDefinition").number(), 0);
        assert_eq!(Tier::of("Deployment"), Tier::Workloads);
        assert_eq!(Tier::of("HorizontalPodAutoscaler").name(), "policy");
        for (i, tier) in Tier::ALL.iter().enumerate() {
            assert_eq!(tier.number() as usize, i);
        }
    }
}
