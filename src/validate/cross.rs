//! Checks across objects: duplicates (group, kind, namespace, name), a
//! Service's named targetPort against the pods it selects, PodDisruptionBudget
//! selectors that select nothing, and runner workloads without a
//! NetworkPolicy. Each object contributes a small [`Facts`]; the checks run
//! once all inputs are read.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::validate::lint::LintOptions;
use crate::validate::model::{Finding, Severity};
use crate::validate::rules::{pod_paths, string_map, Selector};

/// What the cross-object checks need from one object.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Where the object is (`file:line`), for messages about its twin.
    pub location: String,
    /// (group, kind, namespace or "" when cluster-scoped, name).
    pub key: Option<(String, String, String, String)>,
    /// The object's effective namespace.
    pub namespace: String,
    /// Pod template labels and named container ports, for workloads.
    pub pods: Option<(BTreeMap<String, String>, HashSet<String>)>,
    /// Service selector and its named targetPorts (pointer, name).
    pub service: Option<(Selector, Vec<(String, String)>)>,
    /// A NetworkPolicy's podSelector.
    pub network_policy: Option<Selector>,
    /// A PodDisruptionBudget's selector.
    pub pdb: Option<Selector>,
    /// `runner-network-policy` applies to this object.
    pub runner_lint: bool,
}

/// The label that marks the bundled runner's pods.
const RUNNER_LABEL: (&str, &str) = ("app.kubernetes.io/component", "runner");

/// Extracts the facts of one object. `namespaced` is None for unknown
/// kinds (treated as namespaced); `default_namespace` fills a missing one.
pub fn facts(
    object: &Value,
    kind: &str,
    location: String,
    namespaced: Option<bool>,
    default_namespace: &str,
    lints: &LintOptions,
) -> Facts {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g).to_owned();
    let namespaced = namespaced.unwrap_or(true);
    let namespace = if namespaced {
        object["metadata"]["namespace"].as_str().filter(|s| !s.is_empty()).unwrap_or(default_namespace).to_owned()
    } else {
        String::new()
    };
    let key =
        object["metadata"]["name"].as_str().map(|name| (group, kind.to_owned(), namespace.clone(), name.to_owned()));
    let mut f = Facts { location, key, namespace, ..Facts::default() };
    if let Some((spec, meta)) = pod_paths(kind) {
        let labels = string_map(object.pointer(&format!("{meta}/labels")).unwrap_or(&Value::Null));
        let mut ports = HashSet::new();
        if let Some(containers) = object.pointer(&format!("{spec}/containers")).and_then(Value::as_array) {
            for c in containers {
                for p in c["ports"].as_array().into_iter().flatten() {
                    if let Some(n) = p["name"].as_str() {
                        ports.insert(n.to_owned());
                    }
                }
            }
        }
        f.runner_lint = kind != "Pod"
            && labels.get(RUNNER_LABEL.0).map(String::as_str) == Some(RUNNER_LABEL.1)
            && matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet")
            && lints.enabled("runner-network-policy", object);
        f.pods = Some((labels, ports));
    }
    match kind {
        "Service" => {
            if let Some(selector) =
                object.pointer("/spec/selector").and_then(Selector::from_map).filter(|s| !s.is_empty())
            {
                let named = object
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .filter_map(|(i, p)| {
                        p["targetPort"].as_str().map(|n| (format!("/spec/ports/{i}/targetPort"), n.to_owned()))
                    })
                    .collect();
                f.service = Some((selector, named));
            }
        }
        "NetworkPolicy" => {
            f.network_policy = object.pointer("/spec/podSelector").and_then(Selector::from_label_selector)
        }
        "PodDisruptionBudget" => f.pdb = object.pointer("/spec/selector").and_then(Selector::from_label_selector),
        _ => {}
    }
    f
}

/// Runs the cross-object checks over all facts (index = resource index)
/// and returns findings by index.
pub fn check(all: &[Option<Facts>]) -> HashMap<usize, Vec<Finding>> {
    let mut out: HashMap<usize, Vec<Finding>> = HashMap::new();
    let mut first: HashMap<&(String, String, String, String), &str> = HashMap::new();
    for (i, f) in all.iter().enumerate() {
        let Some(key) = f.as_ref().and_then(|f| f.key.as_ref()) else { continue };
        match first.get(key) {
            Some(first_at) => out.entry(i).or_default().push(Finding::error(
                "duplicate-object",
                Some("/metadata/name".into()),
                format!(
                    "{} `{}` {} is already defined at {first_at}",
                    key.1,
                    key.3,
                    if key.2.is_empty() { "(cluster-scoped)".to_owned() } else { format!("in namespace `{}`", key.2) },
                ),
            )),
            None => {
                first.insert(key, f.as_ref().map_or("", |f| f.location.as_str()));
            }
        }
    }

    let pods: Vec<(&str, &BTreeMap<String, String>, &HashSet<String>)> =
        all.iter().flatten().filter_map(|f| f.pods.as_ref().map(|(l, p)| (f.namespace.as_str(), l, p))).collect();
    for (i, f) in all.iter().enumerate() {
        let Some(f) = f else { continue };
        if let Some((selector, named)) = &f.service {
            let selected: Vec<_> =
                pods.iter().filter(|(ns, labels, _)| *ns == f.namespace && selector.matches(labels)).collect();
            // Pods from outside the input may carry the port: only judge
            // when the input holds pods this Service selects.
            if !selected.is_empty() {
                for (pointer, name) in named {
                    if !selected.iter().any(|(_, _, ports)| ports.contains(name)) {
                        out.entry(i).or_default().push(Finding::error(
                            "service-target-port",
                            Some(pointer.clone()),
                            format!("targetPort `{name}` is not a container port name of any pod this Service selects"),
                        ));
                    }
                }
            }
        }
        if let Some(selector) = &f.pdb {
            if !pods.iter().any(|(ns, labels, _)| *ns == f.namespace && selector.matches(labels)) {
                out.entry(i).or_default().push(Finding {
                    rule: "selector",
                    severity: Severity::Warning,
                    pointer: Some("/spec/selector".into()),
                    message: "this PodDisruptionBudget selects no pod template in the input".into(),
                });
            }
        }
        if f.runner_lint {
            let labels = &f.pods.as_ref().expect("runner facts have pods").0;
            let covered = all
                .iter()
                .flatten()
                .any(|p| p.namespace == f.namespace && p.network_policy.as_ref().is_some_and(|s| s.matches(labels)));
            if !covered {
                out.entry(i).or_default().push(Finding::error(
                    "runner-network-policy",
                    Some("/spec/template/metadata/labels".into()),
                    "the runner executes arbitrary test flows: no NetworkPolicy in the input selects its pods",
                ));
            }
        }
    }
    out
}
