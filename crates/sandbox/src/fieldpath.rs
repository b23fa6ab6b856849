//! Field paths and field sets as Kubernetes' server-side apply engine
//! (sigs.k8s.io/structured-merge-diff v4) models them, their `FieldsV1` wire
//! form, and the little schema knowledge the sandbox needs for the built-in
//! kinds it serves: which lists are keyed (and by what), which are sets, and
//! which objects are atomic.
//!
//! The sandbox has no OpenAPI schema, so the schema is a hand-written table
//! ([`list_type`], [`map_is_atomic`]) keyed by kind and the path of field
//! names. Anything not in the table is granular (objects) or atomic (lists),
//! which is also what Kubernetes does for custom resources without list-type
//! extensions.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// How a list's items are tracked and merged. Decided by the object's kind and
/// the path of field names leading to the list (list indices dropped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListType {
    /// The list is one value, owned and replaced as a whole
    /// (`x-kubernetes-list-type: atomic`, the default).
    Atomic,
    /// A list of distinct scalars, each item owned on its own
    /// (`x-kubernetes-list-type: set`, e.g. `metadata.finalizers`).
    Set,
    /// A list of objects identified by the values of these key fields
    /// (`x-kubernetes-list-type: map` with `x-kubernetes-list-map-keys`).
    /// Strategic merge patch uses the first key as its `patchMergeKey`.
    Map(Vec<&'static str>),
}

/// The API group of an `apiVersion` (`""` for the core group).
fn group_of(api_version: &str) -> &str {
    match api_version.split_once('/') {
        Some((group, _)) => group,
        None => "",
    }
}

/// Where the `PodSpec` sits inside objects of a kind that embeds one.
fn pod_spec_prefix(group: &str, kind: &str) -> Option<&'static [&'static str]> {
    match (group, kind) {
        ("", "Pod") => Some(&["spec"]),
        ("", "PodTemplate") => Some(&["template", "spec"]),
        ("", "ReplicationController")
        | ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job") => Some(&["spec", "template", "spec"]),
        ("batch", "CronJob") => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

fn is_container_list(name: &str) -> bool {
    matches!(name, "containers" | "initContainers" | "ephemeralContainers")
}

/// List types inside a `PodSpec`, `rel` being the path below the pod spec.
fn pod_spec_list(rel: &[&str]) -> Option<ListType> {
    let map = |keys: &[&'static str]| Some(ListType::Map(keys.to_vec()));
    match rel {
        [c] if is_container_list(c) => map(&["name"]),
        [c, "ports"] if is_container_list(c) => map(&["containerPort", "protocol"]),
        [c, "env"] if is_container_list(c) => map(&["name"]),
        [c, "volumeMounts"] if is_container_list(c) => map(&["mountPath"]),
        [c, "volumeDevices"] if is_container_list(c) => map(&["devicePath"]),
        [c, "resources", "claims"] if is_container_list(c) => map(&["name"]),
        ["volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates"] => map(&["name"]),
        ["hostAliases"] => map(&["ip"]),
        ["topologySpreadConstraints"] => map(&["topologyKey", "whenUnsatisfiable"]),
        _ => None,
    }
}

/// The list type of the list at `path` (field names from the object's root,
/// list indices dropped) in objects of `api_version`/`kind`, following the
/// `+listType`/`+listMapKey` markers of the Kubernetes API types.
///
/// Known simplifications: every `status.conditions` is keyed by `type`
/// except Job's (atomic, as in Kubernetes); lists not listed here, and all
/// lists of custom resources, are atomic.
pub fn list_type(api_version: &str, kind: &str, path: &[&str]) -> ListType {
    let group = group_of(api_version);
    // ObjectMeta, wherever it appears (the object's own or a template's).
    if let [.., "metadata", last] = path {
        match *last {
            "finalizers" => return ListType::Set,
            "ownerReferences" => return ListType::Map(vec!["uid"]),
            _ => {}
        }
    }
    if let Some(prefix) = pod_spec_prefix(group, kind) {
        if let Some(rel) = path.strip_prefix(prefix) {
            if let Some(list) = pod_spec_list(rel) {
                return list;
            }
        }
    }
    match (group, kind, path) {
        ("", "Service", ["spec", "ports"]) => ListType::Map(vec!["port", "protocol"]),
        ("", "Pod", ["status", "podIPs" | "hostIPs"]) => ListType::Map(vec!["ip"]),
        ("batch", "Job", ["status", "conditions"]) => ListType::Atomic,
        (_, _, ["status", "conditions"]) => ListType::Map(vec!["type"]),
        _ => ListType::Atomic,
    }
}

/// Whether the object at `path` is atomic (owned and replaced as a whole:
/// `+structType=atomic` / `+mapType=atomic`). For the items of a keyed list,
/// `path` is the list's path. Covered: `LabelSelector` where workloads, PDBs
/// and NetworkPolicies use it, the `selector` maps of Service and
/// ReplicationController, `env[].valueFrom` references, `imagePullSecrets`
/// and `ownerReferences` items, node affinity's required `NodeSelector`, and
/// RBAC `roleRef`. Every other object is granular, one field per key.
pub fn map_is_atomic(api_version: &str, kind: &str, path: &[&str]) -> bool {
    let group = group_of(api_version);
    if let [.., "metadata", "ownerReferences"] = path {
        return true;
    }
    if let Some(prefix) = pod_spec_prefix(group, kind) {
        if let Some(rel) = path.strip_prefix(prefix) {
            let atomic = match rel {
                [c, "env", "valueFrom", "configMapKeyRef" | "secretKeyRef" | "fieldRef" | "resourceFieldRef"] => {
                    is_container_list(c)
                }
                ["imagePullSecrets"] => true,
                ["topologySpreadConstraints", "labelSelector"] => true,
                ["affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"] => true,
                _ => false,
            };
            if atomic {
                return true;
            }
        }
    }
    matches!(
        (group, kind, path),
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet", ["spec", "selector"])
            | ("batch", "Job", ["spec", "selector"])
            | ("batch", "CronJob", ["spec", "jobTemplate", "spec", "selector"])
            | ("policy", "PodDisruptionBudget", ["spec", "selector"])
            | ("", "Service" | "ReplicationController", ["spec", "selector"])
            | ("networking.k8s.io", "NetworkPolicy", ["spec", "podSelector"])
            | ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding", ["roleRef"])
    )
}

/// The default of a list-map key field that may be omitted from an item
/// (Kubernetes uses the OpenAPI default): `protocol` of ports is `TCP`.
pub fn key_default(path: &[&str], key: &str) -> Option<Value> {
    match (path.last(), key) {
        (Some(&"ports"), "protocol") => Some(Value::String("TCP".to_owned())),
        _ => None,
    }
}

/// The kind an object belongs to, for the schema look-ups while walking it.
#[derive(Clone, Copy, Debug)]
pub struct Schema<'a> {
    /// The object's `apiVersion`.
    pub api_version: &'a str,
    /// The object's `kind`.
    pub kind: &'a str,
}

impl<'a> Schema<'a> {
    /// The schema of `obj`, read from its `apiVersion` and `kind`.
    pub fn of(obj: &'a Value) -> Schema<'a> {
        Schema {
            api_version: obj.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
            kind: obj.get("kind").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// [`list_type`] for this kind; `names` is the path of field names.
    pub fn list_type(&self, names: &[String]) -> ListType {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        list_type(self.api_version, self.kind, &names)
    }

    /// [`map_is_atomic`] for this kind.
    pub fn map_is_atomic(&self, names: &[String]) -> bool {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        map_is_atomic(self.api_version, self.kind, &names)
    }

    /// The path element identifying `item` in the list at `names` of type
    /// `list` (which must not be atomic). Fails when a keyed item is not an
    /// object or misses a key field that has no default.
    pub fn item_element(&self, names: &[String], list: &ListType, item: &Value) -> Result<PathElement, String> {
        match list {
            ListType::Atomic | ListType::Set => Ok(PathElement::Value(normalize(item))),
            ListType::Map(keys) => {
                let Some(obj) = item.as_object() else {
                    return Err("associative list with keys may not have non-map elements".to_owned());
                };
                let mut fields = Vec::with_capacity(keys.len());
                for key in keys {
                    match obj.get(*key).filter(|v| !v.is_null()) {
                        Some(v) => fields.push(((*key).to_owned(), normalize(v))),
                        None => {
                            let names: Vec<&str> = names.iter().map(String::as_str).collect();
                            match key_default(&names, key) {
                                Some(v) => fields.push(((*key).to_owned(), v)),
                                None => {
                                    return Err(format!(
                                        "associative list with keys has an element that omits key field {key:?} \
                                         (and doesn't have default value)"
                                    ))
                                }
                            }
                        }
                    }
                }
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(PathElement::Key(fields))
            }
        }
    }
}

/// One step of a field path.
#[derive(Clone, Debug)]
pub enum PathElement {
    /// A field of an object (`f:<name>`).
    Field(String),
    /// An item of a keyed list, by its key fields sorted by name (`k:<json>`).
    Key(Vec<(String, Value)>),
    /// An item of a set list, by its value (`v:<json>`).
    Value(Value),
    /// An item of a list by position (`i:<n>`); unused by the built-in schema.
    Index(usize),
}

/// A field path from an object's root.
pub type Path = Vec<PathElement>;

impl PathElement {
    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The `FieldsV1` key for this element: `f:name`, `k:{"name":"app"}`,
    /// `v:"x"`, `i:0`.
    pub fn to_fields_v1_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let mut map = Map::new();
                for (name, value) in fields {
                    map.insert(name.clone(), canonical(value));
                }
                format!("k:{}", Value::Object(map))
            }
            PathElement::Value(v) => format!("v:{}", canonical(v)),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a `FieldsV1` key (anything but `.`).
    pub fn from_fields_v1_key(key: &str) -> Result<PathElement, String> {
        let bad = || format!("invalid FieldsV1 key {key:?}");
        let (prefix, rest) = key.split_once(':').ok_or_else(bad)?;
        match prefix {
            "f" => Ok(PathElement::Field(rest.to_owned())),
            "k" => {
                let v: Value = serde_json::from_str(rest).map_err(|_| bad())?;
                let obj = v.as_object().ok_or_else(bad)?;
                let mut fields: Vec<(String, Value)> = obj.iter().map(|(k, v)| (k.clone(), normalize(v))).collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(PathElement::Key(fields))
            }
            "v" => Ok(PathElement::Value(normalize(&serde_json::from_str(rest).map_err(|_| bad())?))),
            "i" => Ok(PathElement::Index(rest.parse().map_err(|_| bad())?)),
            _ => Err(bad()),
        }
    }
}

impl Ord for PathElement {
    /// structured-merge-diff's order: fields, then keys, then values, then
    /// indices; within each, names and values in their natural order.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b) {
                    let c = an.cmp(bn).then_with(|| compare_values(av, bv));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl fmt::Display for PathElement {
    /// Kubernetes' display form, as in conflict messages: `.image`,
    /// `[name="app"]`, `[containerPort=80,protocol="TCP"]`, `[="x"]`, `[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields.iter().map(|(n, v)| format!("{n}={}", canonical(v))).collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", canonical(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path in Kubernetes' display form, e.g.
/// `.spec.template.spec.containers[name="app"].image`.
pub fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of field paths, stored as a tree: `members` are the elements below
/// this node that are themselves in the set, `children` the subtrees below
/// elements that have members further down. Children are never empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    /// Whether the set holds no path.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    /// Adds `path` (ignored when empty).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether `path` itself is in the set.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// Whether `pe` (one step below this node) is a member.
    pub fn has_member(&self, pe: &PathElement) -> bool {
        self.members.contains(pe)
    }

    /// The subtree below `pe`, if any path goes through it.
    pub fn child(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.children.get(pe)
    }

    /// Removes `path` and everything below it.
    pub fn remove_path(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => self.remove_element(last),
            [first, rest @ ..] => {
                if let Some(child) = self.children.get_mut(first) {
                    child.remove_path(rest);
                    if child.is_empty() {
                        self.children.remove(first);
                    }
                }
            }
        }
    }

    /// Removes `pe` from this node's members, keeping paths below it.
    pub fn remove_member(&mut self, pe: &PathElement) {
        self.members.remove(pe);
    }

    /// Removes `pe` and everything below it from this node.
    pub fn remove_element(&mut self, pe: &PathElement) {
        self.members.remove(pe);
        self.children.remove(pe);
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    /// Paths of `self` not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        out.members = self.members.difference(&other.members).cloned().collect();
        for (pe, child) in &self.children {
            let rest = match other.children.get(pe) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(pe.clone(), rest);
            }
        }
        out
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        out.members = self.members.intersection(&other.members).cloned().collect();
        for (pe, child) in &self.children {
            if let Some(theirs) = other.children.get(pe) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    out.children.insert(pe.clone(), both);
                }
            }
        }
        out
    }

    /// Every path in the set, in order (a path before the paths below it).
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        let elements: BTreeSet<&PathElement> = self.members.iter().chain(self.children.keys()).collect();
        for pe in elements {
            prefix.push(pe.clone());
            if self.members.contains(pe) {
                out.push(prefix.clone());
            }
            if let Some(child) = self.children.get(pe) {
                child.collect_paths(prefix, out);
            }
            prefix.pop();
        }
    }

    /// The `FieldsV1` JSON of the set, keys in Kubernetes' order (`.` first,
    /// then fields, keys, values and indices, each sorted).
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.fields_v1_node(false))
    }

    fn fields_v1_node(&self, is_member: bool) -> Map<String, Value> {
        let mut map = Map::new();
        if is_member {
            map.insert(".".to_owned(), Value::Object(Map::new()));
        }
        let elements: BTreeSet<&PathElement> = self.members.iter().chain(self.children.keys()).collect();
        for pe in elements {
            let member = self.members.contains(pe);
            let node = match self.children.get(pe) {
                Some(child) => child.fields_v1_node(member),
                None => Map::new(),
            };
            map.insert(pe.to_fields_v1_key(), Value::Object(node));
        }
        map
    }

    /// Parses `FieldsV1` JSON.
    pub fn from_fields_v1(v: &Value) -> Result<FieldSet, String> {
        let obj = v.as_object().ok_or("fieldsV1 must be an object")?;
        let mut set = FieldSet::new();
        for (key, child) in obj {
            if key == "." {
                continue;
            }
            let pe = PathElement::from_fields_v1_key(key)?;
            let child_obj = child.as_object().ok_or_else(|| format!("fieldsV1 entry {key:?} must be an object"))?;
            if child_obj.is_empty() || child_obj.contains_key(".") {
                set.members.insert(pe.clone());
            }
            let sub = FieldSet::from_fields_v1(child)?;
            if !sub.is_empty() {
                set.children.insert(pe, sub);
            }
        }
        Ok(set)
    }
}

/// structured-merge-diff's total order on values: numbers (compared
/// numerically, integers and floats alike) < strings < booleans < lists <
/// objects < null.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => {
                let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
                x.partial_cmp(&y).unwrap_or(Ordering::Equal)
            }
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let c = compare_values(p, q);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<_> = x.iter().collect();
            let mut ys: Vec<_> = y.iter().collect();
            xs.sort_by(|p, q| p.0.cmp(q.0));
            ys.sort_by(|p, q| p.0.cmp(q.0));
            for ((xk, xv), (yk, yv)) in xs.iter().zip(&ys) {
                let c = xk.cmp(yk).then_with(|| compare_values(xv, yv));
                if c != Ordering::Equal {
                    return c;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Deep equality where numbers are equal when they denote the same number
/// (`3` and `3.0`, as YAML and JSON parsers may give either) and object key
/// order does not matter.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => compare_values(a, b) == Ordering::Equal,
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

/// `v` with integral floats turned into integers, so `3.0` and `3` key the
/// same list item.
pub fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.as_i64().is_none() && n.as_u64().is_none() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => v.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(obj) => Value::Object(obj.iter().map(|(k, v)| (k.clone(), normalize(v))).collect()),
        _ => v.clone(),
    }
}

/// `v` normalised with object keys sorted, as Go's JSON encoder writes maps.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(obj) => {
            let mut entries: Vec<_> = obj.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        _ => normalize(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.to_owned())
    }

    #[test]
    fn list_types_follow_the_kubernetes_markers() {
        assert_eq!(
            list_type("apps/v1", "Deployment", &["spec", "template", "spec", "containers"]),
            ListType::Map(vec!["name"])
        );
        assert_eq!(
            list_type("apps/v1", "Deployment", &["spec", "template", "spec", "containers", "ports"]),
            ListType::Map(vec!["containerPort", "protocol"])
        );
        assert_eq!(
            list_type(
                "batch/v1",
                "CronJob",
                &["spec", "jobTemplate", "spec", "template", "spec", "initContainers", "env"]
            ),
            ListType::Map(vec!["name"])
        );
        assert_eq!(list_type("v1", "Service", &["spec", "ports"]), ListType::Map(vec!["port", "protocol"]));
        assert_eq!(list_type("v1", "ConfigMap", &["metadata", "finalizers"]), ListType::Set);
        assert_eq!(list_type("apps/v1", "Deployment", &["spec", "template", "spec", "tolerations"]), ListType::Atomic);
        assert_eq!(list_type("discovery.k8s.io/v1", "EndpointSlice", &["endpoints"]), ListType::Atomic);
        assert_eq!(list_type("example.com/v1", "Widget", &["spec", "containers"]), ListType::Atomic);
        assert_eq!(list_type("apps/v1", "Deployment", &["status", "conditions"]), ListType::Map(vec!["type"]));
        assert!(map_is_atomic("apps/v1", "Deployment", &["spec", "selector"]));
        assert!(map_is_atomic("v1", "Service", &["spec", "selector"]));
        assert!(!map_is_atomic("apps/v1", "Deployment", &["spec", "template", "metadata", "labels"]));
    }

    #[test]
    fn fields_v1_round_trips_in_kubernetes_order() {
        let text = r#"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}},"k:{\"containerPort\":9090,\"protocol\":\"TCP\"}":{".":{}}}}}},"f:metadata2":{"f:finalizers":{"v:\"a\"":{}}}}"#;
        let parsed = FieldSet::from_fields_v1(&serde_json::from_str(text).unwrap()).unwrap();
        let expected = r#"{"f:metadata":{"f:labels":{"f:app":{}}},"f:metadata2":{"f:finalizers":{"v:\"a\"":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}},"k:{\"containerPort\":9090,\"protocol\":\"TCP\"}":{}}}}}}"#;
        assert_eq!(parsed.to_fields_v1().to_string(), expected);
        let key = PathElement::Key(vec![("name".to_owned(), json!("app"))]);
        let path = vec![f("spec"), f("containers"), key.clone(), f("image")];
        assert!(parsed.has(&path));
        assert!(parsed.has(&path[..3]));
        assert!(!parsed.has(&path[..2]));
        assert_eq!(path_string(&path), r#".spec.containers[name="app"].image"#);
    }

    #[test]
    fn numeric_keys_sort_numerically_and_floats_equal_ints() {
        let k = |p: i64| PathElement::Key(vec![("containerPort".to_owned(), json!(p))]);
        assert!(k(9) < k(10));
        assert!(values_equal(&json!({"a": [3]}), &json!({"a": [3.0]})));
        assert!(!values_equal(&json!(3), &json!("3")));
        assert_eq!(PathElement::Key(vec![("port".to_owned(), json!(80.0))]).to_fields_v1_key(), r#"k:{"port":80}"#);
    }

    #[test]
    fn set_algebra() {
        let mut a = FieldSet::new();
        a.insert(&[f("spec"), f("replicas")]);
        a.insert(&[f("spec"), f("paused")]);
        let mut b = FieldSet::new();
        b.insert(&[f("spec"), f("replicas")]);
        assert_eq!(a.intersection(&b), b);
        let d = a.difference(&b);
        assert_eq!(d.paths(), vec![vec![f("spec"), f("paused")]]);
        assert!(b.difference(&a).is_empty());
        assert_eq!(b.union(&d), a);
    }
}
