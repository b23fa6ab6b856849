//! Label and field selectors, as `?labelSelector=` and `?fieldSelector=`
//! carry them.

use serde_json::Value;

use crate::status::ApiError;

#[derive(Clone, Debug, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    /// Parses `app=web,tier!=db,env in (a,b),!legacy,release`.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let bad = |what: &str| {
            ApiError::bad_request(format!("unable to parse requirement: {what} in label selector {text:?}"))
        };
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let req = if let Some(key) = part.strip_prefix('!') {
                Requirement::DoesNotExist(key.trim().to_string())
            } else if let Some((key, values)) = split_set(part, " notin ") {
                Requirement::NotIn(key, values.ok_or_else(|| bad(part))?)
            } else if let Some((key, values)) = split_set(part, " in ") {
                Requirement::In(key, values.ok_or_else(|| bad(part))?)
            } else if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if part.contains(|c: char| c.is_whitespace() || c == '(') {
                return Err(bad(part));
            } else {
                Requirement::Exists(part.to_string())
            };
            requirements.push(req);
        }
        Ok(LabelSelector(requirements))
    }

    /// The selector `matchLabels`/`matchExpressions` of a workload or a
    /// Service's plain `selector` map.
    pub fn from_object(selector: &Value) -> Self {
        let mut requirements = Vec::new();
        let labels = selector.get("matchLabels").unwrap_or(selector);
        if let Some(map) = labels.as_object() {
            for (k, v) in map {
                if let Some(v) = v.as_str() {
                    requirements.push(Requirement::Equals(k.clone(), v.to_string()));
                }
            }
        }
        for expr in selector["matchExpressions"].as_array().into_iter().flatten() {
            let key = expr["key"].as_str().unwrap_or_default().to_string();
            let values: Vec<String> =
                expr["values"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect();
            requirements.push(match expr["operator"].as_str() {
                Some("In") => Requirement::In(key, values),
                Some("NotIn") => Requirement::NotIn(key, values),
                Some("Exists") => Requirement::Exists(key),
                _ => Requirement::DoesNotExist(key),
            });
        }
        LabelSelector(requirements)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        let label = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => label(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
            Requirement::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::NotIn(k, vs) => !label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::DoesNotExist(k) => label(k).is_none(),
        })
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `key in (a,b)` → (key, Some([a, b])); a malformed set gives `None`.
fn split_set(part: &str, op: &str) -> Option<(String, Option<Vec<String>>)> {
    let (key, rest) = part.split_once(op)?;
    let rest = rest.trim();
    let values = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .map(|inner| inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect());
    Some((key.trim().to_string(), values))
}

/// A parsed field selector: `metadata.name=web,status.phase!=Running`.
#[derive(Clone, Debug, Default)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid field selector {text:?}: {part:?} is not field=value"
                )));
            };
            terms.push((field.trim().to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector(terms))
    }

    /// Whether the object's fields (by dotted path; missing is "") match.
    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let mut v = object;
            for part in field.split('.') {
                v = &v[part];
            }
            let actual = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (actual == *value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors_match_like_kubernetes() {
        let obj = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        for (sel, expected) in [
            ("app=web", true),
            ("app==web,tier=front", true),
            ("app!=web", false),
            ("tier in (front,back)", true),
            ("tier notin (front)", false),
            ("app", true),
            ("!legacy", true),
            ("!app", false),
            ("", true),
        ] {
            assert_eq!(LabelSelector::parse(sel).unwrap().matches(&obj), expected, "{sel}");
        }
        assert!(LabelSelector::parse("tier in front").is_err());
    }

    #[test]
    fn field_selectors_read_dotted_paths() {
        let obj = json!({"metadata": {"name": "a", "namespace": "n"}, "status": {"phase": "Running"}});
        assert!(FieldSelector::parse("metadata.name=a").unwrap().matches(&obj));
        assert!(!FieldSelector::parse("metadata.name=b").unwrap().matches(&obj));
        assert!(FieldSelector::parse("status.phase!=Pending,metadata.namespace=n").unwrap().matches(&obj));
        assert!(FieldSelector::parse("nonsense").is_err());
    }
}
