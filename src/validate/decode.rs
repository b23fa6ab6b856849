//! One document's text to a JSON value in a single pass over the YAML
//! events: duplicate keys are errors in strict mode (last wins otherwise),
//! scalar keys become strings, and errors carry the line and column in the
//! file. YAML's own limits (nesting depth, alias expansion) bound hostile
//! input.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A document that is not well-formed YAML or JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// `yaml` or `duplicate-key`.
    pub rule: &'static str,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What the parser said.
    pub message: String,
}

const DUPLICATE: &str = "duplicate key ";

/// Parses `text` (which starts at file line `first_line`) into the values of
/// its YAML documents (usually one).
pub fn decode(text: &str, first_line: usize, strict: bool) -> Result<Vec<Value>, DecodeError> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = ValueSeed { strict }.deserialize(doc).map_err(|e| {
            let loc = e.location();
            let mut message = e.to_string();
            if let Some(i) = message.find(" at line ") {
                message.truncate(i);
            }
            let rule = if message.contains(DUPLICATE) { "duplicate-key" } else { "yaml" };
            DecodeError {
                rule,
                line: loc.as_ref().map(|l| l.line() + first_line - 1),
                column: loc.as_ref().map(|l| l.column()),
                message,
            }
        })?;
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

#[derive(Clone, Copy)]
struct ValueSeed {
    strict: bool,
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom(format!("{v} is not a finite number")))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(self)?;
            if self.strict && out.contains_key(&key) {
                return Err(de::Error::custom(format!("{DUPLICATE}`{key}`")));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(de::Error::custom("YAML tags are not supported in Kubernetes manifests"))
    }
}

/// Mapping keys: strings, or scalars turned into strings as
/// sigs.k8s.io/yaml does.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = String;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar mapping key")
    }
    fn visit_str<E>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_bool<E>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_unit<E>(self) -> Result<String, E> {
        Ok("null".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn duplicate_keys_are_errors_only_when_strict() {
        let text = "a: 1\nb:\n  c: 1\n  c: 2\n";
        let err = decode(text, 10, true).unwrap_err();
        assert_eq!(err.rule, "duplicate-key");
        assert!(err.message.contains("`c`"), "{err:?}");
        // serde_yaml reports the mapping holding the duplicate (line 3 of the text).
        assert_eq!(err.line, Some(12), "{err:?}");
        assert_eq!(decode(text, 10, false).unwrap(), vec![json!({"a": 1, "b": {"c": 2}})]);
    }

    #[test]
    fn errors_carry_file_lines() {
        let err = decode("---\na: [1,\n", 5, true).unwrap_err();
        assert_eq!(err.rule, "yaml");
        assert!(err.line.unwrap() >= 6, "{err:?}");
    }

    #[test]
    fn json_and_scalar_keys() {
        assert_eq!(decode("{\"a\": [1, 2.5, null]}", 1, true).unwrap(), vec![json!({"a": [1, 2.5, null]})]);
        assert_eq!(decode("1: x\ntrue: y\n", 1, true).unwrap(), vec![json!({"1": "x", "true": "y"})]);
    }

    #[test]
    fn alias_bombs_and_deep_nesting_fail_fast() {
        let mut bomb =
            String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        let mut prev = 'a';
        for c in 'b'..='j' {
            bomb.push_str(&format!(
                "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
            prev = c;
        }
        assert!(decode(&bomb, 1, true).is_err(), "a billion laughs must not expand");
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let err = decode(&deep, 1, true).unwrap_err();
        assert!(err.message.contains("recursion limit"), "{err:?}");
    }
}
