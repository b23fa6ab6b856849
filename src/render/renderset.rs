//! From values to a [`RenderSet`]: every chart template rendered and split
//! into objects, labelled, ordered into apply tiers and named so that a
//! sorted listing is the apply order; plus the Terraform module.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Map, Value};
use tera::Context;

use crate::assets::Assets;
use crate::assets::CHART_DIR;
use crate::digest::sha256;
use crate::error::{Error, Result};
use crate::kinds::{Scope, Tier};
use crate::profile::values::Values;
use crate::profile::EffectiveProfile;
use crate::render::engine::{Engine, Policy};
use crate::render::terraform::tfvars;
use crate::render::RenderError;
use crate::yaml;

/// `Chart.yaml`'s identity.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartMeta {
    /// Chart name.
    pub name: String,
    /// Chart version.
    pub version: String,
    /// Version of the application the chart deploys; the default image tag.
    pub app_version: String,
}

/// One rendered Kubernetes object.
#[derive(Debug, Clone)]
pub struct RenderedObject {
    /// File name under `manifests/`: `<tier>-<kind>-<name>.yaml`.
    pub file_name: String,
    /// Apply tier.
    pub tier: Tier,
    /// The template that produced it (Tera name).
    pub template: String,
    /// The object.
    pub object: Value,
    /// The object as YAML text.
    pub yaml: String,
}

impl RenderedObject {
    /// `apiVersion`.
    pub fn api_version(&self) -> &str {
        self.object["apiVersion"].as_str().unwrap_or_default()
    }
    /// `kind`.
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }
    /// `metadata.namespace`, if set.
    pub fn namespace(&self) -> Option<&str> {
        self.object["metadata"]["namespace"].as_str()
    }
}

/// Everything one render produces, in memory.
#[derive(Debug, Clone)]
pub struct RenderSet {
    /// The profile.
    pub profile: String,
    /// The environment.
    pub environment: String,
    /// The merged values.
    pub values: Value,
    /// `values.yaml` text.
    pub values_yaml: String,
    /// Objects in apply order.
    pub objects: Vec<RenderedObject>,
    /// Terraform files by name (the module, then `terraform.tfvars.json`).
    pub terraform: BTreeMap<String, String>,
    /// `render.json`: what was rendered from which inputs.
    pub record: Value,
}

/// Renders the chart and the Terraform module for one profile environment
/// with already-built values.
pub fn render_set(assets: &Assets, profile: &EffectiveProfile, values: &Values) -> Result<RenderSet> {
    let chart = chart_meta(assets)?;
    let merged = &values.merged;
    let release = json!({
        "name": merged["releaseName"],
        "namespace": merged["namespace"],
        "environment": profile.environment,
        "profile": profile.name,
        "provider": profile.target.provider.as_str(),
    });
    let mut context = Context::new();
    context.insert("values", merged);
    context.insert("release", &release);
    context.insert("chart", &chart);

    let engine = Engine::load(assets, &format!("{CHART_DIR}/templates"), Policy::EncodedExpressions)?;
    let mut objects: Vec<RenderedObject> = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for name in engine.names() {
        let text = engine.render(&name, &context)?;
        let shown = engine.shown(&name);
        let docs = yaml::parse_all("rendered output", &text).map_err(|e| RenderError::NotYaml {
            template: shown.clone(),
            message: e.to_string(),
            text: numbered(&text),
        })?;
        for (i, mut object) in docs.into_iter().enumerate() {
            check_object(&object).map_err(|message| RenderError::Output {
                template: shown.clone(),
                document: i + 1,
                message,
            })?;
            let kind = object["kind"].as_str().unwrap_or_default().to_owned();
            let cluster_scoped = Scope::of(&kind) == Some(Scope::Cluster);
            if cluster_scoped {
                if let Some(m) = object["metadata"].as_object_mut() {
                    m.remove("namespace");
                }
            } else if object["metadata"]["namespace"].is_null() {
                object["metadata"]["namespace"] = merged["namespace"].clone();
            }
            add_labels(&mut object, merged, &chart);
            let tier = Tier::of(&kind);
            let obj_name = object["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            let file_name = format!("{:02}-{}-{}.yaml", tier.number(), kind.to_ascii_lowercase(), file_safe(&obj_name));
            if let Some(first) = seen.insert(file_name.clone(), shown.clone()) {
                let ns = object["metadata"]["namespace"].as_str().map(|n| format!("{n}/")).unwrap_or_default();
                return Err(
                    RenderError::Duplicate { kind, name: format!("{ns}{obj_name}"), first, second: shown }.into()
                );
            }
            let yaml = yaml::to_yaml_string(&object);
            objects.push(RenderedObject { file_name, tier, template: name.clone(), object, yaml });
        }
    }
    objects.sort_by(|a, b| a.file_name.cmp(&b.file_name));

    let provider = profile.target.provider.as_str();
    let tf_dir = format!("templates/terraform/{provider}");
    let tf_engine = Engine::load(assets, &tf_dir, Policy::NoExpressions)?;
    let mut tf_context = Context::new();
    tf_context.insert("provider", provider);
    tf_context.insert("environment", &profile.environment);
    let mut terraform = BTreeMap::new();
    for name in tf_engine.names() {
        terraform.insert(name.clone(), tf_engine.render(&name, &tf_context)?);
    }
    if terraform.is_empty() {
        return Err(Error::asset(
            assets.display_path(&tf_dir),
            format!("no Terraform module for provider `{provider}`"),
        ));
    }
    let vars = tfvars(profile, merged);
    terraform
        .insert("terraform.tfvars.json".into(), format!("{}\n", serde_json::to_string_pretty(&vars).expect("JSON")));

    let values_yaml = yaml::to_yaml_string(merged);
    let record = json!({
        "meshctl": env!("CARGO_PKG_VERSION"),
        "chart": chart,
        "profile": profile.name,
        "environment": profile.environment,
        "provider": provider,
        "values": values.layers,
        "outputs": {
            "values.yaml": sha256(values_yaml.as_bytes()),
            "manifests": objects.iter().map(|o| json!({
                "file": format!("manifests/{}", o.file_name),
                "apiVersion": o.api_version(),
                "kind": o.kind(),
                "namespace": o.namespace(),
                "name": o.name(),
                "tier": o.tier.number(),
                "template": o.template,
                "sha256": sha256(o.yaml.as_bytes()),
            })).collect::<Vec<_>>(),
            "terraform": terraform.iter().map(|(f, text)| json!({
                "file": format!("terraform/{f}"),
                "sha256": sha256(text.as_bytes()),
            })).collect::<Vec<_>>(),
        },
    });
    Ok(RenderSet {
        profile: profile.name.clone(),
        environment: profile.environment.clone(),
        values: merged.clone(),
        values_yaml,
        objects,
        terraform,
        record,
    })
}

/// Reads `Chart.yaml`.
pub fn chart_meta(assets: &Assets) -> Result<ChartMeta> {
    let path = format!("{CHART_DIR}/Chart.yaml");
    let shown = assets.display_path(&path);
    let doc = yaml::parse_one(&shown, assets.text(&path)?)?;
    let field = |k: &str| {
        doc[k].as_str().map(str::to_owned).ok_or_else(|| Error::asset(shown.clone(), format!("no string `{k}`")))
    };
    Ok(ChartMeta { name: field("name")?, version: field("version")?, app_version: field("appVersion")? })
}

fn check_object(object: &Value) -> Result<(), String> {
    let Some(map) = object.as_object() else {
        return Err(format!("expected a map, found {}", yaml::type_name(object)));
    };
    for key in ["apiVersion", "kind"] {
        match map.get(key) {
            Some(Value::String(s)) if !s.is_empty() => {}
            _ => return Err(format!("`{key}` must be a non-empty string")),
        }
    }
    match object.pointer("/metadata/name") {
        Some(Value::String(s)) if !s.is_empty() => Ok(()),
        _ => Err("`metadata.name` must be a non-empty string".into()),
    }
}

/// Adds the standard `app.kubernetes.io/*` labels and the values'
/// `commonLabels` / `commonAnnotations` to an object and to its pod
/// template, without overriding what the template set.
fn add_labels(object: &mut Value, values: &Value, chart: &ChartMeta) {
    let component = object["metadata"]["labels"]["app.kubernetes.io/component"].clone();
    let mut standard = Map::new();
    standard.insert("app.kubernetes.io/name".into(), json!(chart.name));
    standard.insert("app.kubernetes.io/instance".into(), values["releaseName"].clone());
    standard.insert("app.kubernetes.io/version".into(), json!(chart.app_version));
    if !component.is_null() {
        standard.insert("app.kubernetes.io/component".into(), component);
    }
    standard.insert("app.kubernetes.io/part-of".into(), json!("testmesh"));
    standard.insert("app.kubernetes.io/managed-by".into(), json!("meshctl"));
    if let Some(common) = values["commonLabels"].as_object() {
        for (k, v) in common {
            standard.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let annotations = values["commonAnnotations"].as_object().cloned().unwrap_or_default();

    let mut metas: Vec<&str> = vec!["/metadata"];
    let kind = object["kind"].as_str().unwrap_or_default();
    if matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "ReplicaSet") {
        metas.push("/spec/template/metadata");
    } else if kind == "CronJob" {
        metas.push("/spec/jobTemplate/spec/template/metadata");
    }
    for pointer in metas {
        let Some(meta) = object.pointer_mut(pointer).and_then(Value::as_object_mut) else { continue };
        merge_sorted(meta, "labels", &standard);
        if !annotations.is_empty() {
            merge_sorted(meta, "annotations", &annotations);
        }
    }
}

/// Fills `meta[key]` with entries of `extra` it lacks and sorts the keys,
/// so label order never depends on template order.
fn merge_sorted(meta: &mut Map<String, Value>, key: &str, extra: &Map<String, Value>) {
    let existing = meta.remove(key).and_then(|v| match v {
        Value::Object(m) => Some(m),
        _ => None,
    });
    let mut all: BTreeMap<String, Value> = existing.unwrap_or_default().into_iter().collect();
    for (k, v) in extra {
        all.entry(k.clone()).or_insert_with(|| v.clone());
    }
    meta.insert(key.to_owned(), Value::Object(all.into_iter().collect()));
}

fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect()
}

fn numbered(text: &str) -> String {
    text.lines().enumerate().map(|(i, l)| format!("{:>4} | {l}\n", i + 1)).collect()
}
