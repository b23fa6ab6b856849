//! meshctl's one YAML module: splitting streams into documents, parsing
//! them the way Kubernetes and Helm read YAML (serde-saphyr, YAML 1.1
//! scalars, bounded against hostile input), and writing values back as
//! block YAML that every reader parses to the same value.

pub mod decode;
mod emit;
pub mod split;

use serde_json::Value;

pub use decode::{decode, DecodeError};
pub use emit::{encode_json, to_yaml_string};
pub use split::{DocumentSplitter, FileProblem, RawDocument, MAX_DOCUMENT_BYTES};

/// A YAML input that is not well-formed, or holds something JSON cannot.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: malformed YAML: {message}", location(.line, .column))]
pub struct YamlError {
    /// The file (or other named input) it came from.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What the parser said.
    pub message: String,
}

fn location(line: &Option<usize>, column: &Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

/// The type name of a parsed value, for messages ("expected a map, found
/// a list").
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Parses a single-document YAML file into a JSON value. An empty file is
/// `null`.
pub fn parse_one(file: &str, text: &str) -> Result<Value, YamlError> {
    let mut docs = parse_all(file, text)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0)),
        n => Err(YamlError {
            file: file.to_owned(),
            line: None,
            column: None,
            message: format!("expected one YAML document, found {n}"),
        }),
    }
}

/// Parses every document of a multi-document YAML stream, strictly
/// (duplicate keys are errors). Documents that are empty or `null` are
/// dropped.
pub fn parse_all(file: &str, text: &str) -> Result<Vec<Value>, YamlError> {
    let mut out = Vec::new();
    for doc in DocumentSplitter::new(text.as_bytes()) {
        let doc =
            doc.map_err(|p| YamlError { file: file.to_owned(), line: Some(p.line), column: None, message: p.message })?;
        let text = doc.text.map_err(|message| YamlError {
            file: file.to_owned(),
            line: Some(doc.line),
            column: None,
            message,
        })?;
        let values = decode(&text, doc.line, true).map_err(|e| YamlError {
            file: file.to_owned(),
            line: e.line.or(Some(doc.line)),
            column: e.column,
            message: e.message,
        })?;
        out.extend(values);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_yaml_names_file_line_and_column() {
        let err = parse_one("values.yaml", "a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("values.yaml:"), "{msg}");
        assert!(matches!(err.line, Some(2 | 3)), "{err:?}");
        assert!(msg.contains("malformed YAML"), "{msg}");
    }

    #[test]
    fn duplicate_keys_are_rejected_with_their_line() {
        let err = parse_one("f.yaml", "a: 1\nb: 2\na: 3\n").unwrap_err();
        assert!(err.to_string().contains("duplicate"), "{err}");
        assert!(err.line.is_some(), "{err:?}");
    }

    #[test]
    fn empty_documents_are_skipped() {
        let docs = parse_all("x", "---\n# only a comment\n---\na: 1\n---\n").unwrap();
        assert_eq!(docs, vec![serde_json::json!({"a": 1})]);
    }

    #[test]
    fn merge_keys_are_applied() {
        let v = parse_one("x", "base: &b {x: 1}\nc:\n  <<: *b\n  z: 2\n").unwrap();
        assert_eq!(v["c"], serde_json::json!({"x": 1, "z": 2}));
    }
}
