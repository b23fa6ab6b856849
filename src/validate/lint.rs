//! Policy lints: practices a cluster accepts but an operator should not.
//! Each has an id and a severity; an object opts out with the annotation
//! `meshctl.dev/lint-disable: "id,id"`, a run with `--disable id`.

use serde_json::Value;

use crate::validate::model::{Finding, Severity};
use crate::validate::rules::pod_paths;

/// The annotation that disables lints on one object (comma-separated ids).
pub const DISABLE_ANNOTATION: &str = "meshctl.dev/lint-disable";

/// Every lint: id, severity, and what it asks for.
pub const LINTS: &[(&str, Severity, &str)] = &[
    ("image-tag", Severity::Warning, "images name a tag other than `latest`, or a digest"),
    ("image-digest", Severity::Error, "images are pinned by digest (offline profiles)"),
    ("resource-limits", Severity::Warning, "containers set cpu and memory limits"),
    ("probes", Severity::Warning, "long-running containers have liveness and readiness probes"),
    ("run-as-non-root", Severity::Warning, "pods or containers set runAsNonRoot: true"),
    ("privileged", Severity::Error, "no container runs privileged"),
    ("host-network", Severity::Error, "no pod uses the host's network"),
    ("host-path", Severity::Error, "no pod mounts a hostPath volume"),
    ("secret-literal-data", Severity::Warning, "rendered output holds no Secret with literal data"),
    ("runner-network-policy", Severity::Error, "every runner workload is selected by a NetworkPolicy"),
];

/// What the lints need to know about the run.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// Lint ids disabled for the whole run.
    pub disabled: Vec<String>,
    /// Images must be pinned by digest (the profile is offline).
    pub require_digests: bool,
}

impl LintOptions {
    /// Whether `id` runs for `object`.
    pub fn enabled(&self, id: &str, object: &Value) -> bool {
        if self.disabled.iter().any(|d| d == id) {
            return false;
        }
        let per_object = object["metadata"]["annotations"][DISABLE_ANNOTATION].as_str().unwrap_or_default();
        !per_object.split(',').any(|d| d.trim() == id)
    }
}

fn lint(id: &'static str, pointer: String, message: String) -> Finding {
    let severity = LINTS.iter().find(|(l, _, _)| *l == id).map_or(Severity::Warning, |(_, s, _)| *s);
    Finding { rule: id, severity, pointer: Some(pointer), message }
}

/// Runs the single-object lints.
pub fn lint_object(kind: &str, object: &Value, opts: &LintOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    if kind == "Secret" && opts.enabled("secret-literal-data", object) {
        for field in ["data", "stringData"] {
            if object[field].as_object().is_some_and(|m| !m.is_empty()) {
                out.push(lint(
                    "secret-literal-data",
                    format!("/{field}"),
                    "a Secret with literal data in rendered output: keep secrets in a secret manager (ExternalSecret) or create them out of band".into(),
                ));
            }
        }
    }
    let Some((spec_at, _)) = pod_paths(kind) else { return out };
    let Some(pod) = object.pointer(spec_at) else { return out };
    let long_running =
        matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController");
    let pod_non_root = pod["securityContext"]["runAsNonRoot"] == Value::Bool(true);

    if pod["hostNetwork"] == Value::Bool(true) && opts.enabled("host-network", object) {
        out.push(lint(
            "host-network",
            format!("{spec_at}/hostNetwork"),
            "the pod uses the host's network namespace".into(),
        ));
    }
    if let Some(volumes) = pod["volumes"].as_array() {
        for (i, v) in volumes.iter().enumerate() {
            if v.get("hostPath").is_some() && opts.enabled("host-path", object) {
                out.push(lint(
                    "host-path",
                    format!("{spec_at}/volumes/{i}/hostPath"),
                    "a hostPath volume exposes the node's filesystem".into(),
                ));
            }
        }
    }
    for list in ["initContainers", "containers"] {
        let Some(containers) = pod[list].as_array() else { continue };
        for (i, c) in containers.iter().enumerate() {
            let at = format!("{spec_at}/{list}/{i}");
            let name = c["name"].as_str().unwrap_or("?");
            if let Some(image) = c["image"].as_str() {
                image_lints(&at, name, image, object, opts, &mut out);
            }
            if opts.enabled("resource-limits", object) {
                let limits = &c["resources"]["limits"];
                let missing: Vec<&str> = ["cpu", "memory"].into_iter().filter(|r| limits.get(r).is_none()).collect();
                if !missing.is_empty() {
                    out.push(lint(
                        "resource-limits",
                        format!("{at}/resources"),
                        format!("container `{name}` sets no {} limit", missing.join(" or ")),
                    ));
                }
            }
            if long_running && list == "containers" && opts.enabled("probes", object) {
                let missing: Vec<&str> =
                    ["livenessProbe", "readinessProbe"].into_iter().filter(|p| c.get(*p).is_none()).collect();
                if !missing.is_empty() {
                    out.push(lint("probes", at.clone(), format!("container `{name}` has no {}", missing.join(" or "))));
                }
            }
            let non_root = match &c["securityContext"]["runAsNonRoot"] {
                Value::Bool(b) => *b,
                _ => pod_non_root,
            };
            if !non_root && opts.enabled("run-as-non-root", object) {
                out.push(lint(
                    "run-as-non-root",
                    format!("{at}/securityContext"),
                    format!("container `{name}` may run as root: set runAsNonRoot: true on the pod or container"),
                ));
            }
            if c["securityContext"]["privileged"] == Value::Bool(true) && opts.enabled("privileged", object) {
                out.push(lint(
                    "privileged",
                    format!("{at}/securityContext/privileged"),
                    format!("container `{name}` runs privileged"),
                ));
            }
        }
    }
    out
}

fn image_lints(at: &str, name: &str, image: &str, object: &Value, opts: &LintOptions, out: &mut Vec<Finding>) {
    let (without_digest, digest) = match image.split_once('@') {
        Some((base, d)) => (base, Some(d)),
        None => (image, None),
    };
    // The tag follows the last `:` after the last `/` (a registry port has a `/` after it).
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let tag = last.rsplit_once(':').map(|(_, t)| t);
    if digest.is_none() && opts.enabled("image-tag", object) {
        match tag {
            None => out.push(lint(
                "image-tag",
                format!("{at}/image"),
                format!("container `{name}` image `{image}` has no tag: it means `latest`, which moves"),
            )),
            Some("latest") => out.push(lint(
                "image-tag",
                format!("{at}/image"),
                format!("container `{name}` image `{image}` uses `latest`, which moves"),
            )),
            _ => {}
        }
    }
    if opts.require_digests && digest.is_none() && opts.enabled("image-digest", object) {
        out.push(lint(
            "image-digest",
            format!("{at}/image"),
            format!("container `{name}` image `{image}` is not pinned by digest; an offline site must pull exactly what was mirrored"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(kind: &str, v: &Value, opts: &LintOptions) -> Vec<&'static str> {
        lint_object(kind, v, opts).into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn flags_risky_pods_and_honours_opt_outs() {
        let mut dep = json!({"metadata": {"name": "x"}, "spec": {"template": {"spec": {
            "hostNetwork": true,
            "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
            "containers": [{"name": "c", "image": "registry:5000/app", "securityContext": {"privileged": true}}]}}}});
        let opts = LintOptions { require_digests: true, ..Default::default() };
        let found = ids("Deployment", &dep, &opts);
        for id in [
            "host-network",
            "host-path",
            "image-tag",
            "image-digest",
            "resource-limits",
            "probes",
            "run-as-non-root",
            "privileged",
        ] {
            assert!(found.contains(&id), "{id} missing from {found:?}");
        }
        dep["metadata"]["annotations"] = json!({DISABLE_ANNOTATION: "probes, image-tag"});
        let found =
            ids("Deployment", &dep, &LintOptions { disabled: vec!["privileged".into()], require_digests: true });
        assert!(
            !found.contains(&"probes") && !found.contains(&"image-tag") && !found.contains(&"privileged"),
            "{found:?}"
        );
    }

    #[test]
    fn tags_and_digests() {
        let pod = |image: &str| {
            json!({"metadata": {"name": "p"}, "spec": {"securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "c", "image": image, "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}})
        };
        let o = LintOptions::default();
        assert_eq!(ids("Pod", &pod("nginx:latest"), &o), ["image-tag"]);
        assert_eq!(ids("Pod", &pod("reg:5000/nginx"), &o), ["image-tag"]);
        assert!(ids("Pod", &pod("reg:5000/nginx:1.27"), &o).is_empty());
        assert!(ids("Pod", &pod("nginx@sha256:abc"), &LintOptions { require_digests: true, ..o }).is_empty());
    }
}
