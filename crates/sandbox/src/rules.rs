//! What the API server does to an object besides storing it: defaulting (so
//! a dry-run apply shows the fields a real cluster would add), validation of
//! the fields clients rely on, and the immutable fields of the kinds served.

use serde_json::{json, Value};

use crate::resources::ResourceType;
use crate::status::FieldCause;

/// Fills in the defaults Kubernetes sets for the kinds the chart renders.
/// `live` is the stored object on update (allocated values such as a
/// Service's clusterIP are kept from it).
pub fn apply_defaults(rt: &ResourceType, obj: &mut Value, live: Option<&Value>, cluster_ip: impl FnOnce() -> String) {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Secret") => {
            default(obj, "type", json!("Opaque"));
            // As the API server does: `stringData` is write-only, merged
            // into `data` (base64), its keys winning, and never stored.
            use base64::Engine as _;
            if let Some(Value::Object(strings)) = obj.as_object_mut().and_then(|o| o.remove("stringData")) {
                if !obj["data"].is_object() {
                    obj["data"] = json!({});
                }
                for (key, value) in strings {
                    let text = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
                    obj["data"][key] = json!(base64::engine::general_purpose::STANDARD.encode(text));
                }
            }
        }
        ("", "Namespace") => {
            let name = obj["metadata"]["name"].clone();
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            if obj["spec"]["finalizers"].is_null() {
                obj["spec"]["finalizers"] = json!(["kubernetes"]);
            }
            if obj["status"]["phase"].is_null() {
                obj["status"]["phase"] = json!("Active");
            }
        }
        ("", "Service") => {
            let spec = &mut obj["spec"];
            default(spec, "type", json!("ClusterIP"));
            default(spec, "sessionAffinity", json!("None"));
            default(spec, "internalTrafficPolicy", json!("Cluster"));
            if spec["clusterIP"].is_null() || spec["clusterIP"] == "" {
                let kept = live.map(|l| l["spec"]["clusterIP"].clone()).filter(|v| v.is_string());
                spec["clusterIP"] = kept.unwrap_or_else(|| json!(cluster_ip()));
            }
            if spec["clusterIPs"].is_null() {
                spec["clusterIPs"] = json!([spec["clusterIP"].clone()]);
            }
            default(spec, "ipFamilies", json!(["IPv4"]));
            default(spec, "ipFamilyPolicy", json!("SingleStack"));
            for port in spec["ports"].as_array_mut().into_iter().flatten() {
                default(port, "protocol", json!("TCP"));
                if port["targetPort"].is_null() {
                    port["targetPort"] = port["port"].clone();
                }
            }
        }
        ("apps", "Deployment") => {
            let spec = &mut obj["spec"];
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "progressDeadlineSeconds", json!(600));
            default(
                spec,
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
            );
            pod_template_defaults(&mut spec["template"]);
        }
        ("apps", "StatefulSet") => {
            let spec = &mut obj["spec"];
            default(spec, "replicas", json!(1));
            default(spec, "podManagementPolicy", json!("OrderedReady"));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "updateStrategy", json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
            pod_template_defaults(&mut spec["template"]);
        }
        ("apps", "ReplicaSet") | ("apps", "DaemonSet") => {
            if rt.kind == "ReplicaSet" {
                default(&mut obj["spec"], "replicas", json!(1));
            }
            pod_template_defaults(&mut obj["spec"]["template"]);
        }
        ("batch", "Job") => {
            let spec = &mut obj["spec"];
            default(spec, "backoffLimit", json!(6));
            default(spec, "completions", json!(1));
            default(spec, "parallelism", json!(1));
            default(spec, "completionMode", json!("NonIndexed"));
            default(spec, "suspend", json!(false));
            pod_template_defaults(&mut spec["template"]);
            default(&mut spec["template"]["spec"], "restartPolicy", json!("Never"));
        }
        ("batch", "CronJob") => {
            let spec = &mut obj["spec"];
            default(spec, "concurrencyPolicy", json!("Allow"));
            default(spec, "suspend", json!(false));
            default(spec, "successfulJobsHistoryLimit", json!(3));
            default(spec, "failedJobsHistoryLimit", json!(1));
            pod_template_defaults(&mut spec["jobTemplate"]["spec"]["template"]);
        }
        ("", "Pod") => pod_spec_defaults(&mut obj["spec"]),
        ("", "PersistentVolumeClaim") => {
            default(&mut obj["spec"], "volumeMode", json!("Filesystem"));
            if obj["status"]["phase"].is_null() {
                obj["status"]["phase"] = json!("Pending");
            }
        }
        _ => {}
    }
}

fn default(obj: &mut Value, key: &str, value: Value) {
    if obj.is_object() && obj[key].is_null() {
        obj[key] = value;
    }
}

fn pod_template_defaults(template: &mut Value) {
    if template.is_object() {
        pod_spec_defaults(&mut template["spec"]);
    }
}

fn pod_spec_defaults(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "securityContext", json!({}));
    for list in ["containers", "initContainers"] {
        for c in spec[list].as_array_mut().into_iter().flatten() {
            default(c, "terminationMessagePath", json!("/dev/termination-log"));
            default(c, "terminationMessagePolicy", json!("File"));
            let image = c["image"].as_str().unwrap_or_default();
            let tag = image.rsplit('/').next().unwrap_or(image);
            let policy = if !tag.contains(':') || tag.ends_with(":latest") { "Always" } else { "IfNotPresent" };
            default(c, "imagePullPolicy", json!(policy));
            for p in c["ports"].as_array_mut().into_iter().flatten() {
                default(p, "protocol", json!("TCP"));
            }
        }
    }
}

/// Checks the fields every client relies on; returns one cause per problem.
pub fn validate(rt: &ResourceType, obj: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    // RBAC names may hold `:` (system:controller:...), as Kubernetes allows.
    let rbac = rt.kind.ends_with("Role") || rt.kind.ends_with("RoleBinding");
    if !(is_dns_subdomain(name) || rbac) {
        causes.push(FieldCause::invalid(
            "metadata.name",
            format!(
                "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            ),
        ));
    }
    let workload = matches!(
        (rt.group.as_str(), rt.kind.as_str()),
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
    );
    if workload {
        let selector = &obj["spec"]["selector"];
        if selector.is_null() {
            causes.push(FieldCause::required("spec.selector"));
        } else {
            let labels = &obj["spec"]["template"]["metadata"]["labels"];
            let matches =
                crate::selector::LabelSelector::from_object(selector).matches(&json!({"metadata": {"labels": labels}}));
            if !matches {
                causes.push(FieldCause::invalid(
                    "spec.template.metadata.labels",
                    format!("Invalid value: {labels}: `selector` does not match template `labels`"),
                ));
            }
        }
    }
    let pod_spec = match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") => Some(("spec", &obj["spec"])),
        ("batch", "CronJob") => {
            Some(("spec.jobTemplate.spec.template.spec", &obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
        }
        ("batch", "Job") => Some(("spec.template.spec", &obj["spec"]["template"]["spec"])),
        _ if workload => Some(("spec.template.spec", &obj["spec"]["template"]["spec"])),
        _ => None,
    };
    if let Some((path, spec)) = pod_spec {
        match spec["containers"].as_array() {
            Some(containers) if !containers.is_empty() => {
                for (i, c) in containers.iter().enumerate() {
                    if c["name"].as_str().unwrap_or_default().is_empty() {
                        causes.push(FieldCause::required(&format!("{path}.containers[{i}].name")));
                    }
                    if c["image"].as_str().unwrap_or_default().is_empty() {
                        causes.push(FieldCause::required(&format!("{path}.containers[{i}].image")));
                    }
                }
            }
            _ => causes.push(FieldCause::required(&format!("{path}.containers"))),
        }
    }
    if rt.kind == "Service" && rt.group.is_empty() {
        for (i, p) in obj["spec"]["ports"].as_array().into_iter().flatten().enumerate() {
            if p["port"].as_i64().is_none_or(|n| !(1..=65535).contains(&n)) {
                causes.push(FieldCause::invalid(
                    &format!("spec.ports[{i}].port"),
                    format!("Invalid value: {}: must be between 1 and 65535, inclusive", p["port"]),
                ));
            }
        }
    }
    causes
}

/// The fields that may not change once set, per kind, compared between the
/// stored object and the update.
pub fn immutable_changes(rt: &ResourceType, live: &Value, new: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let mut check = |path: &str| {
        let get = |v: &Value| path.split('.').fold(v.clone(), |v, p| v[p].clone());
        let (before, after) = (get(live), get(new));
        if !before.is_null() && before != after {
            causes.push(FieldCause::immutable(path, &after));
        }
    };
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            check("spec.selector");
            if rt.kind == "StatefulSet" {
                check("spec.serviceName");
                check("spec.volumeClaimTemplates");
                check("spec.podManagementPolicy");
            }
        }
        ("", "Service") if !new["spec"]["clusterIP"].is_null() => check("spec.clusterIP"),
        ("batch", "Job") => {
            check("spec.selector");
            check("spec.template");
            check("spec.completions");
        }
        ("", "PersistentVolumeClaim") if live["status"]["phase"] == "Bound" => {
            for field in ["accessModes", "storageClassName", "volumeName", "volumeMode", "selector"] {
                check(&format!("spec.{field}"));
            }
            let before = quantity_bytes(&live["spec"]["resources"]["requests"]["storage"]);
            let after = quantity_bytes(&new["spec"]["resources"]["requests"]["storage"]);
            if let (Some(b), Some(a)) = (before, after) {
                if a < b {
                    causes.push(FieldCause::invalid(
                        "spec.resources.requests.storage",
                        "Forbidden: field can not be less than status.capacity",
                    ));
                }
            }
        }
        ("", "ConfigMap" | "Secret") if live["immutable"] == true => {
            check("data");
            check("binaryData");
            check("stringData");
            if new["immutable"] != true {
                causes.push(FieldCause::immutable("immutable", &new["immutable"]));
            }
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => check("roleRef"),
        _ => {}
    }
    causes
}

fn quantity_bytes(v: &Value) -> Option<f64> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let units = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    for (suffix, factor) in units {
        if let Some(n) = s.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    s.parse().ok()
}

/// A lowercase RFC 1123 subdomain, at most 253 characters.
pub fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    #[test]
    fn deployment_selector_is_immutable() {
        let reg = Registry::default();
        let rt = reg.get("apps", "v1", "deployments").unwrap();
        let live = json!({"spec": {"selector": {"matchLabels": {"app": "a"}}}});
        let new = json!({"spec": {"selector": {"matchLabels": {"app": "b"}}}});
        let causes = immutable_changes(rt, &live, &new);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "spec.selector");
        assert!(causes[0].message.ends_with("field is immutable"));
        assert!(immutable_changes(rt, &live, &live).is_empty());
    }

    #[test]
    fn service_defaults_keep_the_allocated_cluster_ip() {
        let reg = Registry::default();
        let rt = reg.get("", "v1", "services").unwrap();
        let live = json!({"spec": {"clusterIP": "10.96.0.7"}});
        let mut new = json!({"spec": {"ports": [{"port": 80}]}});
        apply_defaults(rt, &mut new, Some(&live), || unreachable!());
        assert_eq!(new["spec"]["clusterIP"], "10.96.0.7");
        assert_eq!(new["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(new["spec"]["ports"][0]["protocol"], "TCP");
    }

    #[test]
    fn names_must_be_dns_subdomains() {
        assert!(is_dns_subdomain("web-1.example"));
        assert!(!is_dns_subdomain("Web"));
        assert!(!is_dns_subdomain("-web"));
        assert!(!is_dns_subdomain(""));
    }
}
