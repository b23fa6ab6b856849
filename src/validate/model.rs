//! What validation finds: findings with rule ids and severities, grouped by
//! resource, and the report of a whole run.

use serde::Serialize;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Makes the resource invalid (exit 1).
    Error,
    /// Reported; does not fail the run.
    Warning,
}

/// One problem found in a resource (or a file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable id of the check or lint (`unknown-field`, `image-tag`, ...);
    /// SARIF rule id, and what `--disable` and the ignore annotation name.
    pub rule: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// RFC 6901 pointer into the resource, when the finding has a place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl Finding {
    /// An error at `pointer`.
    pub fn error(rule: &'static str, pointer: impl Into<Option<String>>, message: impl Into<String>) -> Self {
        Finding { rule, severity: Severity::Error, pointer: pointer.into(), message: message.into() }
    }

    /// A warning at `pointer`.
    pub fn warning(rule: &'static str, pointer: impl Into<Option<String>>, message: impl Into<String>) -> Self {
        Finding { rule, severity: Severity::Warning, pointer: pointer.into(), message: message.into() }
    }
}

/// The outcome for one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Checked, no error (warnings possible).
    Valid,
    /// Checked, at least one error.
    Invalid,
    /// Not checked: no schema and `--ignore-missing-schemas`.
    Skipped,
    /// Could not be read or parsed at all.
    Error,
}

/// One resource (a document, or an item of a `kind: List`) and what was
/// found in it. A document that cannot be parsed is reported with status
/// `error` and no identity.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceReport {
    /// The file (`-` for stdin).
    pub file: String,
    /// 1-based index of the document in the file.
    pub document: usize,
    /// 1-based index of the item, for items of a `kind: List`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// 1-based line where the document starts.
    pub line: usize,
    /// `apiVersion`, when known.
    pub api_version: Option<String>,
    /// `kind`, when known.
    pub kind: Option<String>,
    /// `metadata.namespace`, when set.
    pub namespace: Option<String>,
    /// `metadata.name` (or `generateName`), when known.
    pub name: Option<String>,
    /// The outcome.
    pub status: Status,
    /// Everything found, errors first.
    pub findings: Vec<Finding>,
}

impl ResourceReport {
    /// `Kind namespace/name`, or what is known of it.
    pub fn identity(&self) -> String {
        let kind = self.kind.as_deref().unwrap_or("<unknown kind>");
        match (&self.namespace, &self.name) {
            (Some(ns), Some(name)) => format!("{kind} {ns}/{name}"),
            (None, Some(name)) => format!("{kind} {name}"),
            _ => kind.to_owned(),
        }
    }

    /// `file` + document (+ item) as shown in messages: `a.yaml#3` or
    /// `a.yaml#3.2`.
    pub fn location(&self) -> String {
        match self.item {
            Some(item) => format!("{}#{}.{item}", self.file, self.document),
            None => format!("{}#{}", self.file, self.document),
        }
    }
}

/// Counts over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Resources seen.
    pub resources: usize,
    /// Valid resources.
    pub valid: usize,
    /// Invalid resources.
    pub invalid: usize,
    /// Skipped resources.
    pub skipped: usize,
    /// Documents or files that could not be read or parsed.
    pub errors: usize,
    /// Warnings over all resources.
    pub warnings: usize,
}

/// The result of one `meshctl validate` run, resources in input order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Every resource, in the order of the inputs.
    pub resources: Vec<ResourceReport>,
}

impl Report {
    /// Counts by status, and warnings.
    pub fn summary(&self) -> Summary {
        let mut s = Summary { resources: self.resources.len(), ..Summary::default() };
        for r in &self.resources {
            match r.status {
                Status::Valid => s.valid += 1,
                Status::Invalid => s.invalid += 1,
                Status::Skipped => s.skipped += 1,
                Status::Error => s.errors += 1,
            }
            s.warnings += r.findings.iter().filter(|f| f.severity == Severity::Warning).count();
        }
        s
    }

    /// True when nothing is invalid and nothing failed to parse.
    pub fn is_clean(&self) -> bool {
        self.resources.iter().all(|r| matches!(r.status, Status::Valid | Status::Skipped))
    }
}
