//! The crate's error type: one variant per stage, each naming the input, the
//! place in it and what was expected.

use std::path::{Path, PathBuf};

use crate::profile::ProfileError;
use crate::render::RenderError;
use crate::values::ValuesError;
use crate::yaml::YamlError;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop a meshctl command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A project asset (chart, profile, module) is missing or unreadable.
    #[error("{0}")]
    Assets(String),
    /// A file could not be read or written.
    #[error("failed to access `{path}`")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// An input is not well-formed YAML.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// A profile is unknown or invalid.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The values stack could not be built, or violates the values schema.
    #[error(transparent)]
    Values(#[from] ValuesError),
    /// A template failed, or produced something that is not a manifest.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A cluster operation failed.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    /// The Kubernetes API sandbox could not start.
    #[error("failed to start the sandbox")]
    Sandbox(#[from] sandbox::Error),
    /// The render output directory could not be replaced.
    #[error("refusing to write `{path}`: {reason}")]
    OutputRefused {
        /// The `--out` directory.
        path: PathBuf,
        /// Why it was not written.
        reason: String,
    },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_owned(), source }
    }
}

/// One place in a document that breaks a schema or rule: a JSON pointer and
/// what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// RFC 6901 pointer into the checked document (`""` is the root).
    pub pointer: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pointer = if self.pointer.is_empty() { "/" } else { &self.pointer };
        write!(f, "at {pointer}: {}", self.message)
    }
}

/// Formats a list of violations one per line, indented, for error messages.
pub(crate) fn violation_lines(violations: &[Violation]) -> String {
    violations.iter().map(|v| format!("\n  {v}")).collect()
}

/// Checks `instance` against a compiled JSON schema and returns every
/// violation, sorted by pointer so messages are stable.
pub(crate) fn schema_violations(validator: &jsonschema::Validator, instance: &serde_json::Value) -> Vec<Violation> {
    let mut out: Vec<Violation> = validator
        .iter_errors(instance)
        .map(|e| Violation { pointer: e.instance_path().to_string(), message: e.to_string() })
        .collect();
    out.sort_by(|a, b| a.pointer.cmp(&b.pointer).then_with(|| a.message.cmp(&b.message)));
    out.dedup();
    out
}
