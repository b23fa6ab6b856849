//! Schemas for kinds Kubernetes does not build in: the openAPIV3Schema of
//! CustomResourceDefinitions (from the input itself and `--crds DIR`), and
//! JSON schemas found through kubeconform-style `--schema-location`
//! templates over local paths. Each schema is compiled once and cached.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{json, Map, Value};

use crate::validate::model::Finding;

/// A compiled schema and where it came from.
pub struct CompiledSchema {
    validator: jsonschema::Validator,
    /// The CRD or file it came from, for messages.
    pub source: String,
}

impl CompiledSchema {
    /// Every violation of `value`, as `schema` findings with pointers.
    pub fn check(&self, value: &Value) -> Vec<Finding> {
        let mut out: Vec<Finding> = self
            .validator
            .iter_errors(value)
            .map(|e| {
                let pointer = e.instance_path().to_string();
                Finding::error("schema", Some(pointer), format!("{e} (schema: {})", self.source))
            })
            .collect();
        out.sort_by(|a, b| a.pointer.cmp(&b.pointer).then_with(|| a.message.cmp(&b.message)));
        out.dedup();
        out
    }
}

type Gvk = (String, String, String);

/// Where custom resources find their schemas.
pub struct SchemaRegistry {
    strict: bool,
    kubernetes_version: String,
    crds: RwLock<HashMap<Gvk, Arc<CompiledSchema>>>,
    locations: Vec<String>,
    files: Mutex<HashMap<PathBuf, Option<Arc<CompiledSchema>>>>,
}

impl SchemaRegistry {
    /// An empty registry. `locations` are `--schema-location` templates.
    pub fn new(strict: bool, kubernetes_version: &str, locations: Vec<String>) -> Self {
        SchemaRegistry {
            strict,
            kubernetes_version: kubernetes_version.to_owned(),
            crds: RwLock::new(HashMap::new()),
            locations,
            files: Mutex::new(HashMap::new()),
        }
    }

    /// Registers every served version of a CustomResourceDefinition
    /// (apiextensions.k8s.io v1 or v1beta1). Returns how many versions had
    /// a schema, or why the CRD could not be used.
    pub fn add_crd(&self, crd: &Value, source: &str) -> Result<usize, String> {
        let spec = &crd["spec"];
        let group = spec["group"].as_str().ok_or("CRD has no spec.group")?;
        let kind = spec["names"]["kind"].as_str().ok_or("CRD has no spec.names.kind")?;
        let name = crd["metadata"]["name"].as_str().unwrap_or(kind);
        // v1beta1 CRDs may hold one schema for all versions.
        let shared = spec.pointer("/validation/openAPIV3Schema");
        let mut versions: Vec<(String, &Value)> = Vec::new();
        if let Some(list) = spec["versions"].as_array() {
            for v in list {
                let Some(version) = v["name"].as_str() else { continue };
                if let Some(schema) = v.pointer("/schema/openAPIV3Schema").or(shared) {
                    versions.push((version.to_owned(), schema));
                }
            }
        } else if let (Some(version), Some(schema)) = (spec["version"].as_str(), shared) {
            versions.push((version.to_owned(), schema));
        }
        let mut added = 0;
        for (version, schema) in versions {
            let converted = to_json_schema(schema, self.strict, true);
            let validator = jsonschema::validator_for(&converted)
                .map_err(|e| format!("the openAPIV3Schema of version {version} does not compile: {e}"))?;
            let compiled = Arc::new(CompiledSchema { validator, source: format!("CRD {name} from {source}") });
            self.crds.write().expect("lock").insert((group.to_owned(), version, kind.to_owned()), compiled);
            added += 1;
        }
        Ok(added)
    }

    /// The schema for `apiVersion`/`kind`: a registered CRD, else the first
    /// `--schema-location` template that names an existing file.
    pub fn lookup(&self, api_version: &str, kind: &str) -> Result<Option<Arc<CompiledSchema>>, String> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let key = (group.to_owned(), version.to_owned(), kind.to_owned());
        if let Some(s) = self.crds.read().expect("lock").get(&key) {
            return Ok(Some(s.clone()));
        }
        for template in &self.locations {
            let path =
                PathBuf::from(expand_location(template, api_version, kind, &self.kubernetes_version, self.strict));
            if let Some(found) = self.load_file(&path)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    fn load_file(&self, path: &Path) -> Result<Option<Arc<CompiledSchema>>, String> {
        let mut files = self.files.lock().expect("lock");
        if let Some(cached) = files.get(path) {
            return Ok(cached.clone());
        }
        let compiled = match std::fs::read_to_string(path) {
            Err(_) => None,
            Ok(text) => {
                // JSON is YAML: one parser reads both.
                let schema: Value = crate::yaml::parse_one(&path.display().to_string(), &text)
                    .map_err(|e| format!("schema is not JSON or YAML: {e}"))?;
                let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
                let validator = jsonschema::options()
                    .with_base_uri(format!("file://{}", abs.display()))
                    .build(&schema)
                    .map_err(|e| format!("schema `{}` does not compile: {e}", path.display()))?;
                Some(Arc::new(CompiledSchema { validator, source: path.display().to_string() }))
            }
        };
        files.insert(path.to_owned(), compiled.clone());
        Ok(compiled)
    }
}

/// Expands a kubeconform schema-location template. Variables (Go template
/// syntax, spaces optional): `.ResourceKind` (lowercase kind),
/// `.ResourceAPIVersion` (the version part), `.Group` (the group, or the
/// version for the core group), `.KindSuffix` (`-<first label of group>-<version>`),
/// `.NormalizedKubernetesVersion` (`v1.33` or `master`), `.StrictSuffix`
/// (`-strict` in strict mode). A template with no variable is a directory
/// or file prefix: `<it>/<kind><kindsuffix>.json`, as kubeconform does.
pub fn expand_location(template: &str, api_version: &str, kind: &str, k8s_version: &str, strict: bool) -> String {
    let parts: Vec<&str> = api_version.split('/').collect();
    let first_label = parts[0].split('.').next().unwrap_or_default().to_lowercase();
    let mut kind_suffix = format!("-{first_label}");
    if parts.len() > 1 {
        kind_suffix.push_str(&format!("-{}", parts[1].to_lowercase()));
    }
    let normalized = if k8s_version == "master" { "master".to_owned() } else { format!("v{k8s_version}") };
    let vars = [
        ("ResourceKind", kind.to_lowercase()),
        ("ResourceAPIVersion", parts[parts.len() - 1].to_owned()),
        ("Group", parts[0].to_owned()),
        ("KindSuffix", kind_suffix),
        ("NormalizedKubernetesVersion", normalized),
        ("StrictSuffix", if strict { "-strict".to_owned() } else { String::new() }),
    ];
    if !template.contains("{{") {
        let base = template.trim_end_matches('/');
        if base.ends_with(".json") {
            return base.to_owned();
        }
        return format!("{base}/{}{}.json", vars[0].1, vars[3].1);
    }
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = rest[start + 2..start + end].trim().trim_start_matches('.');
        match vars.iter().find(|(k, _)| *k == name) {
            Some((_, v)) => out.push_str(v),
            None => out.push_str(&rest[start..start + end + 2]),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// Turns a CRD's structural openAPIV3Schema into a JSON schema the
/// `jsonschema` crate checks as the API server would: `nullable` admits
/// null, `x-kubernetes-int-or-string` admits both, and — in strict mode —
/// objects that list their properties admit no others unless
/// `x-kubernetes-preserve-unknown-fields` says so. At the root, apiVersion,
/// kind and metadata are always allowed.
fn to_json_schema(schema: &Value, strict: bool, root: bool) -> Value {
    let Some(obj) = schema.as_object() else { return schema.clone() };
    let mut out = Map::new();
    for (k, v) in obj {
        let converted = match k.as_str() {
            "properties" | "patternProperties" | "definitions" => match v.as_object() {
                Some(props) => Value::Object(
                    props.iter().map(|(name, s)| (name.clone(), to_json_schema(s, strict, false))).collect(),
                ),
                None => v.clone(),
            },
            "items" | "additionalProperties" | "not" if v.is_object() => to_json_schema(v, strict, false),
            "allOf" | "anyOf" | "oneOf" => match v.as_array() {
                Some(list) => Value::Array(list.iter().map(|s| to_json_schema(s, strict, false)).collect()),
                None => v.clone(),
            },
            _ => v.clone(),
        };
        out.insert(k.clone(), converted);
    }
    if root {
        let props = out.entry("properties").or_insert_with(|| json!({}));
        if let Some(props) = props.as_object_mut() {
            props.entry("apiVersion").or_insert_with(|| json!({"type": "string"}));
            props.entry("kind").or_insert_with(|| json!({"type": "string"}));
            props.entry("metadata").or_insert_with(|| json!({"type": "object"}));
        }
        out.entry("type").or_insert_with(|| json!("object"));
    }
    let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if strict && !preserve && out.contains_key("properties") && !out.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        out.remove("type");
        out.insert("anyOf".into(), json!([{"type": "integer"}, {"type": "string"}]));
    }
    if obj.get("nullable") == Some(&Value::Bool(true)) {
        return json!({"anyOf": [Value::Object(out), {"type": "null"}]});
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_kubeconform_templates() {
        let t = "/s/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json";
        assert_eq!(
            expand_location(t, "apps/v1", "Deployment", "1.33", true),
            "/s/v1.33-standalone-strict/deployment-apps-v1.json"
        );
        assert_eq!(
            expand_location(
                "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json",
                "grafana.integreatly.org/v1beta1",
                "GrafanaAlertRuleGroup",
                "1.33",
                false
            ),
            "grafana.integreatly.org/grafanaalertrulegroup_v1beta1.json"
        );
        assert_eq!(expand_location("dir/", "v1", "Service", "1.33", false), "dir/service-v1.json");
    }

    #[test]
    fn crd_schema_is_strict_and_knows_int_or_string() {
        let reg = SchemaRegistry::new(true, "1.33", vec![]);
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Widget"}, "versions": [{"name": "v1", "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "properties": {
                    "port": {"x-kubernetes-int-or-string": true},
                    "note": {"type": "string", "nullable": true},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                }}}
            }}}]}
        });
        assert_eq!(reg.add_crd(&crd, "test").unwrap(), 1);
        let schema = reg.lookup("example.com/v1", "Widget").unwrap().unwrap();
        let ok = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"port": "http", "note": null, "free": {"anything": 1}}});
        assert!(schema.check(&ok).is_empty(), "{:?}", schema.check(&ok));
        let bad = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"port": 1.5, "extra": 1}});
        let pointers: Vec<_> = schema.check(&bad).into_iter().map(|f| f.pointer.unwrap()).collect();
        assert_eq!(pointers, ["/spec", "/spec/port"]);
    }
}
