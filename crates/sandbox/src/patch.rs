//! The three non-apply patch formats of the Kubernetes API: JSON merge patch
//! (RFC 7386, `application/merge-patch+json`), strategic merge patch
//! (`application/strategic-merge-patch+json`, for the built-in kinds) and
//! JSON patch (RFC 6902, `application/json-patch+json`).
//!
//! Pure functions over `serde_json::Value`; the caller validates the result.

use serde_json::{Map, Value};

use crate::fieldpath::{values_equal, ListType, Schema};

/// Why a patch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The patch document is malformed (400 Bad Request).
    #[error("invalid patch: {0}")]
    Invalid(String),
    /// The patch is well formed but does not apply to this object: a path
    /// that does not exist, a failed `test` operation (422).
    #[error("the patch could not be applied: {0}")]
    Unprocessable(String),
}

/// Applies a JSON merge patch (RFC 7386) to `target`: objects merge
/// recursively, `null` deletes a key, anything else (lists included)
/// replaces.
pub fn json_merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            target.shift_remove(key);
        } else {
            json_merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Applies a strategic merge patch to `target`, an object of
/// `api_version`/`kind`, and returns the result.
///
/// Objects merge recursively and `null` deletes a key. Lists that
/// [`crate::fieldpath::list_type`] keys are merged item by item on their
/// first key (the `patchMergeKey`: containers by `name`, container ports by
/// `containerPort`, Service ports by `port`, ...); set lists
/// (`metadata.finalizers`) take the union; other lists are replaced.
/// Directives: `$patch: replace|delete|merge` on objects and on list items,
/// `$retainKeys`, `$deleteFromPrimitiveList/<field>`; `$setElementOrder/<field>`
/// is accepted and ignored (items keep the target's order, new ones are
/// appended).
pub fn strategic_merge_patch(
    target: &Value,
    patch: &Value,
    api_version: &str,
    kind: &str,
) -> Result<Value, PatchError> {
    let schema = Schema { api_version, kind };
    let Value::Object(_) = patch else {
        return Err(PatchError::Invalid("a strategic merge patch must be a JSON object".into()));
    };
    let mut out = target.clone();
    match smp_object(schema, &mut out, patch, &mut Vec::new())? {
        Outcome::Keep => Ok(out),
        Outcome::Delete => Ok(Value::Object(Map::new())),
    }
}

/// Whether a patched object survives its own `$patch` directive.
enum Outcome {
    Keep,
    Delete,
}

fn directive(patch: &Map<String, Value>) -> Result<Option<&str>, PatchError> {
    match patch.get("$patch") {
        None => Ok(None),
        Some(Value::String(s)) if matches!(s.as_str(), "replace" | "delete" | "merge") => Ok(Some(s.as_str())),
        Some(other) => Err(PatchError::Invalid(format!("unknown patch type {other} in $patch"))),
    }
}

/// `patch` without its directive keys (`$...`), with nulls removed as a
/// replacement would store them.
fn strip_directives(patch: &Map<String, Value>) -> Map<String, Value> {
    patch
        .iter()
        .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
        .map(|(k, v)| {
            let v = match v {
                Value::Object(m) => Value::Object(strip_directives(m)),
                other => other.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

fn smp_object(
    schema: Schema<'_>,
    target: &mut Value,
    patch: &Value,
    names: &mut Vec<String>,
) -> Result<Outcome, PatchError> {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return Ok(Outcome::Keep);
    };
    match directive(patch)? {
        Some("delete") => return Ok(Outcome::Delete),
        Some("replace") => {
            *target = Value::Object(strip_directives(patch));
            return Ok(Outcome::Keep);
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let obj = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if key == "$patch" || key == "$retainKeys" || key.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            let Value::Array(remove) = value else {
                return Err(PatchError::Invalid(format!("{key} must be a list")));
            };
            if let Some(Value::Array(items)) = obj.get_mut(field) {
                items.retain(|item| !remove.iter().any(|r| values_equal(r, item)));
            }
            continue;
        }
        if key.starts_with('$') {
            return Err(PatchError::Invalid(format!("unknown directive {key:?}")));
        }
        if value.is_null() {
            obj.shift_remove(key);
            continue;
        }
        names.push(key.clone());
        let existing_object = obj.get(key).is_some_and(Value::is_object);
        let existing_list = obj.get(key).is_some_and(Value::is_array);
        let result = match value {
            Value::Object(_) if existing_object => {
                let existing = obj.get_mut(key).expect("checked above");
                smp_object(schema, existing, value, names).map(|o| matches!(o, Outcome::Delete))
            }
            Value::Array(items) if existing_list => {
                let existing = obj.get_mut(key).expect("checked above");
                smp_list(schema, existing, items, names).map(|()| false)
            }
            Value::Object(_) => {
                // A new object: patch an empty one so that directives and
                // nulls inside are honoured rather than stored.
                let mut fresh = Value::Object(Map::new());
                smp_object(schema, &mut fresh, value, names).map(|outcome| {
                    if matches!(outcome, Outcome::Keep) {
                        obj.insert(key.clone(), fresh);
                    }
                    false
                })
            }
            Value::Array(items) => {
                let mut fresh = Value::Array(Vec::new());
                smp_list(schema, &mut fresh, items, names).map(|()| {
                    obj.insert(key.clone(), fresh);
                    false
                })
            }
            scalar => {
                obj.insert(key.clone(), scalar.clone());
                Ok(false)
            }
        };
        names.pop();
        if result? {
            obj.shift_remove(key);
        }
    }
    if let Some(retain) = patch.get("$retainKeys") {
        let Value::Array(keys) = retain else {
            return Err(PatchError::Invalid("$retainKeys must be a list".into()));
        };
        let keep: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
        obj.retain(|k, _| keep.contains(&k.as_str()));
    }
    Ok(Outcome::Keep)
}

fn smp_list(
    schema: Schema<'_>,
    target: &mut Value,
    patch: &[Value],
    names: &mut Vec<String>,
) -> Result<(), PatchError> {
    // A `{"$patch": "replace"}` item replaces the whole list with the others.
    let replace = patch.iter().any(|item| item.get("$patch").and_then(Value::as_str) == Some("replace"));
    let list = schema.list_type(names);
    if replace || list == ListType::Atomic {
        let items = patch
            .iter()
            .filter(|item| item.get("$patch").is_none())
            .map(|item| match item {
                Value::Object(m) => Value::Object(strip_directives(m)),
                other => other.clone(),
            })
            .collect();
        *target = Value::Array(items);
        return Ok(());
    }
    let Value::Array(items) = target else { unreachable!("callers pass a list") };
    match list {
        ListType::Set => {
            for p in patch {
                if !items.iter().any(|item| values_equal(item, p)) {
                    items.push(p.clone());
                }
            }
        }
        ListType::Map(keys) => {
            let key = keys[0];
            for p in patch {
                let Some(pm) = p.as_object() else {
                    return Err(PatchError::Invalid(format!("items of {} must be objects", names.join("."))));
                };
                let Some(kv) = pm.get(key) else {
                    return Err(PatchError::Invalid(format!(
                        "an item of {} does not contain the merge key {key:?}",
                        names.join(".")
                    )));
                };
                let position = items.iter().position(|item| item.get(key).is_some_and(|v| values_equal(v, kv)));
                let delete = pm.get("$patch").and_then(Value::as_str) == Some("delete");
                match (position, delete) {
                    (Some(_), true) => {
                        items.retain(|item| !item.get(key).is_some_and(|v| values_equal(v, kv)));
                    }
                    (None, true) => {}
                    (Some(i), false) => {
                        if matches!(smp_object(schema, &mut items[i], p, names)?, Outcome::Delete) {
                            items.remove(i);
                        }
                    }
                    (None, false) => {
                        let mut fresh = Value::Object(Map::new());
                        smp_object(schema, &mut fresh, p, names)?;
                        items.push(fresh);
                    }
                }
            }
        }
        ListType::Atomic => unreachable!("handled above"),
    }
    Ok(())
}

/// Applies a JSON patch (RFC 6902): a list of `add`, `remove`, `replace`,
/// `move`, `copy` and `test` operations with JSON-pointer paths, in order,
/// all or nothing.
pub fn json_patch(target: &Value, ops: &Value) -> Result<Value, PatchError> {
    let Value::Array(ops) = ops else {
        return Err(PatchError::Invalid("a JSON patch must be a list of operations".into()));
    };
    let mut doc = target.clone();
    for (i, op) in ops.iter().enumerate() {
        let field = |name: &str| -> Result<&str, PatchError> {
            op.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| PatchError::Invalid(format!("operation {i} has no string {name:?}")))
        };
        let value =
            || op.get("value").cloned().ok_or_else(|| PatchError::Invalid(format!("operation {i} has no \"value\"")));
        let path = parse_pointer(field("path")?)?;
        match field("op")? {
            "add" => add(&mut doc, &path, value()?)?,
            "remove" => {
                remove(&mut doc, &path)?;
            }
            "replace" => {
                remove(&mut doc, &path)?;
                add(&mut doc, &path, value()?)?;
            }
            "move" => {
                let from = parse_pointer(field("from")?)?;
                if path.len() > from.len() && path[..from.len()] == from[..] {
                    return Err(PatchError::Invalid(format!("operation {i} moves a value into itself")));
                }
                let moved = remove(&mut doc, &from)?;
                add(&mut doc, &path, moved)?;
            }
            "copy" => {
                let from = parse_pointer(field("from")?)?;
                let copied = get(&doc, &from)?.clone();
                add(&mut doc, &path, copied)?;
            }
            "test" => {
                let expected = value()?;
                let actual = get(&doc, &path)?;
                if !values_equal(actual, &expected) {
                    return Err(PatchError::Unprocessable(format!(
                        "test operation {i} failed: {} is {actual}, not {expected}",
                        field("path")?
                    )));
                }
            }
            other => return Err(PatchError::Invalid(format!("operation {i} has unknown op {other:?}"))),
        }
    }
    Ok(doc)
}

/// The reference tokens of a JSON pointer (RFC 6901), unescaped.
fn parse_pointer(pointer: &str) -> Result<Vec<String>, PatchError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(PatchError::Invalid(format!("JSON pointer {pointer:?} must start with '/'")));
    };
    Ok(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect())
}

fn missing(path: &[String]) -> PatchError {
    PatchError::Unprocessable(format!("path /{} does not exist", path.join("/")))
}

fn array_index(token: &str, len: usize, allow_end: bool, path: &[String]) -> Result<usize, PatchError> {
    if allow_end && token == "-" {
        return Ok(len);
    }
    let valid =
        !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) && (token == "0" || !token.starts_with('0'));
    let index: usize = if valid { token.parse().map_err(|_| missing(path))? } else { return Err(missing(path)) };
    if index > len || (!allow_end && index == len) {
        return Err(missing(path));
    }
    Ok(index)
}

fn get<'v>(doc: &'v Value, path: &[String]) -> Result<&'v Value, PatchError> {
    let mut cur = doc;
    for token in path {
        cur = match cur {
            Value::Object(m) => m.get(token).ok_or_else(|| missing(path))?,
            Value::Array(a) => &a[array_index(token, a.len(), false, path)?],
            _ => return Err(missing(path)),
        };
    }
    Ok(cur)
}

fn parent_mut<'v>(doc: &'v mut Value, path: &[String]) -> Result<&'v mut Value, PatchError> {
    let mut cur = doc;
    for token in &path[..path.len() - 1] {
        cur = match cur {
            Value::Object(m) => m.get_mut(token).ok_or_else(|| missing(path))?,
            Value::Array(a) => {
                let i = array_index(token, a.len(), false, path)?;
                &mut a[i]
            }
            _ => return Err(missing(path)),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), PatchError> {
    let Some(last) = path.last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, path)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            let i = array_index(last, a.len(), true, path)?;
            a.insert(i, value);
        }
        _ => return Err(missing(path)),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, PatchError> {
    let Some(last) = path.last() else {
        return Ok(std::mem::take(doc));
    };
    match parent_mut(doc, path)? {
        Value::Object(m) => m.shift_remove(last).ok_or_else(|| missing(path)),
        Value::Array(a) => {
            let i = array_index(last, a.len(), false, path)?;
            Ok(a.remove(i))
        }
        _ => Err(missing(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"a": "1", "b": "2"}, "finalizers": ["x"]},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "app", "image": "nginx", "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": "1"}]},
                {"name": "proxy", "image": "envoy"}
            ], "tolerations": [{"key": "k"}]}}}
        })
    }

    fn smp(target: &Value, patch: Value) -> Result<Value, PatchError> {
        strategic_merge_patch(target, &patch, "apps/v1", "Deployment")
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        json_merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}, "l": [3], "n": {"x": null, "y": 1}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}, "l": [3], "n": {"y": 1}}));
        let mut scalar = json!("x");
        json_merge_patch(&mut scalar, &json!({"a": 1}));
        assert_eq!(scalar, json!({"a": 1}));
        let mut any = json!({"a": 1});
        json_merge_patch(&mut any, &json!(["replaced"]));
        assert_eq!(any, json!(["replaced"]));
    }

    #[test]
    fn strategic_merge_merges_containers_by_name() {
        let out = smp(
            &deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "proxy", "image": "envoy:2"},
                {"name": "new", "image": "busybox"},
                {"name": "app", "ports": [{"containerPort": 8080}], "env": [{"name": "B", "value": "2"}]}
            ]}}}}),
        )
        .unwrap();
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["image"], "nginx");
        assert_eq!(containers[0]["ports"], json!([{"containerPort": 80}, {"containerPort": 8080}]));
        assert_eq!(containers[0]["env"], json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]));
        assert_eq!(containers[1], json!({"name": "proxy", "image": "envoy:2"}));
        assert_eq!(containers[2], json!({"name": "new", "image": "busybox"}));
    }

    #[test]
    fn strategic_merge_directives_and_nulls() {
        let out = smp(
            &deployment(),
            json!({
                "metadata": {"labels": {"a": null}, "finalizers": ["y"]},
                "spec": {"replicas": null, "template": {"spec": {
                    "$setElementOrder/containers": [{"name": "app"}],
                    "containers": [{"name": "proxy", "$patch": "delete"}, {"name": "app", "env": [{"name": "A", "$patch": "delete"}]}],
                    "tolerations": [{"key": "other"}]
                }}}
            }),
        )
        .unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"b": "2"}));
        assert_eq!(out["metadata"]["finalizers"], json!(["x", "y"]));
        assert!(out["spec"].get("replicas").is_none());
        let spec = &out["spec"]["template"]["spec"];
        assert_eq!(spec["containers"].as_array().unwrap().len(), 1);
        assert_eq!(spec["containers"][0]["env"], json!([]));
        assert_eq!(spec["tolerations"], json!([{"key": "other"}]), "atomic lists are replaced");

        let replaced = smp(&deployment(), json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}})).unwrap();
        assert_eq!(replaced["metadata"]["labels"], json!({"c": "3"}));
        let list_replaced = smp(
            &deployment(),
            json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "i"}]}}}}),
        )
        .unwrap();
        assert_eq!(list_replaced["spec"]["template"]["spec"]["containers"], json!([{"name": "only", "image": "i"}]));
        let deleted = smp(&deployment(), json!({"metadata": {"labels": {"$patch": "delete"}}})).unwrap();
        assert!(deleted["metadata"].get("labels").is_none());
        let retained =
            smp(&deployment(), json!({"metadata": {"labels": {"$retainKeys": ["b", "c"], "c": "3"}}})).unwrap();
        assert_eq!(retained["metadata"]["labels"], json!({"b": "2", "c": "3"}));
        let pruned = smp(&deployment(), json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}})).unwrap();
        assert_eq!(pruned["metadata"]["finalizers"], json!([]));
    }

    #[test]
    fn strategic_merge_rejects_bad_patches() {
        assert!(matches!(smp(&deployment(), json!([1])), Err(PatchError::Invalid(_))));
        assert!(matches!(
            smp(&deployment(), json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})),
            Err(PatchError::Invalid(m)) if m.contains("merge key \"name\"")
        ));
        assert!(matches!(smp(&deployment(), json!({"metadata": {"$patch": "explode"}})), Err(PatchError::Invalid(_))));
    }

    #[test]
    fn service_ports_merge_on_port() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80, "name": "http"}]}});
        let out = strategic_merge_patch(
            &svc,
            &json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}),
            "v1",
            "Service",
        )
        .unwrap();
        assert_eq!(out["spec"]["ports"], json!([{"port": 80, "name": "http", "targetPort": 8080}, {"port": 443}]));
    }

    #[test]
    fn json_patch_operations() {
        let doc = json!({"metadata": {"labels": {"a/b": "1"}}, "spec": {"list": [1, 2, 3], "replicas": 1}});
        let out = json_patch(
            &doc,
            &json!([
                {"op": "test", "path": "/spec/replicas", "value": 1.0},
                {"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "add", "path": "/spec/list/1", "value": 9},
                {"op": "add", "path": "/spec/list/-", "value": 4},
                {"op": "remove", "path": "/spec/list/0"},
                {"op": "copy", "from": "/metadata/labels/a~1b", "path": "/metadata/labels/c"},
                {"op": "move", "from": "/metadata/labels/a~1b", "path": "/metadata/labels/d"},
                {"op": "add", "path": "/metadata/annotations", "value": {"x": "y"}}
            ]),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"metadata": {"labels": {"c": "1", "d": "1"}, "annotations": {"x": "y"}}, "spec": {"list": [9, 2, 3, 4], "replicas": 3}})
        );
    }

    #[test]
    fn json_patch_failures() {
        let doc = json!({"spec": {"replicas": 1, "list": [1]}});
        let failed = json_patch(&doc, &json!([{"op": "test", "path": "/spec/replicas", "value": 2}])).unwrap_err();
        assert!(matches!(&failed, PatchError::Unprocessable(m) if m.contains("test operation 0 failed")), "{failed}");
        assert!(matches!(
            json_patch(&doc, &json!([{"op": "replace", "path": "/spec/missing", "value": 2}])),
            Err(PatchError::Unprocessable(_))
        ));
        assert!(matches!(
            json_patch(&doc, &json!([{"op": "remove", "path": "/spec/list/1"}])),
            Err(PatchError::Unprocessable(_))
        ));
        assert!(matches!(
            json_patch(&doc, &json!([{"op": "add", "path": "/spec/list/01", "value": 1}])),
            Err(PatchError::Unprocessable(_))
        ));
        assert!(matches!(json_patch(&doc, &json!([{"op": "frob", "path": "/spec"}])), Err(PatchError::Invalid(_))));
        assert!(matches!(json_patch(&doc, &json!({"op": "add"})), Err(PatchError::Invalid(_))));
        assert!(matches!(
            json_patch(&doc, &json!([{"op": "move", "from": "/spec", "path": "/spec/x"}])),
            Err(PatchError::Invalid(_))
        ));
        assert!(matches!(
            json_patch(&doc, &json!([{"op": "add", "path": "spec", "value": 1}])),
            Err(PatchError::Invalid(_))
        ));
    }
}
