//! The values stack: chart defaults → profile → environment → offline
//! overlays → each `-f FILE` → each `--set` then each `--set-string`, merged
//! with Helm's rules (maps merge deeply, lists and scalars replace, `null`
//! deletes the key), then checked against the chart's values schema.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub use super::error::ValuesError;
use crate::assets::{Assets, CHART_DIR};
use crate::digest::sha256;
use crate::error::Result;
use crate::profile::set::apply_set_expression;
use crate::profile::{EffectiveProfile, Provider};
use crate::violation::schema_violations;
use crate::yaml;

/// One `--set` / `--set-string` as given on the command line (in a
/// request: `{"set": "a.b=c"}` or `{"setString": "a.b=c"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SetValue {
    /// `--set EXPR`: typed scalars.
    #[serde(rename = "set")]
    Typed(String),
    /// `--set-string EXPR`: every value a string.
    #[serde(rename = "setString")]
    String(String),
}

impl SetValue {
    fn flag(&self) -> &'static str {
        match self {
            SetValue::Typed(_) => "--set",
            SetValue::String(_) => "--set-string",
        }
    }

    fn expr(&self) -> &str {
        match self {
            SetValue::Typed(e) | SetValue::String(e) => e,
        }
    }
}

/// One values layer the user adds: a file (`-f FILE`), or YAML/JSON text
/// given inline (`{"inline": {"name": "ci.yaml", "text": "..."}}` in a
/// request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ValuesFile {
    /// A file on disk.
    Path(PathBuf),
    /// Text held in memory, named for messages.
    Inline {
        /// How messages name it.
        name: String,
        /// YAML (or JSON) holding a map.
        text: String,
    },
}

impl From<PathBuf> for ValuesFile {
    fn from(path: PathBuf) -> Self {
        ValuesFile::Path(path)
    }
}

/// The user's additions to the stack, in command-line order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserValues {
    /// `-f FILE` (or inline texts), in order.
    #[serde(default)]
    pub files: Vec<ValuesFile>,
    /// `--set` and `--set-string`; Helm applies every `--set` before any
    /// `--set-string`, and so does meshctl.
    #[serde(default)]
    pub sets: Vec<SetValue>,
}

/// One layer of the stack as recorded in `render.json`.
#[derive(Debug, Clone, Serialize)]
pub struct LayerRecord {
    /// `chart`, `profile`, `environment`, `offline-values`, `file`, `set`.
    pub source: &'static str,
    /// The file, for file layers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// `--set` / `--set-string`, for set layers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<&'static str>,
    /// SHA-256 of the layer's input (file bytes or expression): enough to
    /// tell runs apart without recording a secret passed with `--set`.
    pub sha256: String,
}

/// The merged values and how they were made.
#[derive(Debug, Clone)]
pub struct Values {
    /// The merged values.
    pub merged: Value,
    /// The layers, lowest first.
    pub layers: Vec<LayerRecord>,
}

/// Deep-merges `overlay` into `base` with Helm's rules: maps merge, other
/// values replace, and `null` in the overlay deletes the key.
pub fn merge_into(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(&k);
                } else if let Some(existing) = b.get_mut(&k) {
                    merge_into(existing, v);
                } else {
                    b.insert(k, strip_nulls(v));
                }
            }
        }
        (b, o) => *b = strip_nulls(o),
    }
}

/// A new subtree carries no deletions: drop its null map entries so the
/// result matches Helm's coalescing.
fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip_nulls(v))).collect())
        }
        other => other,
    }
}

/// The values a profile implies for the chart: registry, ingress, storage,
/// which services run in the cluster, the secrets backend, monitoring.
pub fn profile_values(p: &EffectiveProfile) -> Value {
    let t = &p.target;
    let mut secrets = json!({
        "backend": t.secrets.backend,
        "prefix": t.secrets.prefix,
    });
    if let Some(interval) = &t.secrets.refresh_interval {
        secrets["refreshInterval"] = json!(interval);
    }
    match t.provider {
        Provider::Aws => secrets["awsRegion"] = json!(t.region),
        Provider::Gcp => secrets["gcpProject"] = json!(t.project),
        Provider::Azure => secrets["vaultUrl"] = json!(t.secrets.vault_url),
        Provider::Offline => {}
    }
    json!({
        "global": {
            "provider": t.provider.as_str(),
            "environment": p.environment,
            "imageRegistry": t.registry.host,
            "imagePullSecrets": t.registry.pull_secret.iter().collect::<Vec<_>>(),
            "logLevel": t.observability.log_level,
        },
        "ingress": {
            "className": t.ingress.class_name,
            "host": t.ingress.host,
            "tls": { "enabled": t.ingress.tls.enabled, "issuer": t.ingress.tls.issuer },
        },
        "persistence": { "storageClass": t.storage_class },
        "postgresql": {
            "enabled": t.database.mode == "in-cluster",
            "storage": format!("{}Gi", t.database.storage_gib),
        },
        "redis": { "enabled": t.cache.mode == "in-cluster" },
        "monitoring": { "enabled": t.observability.monitoring },
        "secrets": secrets,
    })
}

/// Builds the values stack for a profile environment and the user's
/// additions, and checks the result against the values schema.
pub fn build_values(assets: &Assets, profile: &EffectiveProfile, user: &UserValues) -> Result<Values> {
    let mut layers = Vec::new();
    // Each layer's own tree, kept to say which layer set a bad value.
    let mut provenance: Vec<(String, Value)> = Vec::new();

    let defaults_path = format!("{CHART_DIR}/values.yaml");
    let defaults_file = assets.display_path(&defaults_path);
    let defaults_text = assets.text(&defaults_path)?;
    let mut merged = as_map(&defaults_file, yaml::parse_one(&defaults_file, defaults_text)?)?;
    layers.push(LayerRecord {
        source: "chart",
        file: Some(defaults_path.clone()),
        flag: None,
        sha256: sha256(defaults_text.as_bytes()),
    });
    provenance.push((format!("chart defaults `{defaults_file}`"), merged.clone()));

    let mut profile_layer = profile_values(profile);
    merge_into(&mut profile_layer, profile.values.clone());
    let profile_text = assets.text(&profile.rel_path)?;
    layers.push(LayerRecord {
        source: "profile",
        file: Some(profile.rel_path.clone()),
        flag: None,
        sha256: sha256(profile_text.as_bytes()),
    });
    provenance.push((format!("profile `{}`", profile.file), profile_layer.clone()));
    merge_into(&mut merged, profile_layer);

    layers.push(LayerRecord {
        source: "environment",
        file: Some(format!("{}#/spec/environments/{}", profile.rel_path, profile.environment)),
        flag: None,
        sha256: sha256(serde_json::to_string(&profile.environment_values).unwrap_or_default().as_bytes()),
    });
    provenance.push((
        format!("environment `{}` of `{}`", profile.environment, profile.file),
        profile.environment_values.clone(),
    ));
    merge_into(&mut merged, profile.environment_values.clone());

    for name in &profile.target.offline_values {
        let rel = format!("offline-values/{name}");
        let file = assets.display_path(&rel);
        let Some(bytes) = assets.get(&rel) else {
            return Err(
                ValuesError::MissingOverlay { profile: profile.name.clone(), name: name.clone(), path: file }.into()
            );
        };
        let text = assets.text(&rel)?;
        let layer = as_map(&file, yaml::parse_one(&file, text)?)?;
        layers.push(LayerRecord {
            source: "offline-values",
            file: Some(rel.clone()),
            flag: None,
            sha256: sha256(bytes),
        });
        provenance.push((format!("offline values `{file}`"), layer.clone()));
        merge_into(&mut merged, layer);
    }

    for values_file in &user.files {
        let (file, bytes) = match values_file {
            // Bounded, and only a regular file: `-f /dev/zero` is refused.
            ValuesFile::Path(path) => {
                (path.display().to_string(), crate::input::read_bytes(path, yaml::MAX_DOCUMENT_BYTES as u64)?)
            }
            ValuesFile::Inline { name, text } => (name.clone(), text.as_bytes().to_vec()),
        };
        let text = std::str::from_utf8(&bytes).map_err(|e| yaml::YamlError {
            file: file.clone(),
            line: None,
            column: None,
            message: format!("not UTF-8: {e}"),
        })?;
        let layer = as_map(&file, yaml::parse_one(&file, text)?)?;
        layers.push(LayerRecord { source: "file", file: Some(file.clone()), flag: None, sha256: sha256(&bytes) });
        provenance.push((format!("values file `{file}`"), layer.clone()));
        merge_into(&mut merged, layer);
    }

    let ordered = user
        .sets
        .iter()
        .filter(|s| matches!(s, SetValue::Typed(_)))
        .chain(user.sets.iter().filter(|s| matches!(s, SetValue::String(_))));
    for set in ordered {
        let as_string = matches!(set, SetValue::String(_));
        let invalid = |message: String| ValuesError::Set { flag: set.flag(), expr: set.expr().to_owned(), message };
        apply_set_expression(&mut merged, set.expr(), as_string).map_err(invalid)?;
        let mut alone = Value::Object(Map::new());
        apply_set_expression(&mut alone, set.expr(), as_string).map_err(invalid)?;
        layers.push(LayerRecord {
            source: "set",
            file: None,
            flag: Some(set.flag()),
            sha256: sha256(set.expr().as_bytes()),
        });
        provenance.push((format!("{} `{}`", set.flag(), set.expr()), alone));
    }

    check_schema(assets, &merged, &provenance)?;
    Ok(Values { merged, layers })
}

fn check_schema(assets: &Assets, merged: &Value, provenance: &[(String, Value)]) -> Result<()> {
    let schema_path = format!("{CHART_DIR}/values.schema.json");
    let schema_file = assets.display_path(&schema_path);
    let validator = assets.json_schema(&schema_path)?;
    let mut violations = schema_violations(&validator, merged);
    if violations.is_empty() {
        return Ok(());
    }
    for v in &mut violations {
        let sensitive = is_sensitive_at(merged, &v.pointer);
        if sensitive {
            // A value under a key like `password` never reaches a message,
            // even when it is the wrong type.
            if let Some(value) = merged.pointer(&v.pointer).filter(|v| !v.is_boolean() && !v.is_null()) {
                let encoded = serde_json::to_string(value).unwrap_or_default();
                v.message = v.message.replace(&encoded, "***");
                if let Some(text) = value.as_str().filter(|t| !t.is_empty()) {
                    v.message = v.message.replace(text, "***");
                }
            }
        }
        if let Some((layer, _)) =
            provenance.iter().rev().find(|(_, tree)| tree.pointer(&v.pointer).is_some() && !v.pointer.is_empty())
        {
            let layer = match layer.split_once(' ') {
                // `--set `db.password=hunter2`` would print the value.
                Some((flag, _)) if sensitive && flag.starts_with("--set") => format!("{flag} (value not shown)"),
                _ => layer.clone(),
            };
            v.message = format!("{} (set by {layer})", v.message);
        }
    }
    Err(ValuesError::Schema { schema: schema_file, violations }.into())
}

/// Whether the value at `pointer` looks secret: a key on its path is
/// sensitive, or it is a URL with a password.
fn is_sensitive_at(values: &Value, pointer: &str) -> bool {
    let keys = pointer.split('/').skip(1).map(|k| k.replace("~1", "/").replace("~0", "~"));
    keys.into_iter().any(|k| crate::sensitive::is_sensitive_key(&k))
        || values.pointer(pointer).and_then(Value::as_str).is_some_and(crate::sensitive::is_url_with_password)
}

fn as_map(file: &str, v: Value) -> Result<Value> {
    match v {
        Value::Object(_) => Ok(v),
        Value::Null => Ok(Value::Object(Map::new())),
        other => Err(ValuesError::NotAMap { file: file.to_owned(), found: yaml::type_name(&other) }.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_follows_helm_rules() {
        let mut base = json!({"a": {"b": 1, "c": 2}, "list": [1, 2, 3], "gone": {"x": 1}, "s": "x"});
        merge_into(&mut base, json!({"a": {"c": 3, "d": 4}, "list": [9], "gone": null, "s": {"now": "map"}}));
        assert_eq!(base, json!({"a": {"b": 1, "c": 3, "d": 4}, "list": [9], "s": {"now": "map"}}));
    }

    #[test]
    fn null_inside_new_subtree_is_dropped() {
        let mut base = json!({});
        merge_into(&mut base, json!({"new": {"a": null, "b": 1}}));
        assert_eq!(base, json!({"new": {"b": 1}}));
    }
}
