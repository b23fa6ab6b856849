//! Checks the API server makes and kubeconform skips: name and label
//! syntax, selectors matching pod template labels, unique container and
//! port names, port ranges, probes naming existing ports, quantities and
//! requests ≤ limits. Each takes one object; cross-object checks live in
//! `cross`.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use crate::kinds::pointer::escape;
use crate::validate::model::Finding;
use crate::validate::quantity::parse_quantity;

/// Where the pod spec and pod template metadata of a kind live.
pub fn pod_paths(kind: &str) -> Option<(&'static str, &'static str)> {
    match kind {
        "Pod" => Some(("/spec", "/metadata")),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "ReplicationController" => {
            Some(("/spec/template/spec", "/spec/template/metadata"))
        }
        "CronJob" => Some(("/spec/jobTemplate/spec/template/spec", "/spec/jobTemplate/spec/template/metadata")),
        _ => None,
    }
}

/// Every per-object check.
pub fn check_object(kind: &str, object: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    check_metadata(kind, object, &mut out);
    check_selector(kind, object, &mut out);
    if let Some((spec, _)) = pod_paths(kind) {
        if let Some(pod) = object.pointer(spec) {
            check_pod_spec(spec, pod, &mut out);
        }
    }
    match kind {
        "Service" => check_service(object, &mut out),
        "PersistentVolumeClaim" => check_quantities("/spec/resources", object.pointer("/spec/resources"), &mut out),
        _ => {}
    }
    crate::validate::server_rules::check(kind, object, &mut out);
    out
}

fn check_metadata(kind: &str, object: &Value, out: &mut Vec<Finding>) {
    let meta = &object["metadata"];
    match (meta["name"].as_str(), meta["generateName"].as_str()) {
        (Some(name), _) => {
            if let Err(e) = check_name(kind, name) {
                out.push(Finding::error("name", Some("/metadata/name".into()), format!("name `{name}` {e}")));
            }
        }
        (None, Some(_)) => {}
        (None, None) => {
            out.push(Finding::error("name", Some("/metadata".into()), "metadata.name (or generateName) is required"))
        }
    }
    if let Some(ns) = meta["namespace"].as_str() {
        if let Err(e) = dns1123_label(ns) {
            out.push(Finding::error("name", Some("/metadata/namespace".into()), format!("namespace `{ns}` {e}")));
        }
    }
    check_labels("/metadata/labels", &meta["labels"], out);
    check_annotations("/metadata/annotations", &meta["annotations"], out);
    if let Some((_, template_meta)) = pod_paths(kind).filter(|_| kind != "Pod") {
        if let Some(m) = object.pointer(template_meta) {
            check_labels(&format!("{template_meta}/labels"), &m["labels"], out);
            check_annotations(&format!("{template_meta}/annotations"), &m["annotations"], out);
        }
    }
}

fn check_name(kind: &str, name: &str) -> Result<(), String> {
    match kind {
        "Namespace" => dns1123_label(name),
        "Service" => dns1035_label(name),
        // RBAC names are path segments: `system:controller:x` is valid.
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => {
            if name.is_empty() || name == "." || name == ".." || name.contains(['/', '%']) {
                Err("must be a path segment (no `/` or `%`, not `.` or `..`)".into())
            } else {
                Ok(())
            }
        }
        _ => dns1123_subdomain(name),
    }
}

/// RFC 1123 label: lowercase alphanumerics and `-`, at most 63.
pub fn dns1123_label(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err("must be an RFC 1123 label: at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit".into())
    }
}

fn dns1035_label(s: &str) -> Result<(), String> {
    dns1123_label(s)?;
    if s.as_bytes()[0].is_ascii_lowercase() {
        Ok(())
    } else {
        Err("must be an RFC 1035 label: start with a lowercase letter".into())
    }
}

/// RFC 1123 subdomain: labels joined by `.`, at most 253.
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err("must be an RFC 1123 subdomain: lowercase letters, digits, `-` and `.`, at most 253, each part starting and ending with a letter or digit".into())
    }
}

/// A qualified name: `[prefix/]name`, name at most 63 of `[A-Za-z0-9-_.]`
/// starting and ending alphanumeric, prefix a DNS subdomain.
fn qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        dns1123_subdomain(p).map_err(|e| format!("prefix `{p}` {e}"))?;
    }
    label_value(name, false)
}

fn label_value(v: &str, allow_empty: bool) -> Result<(), String> {
    if v.is_empty() {
        return if allow_empty { Ok(()) } else { Err("must not be empty".into()) };
    }
    let ok = v.len() <= 63
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && v.as_bytes()[0].is_ascii_alphanumeric()
        && v.as_bytes()[v.len() - 1].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err("must be at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit".into())
    }
}

fn check_labels(pointer: &str, labels: &Value, out: &mut Vec<Finding>) {
    let Some(map) = labels.as_object() else { return };
    for (k, v) in map {
        let at = format!("{pointer}/{}", escape(k));
        if let Err(e) = qualified_name(k) {
            out.push(Finding::error("label", Some(at.clone()), format!("label key `{k}`: {e}")));
        }
        match v.as_str() {
            Some(s) => {
                if let Err(e) = label_value(s, true) {
                    out.push(Finding::error("label", Some(at), format!("label value `{s}`: {e}")));
                }
            }
            None if v.is_null() => {}
            None => out.push(Finding::error("label", Some(at), "label values must be strings")),
        }
    }
}

fn check_annotations(pointer: &str, annotations: &Value, out: &mut Vec<Finding>) {
    let Some(map) = annotations.as_object() else { return };
    let mut total = 0;
    for (k, v) in map {
        total += k.len() + v.as_str().map_or(0, str::len);
        if let Err(e) = qualified_name(k) {
            out.push(Finding::error(
                "annotation",
                Some(format!("{pointer}/{}", escape(k))),
                format!("annotation key `{k}`: {e}"),
            ));
        }
    }
    if total > 256 * 1024 {
        out.push(Finding::error(
            "annotation",
            Some(pointer.to_owned()),
            format!("annotations total {total} bytes, more than 256 KiB"),
        ));
    }
}

/// A label selector in its two forms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    /// `matchLabels`.
    pub labels: BTreeMap<String, String>,
    /// `matchExpressions`: key, operator, values.
    pub expressions: Vec<(String, String, Vec<String>)>,
}

impl Selector {
    /// Reads a LabelSelector (`{matchLabels, matchExpressions}`).
    pub fn from_label_selector(v: &Value) -> Option<Selector> {
        let obj = v.as_object()?;
        let labels = string_map(obj.get("matchLabels").unwrap_or(&Value::Null));
        let expressions = obj
            .get("matchExpressions")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|e| {
                        let values = e["values"]
                            .as_array()
                            .map(|vs| vs.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                            .unwrap_or_default();
                        (
                            e["key"].as_str().unwrap_or_default().to_owned(),
                            e["operator"].as_str().unwrap_or_default().to_owned(),
                            values,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Selector { labels, expressions })
    }

    /// Reads a Service-style selector (a plain map).
    pub fn from_map(v: &Value) -> Option<Selector> {
        v.as_object()?;
        Some(Selector { labels: string_map(v), expressions: Vec::new() })
    }

    /// A canonical text of the selector, equal for equal selectors (to
    /// share what they select).
    pub fn key(&self) -> String {
        format!("{:?}{:?}", self.labels, self.expressions)
    }

    /// Matches nothing-in-particular: selects everything.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.expressions.is_empty()
    }

    /// Whether a set of labels satisfies this selector.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|(k, op, values)| match op.as_str() {
                "In" => labels.get(k).is_some_and(|v| values.contains(v)),
                "NotIn" => labels.get(k).is_none_or(|v| !values.contains(v)),
                "Exists" => labels.contains_key(k),
                "DoesNotExist" => !labels.contains_key(k),
                _ => false,
            })
    }
}

/// String entries of a JSON map.
pub fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect())
        .unwrap_or_default()
}

fn check_selector(kind: &str, object: &Value, out: &mut Vec<Finding>) {
    let needs = matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet");
    if !needs && kind != "Job" {
        return;
    }
    let selector_value = object.pointer("/spec/selector");
    let Some(selector) = selector_value.and_then(Selector::from_label_selector) else {
        if needs && object.get("spec").is_some() {
            out.push(Finding::error(
                "selector",
                Some("/spec/selector".into()),
                format!("a {kind} needs spec.selector"),
            ));
        }
        return;
    };
    if selector.is_empty() {
        if needs {
            out.push(Finding::error(
                "selector",
                Some("/spec/selector".into()),
                "an empty selector would select every pod in the namespace",
            ));
        }
        return;
    }
    let template_labels = string_map(object.pointer("/spec/template/metadata/labels").unwrap_or(&Value::Null));
    if !selector.matches(&template_labels) {
        out.push(Finding::error(
            "selector",
            Some("/spec/selector".into()),
            format!("selector does not match the pod template labels {template_labels:?}: the controller would never own its pods"),
        ));
    }
}

fn check_pod_spec(base: &str, pod: &Value, out: &mut Vec<Finding>) {
    let mut names = HashSet::new();
    let mut port_names = HashSet::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let Some(containers) = pod[list].as_array() else { continue };
        for (i, c) in containers.iter().enumerate() {
            let at = format!("{base}/{list}/{i}");
            if let Some(name) = c["name"].as_str() {
                if !names.insert(name.to_owned()) {
                    out.push(Finding::error(
                        "container-name",
                        Some(format!("{at}/name")),
                        format!("container name `{name}` is used twice in the pod"),
                    ));
                } else if let Err(e) = dns1123_label(name) {
                    out.push(Finding::error(
                        "container-name",
                        Some(format!("{at}/name")),
                        format!("container name `{name}` {e}"),
                    ));
                }
            }
            let named = check_ports(&at, c, &mut port_names, out);
            for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                for handler in ["httpGet", "tcpSocket"] {
                    if let Some(port) = c[probe][handler]["port"].as_str() {
                        if !named.contains(port) {
                            out.push(Finding::error(
                                "probe-port",
                                Some(format!("{at}/{probe}/{handler}/port")),
                                format!("{probe} names port `{port}`, which the container does not declare (its named ports: {})", list_or_none(&named)),
                            ));
                        }
                    }
                }
            }
            check_quantities(&format!("{at}/resources"), c.get("resources"), out);
        }
    }
}

fn list_or_none(names: &HashSet<String>) -> String {
    let mut v: Vec<&String> = names.iter().collect();
    v.sort();
    if v.is_empty() {
        "none".into()
    } else {
        v.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
    }
}

fn check_ports(
    at: &str,
    container: &Value,
    pod_port_names: &mut HashSet<String>,
    out: &mut Vec<Finding>,
) -> HashSet<String> {
    let mut named = HashSet::new();
    let mut seen = HashSet::new();
    let Some(ports) = container["ports"].as_array() else { return named };
    for (j, p) in ports.iter().enumerate() {
        let pat = format!("{at}/ports/{j}");
        if let Some(n) = p["containerPort"].as_i64() {
            if !(1..=65535).contains(&n) {
                out.push(Finding::error(
                    "port-range",
                    Some(format!("{pat}/containerPort")),
                    format!("containerPort {n} is outside 1-65535"),
                ));
            }
            let protocol = p["protocol"].as_str().unwrap_or("TCP").to_owned();
            if !seen.insert((n, protocol.clone())) {
                out.push(Finding::error(
                    "port-name",
                    Some(format!("{pat}/containerPort")),
                    format!("containerPort {n}/{protocol} is declared twice"),
                ));
            }
        }
        if let Some(n) = p["hostPort"].as_i64() {
            if !(0..=65535).contains(&n) {
                out.push(Finding::error(
                    "port-range",
                    Some(format!("{pat}/hostPort")),
                    format!("hostPort {n} is outside 0-65535"),
                ));
            }
        }
        if let Some(name) = p["name"].as_str() {
            if let Err(e) = iana_port_name(name) {
                out.push(Finding::error("port-name", Some(format!("{pat}/name")), format!("port name `{name}` {e}")));
            }
            if !pod_port_names.insert(name.to_owned()) {
                out.push(Finding::error(
                    "port-name",
                    Some(format!("{pat}/name")),
                    format!("port name `{name}` is used twice in the pod"),
                ));
            }
            named.insert(name.to_owned());
        }
    }
    named
}

/// IANA service name: at most 15 lowercase alphanumerics and `-`, with a
/// letter, no `--`, not starting or ending with `-`.
pub fn iana_port_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err("must be an IANA service name: at most 15 lowercase letters, digits and single `-`, with at least one letter".into())
    }
}

fn check_service(object: &Value, out: &mut Vec<Finding>) {
    let Some(ports) = object.pointer("/spec/ports").and_then(Value::as_array) else { return };
    let mut names = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let at = format!("/spec/ports/{i}");
        if let Some(n) = p["port"].as_i64() {
            if !(1..=65535).contains(&n) {
                out.push(Finding::error(
                    "port-range",
                    Some(format!("{at}/port")),
                    format!("port {n} is outside 1-65535"),
                ));
            }
        }
        match &p["targetPort"] {
            Value::Number(n) if !n.as_i64().is_some_and(|n| (1..=65535).contains(&n)) => {
                out.push(Finding::error(
                    "port-range",
                    Some(format!("{at}/targetPort")),
                    format!("targetPort {n} is outside 1-65535"),
                ));
            }
            Value::String(name) => {
                if let Err(e) = iana_port_name(name) {
                    out.push(Finding::error(
                        "port-name",
                        Some(format!("{at}/targetPort")),
                        format!("targetPort `{name}` {e}"),
                    ));
                }
            }
            _ => {}
        }
        if let Some(n) = p["nodePort"].as_i64() {
            if !(1..=65535).contains(&n) {
                out.push(Finding::error(
                    "port-range",
                    Some(format!("{at}/nodePort")),
                    format!("nodePort {n} is outside 1-65535"),
                ));
            }
        }
        if let Some(name) = p["name"].as_str() {
            if !names.insert(name.to_owned()) {
                out.push(Finding::error(
                    "port-name",
                    Some(format!("{at}/name")),
                    format!("port name `{name}` is used twice"),
                ));
            }
        }
    }
}

fn check_quantities(at: &str, resources: Option<&Value>, out: &mut Vec<Finding>) {
    let Some(resources) = resources else { return };
    let mut parsed: BTreeMap<(&str, String), f64> = BTreeMap::new();
    for part in ["requests", "limits"] {
        let Some(map) = resources[part].as_object() else { continue };
        for (name, v) in map {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            match parse_quantity(&text) {
                Ok(q) => {
                    parsed.insert((part, name.clone()), q);
                }
                Err(e) => out.push(Finding::error("quantity", Some(format!("{at}/{part}/{}", escape(name))), e)),
            }
        }
    }
    for ((part, name), request) in &parsed {
        if *part != "requests" {
            continue;
        }
        if let Some(limit) = parsed.get(&("limits", name.clone())) {
            if request > limit {
                out.push(Finding::error(
                    "requests-exceed-limits",
                    Some(format!("{at}/requests/{}", escape(name))),
                    format!(
                        "{name} request {} exceeds its limit {}",
                        resources["requests"][name], resources["limits"][name]
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(kind: &str, v: Value) -> Vec<(&'static str, String)> {
        check_object(kind, &v).into_iter().map(|f| (f.rule, f.pointer.unwrap_or_default())).collect()
    }

    #[test]
    fn names_labels_and_selectors() {
        let f = rules(
            "Deployment",
            json!({"metadata": {"name": "Web_1", "labels": {"bad key!": "v", "ok": "-bad"}},
                   "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": []}}}}),
        );
        assert!(f.contains(&("name", "/metadata/name".into())), "{f:?}");
        assert!(f.contains(&("label", "/metadata/labels/bad key!".into())), "{f:?}");
        assert!(f.contains(&("label", "/metadata/labels/ok".into())), "{f:?}");
        assert!(f.contains(&("selector", "/spec/selector".into())), "{f:?}");
    }

    #[test]
    fn containers_ports_probes_and_resources() {
        let f = rules(
            "Pod",
            json!({"metadata": {"name": "p"}, "spec": {"containers": [
                {"name": "a", "ports": [{"name": "http", "containerPort": 70000}],
                 "readinessProbe": {"httpGet": {"port": "web"}},
                 "resources": {"requests": {"cpu": "2", "memory": "1GB"}, "limits": {"cpu": "500m"}}},
                {"name": "a", "ports": [{"name": "http", "containerPort": 80}]}
            ]}}),
        );
        for (rule, at) in [
            ("port-range", "/spec/containers/0/ports/0/containerPort"),
            ("probe-port", "/spec/containers/0/readinessProbe/httpGet/port"),
            ("quantity", "/spec/containers/0/resources/requests/memory"),
            ("requests-exceed-limits", "/spec/containers/0/resources/requests/cpu"),
            ("container-name", "/spec/containers/1/name"),
            ("port-name", "/spec/containers/1/ports/0/name"),
            ("container-image", "/spec/containers/0/image"),
        ] {
            assert!(f.contains(&(rule, at.to_owned())), "missing {rule} at {at}: {f:?}");
        }
    }

    #[test]
    fn selector_expressions() {
        let s = Selector::from_label_selector(&json!({"matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]}, {"key": "x", "operator": "DoesNotExist"}]}))
        .unwrap();
        let labels = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert!(s.matches(&labels(&[("tier", "a")])));
        assert!(!s.matches(&labels(&[("tier", "c")])));
        assert!(!s.matches(&labels(&[("tier", "a"), ("x", "1")])));
    }
}
