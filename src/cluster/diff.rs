//! What an apply would change: each rendered object through a server-side
//! dry-run apply (so defaults, webhooks and other field managers count)
//! against the live object, both without bookkeeping noise and with
//! secrets masked, as a unified diff.
//!
//! Masking follows `kubectl diff`: a sensitive value that is the same on
//! both sides becomes `***`; one that differs becomes `*** (before)` and
//! `*** (after)`, so a reader sees that it changes but never what it is.
//!
//! A value is sensitive when it is
//! - a value of a Secret's `data` or `stringData` (or, on a Secret, the
//!   `kubectl.kubernetes.io/last-applied-configuration` annotation, which
//!   copies them);
//! - a string or number under a key whose name, lowercased and without
//!   `-`, `_` and `.`, contains one of [`SENSITIVE_WORDS`] (`password`,
//!   `passwd`, `passphrase`, `secret`, `token`, `apikey`, `privatekey`,
//!   `credential`, `accesskey`, `dsn`, `connectionstring`,
//!   `connstr`), unless the name ends in one of [`REFERENCE_SUFFIXES`] (`ref`,
//!   `name`, `path`, `file`: `secretName`, `secretKeyRef`, `tokenPath` say
//!   where a secret is, not what it is). This covers annotations,
//!   ConfigMap data and Helm-style values anywhere in the object; label
//!   values are never masked (they cannot hold secrets of any length and
//!   selectors need them);
//! - the `value` of a `{name, value}` entry (container `env`) whose `name`
//!   is sensitive by the rule above;
//! - a URL with a password in it (`postgres://user:pass@host/db`).
//!
//! Booleans and nulls are never masked (`automountServiceAccountToken:
//! true` says nothing secret). Text inside a larger string (a config file
//! in a ConfigMap) is not parsed: keep secrets in Secrets.

use futures::{StreamExt, TryStreamExt};
use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::Value;

use super::client::{object_id, with_retries, Cluster};
use super::error::ClusterError;
pub use crate::sensitive::{is_sensitive_key, is_url_with_password, REFERENCE_SUFFIXES, SENSITIVE_WORDS};
use crate::yaml::to_yaml_string;

/// The annotation `kubectl apply` (client-side) copies the whole object into.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// How many objects are diffed concurrently.
const CONCURRENCY: usize = 16;

/// The object as compared: without server bookkeeping (managedFields,
/// resourceVersion, uid, generation, creationTimestamp, selfLink), without
/// status, and without the last-applied-configuration and meshctl config-hash
/// annotations; keys
/// sorted (as `kubectl diff` shows them), so where the server happens to put
/// a key is no difference.
pub fn comparable(object: &Value) -> Value {
    let mut object = sorted(object);
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
    if let Some(meta) = object["metadata"].as_object_mut() {
        for key in ["managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink"] {
            meta.remove(key);
        }
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove(LAST_APPLIED);
            // meshctl's own bookkeeping: it changes with every change that
            // already shows, so it would only add noise.
            annotations.remove(super::apply::CONFIG_HASH_ANNOTATION);
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    object
}

/// A copy with every map's keys in order.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        scalar => scalar.clone(),
    }
}

/// One step of a path into a JSON value.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

fn get<'a>(value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.get(k.as_str()),
        Step::Index(i) => v.get(*i),
    })
}

fn get_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

fn maskable(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_))
}

/// Collects the paths of sensitive values in `object`.
fn sensitive_paths(object: &Value, out: &mut Vec<Vec<Step>>) {
    let key = |k: &str| Step::Key(k.to_string());
    if object["kind"] == "Secret" {
        for field in ["data", "stringData"] {
            for (k, v) in object[field].as_object().into_iter().flatten() {
                if maskable(v) {
                    out.push(vec![key(field), key(k)]);
                }
            }
        }
        if object["metadata"]["annotations"][LAST_APPLIED].is_string() {
            out.push(vec![key("metadata"), key("annotations"), key(LAST_APPLIED)]);
        }
    }
    walk(object, &mut Vec::new(), out);
}

fn walk(value: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        Value::Object(map) => {
            // Labels are never secret, and selectors must stay readable.
            if matches!(path.last(), Some(Step::Key(k)) if k == "labels" || k == "matchLabels") {
                return;
            }
            let named_secret = map.get("name").and_then(Value::as_str).is_some_and(is_sensitive_key);
            for (k, v) in map {
                path.push(Step::Key(k.clone()));
                let sensitive = is_sensitive_key(k) || (named_secret && k == "value");
                if maskable(v) && (sensitive || v.as_str().is_some_and(is_url_with_password)) {
                    out.push(path.clone());
                } else {
                    walk(v, path, out);
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Step::Index(i));
                if v.as_str().is_some_and(is_url_with_password) {
                    out.push(path.clone());
                } else {
                    walk(v, path, out);
                }
                path.pop();
            }
        }
        _ => {}
    }
}

/// Masks sensitive values in a pair of versions of one object, in place
/// (see the module docs for what is sensitive): equal values become `***`,
/// differing ones `*** (before)` and `*** (after)`, a value on one side
/// only `***`.
pub fn mask_pair(before: &mut Option<Value>, after: &mut Option<Value>) {
    let mut paths = Vec::new();
    for side in [before.as_ref(), after.as_ref()].into_iter().flatten() {
        sensitive_paths(side, &mut paths);
    }
    for path in &paths {
        let old = before.as_ref().and_then(|b| get(b, path)).filter(|v| maskable(v)).cloned();
        let new = after.as_ref().and_then(|a| get(a, path)).filter(|v| maskable(v)).cloned();
        let (old_mask, new_mask) = match (&old, &new) {
            (Some(o), Some(n)) if o == n => ("***", "***"),
            (Some(_), Some(_)) => ("*** (before)", "*** (after)"),
            _ => ("***", "***"),
        };
        if old.is_some() {
            if let Some(slot) = before.as_mut().and_then(|b| get_mut(b, path)) {
                *slot = Value::String(old_mask.into());
            }
        }
        if new.is_some() {
            if let Some(slot) = after.as_mut().and_then(|a| get_mut(a, path)) {
                *slot = Value::String(new_mask.into());
            }
        }
    }
}

/// A unified diff (3 lines of context) of two versions of an object as
/// YAML, headed `--- live <object>` and `+++ rendered <object>`; `None`
/// when they are equal. A missing side diffs as empty text.
pub fn unified(object_id: &str, before: Option<&Value>, after: Option<&Value>) -> Option<String> {
    let yaml = |v: Option<&Value>| v.map(to_yaml_string).unwrap_or_default();
    let (old, new) = (yaml(before), yaml(after));
    if old == new {
        return None;
    }
    let diff = similar::TextDiff::from_lines(&old, &new);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("live {object_id}"), &format!("rendered {object_id}"))
        .to_string();
    Some(text)
}

/// What applying would do to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// It does not exist yet.
    Create,
    /// It exists and would change.
    Update,
    /// It would be pruned.
    Delete,
}

/// One object that would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectDiff {
    /// `Kind/namespace/name`.
    pub object: String,
    /// Created, updated or deleted.
    pub change: Change,
    /// The unified diff, secrets masked unless asked otherwise.
    pub text: String,
}

/// The diff of pruning `live` (an object of the set that is no longer
/// rendered): all of it removed.
pub fn deletion(live: &Value, show_secrets: bool) -> ObjectDiff {
    let id = object_id(live);
    let mut before = Some(comparable(live));
    if !show_secrets {
        mask_pair(&mut before, &mut None);
    }
    ObjectDiff { text: unified(&id, before.as_ref(), None).unwrap_or_default(), object: id, change: Change::Delete }
}

/// Diffs each rendered object against the cluster: a server-side dry-run
/// apply as `field_manager` (forced, so the result shows what meshctl would
/// own) against the live object, both made [`comparable`] and, unless
/// `show_secrets`, masked. Returns the objects that would change, in the
/// order given; empty when nothing would.
pub async fn diff_objects(
    cluster: &Cluster,
    objects: &[Value],
    field_manager: &str,
    show_secrets: bool,
) -> Result<Vec<ObjectDiff>, ClusterError> {
    let results: Vec<Option<ObjectDiff>> = futures::stream::iter(objects)
        .map(|object| diff_one(cluster, object, field_manager, show_secrets))
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok(results.into_iter().flatten().collect())
}

async fn diff_one(
    cluster: &Cluster,
    object: &Value,
    field_manager: &str,
    show_secrets: bool,
) -> Result<Option<ObjectDiff>, ClusterError> {
    let id = object_id(object);
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let (live, dry_run) = match cluster.api_for(object).await {
        Ok((api, _, _)) => {
            let live = with_retries(|| api.get_opt(name)).await.map_err(|e| request_error(&id, e))?;
            let params = PatchParams::apply(field_manager).force().dry_run();
            let patch = Patch::Apply(object);
            match with_retries(|| api.patch(name, &params, &patch)).await {
                Ok(result) => (live, Some(result)),
                // The namespace is part of the same set and does not exist
                // yet: the object would be created as rendered.
                Err(kube::Error::Api(s)) if s.code == 404 && live.is_none() => (None, None),
                Err(e) => return Err(request_error(&id, e)),
            }
        }
        // The CRD is part of the same set and not installed yet.
        Err(ClusterError::UnknownKind { .. }) => (None, None),
        Err(e) => return Err(e),
    };
    let to_value = |o: DynamicObject| serde_json::to_value(o).unwrap_or(Value::Null);
    let mut before = live.map(to_value).map(|v| comparable(&v));
    let mut after = Some(comparable(&dry_run.map(to_value).unwrap_or_else(|| object.clone())));
    if !show_secrets {
        mask_pair(&mut before, &mut after);
    }
    let change = if before.is_some() { Change::Update } else { Change::Create };
    Ok(unified(&id, before.as_ref(), after.as_ref()).map(|text| ObjectDiff { object: id, change, text }))
}

/// Turns a failed request about one object into an error naming it.
fn request_error(id: &str, error: kube::Error) -> ClusterError {
    match error {
        kube::Error::Api(s) if s.code == 422 && s.message.contains("immutable") => {
            let mut parts = id.splitn(3, '/');
            let kind = parts.next().unwrap_or_default().to_lowercase();
            let object_ref = match (parts.next(), parts.next()) {
                (Some(ns), Some(name)) => format!("{kind}/{name} -n {ns}"),
                (Some(name), None) => format!("{kind}/{name}"),
                _ => id.to_string(),
            };
            ClusterError::Immutable { object: id.into(), object_ref, message: s.message.clone() }
        }
        kube::Error::Api(s) if (400..500).contains(&s.code) => ClusterError::Rejected {
            object: id.into(),
            code: s.code,
            reason: s.reason.clone(),
            message: s.message.clone(),
        },
        other => ClusterError::api(format!("diffing {id}"), other),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Map};

    use super::*;

    /// The top-level keys of an object, in order.
    fn keys(value: &Value) -> Vec<&str> {
        value.as_object().map(Map::keys).into_iter().flatten().map(String::as_str).collect()
    }

    #[test]
    fn comparable_drops_bookkeeping_status_and_last_applied() {
        let live = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "ns", "uid": "u", "resourceVersion": "7", "generation": 1,
                         "creationTimestamp": "2024-01-01T00:00:00Z", "selfLink": "/x",
                         "managedFields": [{"manager": "meshctl"}],
                         "labels": {"a": "b"},
                         "annotations": {LAST_APPLIED: "{}"}},
            "data": {"k": "v"},
            "status": {"x": 1},
        });
        let c = comparable(&live);
        assert_eq!(keys(&c), ["apiVersion", "data", "kind", "metadata"]);
        assert_eq!(c["metadata"], json!({"labels": {"a": "b"}, "name": "c", "namespace": "ns"}));
        assert_eq!(keys(&c["metadata"]), ["labels", "name", "namespace"]);
        let other = json!({"metadata": {"annotations": {LAST_APPLIED: "{}", "keep": "me"}}});
        assert_eq!(comparable(&other)["metadata"]["annotations"], json!({"keep": "me"}));
    }

    fn secret(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"}, "data": data})
    }

    #[test]
    fn secret_data_is_masked_equal_and_different_values_alike_distinguishable() {
        let mut before = Some(secret(json!({"same": "c2FtZQ==", "changed": "b2xk", "gone": "eA=="})));
        let mut after = Some(secret(json!({"same": "c2FtZQ==", "changed": "bmV3", "added": "eQ=="})));
        mask_pair(&mut before, &mut after);
        let (before, after) = (before.unwrap(), after.unwrap());
        assert_eq!(before["data"], json!({"same": "***", "changed": "*** (before)", "gone": "***"}));
        assert_eq!(after["data"], json!({"same": "***", "changed": "*** (after)", "added": "***"}));
        let text = unified("Secret/ns/s", Some(&before), Some(&after)).unwrap();
        for plain in ["c2FtZQ==", "b2xk", "bmV3", "eA==", "eQ=="] {
            assert!(!text.contains(plain), "{text}");
        }
        assert!(text.contains("-  changed: \"*** (before)\"") || text.contains("-  changed: *** (before)"), "{text}");
    }

    #[test]
    fn a_created_secret_is_masked_too() {
        let mut before = None;
        let mut after = Some(json!({"kind": "Secret", "stringData": {"password": "hunter2"}}));
        mask_pair(&mut before, &mut after);
        assert_eq!(after.unwrap()["stringData"]["password"], "***");
    }

    #[test]
    fn sensitive_keys_are_masked_anywhere_but_labels() {
        let object = |token: &str| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c",
                    "labels": {"api-token": "visible"},
                    "annotations": {"meshctl.dev/api-token": token, "team": "core"}},
                "data": {"DB_PASSWORD": token, "DATABASE_URL": format!("postgres://app:{token}@db/app"), "LOG_LEVEL": "info"}})
        };
        let mut before = Some(object("s3cr3t-one"));
        let mut after = Some(object("s3cr3t-two"));
        mask_pair(&mut before, &mut after);
        let (before, after) = (before.unwrap(), after.unwrap());
        assert_eq!(after["metadata"]["annotations"]["meshctl.dev/api-token"], "*** (after)");
        assert_eq!(before["metadata"]["annotations"]["meshctl.dev/api-token"], "*** (before)");
        assert_eq!(after["metadata"]["annotations"]["team"], "core");
        assert_eq!(after["metadata"]["labels"]["api-token"], "visible");
        assert_eq!(after["data"]["DB_PASSWORD"], "*** (after)");
        assert_eq!(after["data"]["DATABASE_URL"], "*** (after)");
        assert_eq!(after["data"]["LOG_LEVEL"], "info");
        let text = unified("ConfigMap/c", Some(&before), Some(&after)).unwrap();
        assert!(!text.contains("s3cr3t"), "{text}");
    }

    #[test]
    fn equal_sensitive_values_are_masked_and_show_no_change() {
        let object = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "app",
            "env": [{"name": "API_KEY", "value": "abc123"}, {"name": "MODE", "value": "fast"},
                    {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}]}]}}}});
        let mut before = Some(object.clone());
        let mut after = Some(object);
        mask_pair(&mut before, &mut after);
        let env = &after.as_ref().unwrap()["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env[0]["value"], "***");
        assert_eq!(env[1]["value"], "fast");
        assert_eq!(env[2]["valueFrom"]["secretKeyRef"], json!({"name": "creds", "key": "token"}));
        assert_eq!(unified("Deployment/d", before.as_ref(), after.as_ref()), None);
    }

    #[test]
    fn key_names() {
        for sensitive in [
            "password",
            "DB_PASSWORD",
            "apiKey",
            "api-key",
            "api_key",
            "clientSecret",
            "private_key",
            "aws.credentials",
            "SENTRY_DSN",
            "connectionString",
            "meshctl.dev/registry-token",
        ] {
            assert!(is_sensitive_key(sensitive), "{sensitive}");
        }
        for plain in ["secretName", "secretKeyRef", "tokenPath", "name", "image", "replicas", "passwordFile"] {
            assert!(!is_sensitive_key(plain), "{plain}");
        }
        assert!(is_url_with_password("redis://:pw@cache:6379/0"));
        assert!(!is_url_with_password("https://user@example.com/a:b"));
        assert!(!is_url_with_password("http://runner:8080/health"));
    }

    #[test]
    fn unified_names_the_object_and_is_none_when_equal() {
        let a = json!({"kind": "ConfigMap", "data": {"k": "1"}});
        let b = json!({"kind": "ConfigMap", "data": {"k": "2"}});
        let text = unified("ConfigMap/ns/c", Some(&a), Some(&b)).unwrap();
        assert!(text.starts_with("--- live ConfigMap/ns/c\n+++ rendered ConfigMap/ns/c\n"), "{text}");
        assert!(text.contains("-  k: \"1\"\n+  k: \"2\"\n"), "{text}");
        assert_eq!(unified("ConfigMap/ns/c", Some(&a), Some(&a)), None);
        let created = unified("ConfigMap/ns/c", None, Some(&a)).unwrap();
        assert!(created.lines().skip(3).all(|l| l.starts_with('+')), "{created}");
    }

    #[test]
    fn a_deletion_diff_masks_secrets() {
        let d = deletion(&secret(json!({"k": "c2VjcmV0"})), false);
        assert_eq!(d.change, Change::Delete);
        assert_eq!(d.object, "Secret/ns/s");
        assert!(d.text.contains("-  k: ***") || d.text.contains("-  k: \"***\""), "{}", d.text);
        assert!(!d.text.contains("c2VjcmV0"));
    }
}
