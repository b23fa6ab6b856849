//! YAML input: parsing with file:line:column errors, and conversion to JSON
//! values (string keys only) so schemas and templates see one data model.

use serde::Deserialize as _;
use serde_json::{Map, Value};

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

impl YamlError {
    fn from_serde(file: &str, err: &serde_yaml::Error) -> Self {
        let loc = err.location();
        // serde_yaml appends " at line L column C" to its message; the
        // location is already in the prefix, so drop the repetition.
        let mut message = err.to_string();
        if let Some(idx) = message.find(" at line ") {
            message.truncate(idx);
        }
        YamlError {
            file: file.to_owned(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message,
        }
    }

    fn plain(file: &str, message: String) -> Self {
        YamlError { file: file.to_owned(), line: None, column: None, message }
    }
}

/// Parses a single-document YAML file into a JSON value. An empty file is
/// `null`.
pub fn parse_one(file: &str, text: &str) -> Result<Value, YamlError> {
    let mut docs = parse_all(file, text)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0)),
        n => Err(YamlError::plain(file, format!("expected one YAML document, found {n}"))),
    }
}

/// Parses every document of a multi-document YAML stream. Documents that
/// are empty (only comments, or nothing between `---` markers) are dropped.
pub fn parse_all(file: &str, text: &str) -> Result<Vec<Value>, YamlError> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let mut value = serde_yaml::Value::deserialize(doc).map_err(|e| YamlError::from_serde(file, &e))?;
        value.apply_merge().map_err(|e| YamlError::from_serde(file, &e))?;
        if value.is_null() {
            continue;
        }
        out.push(to_json(file, value, &mut String::new())?);
    }
    Ok(out)
}

/// Converts a YAML value to JSON, rejecting what JSON has no form for
/// (non-string keys, tags, non-finite numbers). `pointer` tracks the place
/// for the message.
fn to_json(file: &str, value: serde_yaml::Value, pointer: &mut String) -> Result<Value, YamlError> {
    use serde_yaml::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f).map(Value::Number).ok_or_else(|| {
                    YamlError::plain(file, format!("at {}: {f} is not a finite number", show(pointer)))
                })?
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{i}"));
                out.push(to_json(file, item, pointer)?);
                pointer.truncate(len);
            }
            Value::Array(out)
        }
        Y::Mapping(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    // Helm (through sigs.k8s.io/yaml) turns scalar keys into
                    // strings; do the same so `1: x` or `true: y` still load.
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    other => {
                        return Err(YamlError::plain(
                            file,
                            format!("at {}: mapping keys must be strings, found {other:?}", show(pointer)),
                        ))
                    }
                };
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                let v = to_json(file, v, pointer)?;
                pointer.truncate(len);
                out.insert(key, v);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            return Err(YamlError::plain(
                file,
                format!("at {}: YAML tag `{}` is not supported", show(pointer), tagged.tag),
            ))
        }
    })
}

fn show(pointer: &str) -> &str {
    if pointer.is_empty() {
        "/"
    } else {
        pointer
    }
}

/// Serializes a JSON value as YAML text (block style, keys in their order).
pub fn to_yaml_string(value: &Value) -> String {
    serde_yaml::to_string(value).expect("a JSON value always serializes as YAML")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_yaml_names_file_line_and_column() {
        let err = parse_one("values.yaml", "a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("values.yaml:3:"), "{msg}");
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
        let v = parse_one("x", "base: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n").unwrap();
        assert_eq!(v["c"], serde_json::json!({"x": 1, "y": 2}));
    }
}
