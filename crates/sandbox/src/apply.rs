//! Server-side apply and `metadata.managedFields` bookkeeping, following
//! Kubernetes' structured-merge-diff v4: an applied configuration is merged
//! into the live object, fields the manager stopped applying are removed
//! unless someone else owns them, fields another manager owns with a
//! different value are conflicts, and every write records who owns what at
//! field granularity (`FieldsV1`).
//!
//! Pure functions over `serde_json::Value`; the caller stores the result and
//! decides about resourceVersion (an apply that changes nothing returns an
//! object equal to the live one).

use std::fmt;

use serde_json::{Map, Value};

pub use crate::fieldpath::{list_type, ListType};
use crate::fieldpath::{path_string, values_equal, FieldSet, PathElement, Schema};

/// Options of one server-side apply request.
#[derive(Clone, Debug)]
pub struct ApplyOptions<'a> {
    /// The `fieldManager` query parameter.
    pub manager: &'a str,
    /// The `force` query parameter: take conflicting fields instead of failing.
    pub force: bool,
    /// `Some("status")` for an apply to the status subresource.
    pub subresource: Option<&'a str>,
    /// The current time (RFC 3339, second precision) for `managedFields[].time`.
    pub now: &'a str,
}

/// Why an apply was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// 409: fields the request would change are owned by other managers.
    #[error("{}", conflict_message(.0))]
    Conflict(Vec<Conflict>),
    /// 400/422: the applied configuration is malformed.
    #[error("{0}")]
    Invalid(String),
}

/// One field of an apply that another manager owns with a different value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The owning manager's name.
    pub manager: String,
    /// The field in Kubernetes' display form, e.g. `.spec.replicas` or
    /// `.spec.template.spec.containers[name="app"].image`.
    pub field: String,
    /// The owner's operation, `Apply` or `Update`.
    pub operation: String,
    /// The owner's subresource (`status`), if any.
    pub subresource: Option<String>,
    /// The `apiVersion` of the owner's entry.
    pub api_version: String,
    /// When the owner last changed the object, if recorded.
    pub time: Option<String>,
}

impl Conflict {
    /// The manager as Kubernetes names it in conflict messages: `"kubectl"`,
    /// `"ctl" with subresource "status"`, and for updaters
    /// `"ctl" using apps/v1 at 2024-01-01T00:00:00Z`.
    pub fn describe_manager(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            s.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == "Update" {
            s.push_str(&format!(" using {}", self.api_version));
            if let Some(time) = &self.time {
                s.push_str(&format!(" at {time}"));
            }
        }
        s
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conflict with {}: {}", self.describe_manager(), self.field)
    }
}

/// Kubernetes' message for a failed apply: `Apply failed with 1 conflict:
/// conflict with "m": .spec.replicas`, or one block per manager for several.
fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!("Apply failed with 1 conflict: {only}");
    }
    let mut managers: Vec<String> = conflicts.iter().map(Conflict::describe_manager).collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for manager in &managers {
        lines.push(format!("conflicts with {manager}:"));
        for c in conflicts.iter().filter(|c| &c.describe_manager() == manager) {
            lines.push(format!("- {}", c.field));
        }
    }
    format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
}

/// Metadata fields the server owns; never tracked in managedFields, never
/// pruned, and ignored in an applied configuration.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// Metadata fields that identify the object: never tracked, never pruned.
const IDENTITY_METADATA: &[&str] = &["name", "namespace"];

/// One `metadata.managedFields` entry.
#[derive(Clone, Debug, PartialEq)]
struct ManagedEntry {
    manager: String,
    operation: String,
    api_version: String,
    time: Option<String>,
    subresource: Option<String>,
    fields: FieldSet,
}

impl ManagedEntry {
    /// Whether `self` and `other` are the same manager as Kubernetes keys
    /// them: name, operation and subresource, plus apiVersion for updaters.
    fn same_manager(&self, other: &ManagedEntry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == "Apply" || self.api_version == other.api_version)
    }

    fn conflict(&self, path: &[PathElement]) -> Conflict {
        Conflict {
            manager: self.manager.clone(),
            field: path_string(path),
            operation: self.operation.clone(),
            subresource: self.subresource.clone(),
            api_version: self.api_version.clone(),
            time: self.time.clone(),
        }
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), Value::String(self.manager.clone()));
        m.insert("operation".into(), Value::String(self.operation.clone()));
        m.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        if let Some(time) = &self.time {
            m.insert("time".into(), Value::String(time.clone()));
        }
        m.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if let Some(sub) = &self.subresource {
            m.insert("subresource".into(), Value::String(sub.clone()));
        }
        Value::Object(m)
    }

    fn from_json(v: &Value) -> Option<ManagedEntry> {
        let s = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        if s("fieldsType").is_some_and(|t| t != "FieldsV1") {
            return None;
        }
        let fields = match v.get("fieldsV1") {
            Some(f) => FieldSet::from_fields_v1(f).ok()?,
            None => FieldSet::new(),
        };
        Some(ManagedEntry {
            manager: s("manager").unwrap_or_default(),
            operation: s("operation").unwrap_or_else(|| "Update".into()),
            api_version: s("apiVersion").unwrap_or_default(),
            time: s("time"),
            subresource: s("subresource").filter(|s| !s.is_empty()),
            fields,
        })
    }
}

/// The entries of `obj.metadata.managedFields`; entries that cannot be read
/// are dropped and entries for the same manager merged.
fn read_managed_fields(obj: Option<&Value>) -> Vec<ManagedEntry> {
    let mut out: Vec<ManagedEntry> = Vec::new();
    let list = obj.and_then(|o| o.pointer("/metadata/managedFields")).and_then(Value::as_array);
    for entry in list.into_iter().flatten().filter_map(ManagedEntry::from_json) {
        match out.iter_mut().find(|e| e.same_manager(&entry)) {
            Some(existing) => existing.fields = existing.fields.union(&entry.fields),
            None => out.push(entry),
        }
    }
    out
}

/// Sorts entries as the API server does: operation, time, manager,
/// apiVersion, subresource.
fn sort_entries(entries: &mut [ManagedEntry]) {
    entries.sort_by(|p, q| {
        p.operation
            .cmp(&q.operation)
            .then_with(|| p.time.as_deref().unwrap_or("").cmp(q.time.as_deref().unwrap_or("")))
            .then_with(|| p.manager.cmp(&q.manager))
            .then_with(|| p.api_version.cmp(&q.api_version))
            .then_with(|| p.subresource.cmp(&q.subresource))
    });
}

/// Writes `entries` to `obj.metadata.managedFields` (removing the field when
/// there are none).
fn write_managed_fields(obj: &mut Value, mut entries: Vec<ManagedEntry>) {
    entries.retain(|e| !e.fields.is_empty());
    sort_entries(&mut entries);
    let Some(root) = obj.as_object_mut() else { return };
    let metadata = root.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else { return };
    if entries.is_empty() {
        metadata.shift_remove("managedFields");
    } else {
        metadata.insert("managedFields".into(), Value::Array(entries.iter().map(ManagedEntry::to_json).collect()));
    }
}

/// `obj` without `metadata.managedFields`.
fn without_managed_fields(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(metadata) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.shift_remove("managedFields");
    }
    out
}

/// Removes the paths Kubernetes never tracks from a field set: `apiVersion`,
/// `kind`, the `metadata` node itself and the identity and server-owned
/// metadata fields.
fn strip_untracked(set: &mut FieldSet) {
    let field = |name: &str| PathElement::Field(name.to_owned());
    set.remove_element(&field("apiVersion"));
    set.remove_element(&field("kind"));
    set.remove_member(&field("metadata"));
    for name in SERVER_METADATA.iter().chain(IDENTITY_METADATA) {
        set.remove_path(&[field("metadata"), field(name)]);
    }
}

/// Whether the field `name` directly under `parent` (names from the root) is
/// never pruned: the object's identity and what the server owns.
fn protected(parent: &[String], name: &str) -> bool {
    match parent {
        [] => matches!(name, "apiVersion" | "kind" | "metadata"),
        [m] if m == "metadata" => SERVER_METADATA.contains(&name) || IDENTITY_METADATA.contains(&name),
        _ => false,
    }
}

/// Removes nulls (an applied `null` means "not set") recursively.
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            obj.retain(|_, v| !v.is_null());
            obj.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The applied configuration as the merge sees it: no nulls, no
/// server-owned metadata, and only the part the (sub)resource may change.
fn clean_config(applied: &Value, subresource: Option<&str>) -> Value {
    let mut config = applied.clone();
    drop_nulls(&mut config);
    if let Some(metadata) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        for name in SERVER_METADATA {
            metadata.shift_remove(*name);
        }
    }
    if let Some(obj) = config.as_object_mut() {
        match subresource {
            None => {
                obj.shift_remove("status");
            }
            Some(sub) => {
                // A subresource apply changes only that part of the object.
                obj.retain(|k, _| k == "apiVersion" || k == "kind" || k == sub || k == "metadata");
                if let Some(metadata) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                    metadata.retain(|k, _| IDENTITY_METADATA.contains(&k.as_str()));
                }
            }
        }
    }
    config
}

/// The set of fields a configuration sets, as structured-merge-diff's
/// `ToFieldSet`: scalars, nulls, empty objects, atomic lists and objects, and
/// every item of a keyed or set list. Fails on items without their key and
/// on duplicate items.
fn config_field_set(schema: Schema<'_>, obj: &Map<String, Value>) -> Result<FieldSet, String> {
    let mut set = FieldSet::new();
    object_field_set(schema, obj, &mut Vec::new(), &mut Vec::new(), &mut set)?;
    Ok(set)
}

fn object_field_set(
    schema: Schema<'_>,
    obj: &Map<String, Value>,
    names: &mut Vec<String>,
    path: &mut Vec<PathElement>,
    out: &mut FieldSet,
) -> Result<(), String> {
    for (key, value) in obj {
        names.push(key.clone());
        path.push(PathElement::Field(key.clone()));
        value_field_set(schema, value, names, path, out)?;
        path.pop();
        names.pop();
    }
    Ok(())
}

fn value_field_set(
    schema: Schema<'_>,
    value: &Value,
    names: &mut Vec<String>,
    path: &mut Vec<PathElement>,
    out: &mut FieldSet,
) -> Result<(), String> {
    match value {
        Value::Object(m) if !m.is_empty() && !schema.map_is_atomic(names) => {
            object_field_set(schema, m, names, path, out)
        }
        Value::Array(items) => {
            let list = schema.list_type(names);
            if list == ListType::Atomic {
                out.insert(path);
                return Ok(());
            }
            let mut seen = Vec::new();
            for item in items {
                let pe = schema.item_element(names, &list, item).map_err(|e| format!("{}: {e}", path_string(path)))?;
                if seen.contains(&pe) {
                    return Err(format!("{}: duplicate entries for key {pe}", path_string(path)));
                }
                seen.push(pe.clone());
                path.push(pe);
                out.insert(path);
                if let Value::Object(m) = item {
                    if !m.is_empty() && !schema.map_is_atomic(names) {
                        object_field_set(schema, m, names, path, out)?;
                    }
                }
                path.pop();
            }
            Ok(())
        }
        _ => {
            out.insert(path);
            Ok(())
        }
    }
}

/// Merges `src` into `dst` as structured-merge-diff does: objects key by key,
/// keyed and set lists item by item, everything else replaced.
fn merge_into(schema: Schema<'_>, dst: &mut Value, src: &Value, names: &mut Vec<String>) {
    match (&mut *dst, src) {
        (Value::Object(d), Value::Object(s)) if !schema.map_is_atomic(names) => {
            for (key, sv) in s {
                names.push(key.clone());
                match d.get_mut(key) {
                    Some(dv) => merge_into(schema, dv, sv, names),
                    None => {
                        d.insert(key.clone(), sv.clone());
                    }
                }
                names.pop();
            }
        }
        (Value::Array(d), Value::Array(s)) => {
            let list = schema.list_type(names);
            if list == ListType::Atomic {
                *dst = src.clone();
            } else {
                let merged = merge_lists(schema, &list, d, s, names);
                *dst = Value::Array(merged);
            }
        }
        (d, s) => {
            // The same number written differently (`3` live, `3.0` from
            // YAML) keeps the live form, so an unchanged field never flips.
            if !values_equal(d, s) {
                *d = s.clone();
            }
        }
    }
}

/// Items of a list with their path elements; items whose element cannot be
/// computed get a positional one, and repeated elements keep the first item.
fn index_items<'v>(
    schema: Schema<'_>,
    list: &ListType,
    items: &'v [Value],
    names: &[String],
) -> Vec<(PathElement, &'v Value)> {
    let mut out: Vec<(PathElement, &Value)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let pe = schema.item_element(names, list, item).unwrap_or(PathElement::Index(i));
        if !out.iter().any(|(p, _)| *p == pe) {
            out.push((pe, item));
        }
    }
    out
}

/// Merges two keyed/set lists, ordering items as structured-merge-diff does:
/// live order, with items shared with the configuration in the
/// configuration's order, and new items where the configuration puts them.
fn merge_lists(
    schema: Schema<'_>,
    list: &ListType,
    lhs: &[Value],
    rhs: &[Value],
    names: &mut Vec<String>,
) -> Vec<Value> {
    let l = index_items(schema, list, lhs, names);
    let r = index_items(schema, list, rhs, names);
    let find =
        |v: &[(PathElement, &Value)], pe: &PathElement| v.iter().find(|(p, _)| p == pe).map(|(_, x)| (*x).clone());
    let mut shared: std::collections::VecDeque<PathElement> =
        r.iter().filter(|(pe, _)| l.iter().any(|(p, _)| p == pe)).map(|(pe, _)| pe.clone()).collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: Vec<PathElement> = Vec::new();
    let mut out = Vec::with_capacity(l.len().max(r.len()));
    let merge_item = |pe: &PathElement, names: &mut Vec<String>| -> Value {
        match (find(&l, pe), find(&r, pe)) {
            (Some(mut lv), Some(rv)) => {
                merge_into(schema, &mut lv, &rv, names);
                lv
            }
            (Some(lv), None) => lv,
            (None, Some(rv)) => rv,
            (None, None) => Value::Null,
        }
    };
    let (mut li, mut ri) = (0, 0);
    while li < l.len() || ri < r.len() {
        if li < l.len() && ri < r.len() {
            let pe = &l[li].0;
            if *pe == r[ri].0 {
                merged_rhs.push(pe.clone());
                out.push(merge_item(pe, names));
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            let in_rhs = r.iter().any(|(p, _)| p == pe);
            if in_rhs && next_shared.as_ref().is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < l.len() {
            let pe = &l[li].0;
            if !r.iter().any(|(p, _)| p == pe) {
                out.push(merge_item(pe, names));
                li += 1;
                continue;
            } else if merged_rhs.contains(pe) {
                li += 1;
                continue;
            }
        }
        if ri < r.len() {
            let pe = r[ri].0.clone();
            if !merged_rhs.contains(&pe) {
                out.push(merge_item(&pe, names));
                if next_shared.as_ref() == Some(&pe) {
                    next_shared = shared.pop_front();
                }
                merged_rhs.push(pe);
            }
            ri += 1;
        }
    }
    out
}

/// Whether `set` claims the element `pe` below its node, counting a named
/// field as claimed when anything below it is (structured-merge-diff's
/// `EnsureNamedFieldsAreMembers`).
fn covers(set: Option<&FieldSet>, pe: &PathElement) -> bool {
    set.is_some_and(|s| s.has_member(pe) || (matches!(pe, PathElement::Field(_)) && s.child(pe).is_some()))
}

/// The sets that decide what a re-apply prunes: what the manager applied
/// last time, what it applies now and what everybody else owns.
#[derive(Clone, Copy)]
struct PruneSets<'s> {
    last: Option<&'s FieldSet>,
    new: Option<&'s FieldSet>,
    others: Option<&'s FieldSet>,
}

impl<'s> PruneSets<'s> {
    fn child(&self, pe: &PathElement) -> PruneSets<'s> {
        PruneSets {
            last: self.last.and_then(|s| s.child(pe)),
            new: self.new.and_then(|s| s.child(pe)),
            others: self.others.and_then(|s| s.child(pe)),
        }
    }

    fn removes(&self, pe: &PathElement) -> bool {
        covers(self.last, pe) && !covers(self.new, pe) && !covers(self.others, pe)
    }
}

/// Removes from `value` what the manager applied before, no longer applies
/// and nobody else owns.
fn prune(schema: Schema<'_>, value: &mut Value, sets: PruneSets<'_>, names: &mut Vec<String>) {
    if sets.last.is_none() {
        return;
    }
    match value {
        Value::Object(obj) if !schema.map_is_atomic(names) => {
            let keys: Vec<String> = obj.keys().cloned().collect();
            for key in keys {
                let pe = PathElement::Field(key.clone());
                if !protected(names, &key) && sets.removes(&pe) {
                    obj.shift_remove(&key);
                    continue;
                }
                names.push(key.clone());
                if let Some(child) = obj.get_mut(&key) {
                    prune(schema, child, sets.child(&pe), names);
                }
                names.pop();
            }
        }
        Value::Array(items) => {
            let list = schema.list_type(names);
            if list == ListType::Atomic {
                return;
            }
            let mut kept = Vec::with_capacity(items.len());
            for mut item in std::mem::take(items) {
                match schema.item_element(names, &list, &item) {
                    Ok(pe) if sets.removes(&pe) => {}
                    Ok(pe) => {
                        prune(schema, &mut item, sets.child(&pe), names);
                        kept.push(item);
                    }
                    Err(_) => kept.push(item),
                }
            }
            *items = kept;
        }
        _ => {}
    }
}

/// What changed between two versions of an object, per path.
#[derive(Default, Debug)]
struct Comparison {
    added: FieldSet,
    modified: FieldSet,
    removed: FieldSet,
}

/// Compares `l` (old) and `r` (new) at `path` as structured-merge-diff's
/// `Compare`: leaves (scalars, atomic values, empty objects and lists) are
/// added, removed or modified; granular objects and lists are walked, and
/// are themselves added or removed when only one side has them.
fn compare(
    schema: Schema<'_>,
    l: Option<&Value>,
    r: Option<&Value>,
    names: &mut Vec<String>,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) {
    let non_empty_obj = |v: Option<&Value>| v.and_then(Value::as_object).is_some_and(|m| !m.is_empty());
    let obj_or_none = |v: Option<&Value>| v.is_none_or(Value::is_object);
    let non_empty_arr = |v: Option<&Value>| v.and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    let arr_or_none = |v: Option<&Value>| v.is_none_or(Value::is_array);

    let granular_object = obj_or_none(l)
        && obj_or_none(r)
        && (non_empty_obj(l) || non_empty_obj(r))
        && (path.is_empty() || !schema.map_is_atomic(names));
    let list = schema.list_type(names);
    let granular_list = !granular_object
        && !path.is_empty()
        && list != ListType::Atomic
        && arr_or_none(l)
        && arr_or_none(r)
        && (non_empty_arr(l) || non_empty_arr(r));

    if granular_object {
        let empty = Map::new();
        let lm = l.and_then(Value::as_object).unwrap_or(&empty);
        let rm = r.and_then(Value::as_object).unwrap_or(&empty);
        let keys: Vec<&String> = lm.keys().chain(rm.keys().filter(|k| !lm.contains_key(*k))).collect();
        for key in keys {
            names.push(key.clone());
            path.push(PathElement::Field(key.clone()));
            compare(schema, lm.get(key), rm.get(key), names, path, out);
            path.pop();
            names.pop();
        }
    } else if granular_list {
        let empty = Vec::new();
        let la = index_items(schema, &list, l.and_then(Value::as_array).unwrap_or(&empty), names);
        let ra = index_items(schema, &list, r.and_then(Value::as_array).unwrap_or(&empty), names);
        let mut pes: Vec<&PathElement> = la.iter().map(|(p, _)| p).collect();
        pes.extend(ra.iter().map(|(p, _)| p).filter(|p| !la.iter().any(|(q, _)| q == *p)));
        for pe in pes {
            let lv = la.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
            let rv = ra.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
            path.push(pe.clone());
            compare(schema, lv, rv, names, path, out);
            path.pop();
        }
    } else {
        match (l, r) {
            (None, Some(_)) => out.added.insert(path),
            (Some(_), None) => out.removed.insert(path),
            (Some(a), Some(b)) if !values_equal(a, b) => out.modified.insert(path),
            _ => {}
        }
        return;
    }
    match (l, r) {
        (None, Some(_)) => out.added.insert(path),
        (Some(_), None) => out.removed.insert(path),
        _ => {}
    }
}

/// Compares two whole objects, leaving out `managedFields`.
fn compare_objects(schema: Schema<'_>, old: &Value, new: &Value) -> Comparison {
    let mut out = Comparison::default();
    compare(schema, Some(old), Some(new), &mut Vec::new(), &mut Vec::new(), &mut out);
    strip_untracked(&mut out.added);
    strip_untracked(&mut out.modified);
    strip_untracked(&mut out.removed);
    out
}

/// Server-side apply `applied` (the request body, already parsed from YAML or
/// JSON) by `opts.manager` onto `live` (`None` = create).
///
/// Returns the new object: `live` merged with `applied` (objects per key,
/// keyed lists per item, everything else replaced), minus the fields this
/// manager applied before, no longer applies and no other manager owns, with
/// `metadata.managedFields` updated (operation `Apply`, one entry per
/// manager and subresource). Without `force`, fields that would change and
/// are owned by another manager are reported together as
/// [`ApplyError::Conflict`]; with `force` they move to this manager.
///
/// An apply to the main resource ignores `status`; with `subresource` set
/// only that part of the object is applied. Nulls in `applied` mean "unset".
/// An apply that changes neither the object nor any ownership returns a
/// value equal to `live` (entry times are only bumped when the object
/// changes).
pub fn server_side_apply(live: Option<&Value>, applied: &Value, opts: &ApplyOptions) -> Result<Value, ApplyError> {
    let invalid = |m: String| ApplyError::Invalid(m);
    if !applied.is_object() {
        return Err(invalid("the applied configuration must be an object".into()));
    }
    if applied.pointer("/metadata/managedFields").is_some_and(|m| !m.is_null()) {
        // As the API server: an apply configuration cannot claim ownership.
        return Err(invalid("metadata.managedFields must be nil".into()));
    }
    let config = clean_config(applied, opts.subresource);
    let api_version = config.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = config.get("kind").and_then(Value::as_str).unwrap_or("");
    if api_version.is_empty() || kind.is_empty() {
        return Err(invalid("apiVersion and kind must be set in the applied configuration".into()));
    }
    if let Some(live) = live {
        let live_schema = Schema::of(live);
        if live_schema.kind != kind || live_schema.api_version != api_version {
            return Err(invalid(format!(
                "the applied configuration is {api_version}, Kind={kind} but the object is {}, Kind={}",
                live_schema.api_version, live_schema.kind
            )));
        }
        for field in IDENTITY_METADATA {
            let pointer = format!("/metadata/{field}");
            if let (Some(a), Some(b)) = (config.pointer(&pointer), live.pointer(&pointer)) {
                if a != b {
                    return Err(invalid(format!("metadata.{field} {a} does not match the object's {b}")));
                }
            }
        }
    }
    let schema = Schema::of(&config);
    let config_obj = config.as_object().expect("checked above");
    let mut new_set = config_field_set(schema, config_obj).map_err(invalid)?;
    let prune_new_set = new_set.clone();
    strip_untracked(&mut new_set);

    let base = match live {
        Some(v) => without_managed_fields(v),
        None => Value::Object(Map::new()),
    };
    let old_entries = read_managed_fields(live);
    let me = ManagedEntry {
        manager: opts.manager.to_owned(),
        operation: "Apply".into(),
        api_version: api_version.to_owned(),
        time: None,
        subresource: opts.subresource.map(str::to_owned),
        fields: new_set,
    };
    let mut entries = old_entries.clone();
    let last_set = match entries.iter().position(|e| e.same_manager(&me)) {
        Some(i) => entries.remove(i).fields,
        None => FieldSet::new(),
    };
    let previous_time = old_entries.iter().find(|e| e.same_manager(&me)).and_then(|e| e.time.clone());

    let mut merged = base.clone();
    merge_into(schema, &mut merged, &config, &mut Vec::new());
    let others = entries.iter().fold(FieldSet::new(), |acc, e| acc.union(&e.fields));
    let sets = PruneSets { last: Some(&last_set), new: Some(&prune_new_set), others: Some(&others) };
    prune(schema, &mut merged, sets, &mut Vec::new());

    let cmp = compare_objects(schema, &base, &merged);
    let changed = cmp.added.union(&cmp.modified);
    let mut conflicts = Vec::new();
    for entry in &mut entries {
        let owned = entry.fields.intersection(&changed);
        if !owned.is_empty() {
            if opts.force {
                entry.fields = entry.fields.difference(&owned);
            } else {
                conflicts.extend(owned.paths().iter().map(|p| entry.conflict(p)));
            }
        }
        entry.fields = entry.fields.difference(&cmp.removed);
    }
    if !conflicts.is_empty() {
        return Err(ApplyError::Conflict(conflicts));
    }

    let object_changed = !values_equal(&base, &merged);
    let time = if object_changed || previous_time.is_none() { Some(opts.now.to_owned()) } else { previous_time };
    entries.push(ManagedEntry { time, ..me });
    entries.retain(|e| !e.fields.is_empty());

    let mut old_sorted = old_entries;
    old_sorted.retain(|e| !e.fields.is_empty());
    sort_entries(&mut old_sorted);
    let mut new_sorted = entries.clone();
    sort_entries(&mut new_sorted);
    if let Some(live) = live {
        if !object_changed && old_sorted == new_sorted {
            return Ok(live.clone());
        }
    }
    write_managed_fields(&mut merged, entries);
    Ok(merged)
}

/// After a non-apply write (create, update or patch by `manager`), updates
/// `new.metadata.managedFields`: fields added or changed since `old` become
/// owned by `manager` (operation `Update`, entry keyed by manager,
/// apiVersion and subresource) and leave every other entry; removed fields
/// leave every entry; empty entries go. `old` = `None` is a create (all of
/// `new`'s fields owned by `manager`).
///
/// Like the API server, managedFields sent in `new` (when non-empty, and not
/// for a subresource) replace the recorded ones, so a client can reset them
/// with `[{}]`; otherwise the old object's are kept. The entry's time is set
/// to `now` only when the manager took fields.
pub fn record_update(old: Option<&Value>, new: &mut Value, manager: &str, subresource: Option<&str>, now: &str) {
    let sent = new.pointer("/metadata/managedFields").and_then(Value::as_array).filter(|a| !a.is_empty()).is_some();
    let mut entries =
        if sent && subresource.is_none() { read_managed_fields(Some(new)) } else { read_managed_fields(old) };
    let old_value = match old {
        Some(o) => without_managed_fields(o),
        None => Value::Object(Map::new()),
    };
    let new_value = without_managed_fields(new);
    let schema = Schema::of(&new_value);
    let api_version = schema.api_version.to_owned();
    let mut cmp = compare_objects(schema, &old_value, &new_value);
    // The top-level `metadata`, `spec` and `status` always exist in
    // Kubernetes' typed objects, so they are never recorded as added.
    for root in ["metadata", "spec", "status"] {
        cmp.added.remove_member(&PathElement::Field(root.into()));
    }
    let taken = cmp.added.union(&cmp.modified);
    for entry in &mut entries {
        entry.fields = entry.fields.difference(&taken).difference(&cmp.removed);
    }
    if !taken.is_empty() {
        let me = ManagedEntry {
            manager: manager.to_owned(),
            operation: "Update".into(),
            api_version,
            time: Some(now.to_owned()),
            subresource: subresource.map(str::to_owned),
            fields: taken,
        };
        match entries.iter_mut().find(|e| e.same_manager(&me)) {
            Some(existing) => {
                existing.fields = existing.fields.union(&me.fields);
                existing.time = me.time;
            }
            None => entries.push(me),
        }
    }
    write_managed_fields(new, entries);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T0: &str = "2024-01-01T00:00:00Z";
    const T1: &str = "2024-01-01T00:01:00Z";

    fn opts<'a>(manager: &'a str, now: &'a str) -> ApplyOptions<'a> {
        ApplyOptions { manager, force: false, subresource: None, now }
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": image, "ports": [{"containerPort": 80}]}]}
                }
            }
        })
    }

    fn entry<'v>(obj: &'v Value, manager: &str) -> Option<&'v Value> {
        obj["metadata"]["managedFields"].as_array()?.iter().find(|e| e["manager"] == manager)
    }

    fn conflicts(err: ApplyError) -> Vec<(String, String)> {
        match err {
            ApplyError::Conflict(c) => c.into_iter().map(|c| (c.manager, c.field)).collect(),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn create_records_fields_v1_like_kubernetes() {
        let obj = server_side_apply(None, &deployment(3, "nginx:1.25"), &opts("kubectl", T0)).unwrap();
        assert_eq!(obj["spec"]["replicas"], 3);
        let e = entry(&obj, "kubectl").unwrap();
        // What `kubectl apply --server-side` of this Deployment shows in a real
        // cluster (selector is an atomic LabelSelector; the port key includes
        // the defaulted protocol; keyed items own themselves with ".").
        let expected = json!({
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {
                            ".": {}, "f:image": {}, "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                        }}}
                    }
                }
            }
        });
        assert_eq!(e.to_string(), expected.to_string(), "exact JSON, key order included");
        assert_eq!(obj["metadata"]["managedFields"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn configmap_sample_from_the_kubernetes_docs() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "test-cm", "namespace": "default", "labels": {"test-label": "test"}},
            "data": {"key": "some value"}});
        let obj = server_side_apply(None, &cm, &opts("kubectl", T0)).unwrap();
        assert_eq!(
            entry(&obj, "kubectl").unwrap()["fieldsV1"].to_string(),
            r#"{"f:data":{"f:key":{}},"f:metadata":{"f:labels":{"f:test-label":{}}}}"#
        );
    }

    #[test]
    fn reapplying_the_same_config_changes_nothing() {
        let live = server_side_apply(None, &deployment(3, "nginx"), &opts("kubectl", T0)).unwrap();
        let again = server_side_apply(Some(&live), &deployment(3, "nginx"), &opts("kubectl", T1)).unwrap();
        assert_eq!(again, live);
        assert_eq!(again.to_string(), live.to_string());
        // A float from YAML is the same number.
        let mut float = deployment(3, "nginx");
        float["spec"]["replicas"] = json!(3.0);
        assert_eq!(server_side_apply(Some(&live), &float, &opts("kubectl", T1)).unwrap(), live);
    }

    #[test]
    fn changed_apply_bumps_the_time() {
        let live = server_side_apply(None, &deployment(3, "nginx"), &opts("kubectl", T0)).unwrap();
        let next = server_side_apply(Some(&live), &deployment(4, "nginx"), &opts("kubectl", T1)).unwrap();
        assert_eq!(next["spec"]["replicas"], 4);
        assert_eq!(entry(&next, "kubectl").unwrap()["time"], T1);
    }

    #[test]
    fn another_manager_changing_an_owned_field_conflicts() {
        let live = server_side_apply(None, &deployment(3, "nginx"), &opts("kubectl", T0)).unwrap();
        let mut other = deployment(5, "nginx:2");
        other["metadata"].as_object_mut().unwrap().remove("labels");
        let err = server_side_apply(Some(&live), &other, &opts("hpa", T1)).unwrap_err();
        let message = err.to_string();
        assert_eq!(
            conflicts(err),
            vec![
                ("kubectl".to_owned(), ".spec.replicas".to_owned()),
                ("kubectl".to_owned(), r#".spec.template.spec.containers[name="app"].image"#.to_owned()),
            ]
        );
        assert_eq!(
            message,
            "Apply failed with 2 conflicts: conflicts with \"kubectl\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"app\"].image"
        );
        // One conflict reads like kubectl shows it.
        let only = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 9}});
        let err = server_side_apply(Some(&live), &only, &opts("hpa", T1)).unwrap_err();
        assert_eq!(err.to_string(), "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas");
    }

    #[test]
    fn same_value_is_shared_without_conflict() {
        let live = server_side_apply(None, &deployment(3, "nginx"), &opts("kubectl", T0)).unwrap();
        let partial = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}});
        let shared = server_side_apply(Some(&live), &partial, &opts("other", T1)).unwrap();
        assert_eq!(without_managed_fields(&shared), without_managed_fields(&live));
        assert_eq!(entry(&shared, "other").unwrap()["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
        assert!(entry(&shared, "kubectl").unwrap()["fieldsV1"]["f:spec"].get("f:replicas").is_some());
        // Now either changing it conflicts with the other.
        let err = server_side_apply(Some(&shared), &deployment(4, "nginx"), &opts("kubectl", T1)).unwrap_err();
        assert_eq!(conflicts(err), vec![("other".to_owned(), ".spec.replicas".to_owned())]);
        // And when kubectl drops it, `other` still owns it so it stays.
        let mut dropped = deployment(3, "nginx");
        dropped["spec"].as_object_mut().unwrap().remove("replicas");
        let kept = server_side_apply(Some(&shared), &dropped, &opts("kubectl", T1)).unwrap();
        assert_eq!(kept["spec"]["replicas"], 3);
        assert!(entry(&kept, "kubectl").unwrap()["fieldsV1"]["f:spec"].get("f:replicas").is_none());
    }

    #[test]
    fn force_moves_ownership() {
        let live = server_side_apply(None, &deployment(3, "nginx"), &opts("kubectl", T0)).unwrap();
        let scale = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 7}});
        let forced = server_side_apply(Some(&live), &scale, &ApplyOptions { force: true, ..opts("hpa", T1) }).unwrap();
        assert_eq!(forced["spec"]["replicas"], 7);
        assert_eq!(entry(&forced, "hpa").unwrap()["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
        assert!(entry(&forced, "kubectl").unwrap()["fieldsV1"]["f:spec"].get("f:replicas").is_none());
        // kubectl re-applying its old value now conflicts with hpa.
        let err = server_side_apply(Some(&forced), &deployment(3, "nginx"), &opts("kubectl", T1)).unwrap_err();
        assert_eq!(conflicts(err), vec![("hpa".to_owned(), ".spec.replicas".to_owned())]);
    }

    #[test]
    fn dropped_fields_are_removed() {
        let mut first = deployment(3, "nginx");
        first["metadata"]["annotations"] = json!({"a": "1", "b": "2"});
        let live = server_side_apply(None, &first, &opts("kubectl", T0)).unwrap();
        let mut second = deployment(3, "nginx");
        second["metadata"]["annotations"] = json!({"a": "1"});
        second["spec"].as_object_mut().unwrap().remove("replicas");
        let next = server_side_apply(Some(&live), &second, &opts("kubectl", T1)).unwrap();
        assert_eq!(next["metadata"]["annotations"], json!({"a": "1"}));
        assert!(next["spec"].get("replicas").is_none());
        assert_eq!(next["metadata"]["name"], "web");
        // Dropping every annotation removes the map.
        let next = server_side_apply(Some(&next), &deployment(3, "nginx"), &opts("kubectl", T1)).unwrap();
        assert!(next["metadata"].get("annotations").is_none());
    }

    #[test]
    fn containers_merge_by_name_across_managers() {
        let live = server_side_apply(None, &deployment(3, "nginx"), &opts("kubectl", T0)).unwrap();
        let sidecar = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "proxy", "image": "envoy"}]}}}});
        let both = server_side_apply(Some(&live), &sidecar, &opts("mesh", T1)).unwrap();
        let containers = both["spec"]["template"]["spec"]["containers"].as_array().unwrap();
        let names: Vec<&str> = containers.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["app", "proxy"]);
        assert_eq!(
            entry(&both, "mesh").unwrap()["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"],
            json!({"k:{\"name\":\"proxy\"}": {".": {}, "f:image": {}, "f:name": {}}})
        );
        // kubectl updating its own container leaves the sidecar alone.
        let updated = server_side_apply(Some(&both), &deployment(3, "nginx:2"), &opts("kubectl", T1)).unwrap();
        let containers = updated["spec"]["template"]["spec"]["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 2);
        assert_eq!(containers[0]["image"], "nginx:2");
        assert_eq!(containers[1]["image"], "envoy");
        // The mesh manager dropping its container removes it.
        let none = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
        let removed = server_side_apply(Some(&updated), &none, &opts("mesh", T1)).unwrap();
        assert_eq!(removed["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(), 1);
        assert!(entry(&removed, "mesh").is_none(), "an empty entry is dropped");
    }

    #[test]
    fn keyed_list_order_follows_structured_merge_diff() {
        let cm = |names: &[&str]| {
            let containers: Vec<Value> = names.iter().map(|n| json!({"name": n, "image": "i"})).collect();
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": containers}})
        };
        let live = server_side_apply(None, &cm(&["a", "b", "c"]), &opts("one", T0)).unwrap();
        let next = server_side_apply(Some(&live), &cm(&["c", "a"]), &opts("one", T1)).unwrap();
        let names: Vec<&str> =
            next["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["c", "a"]);
        let with_other = server_side_apply(Some(&live), &cm(&["d"]), &opts("two", T1)).unwrap();
        let names: Vec<&str> =
            with_other["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
    }

    #[test]
    fn env_var_removal() {
        let mut with_env = deployment(3, "nginx");
        with_env["spec"]["template"]["spec"]["containers"][0]["env"] =
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]);
        let live = server_side_apply(None, &with_env, &opts("kubectl", T0)).unwrap();
        with_env["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "B", "value": "2"}]);
        let next = server_side_apply(Some(&live), &with_env, &opts("kubectl", T1)).unwrap();
        assert_eq!(next["spec"]["template"]["spec"]["containers"][0]["env"], json!([{"name": "B", "value": "2"}]));
        let fields = &entry(&next, "kubectl").unwrap()["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
            ["k:{\"name\":\"app\"}"]["f:env"];
        assert_eq!(fields, &json!({"k:{\"name\":\"B\"}": {".": {}, "f:name": {}, "f:value": {}}}));
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let mut no_key = deployment(3, "nginx");
        no_key["spec"]["template"]["spec"]["containers"] = json!([{"image": "x"}]);
        let err = server_side_apply(None, &no_key, &opts("kubectl", T0)).unwrap_err();
        assert!(matches!(&err, ApplyError::Invalid(m) if m.contains("omits key field \"name\"")), "{err}");
        let mut dup = deployment(3, "nginx");
        dup["spec"]["template"]["spec"]["containers"] = json!([{"name": "a"}, {"name": "a"}]);
        let err = server_side_apply(None, &dup, &opts("kubectl", T0)).unwrap_err();
        assert!(
            matches!(&err, ApplyError::Invalid(m) if m.contains("duplicate entries for key [name=\"a\"]")),
            "{err}"
        );
        let live = server_side_apply(None, &deployment(3, "nginx"), &opts("kubectl", T0)).unwrap();
        let mut other_kind = deployment(3, "nginx");
        other_kind["kind"] = json!("StatefulSet");
        assert!(matches!(
            server_side_apply(Some(&live), &other_kind, &opts("kubectl", T0)),
            Err(ApplyError::Invalid(_))
        ));
        assert!(matches!(
            server_side_apply(None, &json!({"kind": "X"}), &opts("kubectl", T0)),
            Err(ApplyError::Invalid(_))
        ));
        let err = server_side_apply(Some(&live), &live, &opts("kubectl", T0)).unwrap_err();
        assert_eq!(err.to_string(), "metadata.managedFields must be nil");
    }

    #[test]
    fn status_is_ignored_on_the_main_resource_and_applied_on_the_subresource() {
        let mut with_status = deployment(1, "nginx");
        with_status["status"] = json!({"replicas": 1});
        let live = server_side_apply(None, &with_status, &opts("kubectl", T0)).unwrap();
        assert!(live.get("status").is_none());
        let status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 9}, "status": {"conditions": [{"type": "Available", "status": "True"}]}});
        let opts_status = ApplyOptions { subresource: Some("status"), ..opts("controller", T1) };
        let next = server_side_apply(Some(&live), &status, &opts_status).unwrap();
        assert_eq!(next["spec"]["replicas"], 1);
        assert_eq!(next["status"]["conditions"][0]["type"], "Available");
        let e = entry(&next, "controller").unwrap();
        assert_eq!(e["subresource"], "status");
        assert_eq!(
            e["fieldsV1"],
            json!({"f:status": {"f:conditions": {"k:{\"type\":\"Available\"}": {".": {}, "f:status": {}, "f:type": {}}}}})
        );
    }

    #[test]
    fn finalizers_are_a_set() {
        let cm = |finalizers: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": finalizers}});
        let live = server_side_apply(None, &cm(json!(["a"])), &opts("one", T0)).unwrap();
        let both = server_side_apply(Some(&live), &cm(json!(["b"])), &opts("two", T0)).unwrap();
        assert_eq!(both["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(entry(&both, "two").unwrap()["fieldsV1"], json!({"f:metadata": {"f:finalizers": {"v:\"b\"": {}}}}));
        let only_b = server_side_apply(Some(&both), &cm(json!([])), &opts("one", T0)).unwrap();
        assert_eq!(only_b["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn record_update_on_create_owns_everything() {
        let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "uid": "u", "resourceVersion": "1", "labels": {"app": "x"}}, "data": {"k": "v"}});
        record_update(None, &mut obj, "kubectl-create", None, T0);
        let e = entry(&obj, "kubectl-create").unwrap();
        assert_eq!(e["operation"], "Update");
        assert_eq!(e["apiVersion"], "v1");
        assert_eq!(e["time"], T0);
        assert_eq!(
            e["fieldsV1"].to_string(),
            r#"{"f:data":{".":{},"f:k":{}},"f:metadata":{"f:labels":{".":{},"f:app":{}}}}"#
        );
    }

    #[test]
    fn record_update_takes_changed_fields() {
        let live = server_side_apply(None, &deployment(3, "nginx"), &opts("kubectl", T0)).unwrap();
        let mut new = live.clone();
        new["spec"]["replicas"] = json!(5);
        new["metadata"]["annotations"] = json!({"note": "x"});
        record_update(Some(&live), &mut new, "kubectl-edit", None, T1);
        let edit = entry(&new, "kubectl-edit").unwrap();
        assert_eq!(
            edit["fieldsV1"],
            json!({"f:metadata": {"f:annotations": {".": {}, "f:note": {}}}, "f:spec": {"f:replicas": {}}})
        );
        assert_eq!(edit["time"], T1);
        assert!(entry(&new, "kubectl").unwrap()["fieldsV1"]["f:spec"].get("f:replicas").is_none());
        // Entries are ordered Apply before Update.
        assert_eq!(new["metadata"]["managedFields"][0]["manager"], "kubectl");
        // Now kubectl's apply of replicas 3 conflicts with the updater.
        let err = server_side_apply(Some(&new), &deployment(3, "nginx"), &opts("kubectl", T1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1 at {T1}: .spec.replicas"
            )
        );
        assert_eq!(conflicts(err), vec![("kubectl-edit".to_owned(), ".spec.replicas".to_owned())]);
        // Removing a field drops it from every set.
        let mut removed = new.clone();
        removed["spec"]["template"]["spec"]["containers"][0].as_object_mut().unwrap().remove("image");
        record_update(Some(&new), &mut removed, "kubectl-edit", None, T1);
        let kubectl = entry(&removed, "kubectl").unwrap();
        assert!(kubectl["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]
            .get("f:image")
            .is_none());
        // A no-op update changes nothing.
        let mut same = removed.clone();
        record_update(Some(&removed), &mut same, "other", None, "2030-01-01T00:00:00Z");
        assert_eq!(same, removed);
    }

    #[test]
    fn record_update_accepts_a_reset() {
        let live = server_side_apply(None, &deployment(3, "nginx"), &opts("kubectl", T0)).unwrap();
        let mut new = live.clone();
        new["metadata"]["managedFields"] = json!([{}]);
        record_update(Some(&live), &mut new, "kubectl-edit", None, T1);
        assert!(new["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn service_ports_key_on_port_and_protocol() {
        let svc = |ports: Value| {
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                "spec": {"selector": {"app": "x"}, "ports": ports}})
        };
        let live =
            server_side_apply(None, &svc(json!([{"port": 80}, {"port": 53, "protocol": "UDP"}])), &opts("a", T0))
                .unwrap();
        let fields = &entry(&live, "a").unwrap()["fieldsV1"]["f:spec"];
        assert_eq!(
            fields.to_string(),
            r#"{"f:ports":{"k:{\"port\":53,\"protocol\":\"UDP\"}":{".":{},"f:port":{},"f:protocol":{}},"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{}}},"f:selector":{}}"#
        );
        let next = server_side_apply(Some(&live), &svc(json!([{"port": 80}])), &opts("a", T1)).unwrap();
        assert_eq!(next["spec"]["ports"], json!([{"port": 80}]));
    }
}
