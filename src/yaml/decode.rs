//! One document's text to a JSON value, read as Kubernetes reads YAML
//! (YAML 1.1 scalars: `yes`/`on` are booleans, `0755` is octal, `<<`
//! merges), with serde-saphyr and meshctl's visitor: duplicate keys are
//! errors in strict mode (last wins otherwise), scalar keys become strings,
//! and errors carry the line and column in the file. Budgets bound hostile
//! input by depth, events, nodes and bytes (aliases included), in linear
//! time. `bench/yaml-compare.md` records why this parser and these limits.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::{DuplicateKeyPolicy, Options};

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

/// The parser settings: one document per call (the splitter hands over
/// one), nesting as deep as CRD schemas need, aliases bounded far below
/// what could exhaust memory, 16 MiB of scalar text at most (the splitter
/// refuses documents over 8 MiB, so only alias replay can get near it).
fn options(strict: bool) -> Options {
    serde_saphyr::options! {
        // The parser reports a duplicate at the key itself; meshctl's
        // visitor also catches keys that only collide once made strings.
        duplicate_keys: if strict { DuplicateKeyPolicy::Error } else { DuplicateKeyPolicy::LastWins },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
            max_replay_stack_depth: 16,
            max_alias_expansions_per_anchor: 10_000,
        },
        budget: serde_saphyr::budget! {
            max_depth: 128,
            max_documents: 1,
            max_events: 2_000_000,
            max_nodes: 1_000_000,
            max_total_scalar_bytes: 16 * 1024 * 1024,
        },
        legacy_octal_numbers: true,
        with_snippet: false,
    }
}

/// Parses `text`, one document starting at file line `first_line`, into
/// its value (empty when the document is only `null`).
pub fn decode(text: &str, first_line: usize, strict: bool) -> Result<Vec<Value>, DecodeError> {
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options(strict), |de| {
        ValueSeed { strict }.deserialize(de)
    });
    match result {
        Ok(Value::Null) => Ok(Vec::new()),
        Ok(v) => Ok(vec![v]),
        Err(e) => {
            let loc = e.location();
            let message = e.without_snippet().to_string();
            // serde-saphyr ends its message with the position in the
            // document; the caller prints the position in the file.
            let message = match message.find(" at line ") {
                Some(i) => message[..i].to_owned(),
                None => message,
            };
            let mut message = message.split_whitespace().collect::<Vec<_>>().join(" ");
            // "duplicate mapping key: c, set DuplicateKeyPolicy in Options if
            // acceptable" speaks to a programmer; say it to the user.
            if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
                let key = rest.split(", set DuplicateKeyPolicy").next().unwrap_or(rest);
                message = format!("{DUPLICATE}`{key}`");
            }
            let rule = if message.starts_with(DUPLICATE) { "duplicate-key" } else { "yaml" };
            Err(DecodeError {
                rule,
                line: loc.as_ref().map(|l| l.line() as usize + first_line - 1),
                column: loc.as_ref().map(|l| l.column() as usize),
                message,
            })
        }
    }
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
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        i64::try_from(v).map(Value::from).or_else(|_| self.visit_f64(v as f64))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        u64::try_from(v).map(Value::from).or_else(|_| self.visit_f64(v as f64))
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
            if self.strict && out.contains_key(&key) {
                return Err(de::Error::custom(format!("{DUPLICATE}`{key}`")));
            }
            let value = map.next_value_seed(self)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(de::Error::custom("YAML tags are not supported in Kubernetes manifests"))
    }
}

/// Mapping keys: strings, or scalars turned into strings as
/// sigs.k8s.io/yaml does (so `1:` and `"1":` are the same key).
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
        assert!(matches!(err.line, Some(12 | 13)), "{err:?}");
        assert_eq!(decode(text, 10, false).unwrap(), vec![json!({"a": 1, "b": {"c": 2}})]);
        // `1` and `"1"` are one key once keys are strings.
        assert_eq!(decode("1: a\n\"1\": b\n", 1, true).unwrap_err().rule, "duplicate-key");
    }

    #[test]
    fn errors_carry_file_lines() {
        let err = decode("a: [1,\n", 5, true).unwrap_err();
        assert_eq!(err.rule, "yaml");
        assert!(err.line.unwrap() >= 5, "{err:?}");
    }

    #[test]
    fn scalars_read_as_kubernetes_reads_them() {
        assert_eq!(decode("{\"a\": [1, 2.5, null]}", 1, true).unwrap(), vec![json!({"a": [1, 2.5, null]})]);
        // As sigs.k8s.io/yaml: `y` is YAML 1.1's true, as a value and as a key.
        assert_eq!(decode("1: x\ny: z\n", 1, true).unwrap(), vec![json!({"1": "x", "true": "z"})]);
        let v = decode("a: yes\nb: \"yes\"\nc: 0755\nd: off\n", 1, true).unwrap();
        assert_eq!(v, vec![json!({"a": true, "b": "yes", "c": 493, "d": false})]);
        let v = decode("base: &b {x: 1}\nc:\n  <<: *b\n  z: 2\n", 1, true).unwrap();
        assert_eq!(v[0]["c"], json!({"x": 1, "z": 2}));
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
        assert!(decode(&deep, 1, true).is_err());
        let deep_maps = format!("{}1{}", "{a: ".repeat(40_000), "}".repeat(40_000));
        assert!(decode(&deep_maps, 1, true).is_err());
    }
}
