//! Field validation (`?fieldValidation=Strict|Warn|Ignore`): unknown and
//! mistyped fields, found by decoding built-in kinds into their Kubernetes
//! types and walking a CRD's structural schema for custom resources.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::resources::ResourceType;

/// What a decode found: unknown fields (Kubernetes' `.spec.foo` form) and
/// the first type error, if any.
#[derive(Debug, Default)]
pub struct FieldReport {
    pub unknown: Vec<String>,
    pub type_error: Option<String>,
}

macro_rules! kinds {
    ($($group:literal $kind:literal $ty:ty;)*) => {
        fn decode_builtin(group: &str, kind: &str, obj: &Value) -> Option<FieldReport> {
            match (group, kind) {
                $(($group, $kind) => Some(decode::<$ty>(obj)),)*
                _ => None,
            }
        }
    };
}

kinds! {
    "" "Namespace" k8s_openapi::api::core::v1::Namespace;
    "" "ConfigMap" k8s_openapi::api::core::v1::ConfigMap;
    "" "Secret" k8s_openapi::api::core::v1::Secret;
    "" "ServiceAccount" k8s_openapi::api::core::v1::ServiceAccount;
    "" "Service" k8s_openapi::api::core::v1::Service;
    "" "Endpoints" k8s_openapi::api::core::v1::Endpoints;
    "" "PersistentVolumeClaim" k8s_openapi::api::core::v1::PersistentVolumeClaim;
    "" "PersistentVolume" k8s_openapi::api::core::v1::PersistentVolume;
    "" "Pod" k8s_openapi::api::core::v1::Pod;
    "" "Event" k8s_openapi::api::core::v1::Event;
    "apps" "Deployment" k8s_openapi::api::apps::v1::Deployment;
    "apps" "ReplicaSet" k8s_openapi::api::apps::v1::ReplicaSet;
    "apps" "StatefulSet" k8s_openapi::api::apps::v1::StatefulSet;
    "apps" "DaemonSet" k8s_openapi::api::apps::v1::DaemonSet;
    "apps" "ControllerRevision" k8s_openapi::api::apps::v1::ControllerRevision;
    "batch" "Job" k8s_openapi::api::batch::v1::Job;
    "batch" "CronJob" k8s_openapi::api::batch::v1::CronJob;
    "networking.k8s.io" "Ingress" k8s_openapi::api::networking::v1::Ingress;
    "networking.k8s.io" "IngressClass" k8s_openapi::api::networking::v1::IngressClass;
    "networking.k8s.io" "NetworkPolicy" k8s_openapi::api::networking::v1::NetworkPolicy;
    "rbac.authorization.k8s.io" "Role" k8s_openapi::api::rbac::v1::Role;
    "rbac.authorization.k8s.io" "RoleBinding" k8s_openapi::api::rbac::v1::RoleBinding;
    "rbac.authorization.k8s.io" "ClusterRole" k8s_openapi::api::rbac::v1::ClusterRole;
    "rbac.authorization.k8s.io" "ClusterRoleBinding" k8s_openapi::api::rbac::v1::ClusterRoleBinding;
    "autoscaling" "HorizontalPodAutoscaler" k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    "policy" "PodDisruptionBudget" k8s_openapi::api::policy::v1::PodDisruptionBudget;
    "coordination.k8s.io" "Lease" k8s_openapi::api::coordination::v1::Lease;
    "events.k8s.io" "Event" k8s_openapi::api::events::v1::Event;
    "discovery.k8s.io" "EndpointSlice" k8s_openapi::api::discovery::v1::EndpointSlice;
    "storage.k8s.io" "StorageClass" k8s_openapi::api::storage::v1::StorageClass;
    "apiextensions.k8s.io" "CustomResourceDefinition" k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
}

/// Checks an object's fields against its type. Missing required fields are
/// left to validation (422), as the API server does.
pub fn check(rt: &ResourceType, obj: &Value) -> FieldReport {
    if let Some(schema) = &rt.schema {
        let mut report = FieldReport::default();
        for (key, value) in obj.as_object().into_iter().flatten() {
            if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            match schema["properties"].get(key) {
                Some(s) => walk_schema(s, value, &format!(".{key}"), &mut report),
                None if schema["x-kubernetes-preserve-unknown-fields"] == true => {}
                None => report.unknown.push(format!(".{key}")),
            }
        }
        return report;
    }
    decode_builtin(&rt.group, &rt.kind, obj).unwrap_or_default()
}

fn walk_schema(schema: &Value, value: &Value, path: &str, report: &mut FieldReport) {
    if schema["x-kubernetes-preserve-unknown-fields"] == true && schema["properties"].is_null() {
        return;
    }
    match value {
        Value::Object(map) => {
            let props = schema["properties"].as_object();
            let additional = &schema["additionalProperties"];
            for (key, v) in map {
                if let Some(s) = props.and_then(|p| p.get(key)) {
                    walk_schema(s, v, &format!("{path}.{key}"), report);
                } else if additional.is_object() {
                    walk_schema(additional, v, &format!("{path}.{key}"), report);
                } else if additional != &Value::Bool(true)
                    && schema["x-kubernetes-preserve-unknown-fields"] != true
                    && (props.is_some() || schema["type"] == "object")
                {
                    report.unknown.push(format!("{path}.{key}"));
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk_schema(&schema["items"], v, &format!("{path}[{i}]"), report);
            }
        }
        _ => {}
    }
}

fn decode<T: DeserializeOwned>(value: &Value) -> FieldReport {
    let mut unknown = Vec::new();
    let result: Result<T, _> = {
        let mut record = |path: serde_ignored::Path| unknown.push(display_path(&path));
        serde_ignored::deserialize(value, &mut record)
    };
    let type_error = match result {
        Err(e) if !e.to_string().starts_with("missing field") => Some(e.to_string()),
        _ => None,
    };
    FieldReport { unknown, type_error }
}

/// `.spec.containers[0].foo`, as Kubernetes names unknown fields.
fn display_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", display_path(parent)),
        Path::Map { parent, key } => format!("{}.{key}", display_path(parent)),
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => {
            display_path(parent)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;
    use serde_json::json;

    #[test]
    fn unknown_fields_of_builtin_kinds_are_named() {
        let reg = Registry::default();
        let rt = reg.get("apps", "v1", "deployments").unwrap();
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
            "spec": {"replicas": 1, "selector": {}, "template": {"spec": {"containers": [{"name": "a", "image": "x", "imagePullPolicy": "Always", "bogus": 1}]}}, "extra": true}});
        let report = check(rt, &obj);
        assert_eq!(report.unknown, vec![".spec.template.spec.containers[0].bogus", ".spec.extra"]);
        assert!(report.type_error.is_none());
        let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"}, "spec": {"replicas": "three", "selector": {}, "template": {}}});
        assert!(check(rt, &bad).type_error.is_some());
    }

    #[test]
    fn custom_resources_follow_their_schema() {
        let mut reg = Registry::default();
        reg.install_crd(&json!({"spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "properties": {"size": {"type": "integer"}, "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}}}]}}))
            .unwrap();
        let rt = reg.get("example.com", "v1", "widgets").unwrap();
        let obj = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}, "spec": {"size": 1, "colour": "red", "free": {"any": 1}}});
        assert_eq!(check(rt, &obj).unknown, vec![".spec.colour"]);
    }
}
