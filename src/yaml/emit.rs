//! Writing JSON values as block YAML. A string is written plain only when
//! reading it back (as Kubernetes does, YAML 1.1) gives the same string;
//! otherwise it is double-quoted with JSON escapes. So `yes`, `on`, `0755`,
//! `1e3`, `null`, `- x` or `a: b` always come back as the strings they were.

use serde_json::Value;

use crate::yaml::decode::decode;

/// Serializes a JSON value as YAML text (block style, keys in their order,
/// a trailing newline).
pub fn to_yaml_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => write_map(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => write_seq(a, 0, &mut out),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

/// Writes a value as JSON that is also a YAML flow scalar or collection.
/// Besides JSON's own escapes, it escapes the characters YAML treats as line
/// breaks or forbids (NEL, LS, PS, BOM, C1 controls), so the parsed value is
/// exactly the input.
pub fn encode_json(value: &Value) -> String {
    let raw = serde_json::to_string(value).expect("JSON values serialize");
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn write_map(map: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    for (k, v) in map {
        push_indent(indent, out);
        out.push_str(&scalar_string(k));
        out.push(':');
        match v {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                write_map(m, indent + 2, out);
            }
            // Lists under a key sit at the key's indentation, as kubectl
            // and serde_yaml write them.
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                write_seq(a, indent, out);
            }
            other => {
                out.push(' ');
                out.push_str(&inline(other));
                out.push('\n');
            }
        }
    }
}

fn write_seq(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        push_indent(indent, out);
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                // The first entry shares the dash's line.
                out.push(' ');
                let mut nested = String::new();
                write_map(m, indent + 2, &mut nested);
                out.push_str(&nested[indent + 2..]);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                write_seq(a, indent + 2, out);
            }
            other => {
                out.push(' ');
                out.push_str(&inline(other));
                out.push('\n');
            }
        }
    }
}

fn push_indent(n: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A scalar or an empty collection on one line.
fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar_string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// `s` plain when that reads back as `s`, else double-quoted.
fn scalar_string(s: &str) -> String {
    if plain_is_safe(s) {
        s.to_owned()
    } else {
        encode_json(&Value::String(s.to_owned()))
    }
}

fn plain_is_safe(s: &str) -> bool {
    // Cheap rejections first; then let the parser decide.
    // Printable ASCII only: YAML 1.1 readers treat NEL, LS and PS as line
    // breaks, which a YAML 1.2 reader would not tell us.
    if s.is_empty()
        || s.len() > 256
        || s.trim() != s
        || !s.bytes().all(|b| (0x20..0x7f).contains(&b))
        || s.contains(['"', '\'', '#', '\\'])
    {
        return false;
    }
    // An indicator first makes it something else; `-` only when a space (or
    // nothing) follows, so flags such as `--suite` stay plain.
    if s == "-" || s.starts_with("- ") {
        return false;
    }
    if s.starts_with(['?', ':', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '%', '@', '`', '<', '=']) {
        return false;
    }
    // Most strings are identifiers, paths and names: a letter, then letters,
    // digits and `-_./`. Such a string reads back as itself unless it is one
    // of YAML 1.1's boolean or null words, so it needs no parse; parsing
    // every string made rendering four times slower per object.
    let identifier = s.as_bytes()[0].is_ascii_alphabetic()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
    if identifier {
        return !matches!(
            s.to_ascii_lowercase().as_str(),
            "y" | "yes" | "n" | "no" | "true" | "false" | "on" | "off" | "null"
        );
    }
    matches!(decode(s, 1, true).as_deref(), Ok([Value::String(back)]) if back == s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ambiguous_strings_are_quoted_and_read_back() {
        let v = json!({
            "args": ["--appendonly", "yes", "on", "0755", "1e3", "1.0", "null", "~", "- x", "a: b", "x #c", "", " pad", "ok"],
            "nested": {"list": [{"a": 1, "b": [true, null]}, []], "empty": {}},
            "app.kubernetes.io/name": "testmesh",
            "multi": "line one\nline two",
            "version": "0.1.0",
            "cpu": "500m",
        });
        let text = to_yaml_string(&v);
        assert!(text.contains("- \"yes\"\n"), "{text}");
        assert!(text.contains("- ok\n"), "{text}");
        assert!(text.contains("cpu: 500m\n"), "{text}");
        let back = decode(&text, 1, true).unwrap();
        assert_eq!(back, vec![v], "{text}");
    }
}
