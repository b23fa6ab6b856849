//! Every rendered built-in object decodes as the k8s-openapi type of its
//! kind, with no field the type does not know (what `kubectl
//! --validate=strict` would reject). Custom resources (ServiceMonitor,
//! SecretStore, ExternalSecret) are left to their CRD schemas.

use k8s_openapi::api::{apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch, core::v1 as core};
use k8s_openapi::api::{networking::v1 as networking, policy::v1 as policy, rbac::v1 as rbac};
use serde_json::Value;

use crate::util::{manifests, render_to, ENVIRONMENTS, PROFILES};

const CUSTOM_KINDS: &[&str] = &["ServiceMonitor", "SecretStore", "ExternalSecret"];

/// Decodes `value` as `T`; returns the decode error or the paths of fields
/// `T` ignored.
fn strict<T: serde::de::DeserializeOwned>(value: &Value) -> Result<(), String> {
    let mut unknown = Vec::new();
    let result: Result<T, _> = serde_ignored::deserialize(value.clone(), |path| unknown.push(path.to_string()));
    match result {
        Err(e) => Err(format!("does not decode: {e}")),
        Ok(_) if !unknown.is_empty() => Err(format!("unknown fields: {}", unknown.join(", "))),
        Ok(_) => Ok(()),
    }
}

fn check(kind: &str, value: &Value) -> Result<(), String> {
    match kind {
        "Namespace" => strict::<core::Namespace>(value),
        "ServiceAccount" => strict::<core::ServiceAccount>(value),
        "ConfigMap" => strict::<core::ConfigMap>(value),
        "Secret" => strict::<core::Secret>(value),
        "Service" => strict::<core::Service>(value),
        "PersistentVolumeClaim" => strict::<core::PersistentVolumeClaim>(value),
        "Deployment" => strict::<apps::Deployment>(value),
        "StatefulSet" => strict::<apps::StatefulSet>(value),
        "CronJob" => strict::<batch::CronJob>(value),
        "Job" => strict::<batch::Job>(value),
        "Role" => strict::<rbac::Role>(value),
        "RoleBinding" => strict::<rbac::RoleBinding>(value),
        "Ingress" => strict::<networking::Ingress>(value),
        "NetworkPolicy" => strict::<networking::NetworkPolicy>(value),
        "HorizontalPodAutoscaler" => strict::<autoscaling::HorizontalPodAutoscaler>(value),
        "PodDisruptionBudget" => strict::<policy::PodDisruptionBudget>(value),
        other => Err(format!("kind {other} is not covered by this test: add it")),
    }
}

#[test]
fn every_builtin_object_decodes_strictly() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for profile in PROFILES {
        for env in ENVIRONMENTS {
            let tmp = tempfile::tempdir().unwrap();
            let out = render_to(tmp.path(), profile, env, &[]);
            for (file, value) in manifests(&out) {
                let kind = value["kind"].as_str().unwrap_or_default().to_owned();
                if CUSTOM_KINDS.contains(&kind.as_str()) {
                    continue;
                }
                checked += 1;
                if let Err(e) = check(&kind, &value) {
                    failures.push(format!("{profile}/{env} {file}: {e}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 200, "only {checked} objects checked");
}

#[test]
fn the_strict_check_catches_unknown_fields() {
    // The check above would pass vacuously if serde_ignored saw nothing.
    let bad = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80, "targetPortt": 8080}]}
    });
    let err = check("Service", &bad).unwrap_err();
    assert!(err.contains("targetPortt"), "{err}");
}
