//! Where a document breaks a schema or rule: a JSON pointer and what was
//! expected there. Profiles, values and (through their own reports)
//! validation name problems this way.

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
pub fn violation_lines(violations: &[Violation]) -> String {
    violations.iter().map(|v| format!("\n  {v}")).collect()
}

/// Checks `instance` against a compiled JSON schema and returns every
/// violation, sorted by pointer so messages are stable.
pub fn schema_violations(validator: &jsonschema::Validator, instance: &serde_json::Value) -> Vec<Violation> {
    let mut out: Vec<Violation> = validator
        .iter_errors(instance)
        .map(|e| Violation { pointer: e.instance_path().to_string(), message: e.to_string() })
        .collect();
    out.sort_by(|a, b| a.pointer.cmp(&b.pointer).then_with(|| a.message.cmp(&b.message)));
    out.dedup();
    out
}
