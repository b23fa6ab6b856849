//! `meshctl validate`: strict, offline validation of Kubernetes manifests
//! (built-in kinds against the compiled-in types, custom resources against
//! CRD and local JSON schemas), the server-side rules kubeconform skips,
//! policy lints, and Terraform modules. Inputs stream document by document
//! and are checked on every core.

mod builtin;
mod cross;
pub mod lint;
pub mod model;
mod pipeline;
mod quantity;
pub mod report;
mod required;
mod rules;
pub mod schema;
pub mod server_rules;
pub mod terraform;

use std::path::PathBuf;

pub use crate::kinds::KUBERNETES_VERSION;
use lint::LintOptions;
pub use pipeline::{validate_files, validate_terraform, validate_texts};

/// How to validate.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// Unknown fields and duplicate keys are errors (`--strict`, default).
    pub strict: bool,
    /// Kubernetes version for `--schema-location` templates. Built-in kinds
    /// are always checked against [`KUBERNETES_VERSION`].
    pub kubernetes_version: String,
    /// Directories of CustomResourceDefinitions (`--crds`).
    pub crd_dirs: Vec<PathBuf>,
    /// CustomResourceDefinitions held in memory: (name for messages, YAML).
    pub crd_texts: Vec<(String, String)>,
    /// kubeconform-style schema location templates (local paths).
    pub schema_locations: Vec<String>,
    /// Report kinds without a schema as skipped instead of invalid.
    pub ignore_missing_schemas: bool,
    /// Namespace of namespaced objects that name none (`--namespace`).
    pub default_namespace: String,
    /// Policy lint settings.
    pub lints: LintOptions,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions {
            strict: true,
            kubernetes_version: KUBERNETES_VERSION.to_owned(),
            crd_dirs: Vec::new(),
            crd_texts: Vec::new(),
            schema_locations: Vec::new(),
            ignore_missing_schemas: false,
            default_namespace: "default".to_owned(),
            lints: LintOptions::default(),
        }
    }
}
