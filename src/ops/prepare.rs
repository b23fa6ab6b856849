//! `prepare`: a release's manifest set, rendered or read exactly once,
//! placed in its namespace, put in apply order and validated. What
//! `apply` sends and records is this set, byte for byte: the digest of the
//! validated objects is the digest in the release record.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::validate::{split_terraform, validate_render};
use super::{render, Context, RenderRequest};
use crate::cluster::release::ReleaseContent;
use crate::digest::sha256_of_values;
use crate::error::{Error, Result};
use crate::input;
use crate::kinds::{Scope, Tier};
use crate::validate::model::Report;
use crate::validate::{self, ValidateOptions};

/// The release name when neither `--release` nor the objects' instance
/// label give one.
pub const DEFAULT_RELEASE: &str = "testmesh";

/// What a release is made of.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// A profile environment, rendered from the chart.
    Render(RenderRequest),
    /// Manifest files or directories (e.g. a `render --out` directory's
    /// `manifests/`), applied as they are.
    Paths(Vec<String>),
    /// Manifest documents given inline (the HTTP API): name for messages,
    /// and YAML or JSON text.
    Documents(Vec<NamedText>),
}

/// A text given inline, with the name messages call it by.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedText {
    /// How messages name it (`preview.yaml`).
    pub name: String,
    /// Its content.
    pub text: String,
}

/// What to prepare.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrepareRequest {
    /// The objects.
    pub source: Source,
    /// Release name; default: the objects' `app.kubernetes.io/instance`
    /// label, else `testmesh`.
    #[serde(default)]
    pub release: Option<String>,
    /// Namespace for namespaced objects that name none, and of the release
    /// when the set has no Namespace object; default: the cluster
    /// context's, else `default`.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// A release's identity: name and namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRef {
    /// Release name.
    pub name: String,
    /// Namespace of its records, lock and inventory.
    pub namespace: String,
}

/// A manifest set ready to apply: what it is, where it goes, and what
/// validation found.
#[derive(Clone, Debug)]
pub struct PreparedSet {
    /// The release it belongs to.
    pub release: ReleaseRef,
    /// The objects in apply order, each in its namespace, and where they
    /// came from: exactly what is validated, applied and recorded.
    pub content: ReleaseContent,
    /// SHA-256 of `content.manifests` (see [`sha256_of_values`]).
    pub digest: String,
    /// What validation found; apply refuses a set that is not clean.
    pub report: Report,
}

impl PreparedSet {
    /// The objects, in apply order.
    pub fn objects(&self) -> &[Value] {
        &self.content.manifests
    }

    /// Whether validation found no error.
    pub fn is_valid(&self) -> bool {
        self.report.is_clean()
    }
}

/// Renders or reads the source once, places every object, and validates
/// the result. Problems inside the objects are in the report; an input
/// that cannot be read or rendered is an error.
pub fn prepare(ctx: &Context, request: &PrepareRequest) -> Result<PreparedSet> {
    let loaded = load(ctx, request)?;
    let opts = ValidateOptions { default_namespace: loaded.release.namespace.clone(), ..Default::default() };
    let report = match &loaded.inputs {
        Inputs::Render(set) => validate_render(ctx.assets(), set, &opts)?,
        Inputs::Texts { texts, modules } => {
            let mut report = validate::validate_texts(texts, &opts, ctx.assets())?;
            for (dir, files) in modules {
                report.resources.extend(validate::validate_terraform(dir, files));
            }
            report
        }
    };
    let digest = sha256_of_values(&loaded.content.manifests);
    tracing::debug!(release = %loaded.release.name, objects = loaded.content.manifests.len(), %digest, "prepared");
    Ok(PreparedSet { release: loaded.release, content: loaded.content, digest, report })
}

/// The release a request addresses, rendering or reading its source but
/// not validating it (`status`, `history`, `rollback`). Without a source,
/// `release` (default `testmesh`) in `namespace` or the context's.
pub fn identify(
    ctx: &Context,
    source: Option<&Source>,
    release: Option<&str>,
    namespace: Option<&str>,
) -> Result<ReleaseRef> {
    match source {
        Some(source) => {
            let request = PrepareRequest {
                source: source.clone(),
                release: release.map(String::from),
                namespace: namespace.map(String::from),
            };
            Ok(load(ctx, &request)?.release)
        }
        None => Ok(ReleaseRef {
            name: release.unwrap_or(DEFAULT_RELEASE).to_string(),
            namespace: fallback_namespace(ctx, namespace),
        }),
    }
}

/// A source read once, before validation.
struct Loaded {
    release: ReleaseRef,
    content: ReleaseContent,
    inputs: Inputs,
}

/// The texts the objects were parsed from, kept for validation (which
/// names files and lines).
enum Inputs {
    Render(Box<crate::render::RenderSet>),
    Texts { texts: Vec<(String, String)>, modules: std::collections::BTreeMap<String, super::validate::Module> },
}

fn load(ctx: &Context, request: &PrepareRequest) -> Result<Loaded> {
    let (objects, content, inputs) = match &request.source {
        Source::Render(render_request) => {
            let set = render(ctx, render_request)?;
            let objects: Vec<Value> = set.objects.iter().map(|o| o.object.clone()).collect();
            let content = ReleaseContent {
                profile: set.profile.clone(),
                environment: set.environment.clone(),
                chart_version: set.record["chart"]["version"].as_str().unwrap_or_default().to_string(),
                manifests: Vec::new(),
                values: set.values.clone(),
            };
            (objects, content, Inputs::Render(Box::new(set)))
        }
        Source::Paths(paths) => {
            let files = input::discover(paths)?;
            let (modules, manifests) = split_terraform(&files)?;
            let mut texts = Vec::with_capacity(manifests.len());
            for file in manifests {
                if let Some(why) = file.skipped() {
                    tracing::warn!(file = %file.name, "{why}");
                    continue;
                }
                let mut text = String::new();
                let mut reader = file.open().map_err(|e| Error::io(std::path::Path::new(&file.name), e))?;
                std::io::Read::read_to_string(&mut reader, &mut text)
                    .map_err(|e| Error::io(std::path::Path::new(&file.name), e))?;
                texts.push((file.name, text));
            }
            (parse_objects(&texts), ReleaseContent::default(), Inputs::Texts { texts, modules })
        }
        Source::Documents(documents) => {
            let texts: Vec<(String, String)> = documents.iter().map(|d| (d.name.clone(), d.text.clone())).collect();
            (parse_objects(&texts), ReleaseContent::default(), Inputs::Texts { texts, modules: Default::default() })
        }
    };
    let release =
        release_of(&objects, request.release.as_deref(), &fallback_namespace(ctx, request.namespace.as_deref()));
    let mut manifests = place(objects, &release.namespace);
    // Apply order: by tier, keeping input order within a tier.
    manifests.sort_by_key(|o| Tier::of(o["kind"].as_str().unwrap_or_default()));
    Ok(Loaded { release, content: ReleaseContent { manifests, ..content }, inputs })
}

/// The objects of manifest texts, `List`s unrolled. A text that does not
/// parse contributes nothing here: validation reports it, and an invalid
/// set is never applied.
fn parse_objects(texts: &[(String, String)]) -> Vec<Value> {
    let mut objects = Vec::new();
    for (name, text) in texts {
        let Ok(docs) = crate::yaml::parse_all(name, text) else { continue };
        for doc in docs {
            if doc["kind"] == "List" && doc.get("items").is_some() {
                objects.extend(doc["items"].as_array().cloned().unwrap_or_default());
            } else {
                objects.push(doc);
            }
        }
    }
    objects
}

fn fallback_namespace(ctx: &Context, namespace: Option<&str>) -> String {
    namespace.map(String::from).or_else(|| ctx.default_namespace()).unwrap_or_else(|| "default".to_string())
}

/// The release a set of objects belongs to: `release`, or the chart's
/// instance label; its namespace is the set's Namespace object (or the
/// first namespaced object's), else `fallback`.
fn release_of(objects: &[Value], release: Option<&str>, fallback: &str) -> ReleaseRef {
    let name = release
        .map(String::from)
        .or_else(|| {
            objects
                .iter()
                .find_map(|o| o["metadata"]["labels"]["app.kubernetes.io/instance"].as_str().map(String::from))
        })
        .unwrap_or_else(|| DEFAULT_RELEASE.into());
    let namespace = objects
        .iter()
        .find(|o| o["kind"] == "Namespace")
        .and_then(|o| o["metadata"]["name"].as_str())
        .or_else(|| objects.iter().find_map(|o| o["metadata"]["namespace"].as_str()))
        .unwrap_or(fallback)
        .to_string();
    ReleaseRef { name, namespace }
}

/// Puts namespaced objects that name no namespace into `namespace`, as
/// kubectl does. Scope comes from the Kubernetes types, well-known
/// operators' kinds and the CRDs in the set itself; an object of a kind
/// none of them knows is left as it is (the cluster's discovery decides).
fn place(objects: Vec<Value>, namespace: &str) -> Vec<Value> {
    let declared: HashMap<String, Scope> = objects.iter().filter_map(Scope::declared_by_crd).collect();
    objects
        .into_iter()
        .map(|mut o| {
            let kind = o["kind"].as_str().unwrap_or_default();
            let scope = Scope::of(kind).or_else(|| declared.get(kind).copied());
            if scope == Some(Scope::Namespaced) && o["metadata"]["namespace"].is_null() && o["metadata"].is_object() {
                o["metadata"]["namespace"] = json!(namespace);
            }
            o
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_placed_by_scope_not_by_name() {
        let objects = vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"}}),
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}}),
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                   "metadata": {"name": "widgets.example.com"},
                   "spec": {"scope": "Namespaced", "names": {"kind": "Widget"}}}),
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
            json!({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}),
        ];
        let placed = place(objects, "team");
        let ns: Vec<Option<&str>> = placed.iter().map(|o| o["metadata"]["namespace"].as_str()).collect();
        assert_eq!(ns, [Some("team"), None, None, None, Some("team"), None]);
    }

    #[test]
    fn the_release_comes_from_the_instance_label_and_the_namespace_object() {
        let objects = vec![
            json!({"kind": "Namespace", "metadata": {"name": "tm"}}),
            json!({"kind": "Service", "metadata": {"name": "a", "labels": {"app.kubernetes.io/instance": "blue"}}}),
        ];
        assert_eq!(release_of(&objects, None, "x"), ReleaseRef { name: "blue".into(), namespace: "tm".into() });
        assert_eq!(release_of(&[], Some("r"), "x"), ReleaseRef { name: "r".into(), namespace: "x".into() });
    }
}
