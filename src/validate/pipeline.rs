//! The validation pipeline: inputs streamed document by document and
//! checked in parallel batches, custom resources against the schemas of the
//! whole input, then the cross-object checks.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde_json::Value;

use super::model::{Finding, Report, ResourceReport, Severity, Status};
use super::schema::SchemaRegistry;
use super::{builtin, cross, lint, rules, ValidateOptions, KUBERNETES_VERSION};
use crate::assets::Assets;
use crate::error::{Error, Result};
use crate::input::{self, InputFile, InputSource};
use crate::yaml::{DocumentSplitter, RawDocument};

/// apiVersion of meshctl's deployment profiles.
const PROFILE_API_VERSION: &str = "meshctl.dev/v1alpha1";

/// Documents are parsed and checked in batches of this many, in parallel,
/// so a huge file streams in bounded memory.
const BATCH: usize = 256;

/// One checked resource before the cross-object pass.
struct Checked {
    report: ResourceReport,
    facts: Option<cross::Facts>,
    /// A custom resource waiting for the schemas of the whole input.
    deferred: Option<Value>,
}

struct Context<'a> {
    opts: &'a ValidateOptions,
    registry: SchemaRegistry,
    /// What meshctl's own profiles are checked against (`--root` or the
    /// embedded copies).
    assets: &'a Assets,
}

/// Validates files and directories (and `-` for stdin). Fails only when an
/// input or `--crds` directory cannot be found; everything wrong inside
/// the inputs is in the report.
pub fn validate_files(files: &[InputFile], opts: &ValidateOptions, assets: &Assets) -> Result<Report> {
    let ctx = context(opts, assets)?;
    let per_file: Vec<Vec<Checked>> = files.par_iter().map(|f| check_file(f, &ctx)).collect();
    Ok(finish(concat(per_file), &ctx))
}

/// Validates in-memory documents (name, text), as `validate --profile`
/// does with a render.
pub fn validate_texts(texts: &[(String, String)], opts: &ValidateOptions, assets: &Assets) -> Result<Report> {
    let ctx = context(opts, assets)?;
    let per_file: Vec<Vec<Checked>> =
        texts.par_iter().map(|(name, text)| check_stream(name, DocumentSplitter::new(text.as_bytes()), &ctx)).collect();
    Ok(finish(concat(per_file), &ctx))
}

/// Joins per-file results into one vector allocated once (collecting a
/// flattened iterator would grow it by doubling, holding up to twice the
/// results at the peak).
fn concat(per_file: Vec<Vec<Checked>>) -> Vec<Checked> {
    let mut all = Vec::with_capacity(per_file.iter().map(Vec::len).sum());
    for file in per_file {
        all.extend(file);
    }
    all
}

fn context<'a>(opts: &'a ValidateOptions, assets: &'a Assets) -> Result<Context<'a>> {
    let registry = SchemaRegistry::new(opts.strict, &opts.kubernetes_version, opts.schema_locations.clone());
    for dir in &opts.crd_dirs {
        for file in input::discover(&[dir.display().to_string()])? {
            let reader = file.open().map_err(|e| Error::io(dir, e))?;
            load_crds(&registry, &file.name, DocumentSplitter::new(reader))?;
        }
    }
    for (name, text) in &opts.crd_texts {
        load_crds(&registry, name, DocumentSplitter::new(text.as_bytes()))?;
    }
    Ok(Context { opts, registry, assets })
}

/// Registers the CustomResourceDefinitions of a stream; other documents
/// are ignored (a schema directory may hold anything).
fn load_crds<R: std::io::BufRead>(registry: &SchemaRegistry, name: &str, docs: DocumentSplitter<R>) -> Result<()> {
    for doc in docs.flatten() {
        let Ok(text) = &doc.text else { continue };
        let Ok(values) = crate::yaml::decode(text, doc.line, false) else { continue };
        for v in values.iter().filter(|v| v["kind"] == "CustomResourceDefinition") {
            registry.add_crd(v, name).map_err(|message| Error::Crd {
                file: name.to_owned(),
                document: doc.index,
                message,
            })?;
        }
    }
    Ok(())
}

fn check_file(file: &InputFile, ctx: &Context) -> Vec<Checked> {
    if let Some(why) = file.skipped() {
        let mut c = file_error(&file.name, 1, 1, format!("skipped: {why}"));
        c.report.status = Status::Skipped;
        c.report.findings = vec![Finding::warning("read", None, format!("skipped: {why}"))];
        return vec![c];
    }
    match file.open() {
        Ok(reader) => {
            let checked = check_stream(&file.name, DocumentSplitter::new(reader), ctx);
            // An empty file is legitimately empty; an empty stdin is almost
            // always a broken `render | validate -` pipe.
            if checked.is_empty() && matches!(file.source, InputSource::Stdin) {
                return vec![file_error(&file.name, 1, 1, "no input: stdin held no documents".into())];
            }
            checked
        }
        Err(e) => vec![file_error(&file.name, 1, 1, format!("cannot read: {e}"))],
    }
}

fn check_stream<R: std::io::BufRead>(name: &str, mut splitter: DocumentSplitter<R>, ctx: &Context) -> Vec<Checked> {
    let mut out = Vec::new();
    let mut batch: Vec<RawDocument> = Vec::with_capacity(BATCH);
    let flush = |batch: &mut Vec<RawDocument>, out: &mut Vec<Checked>| {
        let checked: Vec<Vec<Checked>> =
            std::mem::take(batch).into_par_iter().map(|d| check_document(name, d, ctx)).collect();
        out.extend(checked.into_iter().flatten());
    };
    loop {
        match splitter.next_document() {
            Some(Ok(doc)) => {
                batch.push(doc);
                if batch.len() >= BATCH {
                    flush(&mut batch, &mut out);
                }
            }
            Some(Err(problem)) => {
                flush(&mut batch, &mut out);
                let index = out.last().map_or(1, |c| c.report.document + 1);
                out.push(file_error(name, index, problem.line, problem.message));
                return out;
            }
            None => {
                flush(&mut batch, &mut out);
                return out;
            }
        }
    }
}

fn file_error(file: &str, document: usize, line: usize, message: String) -> Checked {
    Checked {
        report: ResourceReport {
            file: file.to_owned(),
            document,
            item: None,
            line,
            api_version: None,
            kind: None,
            namespace: None,
            name: None,
            status: Status::Error,
            findings: vec![Finding::error("read", None, message)],
        },
        facts: None,
        deferred: None,
    }
}

fn check_document(file: &str, doc: RawDocument, ctx: &Context) -> Vec<Checked> {
    let text = match doc.text {
        Ok(t) => t,
        Err(message) => {
            let mut c = file_error(file, doc.index, doc.line, message);
            c.report.findings[0].rule = "document-size";
            return vec![c];
        }
    };
    let values = match crate::yaml::decode(&text, doc.line, ctx.opts.strict) {
        Ok(v) => v,
        Err(e) => {
            let location = match (e.line, e.column) {
                (Some(l), Some(c)) => format!("line {l}, column {c}: "),
                _ => String::new(),
            };
            let mut c = file_error(file, doc.index, doc.line, format!("{location}{}", e.message));
            c.report.findings[0].rule = e.rule;
            // A duplicate key is a defect of a parsed resource (invalid);
            // anything else means the document could not be read.
            if e.rule == "duplicate-key" {
                c.report.status = Status::Invalid;
            }
            return vec![c];
        }
    };
    let mut out = Vec::new();
    for value in values {
        let is_list = value["kind"] == "List" && value.get("items").is_some();
        if is_list {
            let items = value["items"].as_array().cloned().unwrap_or_default();
            for (i, item) in items.into_iter().enumerate() {
                out.push(check_resource(file, doc.index, Some(i + 1), doc.line, item, ctx));
            }
        } else {
            out.push(check_resource(file, doc.index, None, doc.line, value, ctx));
        }
    }
    out
}

fn check_resource(
    file: &str,
    document: usize,
    item: Option<usize>,
    line: usize,
    value: Value,
    ctx: &Context,
) -> Checked {
    let api_version = value["apiVersion"].as_str().map(str::to_owned);
    let kind = value["kind"].as_str().map(str::to_owned);
    let meta = &value["metadata"];
    let mut report = ResourceReport {
        file: file.to_owned(),
        document,
        item,
        line,
        api_version: api_version.clone(),
        kind: kind.clone(),
        namespace: meta["namespace"].as_str().map(str::to_owned),
        name: meta["name"].as_str().or_else(|| meta["generateName"].as_str()).map(str::to_owned),
        status: Status::Valid,
        findings: Vec::new(),
    };
    if !value.is_object() {
        report.status = Status::Invalid;
        report.findings.push(Finding::error("schema", Some(String::new()), "a resource must be a map"));
        return Checked { report, facts: None, deferred: None };
    }
    let (Some(api_version), Some(kind)) = (api_version.filter(|s| !s.is_empty()), kind.filter(|s| !s.is_empty()))
    else {
        if report.kind.as_deref().is_none_or(str::is_empty) {
            report.findings.push(Finding::error(
                "missing-kind",
                Some("/kind".into()),
                "missing `kind`: every resource names its kind",
            ));
        }
        if report.api_version.as_deref().is_none_or(str::is_empty) {
            report.findings.push(Finding::error(
                "missing-api-version",
                Some("/apiVersion".into()),
                "missing `apiVersion`: every resource names its API group and version",
            ));
        }
        report.status = Status::Invalid;
        return Checked { report, facts: None, deferred: None };
    };

    let opts = ctx.opts;
    if api_version == PROFILE_API_VERSION && kind == "Profile" {
        // meshctl's own profiles: the engine render uses.
        match crate::profile::profile_violations(ctx.assets, &value) {
            Ok(violations) => report
                .findings
                .extend(violations.into_iter().map(|v| Finding::error("profile", Some(v.pointer), v.message))),
            Err(e) => report.findings.push(Finding::error("profile", None, e.to_string())),
        }
        return Checked { report, facts: None, deferred: None };
    }
    let builtin = builtin::lookup(&api_version, &kind);
    let mut deferred = None;
    match builtin {
        Some(b) => {
            report.findings.extend(b.check(&value, opts.strict));
            if kind == "CustomResourceDefinition" {
                if let Err(e) = ctx.registry.add_crd(&value, file) {
                    report.findings.push(Finding::error("crd", Some("/spec".into()), e));
                }
            }
        }
        None => deferred = Some(value.clone()),
    }
    report.findings.extend(rules::check_object(&kind, &value));
    report.findings.extend(lint::lint_object(&kind, &value, &opts.lints));
    let facts = cross::facts(&value, &kind, builtin.map(|b| b.namespaced()), &opts.default_namespace, &opts.lints);
    Checked { report, facts: Some(facts), deferred }
}

/// Custom resources against the now complete schemas, cross-object checks,
/// then statuses.
fn finish(mut checked: Vec<Checked>, ctx: &Context) -> Report {
    checked.par_iter_mut().for_each(|c| {
        let Some(value) = c.deferred.take() else { return };
        let api_version = c.report.api_version.clone().unwrap_or_default();
        let kind = c.report.kind.clone().unwrap_or_default();
        match ctx.registry.lookup(&api_version, &kind) {
            Ok(Some(schema)) => c.report.findings.extend(schema.check(&value)),
            Ok(None) => {
                let known = builtin::versions_of(&kind);
                let hint = if known.is_empty() {
                    "pass its CRD with --crds DIR, a --schema-location, or --ignore-missing-schemas".to_owned()
                } else {
                    format!("Kubernetes {} serves {kind} as {}", KUBERNETES_VERSION, known.join(", "))
                };
                if ctx.opts.ignore_missing_schemas && known.is_empty() {
                    c.report.status = Status::Skipped;
                    c.report.findings.push(Finding::warning(
                        "missing-schema",
                        None,
                        format!("no schema for {api_version} {kind}: skipped"),
                    ));
                } else {
                    c.report.findings.push(Finding::error(
                        "missing-schema",
                        Some("/apiVersion".into()),
                        format!("no schema for {api_version} {kind}: {hint}"),
                    ));
                }
            }
            Err(e) => c.report.findings.push(Finding::error("missing-schema", Some("/apiVersion".into()), e)),
        }
    });

    let facts: Vec<Option<cross::Facts>> =
        checked.iter_mut().map(|c| if c.report.status == Status::Skipped { None } else { c.facts.take() }).collect();
    let cross_findings = cross::check(&facts, |j| format!("{}:{}", checked[j].report.file, checked[j].report.line));
    // Freeing a hundred thousand small maps is worth both cores.
    facts.into_par_iter().for_each(drop);
    let resources = checked
        .into_par_iter()
        .enumerate()
        .map(|(i, c)| {
            let mut report = c.report;
            if let Some(found) = cross_findings.get(&i) {
                report.findings.extend(found.iter().cloned());
            }
            report.findings.sort_by_key(|f| f.severity);
            if report.status == Status::Valid && report.findings.iter().any(|f| f.severity == Severity::Error) {
                report.status = Status::Invalid;
            }
            report
        })
        .collect();
    Report { resources }
}

/// Validates a Terraform root module directory's files (see
/// [`terraform::check_module`]).
pub fn validate_terraform(dir: &str, files: &BTreeMap<String, String>) -> Vec<ResourceReport> {
    super::terraform::check_module(dir, files)
}
