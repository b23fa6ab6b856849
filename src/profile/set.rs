//! Helm's `--set` syntax (`helm.sh/helm/v3/pkg/strvals`), applied directly to
//! a values tree: `a.b=c`, `a[0].b=c`, `a={x,y}`, several assignments joined
//! with commas, `\` escaping the next character, and typed scalars (`true`,
//! `false`, `null`, integers) unless the value is set as a string.
//!
//! Differences from Helm, all deliberate: `null` removes the key at once
//! (Helm removes it when values are coalesced, which ends the same), and a
//! path through a scalar replaces the scalar with a map or list instead of
//! failing on a type assertion.

use serde_json::{Map, Value};

/// The largest list index `--set` accepts (Helm's `MaxIndex`).
const MAX_INDEX: usize = 65_536;
/// The deepest key path `--set` accepts (Helm's `MaxNestedNameLevel`).
const MAX_NESTED_NAME_LEVEL: usize = 30;

/// Parses `expr` and applies each assignment to `values`, which must be an
/// object. `as_string` is `--set-string`: every value stays a string.
pub fn apply_set_expression(values: &mut Value, expr: &str, as_string: bool) -> Result<(), String> {
    let mut parser = Parser { chars: expr.chars().collect(), pos: 0, as_string, removed_last: false };
    let root = values.as_object_mut().ok_or("values are not a map")?;
    loop {
        match parser.key(root, 0) {
            Ok(()) => continue,
            Err(Stop::Eof) => return Ok(()),
            Err(Stop::Error(e)) => return Err(e),
        }
    }
}

enum Stop {
    /// The input ended where an assignment may end.
    Eof,
    Error(String),
}

impl From<String> for Stop {
    fn from(s: String) -> Self {
        Stop::Error(s)
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    as_string: bool,
    /// The last assignment was `null` and removed its key, so an emptied
    /// parent map is not an error.
    removed_last: bool,
}

/// Runes read up to (not including) a stop rune, the stop rune (None at end
/// of input), with `\x` unescaped to `x`.
type Until = (String, Option<char>);

impl Parser {
    fn until(&mut self, stops: &[char]) -> Until {
        let mut out = String::new();
        while let Some(&c) = self.chars.get(self.pos) {
            self.pos += 1;
            if stops.contains(&c) {
                return (out, Some(c));
            }
            if c == '\\' {
                match self.chars.get(self.pos) {
                    Some(&next) => {
                        self.pos += 1;
                        out.push(next);
                    }
                    None => return (out, None),
                }
            } else {
                out.push(c);
            }
        }
        (out, None)
    }

    fn key(&mut self, data: &mut Map<String, Value>, level: usize) -> Result<(), Stop> {
        let (k, last) = self.until(&['=', '[', ',', '.']);
        match last {
            None if k.is_empty() => Err(Stop::Eof),
            None => Err(format!("key `{k}` has no value").into()),
            Some('[') => {
                let index = self.index()?;
                let mut list = match data.remove(&k) {
                    Some(Value::Array(list)) => list,
                    _ => Vec::new(),
                };
                let result = self.list_item(&mut list, index, level);
                set(data, &k, Value::Array(list));
                result
            }
            Some('=') => {
                let value = match self.value_list()? {
                    Some(list) => Value::Array(list),
                    None => {
                        let (raw, _) = self.until(&[',']);
                        self.typed(raw)
                    }
                };
                self.removed_last = value.is_null();
                set(data, &k, value);
                Ok(())
            }
            Some(',') => Err(format!("key `{k}` has no value (cannot end with ,)").into()),
            Some('.') => {
                if level + 1 > MAX_NESTED_NAME_LEVEL {
                    return Err(format!("value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}").into());
                }
                if k.is_empty() {
                    return Err("empty key before `.`".to_owned().into());
                }
                let mut inner = match data.remove(&k) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                let result = self.key(&mut inner, level + 1);
                let empty = inner.is_empty();
                if !empty || self.removed_last {
                    data.insert(k.clone(), Value::Object(inner));
                }
                match result {
                    Ok(()) if empty && !self.removed_last => Err(format!("key map `{k}` has no value").into()),
                    other => other,
                }
            }
            Some(c) => Err(format!("unexpected `{c}`").into()),
        }
    }

    fn index(&mut self) -> Result<usize, Stop> {
        let (raw, last) = self.until(&[']']);
        if last.is_none() {
            return Err(format!("list index `[{raw}` is not closed with `]`").into());
        }
        let i: i64 = raw.trim().parse().map_err(|_| format!("list index `{raw}` is not an integer"))?;
        if i < 0 {
            return Err(format!("negative {i} index not allowed").into());
        }
        let i = i as usize;
        if i > MAX_INDEX {
            return Err(format!("index of {i} is greater than maximum supported index of {MAX_INDEX}").into());
        }
        Ok(i)
    }

    fn list_item(&mut self, list: &mut Vec<Value>, i: usize, level: usize) -> Result<(), Stop> {
        let (k, last) = self.until(&['[', '.', '=']);
        if !k.is_empty() {
            return Err(format!("unexpected data at end of array index: `{k}`").into());
        }
        if list.len() <= i {
            list.resize(i + 1, Value::Null);
        }
        match last {
            None => Err("a list index must be followed by `=`, `.` or `[`".to_owned().into()),
            Some('=') => {
                list[i] = match self.value_list()? {
                    Some(values) => Value::Array(values),
                    None => {
                        let (raw, _) = self.until(&[',']);
                        self.typed(raw)
                    }
                };
                Ok(())
            }
            Some('[') => {
                let next = self.index()?;
                let mut inner = match std::mem::take(&mut list[i]) {
                    Value::Array(a) => a,
                    _ => Vec::new(),
                };
                let result = self.list_item(&mut inner, next, level);
                list[i] = Value::Array(inner);
                result
            }
            Some('.') => {
                let mut inner = match std::mem::take(&mut list[i]) {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                let result = self.key(&mut inner, level);
                list[i] = Value::Object(inner);
                match result {
                    Err(Stop::Eof) => Ok(()),
                    other => other,
                }
            }
            Some(c) => Err(format!("parse error: unexpected token `{c}`").into()),
        }
    }

    /// `{a,b,c}` after `=`: Some(list). Anything else: None, input untouched.
    fn value_list(&mut self) -> Result<Option<Vec<Value>>, Stop> {
        if self.chars.get(self.pos) != Some(&'{') {
            return Ok(None);
        }
        self.pos += 1;
        let mut list = Vec::new();
        loop {
            let (raw, last) = self.until(&[',', '}']);
            match last {
                None => return Err("list must terminate with `}`".to_owned().into()),
                Some('}') => {
                    if self.chars.get(self.pos) == Some(&',') {
                        self.pos += 1;
                    }
                    list.push(self.typed(raw));
                    return Ok(Some(list));
                }
                _ => list.push(self.typed(raw)),
            }
        }
    }

    fn typed(&self, raw: String) -> Value {
        if self.as_string {
            return Value::String(raw);
        }
        if raw.eq_ignore_ascii_case("true") {
            return Value::Bool(true);
        }
        if raw.eq_ignore_ascii_case("false") {
            return Value::Bool(false);
        }
        if raw.eq_ignore_ascii_case("null") {
            return Value::Null;
        }
        if raw == "0" {
            return Value::from(0);
        }
        // Like Helm, a leading zero keeps the value a string ("0755", "007").
        if !raw.starts_with('0') {
            if let Ok(i) = raw.parse::<i64>() {
                return Value::from(i);
            }
        }
        Value::String(raw)
    }
}

/// Sets `key` in `data`; `null` removes it (Helm deletes keys set to null).
fn set(data: &mut Map<String, Value>, key: &str, value: Value) {
    if key.is_empty() {
        return;
    }
    if value.is_null() {
        data.remove(key);
    } else {
        data.insert(key.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(start: Value, expr: &str) -> Value {
        let mut v = start;
        apply_set_expression(&mut v, expr, false).unwrap_or_else(|e| panic!("{expr}: {e}"));
        v
    }

    #[test]
    fn helm_examples() {
        assert_eq!(run(json!({}), "name=value"), json!({"name": "value"}));
        assert_eq!(run(json!({}), "a=b,c=d"), json!({"a": "b", "c": "d"}));
        assert_eq!(run(json!({}), "outer.inner=value"), json!({"outer": {"inner": "value"}}));
        assert_eq!(run(json!({}), "name={a,b,c}"), json!({"name": ["a", "b", "c"]}));
        assert_eq!(run(json!({}), "name={a,b},x=y"), json!({"name": ["a", "b"], "x": "y"}));
        assert_eq!(run(json!({}), "servers[0].port=80"), json!({"servers": [{"port": 80}]}));
        assert_eq!(
            run(json!({}), "servers[0].port=80,servers[0].host=example"),
            json!({"servers": [{"port": 80, "host": "example"}]})
        );
        assert_eq!(run(json!({}), "name=value1\\,value2"), json!({"name": "value1,value2"}));
        assert_eq!(
            run(json!({}), "nodeSelector.kubernetes\\.io/role=master"),
            json!({"nodeSelector": {"kubernetes.io/role": "master"}})
        );
        assert_eq!(run(json!({}), "a[1]=x"), json!({"a": [null, "x"]}));
        assert_eq!(run(json!({}), "a[0][1]=x"), json!({"a": [[null, "x"]]}));
        assert_eq!(run(json!({}), "empty="), json!({"empty": ""}));
    }

    #[test]
    fn typed_scalars_follow_helm() {
        let v = run(json!({}), "a=true,b=FALSE,c=10,d=0,e=007,f=1.5,g=-3,h=null");
        assert_eq!(v, json!({"a": true, "b": false, "c": 10, "d": 0, "e": "007", "f": "1.5", "g": -3}));
        let mut s = json!({});
        apply_set_expression(&mut s, "a=true,c=10", true).unwrap();
        assert_eq!(s, json!({"a": "true", "c": "10"}));
    }

    #[test]
    fn edits_existing_lists_and_maps_in_place() {
        let v = run(json!({"agents": [{"name": "a", "tags": ["x"]}], "keep": 1}), "agents[0].name=b");
        assert_eq!(v, json!({"agents": [{"name": "b", "tags": ["x"]}], "keep": 1}));
        let v = run(json!({"runner": {"replicas": 2, "port": 8080}}), "runner.replicas=null");
        assert_eq!(v, json!({"runner": {"port": 8080}}));
    }

    #[test]
    fn bad_expressions_are_errors() {
        for (expr, want) in [
            ("noequals", "has no value"),
            ("a,b=c", "cannot end with ,"),
            ("a[x]=1", "not an integer"),
            ("a[-1]=1", "negative"),
            ("a[1=2", "not closed"),
            ("a={x,y", "terminate with `}`"),
            ("a[0]x=1", "unexpected data"),
            ("a[99999999]=1", "maximum supported index"),
        ] {
            let mut v = json!({});
            let err = apply_set_expression(&mut v, expr, false).unwrap_err();
            assert!(err.contains(want), "{expr}: {err}");
        }
    }
}
