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
    /// `group NUL kind NUL namespace NUL name` (namespace empty when
    /// cluster-scoped): one allocation per object.
    pub key: Option<String>,
    /// The object's effective namespace.
    pub namespace: String,
    /// Pod template labels and named container ports, for workloads.
    pub pods: Option<Box<PodFacts>>,
    /// Service selector and its named targetPorts (pointer, name).
    pub service: Option<Box<ServiceFacts>>,
    /// A NetworkPolicy's podSelector.
    pub network_policy: Option<Box<Selector>>,
    /// A PodDisruptionBudget's selector.
    pub pdb: Option<Box<Selector>>,
    /// `runner-network-policy` applies to this object.
    pub runner_lint: bool,
}

/// A workload's pod template labels and named container ports.
pub type PodFacts = (BTreeMap<String, String>, HashSet<String>);

/// A Service's selector and its named targetPorts (pointer, name).
pub type ServiceFacts = (Selector, Vec<(String, String)>);

/// A pod template's labels and named container ports.
type PodTemplate<'a> = (&'a BTreeMap<String, String>, &'a HashSet<String>);

/// The label that marks the bundled runner's pods.
const RUNNER_LABEL: (&str, &str) = ("app.kubernetes.io/component", "runner");

/// Extracts the facts of one object. `namespaced` is None for unknown
/// kinds (treated as namespaced); `default_namespace` fills a missing one.
pub fn facts(
    object: &Value,
    kind: &str,
    namespaced: Option<bool>,
    default_namespace: &str,
    lints: &LintOptions,
) -> Facts {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let namespaced = namespaced.unwrap_or(true);
    let namespace = if namespaced {
        object["metadata"]["namespace"].as_str().filter(|s| !s.is_empty()).unwrap_or(default_namespace).to_owned()
    } else {
        String::new()
    };
    let key = object["metadata"]["name"].as_str().map(|name| format!("{group}\0{kind}\0{namespace}\0{name}"));
    let mut f = Facts { key, namespace, ..Facts::default() };
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
        f.pods = Some(Box::new((labels, ports)));
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
                f.service = Some(Box::new((selector, named)));
            }
        }
        "NetworkPolicy" => {
            f.network_policy = object.pointer("/spec/podSelector").and_then(Selector::from_label_selector).map(Box::new)
        }
        "PodDisruptionBudget" => {
            f.pdb = object.pointer("/spec/selector").and_then(Selector::from_label_selector).map(Box::new)
        }
        _ => {}
    }
    f
}

/// Runs the cross-object checks over all facts (index = resource index)
/// and returns findings by index. `locate` names where resource i is.
pub fn check(all: &[Option<Facts>], locate: impl Fn(usize) -> String) -> HashMap<usize, Vec<Finding>> {
    let mut out: HashMap<usize, Vec<Finding>> = HashMap::new();
    let mut first: HashMap<&str, usize> = HashMap::with_capacity(all.len());
    for (i, f) in all.iter().enumerate() {
        let Some(key) = f.as_ref().and_then(|f| f.key.as_deref()) else { continue };
        match first.get(key) {
            Some(&j) => {
                let mut parts = key.split('\0').skip(1);
                let (kind, ns, name) =
                    (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let scope = if ns.is_empty() { "(cluster-scoped)".to_owned() } else { format!("in namespace `{ns}`") };
                out.entry(i).or_default().push(Finding::error(
                    "duplicate-object",
                    Some("/metadata/name".into()),
                    format!("{kind} `{name}` {scope} is already defined at {}", locate(j)),
                ));
            }
            None => {
                first.insert(key, i);
            }
        }
    }

    // Index pod templates by namespace and label, and network policies by
    // namespace: every check below looks only within one namespace, finds
    // the templates a selector selects through the label index (the
    // smallest posting list of its requirements), and shares the answer
    // with every object that has the same selector. So cost grows with the
    // number of objects and of matches, not with their product, however
    // many workloads share a namespace and labels.
    let mut pods: HashMap<&str, PodIndex> = HashMap::new();
    let mut policies: HashMap<&str, Vec<&Selector>> = HashMap::new();
    for f in all.iter().flatten() {
        if let Some((labels, ports)) = f.pods.as_deref() {
            pods.entry(f.namespace.as_str()).or_default().add((labels, ports));
        }
        if let Some(selector) = &f.network_policy {
            policies.entry(f.namespace.as_str()).or_default().push(selector);
        }
    }
    let empty = PodIndex::default();
    let mut memo: HashMap<(&str, String), Selected> = HashMap::new();
    for (i, f) in all.iter().enumerate() {
        let Some(f) = f else { continue };
        let index = pods.get(f.namespace.as_str()).unwrap_or(&empty);
        let mut selected = |selector: &Selector| {
            memo.entry((f.namespace.as_str(), selector.key())).or_insert_with(|| index.select(selector)).clone()
        };
        if let Some((selector, named)) = f.service.as_deref() {
            let found = selected(selector);
            // Pods from outside the input may carry the port: only judge
            // when the input holds pods this Service selects.
            if found.any {
                for (pointer, name) in named {
                    if !found.ports.contains(name) {
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
            if !selected(selector).any {
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
            let covered = policies.get(f.namespace.as_str()).is_some_and(|ps| ps.iter().any(|s| s.matches(labels)));
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

/// What a selector selects among a namespace's pod templates: whether any,
/// and the container port names they declare.
#[derive(Debug, Clone, Default)]
struct Selected {
    any: bool,
    ports: std::sync::Arc<HashSet<String>>,
}

/// One namespace's pod templates, with a posting list per label
/// (key, value) and per label key.
#[derive(Default)]
struct PodIndex<'a> {
    templates: Vec<PodTemplate<'a>>,
    by_label: HashMap<(&'a str, &'a str), Vec<usize>>,
    by_key: HashMap<&'a str, Vec<usize>>,
}

impl<'a> PodIndex<'a> {
    fn add(&mut self, template: PodTemplate<'a>) {
        let at = self.templates.len();
        for (k, v) in template.0 {
            self.by_label.entry((k.as_str(), v.as_str())).or_default().push(at);
            self.by_key.entry(k.as_str()).or_default().push(at);
        }
        self.templates.push(template);
    }

    /// The templates that could match: the smallest posting list among the
    /// selector's requirements that narrow (a label, `In`, `Exists`), or
    /// every template when none does.
    fn candidates(&self, selector: &Selector) -> Vec<usize> {
        let mut best: Option<Vec<usize>> = None;
        let mut consider = |list: Vec<usize>| {
            if best.as_ref().is_none_or(|b| list.len() < b.len()) {
                best = Some(list);
            }
        };
        for (k, v) in &selector.labels {
            consider(self.by_label.get(&(k.as_str(), v.as_str())).cloned().unwrap_or_default());
        }
        for (k, op, values) in &selector.expressions {
            match op.as_str() {
                "In" => {
                    let mut list: Vec<usize> = values
                        .iter()
                        .flat_map(|v| self.by_label.get(&(k.as_str(), v.as_str())).into_iter().flatten().copied())
                        .collect();
                    list.sort_unstable();
                    list.dedup();
                    consider(list);
                }
                "Exists" => consider(self.by_key.get(k.as_str()).cloned().unwrap_or_default()),
                _ => {}
            }
        }
        best.unwrap_or_else(|| (0..self.templates.len()).collect())
    }

    fn select(&self, selector: &Selector) -> Selected {
        let mut ports = HashSet::new();
        let mut any = false;
        for at in self.candidates(selector) {
            let (labels, named) = self.templates[at];
            if selector.matches(labels) {
                any = true;
                ports.extend(named.iter().cloned());
            }
        }
        Selected { any, ports: std::sync::Arc::new(ports) }
    }
}
