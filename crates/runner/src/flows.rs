//! Flow files: the YAML shape, loading with file:line errors, `${...}`
//! templates, JSON paths, assertions and output captures.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{HeaderName, Method};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_saphyr::Spanned;

use crate::config::parse_duration;

/// The default timeout of a step's request.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// One problem in a flow file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FlowProblem {
    /// The file (or `inline`).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FlowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Flows that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The directory could not be read.
    #[error("cannot read flows directory `{}`", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// One or more files are malformed; every problem is listed.
    #[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The problems, in file order.
        problems: Vec<FlowProblem>,
    },
}

/// A validated flow.
#[derive(Debug, Clone)]
pub struct Flow {
    /// Unique name.
    pub name: String,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Part of the golden snapshot set.
    pub golden: bool,
    /// Paths blanked in each step's response body before snapshotting
    /// (timestamps, generated ids).
    pub ignore: Vec<JsonPath>,
    /// Steps, in order.
    pub steps: Vec<Step>,
    /// Where it came from.
    pub source: String,
}

/// One `http_request` step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Id, unique in the flow.
    pub id: String,
    /// Request method.
    pub method: Method,
    /// URL template.
    pub url: Template,
    /// Header templates.
    pub headers: Vec<(HeaderName, Template)>,
    /// Body: a text template, or a JSON value whose strings are templates.
    pub body: Option<Body>,
    /// Request timeout.
    pub timeout: Duration,
    /// Checks on the response.
    pub asserts: Vec<Assertion>,
    /// Values captured for later steps.
    pub outputs: Vec<(String, Capture)>,
    /// Whether a later step reads `${steps.<id>.body}`, so the body must be
    /// kept after the step.
    pub body_referenced: bool,
    /// Whether a later step reads any `${steps.<id>.FIELD}`; when none does,
    /// the step's values are not kept for substitution at all.
    pub referenced: bool,
    /// [`Step::reads_json`], worked out once at load.
    pub parse_json: bool,
    /// Whether checking or capturing reads the body as text.
    pub reads_text: bool,
}

impl Step {
    /// Whether checking or capturing needs the body parsed as JSON. Parsing
    /// is skipped otherwise: it is most of a plain step's own cost.
    pub fn reads_json(&self) -> bool {
        self.body_referenced
            || self.asserts.iter().any(|a| matches!(a, Assertion::JsonEquals(..) | Assertion::JsonExists(..)))
            || self.outputs.iter().any(|(_, c)| matches!(c, Capture::Json(_) | Capture::Body))
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    /// Sent as written (after substitution).
    Text(Template),
    /// Sent as JSON; string leaves are templates.
    Json(Value),
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Text(String),
    /// `${env.NAME}`.
    Env(String),
    /// `${steps.ID.FIELD}`.
    Step(String, String),
}

/// A string with `${env.X}` and `${steps.<id>.<field>}` references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Pieces in order.
    pub parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; `$${` escapes a literal `${`.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            literal.push_str(&rest[..i]);
            rest = &rest[i..];
            if let Some(after) = rest.strip_prefix("$${") {
                literal.push_str("${");
                rest = after;
            } else if let Some(after) = rest.strip_prefix("${") {
                let end = after.find('}').ok_or_else(|| format!("unclosed `${{` in `{text}`"))?;
                let reference = after[..end].trim();
                let part = match reference.split('.').collect::<Vec<_>>().as_slice() {
                    ["env", name] if !name.is_empty() => Part::Env((*name).to_owned()),
                    ["steps", id, field] if !id.is_empty() && !field.is_empty() => {
                        Part::Step((*id).to_owned(), (*field).to_owned())
                    }
                    _ => {
                        return Err(format!(
                            "unknown reference `${{{reference}}}`: expected `${{env.NAME}}` or `${{steps.ID.FIELD}}`"
                        ))
                    }
                };
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(part);
                rest = &after[end + 1..];
            } else {
                literal.push('$');
                rest = &rest[1..];
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    fn step_refs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.parts.iter().filter_map(|p| match p {
            Part::Step(id, field) => Some((id.as_str(), field.as_str())),
            _ => None,
        })
    }

    /// Substitutes references. A template that is exactly one reference
    /// keeps the referenced value's JSON type (so `id: "${steps.a.id}"` stays
    /// a number in a JSON body).
    pub fn render_value(&self, scope: &Scope) -> Result<Value, String> {
        if let [single @ (Part::Env(_) | Part::Step(..))] = self.parts.as_slice() {
            return scope.lookup(single);
        }
        self.render(scope).map(Value::String)
    }

    /// Substitutes references into text.
    pub fn render(&self, scope: &Scope) -> Result<String, String> {
        // Sized for the literal text, so a URL without references is one
        // allocation.
        let literal: usize = self.parts.iter().map(|p| if let Part::Text(t) = p { t.len() } else { 0 }).sum();
        let mut out = String::with_capacity(literal);
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                other => match scope.lookup(other)? {
                    Value::String(s) => out.push_str(&s),
                    v => out.push_str(&v.to_string()),
                },
            }
        }
        Ok(out)
    }

    /// The text as reports and responses show it: every `${env.FLOW_*}`
    /// (where flows get their tokens and passwords) as `***`, the rest
    /// substituted. References that do not resolve show as written.
    pub fn render_masked(&self, scope: &Scope) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Env(name) if name.starts_with("FLOW_") => out.push_str("***"),
                other => match scope.lookup(other) {
                    Ok(Value::String(s)) => out.push_str(&s),
                    Ok(v) => out.push_str(&v.to_string()),
                    Err(_) => out.push_str("${...}"),
                },
            }
        }
        out
    }
}

/// What references resolve against while a flow runs.
#[derive(Debug, Default)]
pub struct Scope<'a> {
    /// Variables flows may read.
    pub env: Option<&'a HashMap<String, String>>,
    /// Outputs of earlier steps, by step id then field.
    pub steps: HashMap<String, BTreeMap<String, Value>>,
}

impl Scope<'_> {
    fn lookup(&self, part: &Part) -> Result<Value, String> {
        match part {
            Part::Text(t) => Ok(Value::String(t.clone())),
            Part::Env(name) => self.env.and_then(|e| e.get(name)).map(|v| Value::String(v.clone())).ok_or_else(|| {
                format!("`${{env.{name}}}` is not set (flows see API_GATEWAY_URL and variables named FLOW_*)")
            }),
            Part::Step(id, field) => {
                self.steps.get(id).and_then(|fields| fields.get(field)).cloned().ok_or_else(|| {
                    format!("`${{steps.{id}.{field}}}` has no value (step `{id}` did not capture `{field}`)")
                })
            }
        }
    }
}

/// A segment of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
    /// `[*]` or `.*`: every element or member.
    Wildcard,
    /// `..key`: the key at any depth.
    Descend(String),
}

/// A JSON path in the usual subset: `$`, `.key`, `['key']`, `[0]`, `[*]`,
/// and `..key` (any depth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    segs: Vec<Seg>,
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl JsonPath {
    /// Parses a path starting with `$`.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let err = |why: &str| format!("invalid JSON path `{text}`: {why}");
        let mut rest = text.strip_prefix('$').ok_or_else(|| err("it must start with `$`"))?;
        let mut segs = Vec::new();
        let key_end = |s: &str| s.find(['.', '[']).unwrap_or(s.len());
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("..") {
                let end = key_end(r);
                if end == 0 {
                    return Err(err("`..` must be followed by a key"));
                }
                segs.push(Seg::Descend(r[..end].to_owned()));
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('.') {
                let end = key_end(r);
                match &r[..end] {
                    "" => return Err(err("empty key")),
                    "*" => segs.push(Seg::Wildcard),
                    key => segs.push(Seg::Key(key.to_owned())),
                }
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').ok_or_else(|| err("unclosed `[`"))?;
                let inner = r[..end].trim();
                let seg = if inner == "*" {
                    Seg::Wildcard
                } else if let Ok(i) = inner.parse::<usize>() {
                    Seg::Index(i)
                } else if inner.len() >= 2
                    && (inner.starts_with('\'') && inner.ends_with('\'')
                        || inner.starts_with('"') && inner.ends_with('"'))
                {
                    Seg::Key(inner[1..inner.len() - 1].to_owned())
                } else {
                    return Err(err("expected [n], [*] or ['key']"));
                };
                segs.push(seg);
                rest = &r[end + 1..];
            } else {
                return Err(err("expected `.` or `[` after a segment"));
            }
        }
        Ok(JsonPath { text: text.to_owned(), segs })
    }

    /// Whether the path names one value (no wildcard or descent).
    pub fn is_single(&self) -> bool {
        self.segs.iter().all(|s| matches!(s, Seg::Key(_) | Seg::Index(_)))
    }

    /// The value at a single path.
    pub fn get<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        let mut cur = value;
        for seg in &self.segs {
            cur = match (seg, cur) {
                (Seg::Key(k), Value::Object(m)) => m.get(k)?,
                (Seg::Index(i), Value::Array(a)) => a.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Replaces every value the path matches with `with`.
    pub fn replace_all(&self, value: &mut Value, with: &Value) {
        fn walk(segs: &[Seg], cur: &mut Value, with: &Value) {
            let Some((seg, rest)) = segs.split_first() else {
                *cur = with.clone();
                return;
            };
            match (seg, cur) {
                (Seg::Key(k), Value::Object(m)) => {
                    if let Some(v) = m.get_mut(k) {
                        walk(rest, v, with);
                    }
                }
                (Seg::Index(i), Value::Array(a)) => {
                    if let Some(v) = a.get_mut(*i) {
                        walk(rest, v, with);
                    }
                }
                (Seg::Wildcard, Value::Array(a)) => a.iter_mut().for_each(|v| walk(rest, v, with)),
                (Seg::Wildcard, Value::Object(m)) => m.values_mut().for_each(|v| walk(rest, v, with)),
                (Seg::Descend(k), cur) => descend(k, rest, cur, with),
                _ => {}
            }
        }
        fn descend(key: &str, rest: &[Seg], cur: &mut Value, with: &Value) {
            match cur {
                Value::Object(m) => {
                    for (k, v) in m.iter_mut() {
                        if k == key {
                            walk(rest, v, with);
                        } else {
                            descend(key, rest, v, with);
                        }
                    }
                }
                Value::Array(a) => a.iter_mut().for_each(|v| descend(key, rest, v, with)),
                _ => {}
            }
        }
        walk(&self.segs, value, with);
    }
}

/// A check on a step's response.
#[derive(Debug, Clone)]
pub enum Assertion {
    /// The status is one of these.
    Status(Vec<u16>),
    /// The JSON body has this value at the path.
    JsonEquals(JsonPath, Value),
    /// The JSON body has (or lacks) a value at the path.
    JsonExists(JsonPath, bool),
    /// The body contains the text.
    BodyContains(String),
    /// The header equals the text (case-sensitive value, any-case name).
    HeaderEquals(HeaderName, String),
    /// The header contains the text.
    HeaderContains(HeaderName, String),
    /// The header is (or is not) present.
    HeaderExists(HeaderName, bool),
}

/// Where an output value comes from.
#[derive(Debug, Clone)]
pub enum Capture {
    /// `status`.
    Status,
    /// `body`: the whole body (JSON value when it parses, else text).
    Body,
    /// `$...`: a value in the JSON body.
    Json(JsonPath),
    /// `headers.<name>`.
    Header(HeaderName),
}

/// A response, as assertions and captures see it.
pub struct Observed<'a> {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: &'a http::HeaderMap,
    /// Body text (lossy UTF-8).
    pub text: &'a str,
    /// Body as JSON, when it is JSON.
    pub json: Option<&'a Value>,
}

impl Assertion {
    /// None when the check passes, else what differs.
    pub fn check(&self, r: &Observed<'_>) -> Option<String> {
        let header =
            |name: &HeaderName| r.headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        match self {
            Assertion::Status(codes) => (!codes.contains(&r.status)).then(|| {
                let want = codes.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ");
                format!("status: expected {want}, got {}", r.status)
            }),
            Assertion::JsonEquals(path, want) => match r.json.map(|j| path.get(j)) {
                None => Some(format!("json {path}: expected {want}, but the body is not JSON")),
                Some(None) => Some(format!("json {path}: expected {want}, but there is no value there")),
                Some(Some(got)) => (!json_equal(got, want)).then(|| format!("json {path}: expected {want}, got {got}")),
            },
            Assertion::JsonExists(path, want) => {
                let found = r.json.and_then(|j| path.get(j)).is_some();
                (found != *want).then(|| {
                    if *want {
                        format!("json {path}: expected a value, found none")
                    } else {
                        format!("json {path}: expected no value, found one")
                    }
                })
            }
            Assertion::BodyContains(text) => {
                (!r.text.contains(text.as_str())).then(|| format!("body: expected to contain {text:?}"))
            }
            Assertion::HeaderEquals(name, want) => match header(name) {
                Some(got) if got == *want => None,
                Some(got) => Some(format!("header {name}: expected {want:?}, got {got:?}")),
                None => Some(format!("header {name}: expected {want:?}, header absent")),
            },
            Assertion::HeaderContains(name, want) => match header(name) {
                Some(got) if got.contains(want.as_str()) => None,
                Some(got) => Some(format!("header {name}: expected to contain {want:?}, got {got:?}")),
                None => Some(format!("header {name}: expected to contain {want:?}, header absent")),
            },
            Assertion::HeaderExists(name, want) => (header(name).is_some() != *want).then(|| {
                if *want {
                    format!("header {name}: expected present, absent")
                } else {
                    format!("header {name}: expected absent, present")
                }
            }),
        }
    }
}

/// Numbers compare by value (YAML's `1` equals JSON's `1.0`).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

impl Capture {
    /// The captured value, or None when the response has none.
    pub fn extract(&self, r: &Observed<'_>) -> Option<Value> {
        match self {
            Capture::Status => Some(Value::from(r.status)),
            Capture::Body => Some(r.json.cloned().unwrap_or_else(|| Value::String(r.text.to_owned()))),
            Capture::Json(path) => r.json.and_then(|j| path.get(j)).cloned(),
            Capture::Header(name) => {
                r.headers.get(name).map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            }
        }
    }
}

// ---- the YAML shape ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowDoc {
    name: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)] // documented in the file, not used by the runner
    description: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    golden: bool,
    #[serde(default)]
    snapshot: SnapshotDoc,
    steps: Spanned<Vec<StepDoc>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SnapshotDoc {
    #[serde(default)]
    ignore: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepDoc {
    id: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)] // a label for people reading the flow
    name: Option<String>,
    action: Spanned<String>,
    config: RequestDoc,
    #[serde(default, rename = "assert")]
    asserts: AssertDoc,
    #[serde(default)]
    output: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestDoc {
    #[serde(default)]
    method: Option<Spanned<String>>,
    url: Spanned<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "present")]
    body: Option<Value>,
    #[serde(default)]
    timeout: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AssertDoc {
    #[serde(default)]
    status: Option<OneOrMany<u16>>,
    #[serde(default)]
    json: Vec<JsonAssertDoc>,
    #[serde(default)]
    body_contains: Option<OneOrMany<String>>,
    #[serde(default)]
    headers: BTreeMap<String, HeaderAssertDoc>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonAssertDoc {
    path: Spanned<String>,
    #[serde(default, deserialize_with = "present")]
    equals: Option<Value>,
    #[serde(default)]
    exists: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum HeaderAssertDoc {
    Equals(String),
    Rule(HeaderRuleDoc),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderRuleDoc {
    #[serde(default)]
    equals: Option<String>,
    #[serde(default)]
    contains: Option<String>,
    #[serde(default)]
    exists: Option<bool>,
}

/// Distinguishes `equals: null` (Some(Null)) from an absent key (None).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Parses and validates one flow document. `file` names it in errors.
pub fn parse_flow(text: &str, file: &str) -> Result<Flow, Vec<FlowProblem>> {
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        budget: serde_saphyr::budget! {
            max_depth: 64,
            max_documents: 1,
            max_nodes: 200_000,
        },
        with_snippet: false,
    };
    let doc: FlowDoc = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let loc = e.location();
        let message = e.without_snippet().to_string();
        // serde-saphyr ends the message with the position; we print our own.
        let message = message.find(" at line ").map_or(message.as_str(), |i| &message[..i]).to_owned();
        vec![FlowProblem {
            file: file.to_owned(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message: message.split_whitespace().collect::<Vec<_>>().join(" "),
        }]
    })?;
    let mut problems = Vec::new();
    let mut problem = |at: &serde_saphyr::Location, message: String| {
        problems.push(FlowProblem { file: file.to_owned(), line: Some(at.line()), column: Some(at.column()), message })
    };
    if doc.name.value.trim().is_empty() {
        problem(&doc.name.referenced, "`name` must not be empty".into());
    }
    if doc.steps.value.is_empty() {
        problem(&doc.steps.referenced, "a flow needs at least one step".into());
    }
    let mut ignore = Vec::new();
    for path in &doc.snapshot.ignore {
        match JsonPath::parse(&path.value) {
            Ok(p) => ignore.push(p),
            Err(e) => problem(&path.referenced, format!("snapshot.ignore: {e}")),
        }
    }
    // Outputs each earlier step offers, so references are checked at load.
    let mut offered: HashMap<String, HashSet<String>> = HashMap::new();
    let mut referenced_bodies: HashSet<String> = HashSet::new();
    let mut referenced_steps: HashSet<String> = HashSet::new();
    let mut steps = Vec::new();
    for s in doc.steps.value {
        let at = s.id.referenced;
        let id = s.id.value.clone();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            problem(&at, format!("step id `{id}` must be letters, digits, `_` or `-`"));
        }
        if offered.contains_key(&id) {
            problem(&at, format!("duplicate step id `{id}`"));
        }
        if s.action.value != "http_request" {
            problem(
                &s.action.referenced,
                format!("step `{id}`: unknown action `{}` (supported: http_request)", s.action.value),
            );
        }
        let method = match &s.config.method {
            None => Method::GET,
            Some(m) => match Method::from_bytes(m.value.to_ascii_uppercase().as_bytes()) {
                Ok(m) => m,
                Err(_) => {
                    problem(&m.referenced, format!("step `{id}`: invalid method `{}`", m.value));
                    Method::GET
                }
            },
        };
        let mut templates = Vec::new();
        let mut template = |text: &str,
                            what: &str,
                            at: &serde_saphyr::Location,
                            problem: &mut dyn FnMut(&serde_saphyr::Location, String)| {
            match Template::parse(text) {
                Ok(t) => {
                    templates.push((t.clone(), *at));
                    t
                }
                Err(e) => {
                    problem(at, format!("step `{id}`: {what}: {e}"));
                    Template { parts: vec![] }
                }
            }
        };
        let url = template(&s.config.url.value, "config.url", &s.config.url.referenced, &mut problem);
        let mut headers = Vec::new();
        for (name, value) in &s.config.headers {
            match HeaderName::from_bytes(name.as_bytes()) {
                Ok(h) => headers.push((h, template(value, &format!("header `{name}`"), &at, &mut problem))),
                Err(_) => problem(&at, format!("step `{id}`: invalid header name `{name}`")),
            }
        }
        let body = match s.config.body {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(Body::Text(template(&text, "config.body", &at, &mut problem))),
            Some(value) => {
                let mut strings = Vec::new();
                collect_strings(&value, &mut strings);
                for text in strings {
                    template(&text, "config.body", &at, &mut problem);
                }
                Some(Body::Json(value))
            }
        };
        let timeout = match &s.config.timeout {
            None => DEFAULT_STEP_TIMEOUT,
            Some(t) => match parse_duration(&t.value) {
                Some(d) if !d.is_zero() => d,
                _ => {
                    problem(&t.referenced, format!("step `{id}`: invalid timeout `{}` (e.g. 5s, 500ms, 2m)", t.value));
                    DEFAULT_STEP_TIMEOUT
                }
            },
        };
        for (t, loc) in &templates {
            for (ref_id, field) in t.step_refs() {
                match offered.get(ref_id) {
                    None => {
                        problem(loc, format!("step `{id}`: `${{steps.{ref_id}.{field}}}` refers to no earlier step"))
                    }
                    Some(fields) if !fields.contains(field) => problem(
                        loc,
                        format!("step `{id}`: step `{ref_id}` has no output `{field}` (it offers: {})", sorted(fields)),
                    ),
                    Some(_) => {}
                }
            }
        }
        let mut asserts = Vec::new();
        if let Some(status) = s.asserts.status {
            let codes = status.into_vec();
            if codes.iter().any(|c| !(100..=599).contains(c)) {
                problem(&at, format!("step `{id}`: assert.status must be between 100 and 599"));
            }
            asserts.push(Assertion::Status(codes));
        }
        for j in s.asserts.json {
            let path = match JsonPath::parse(&j.path.value) {
                Ok(p) if p.is_single() => p,
                Ok(_) => {
                    problem(
                        &j.path.referenced,
                        format!(
                            "step `{id}`: assert.json path `{}` must name one value (no `*` or `..`)",
                            j.path.value
                        ),
                    );
                    continue;
                }
                Err(e) => {
                    problem(&j.path.referenced, format!("step `{id}`: {e}"));
                    continue;
                }
            };
            match (j.equals, j.exists) {
                (Some(v), None) => asserts.push(Assertion::JsonEquals(path, v)),
                (None, Some(e)) => asserts.push(Assertion::JsonExists(path, e)),
                _ => problem(
                    &j.path.referenced,
                    format!("step `{id}`: assert.json `{}` needs exactly one of `equals` or `exists`", j.path.value),
                ),
            }
        }
        for text in s.asserts.body_contains.map(OneOrMany::into_vec).unwrap_or_default() {
            asserts.push(Assertion::BodyContains(text));
        }
        for (name, rule) in s.asserts.headers {
            let Ok(h) = HeaderName::from_bytes(name.as_bytes()) else {
                problem(&at, format!("step `{id}`: invalid header name `{name}` in assert.headers"));
                continue;
            };
            match rule {
                HeaderAssertDoc::Equals(v) => asserts.push(Assertion::HeaderEquals(h, v)),
                HeaderAssertDoc::Rule(HeaderRuleDoc { equals: Some(v), contains: None, exists: None }) => {
                    asserts.push(Assertion::HeaderEquals(h, v))
                }
                HeaderAssertDoc::Rule(HeaderRuleDoc { equals: None, contains: Some(v), exists: None }) => {
                    asserts.push(Assertion::HeaderContains(h, v))
                }
                HeaderAssertDoc::Rule(HeaderRuleDoc { equals: None, contains: None, exists: Some(e) }) => {
                    asserts.push(Assertion::HeaderExists(h, e))
                }
                HeaderAssertDoc::Rule(_) => problem(
                    &at,
                    format!("step `{id}`: assert.headers `{name}` needs exactly one of equals, contains, exists"),
                ),
            }
        }
        let mut outputs = Vec::new();
        for (name, source) in &s.output {
            let capture = match source.value.as_str() {
                "status" => Capture::Status,
                "body" => Capture::Body,
                other if other.starts_with('$') => match JsonPath::parse(other) {
                    Ok(p) if p.is_single() => Capture::Json(p),
                    Ok(_) => {
                        problem(
                            &source.referenced,
                            format!("step `{id}`: output `{name}`: `{other}` must name one value"),
                        );
                        continue;
                    }
                    Err(e) => {
                        problem(&source.referenced, format!("step `{id}`: output `{name}`: {e}"));
                        continue;
                    }
                },
                other => match other.strip_prefix("headers.").map(|h| HeaderName::from_bytes(h.as_bytes())) {
                    Some(Ok(h)) => Capture::Header(h),
                    _ => {
                        problem(
                            &source.referenced,
                            format!("step `{id}`: output `{name}`: `{other}` is not a source (use status, body, $.json.path or headers.NAME)"),
                        );
                        continue;
                    }
                },
            };
            outputs.push((name.clone(), capture));
        }
        for (t, _) in &templates {
            for (ref_id, field) in t.step_refs() {
                if field == "body" {
                    referenced_bodies.insert(ref_id.to_owned());
                }
                referenced_steps.insert(ref_id.to_owned());
            }
        }
        let mut fields: HashSet<String> = s.output.keys().cloned().collect();
        // Every step offers its status and body without declaring them.
        fields.insert("status".into());
        fields.insert("body".into());
        offered.insert(id.clone(), fields);
        steps.push(Step {
            id,
            method,
            url,
            headers,
            body,
            timeout,
            asserts,
            outputs,
            body_referenced: false,
            referenced: false,
            parse_json: false,
            reads_text: false,
        });
    }
    for step in &mut steps {
        step.body_referenced = referenced_bodies.contains(&step.id);
        step.referenced = referenced_steps.contains(&step.id);
        step.parse_json = step.reads_json();
        step.reads_text = step.asserts.iter().any(|a| matches!(a, Assertion::BodyContains(_)))
            || step.outputs.iter().any(|(_, c)| matches!(c, Capture::Body));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Flow { name: doc.name.value, tags: doc.tags, golden: doc.golden, ignore, steps, source: file.to_owned() })
}

fn sorted(set: &HashSet<String>) -> String {
    let mut v: Vec<_> = set.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.join(", ")
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(m) => m.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// Renders a JSON body template.
pub fn render_json(value: &Value, scope: &Scope) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Template::parse(s)?.render_value(scope)?,
        Value::Array(a) => Value::Array(a.iter().map(|v| render_json(v, scope)).collect::<Result<_, _>>()?),
        Value::Object(m) => Value::Object(
            m.iter().map(|(k, v)| Ok((k.clone(), render_json(v, scope)?))).collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// The flows of a directory, by name.
#[derive(Debug, Clone, Default)]
pub struct FlowCatalog {
    flows: BTreeMap<String, std::sync::Arc<Flow>>,
}

impl FlowCatalog {
    /// Loads every `*.yaml` / `*.yml` file under `dir` (recursively, in
    /// sorted order). Any malformed file fails the whole load, listing every
    /// problem: a runner serving a partial set would seed partial snapshots.
    pub fn load_dir(dir: &Path) -> Result<FlowCatalog, FlowError> {
        let mut files = Vec::new();
        collect_files(dir, &mut files).map_err(|source| FlowError::Dir { path: dir.to_owned(), source })?;
        files.sort();
        let mut problems = Vec::new();
        let mut flows = BTreeMap::new();
        let mut origin: HashMap<String, String> = HashMap::new();
        for file in files {
            let shown = file.display().to_string();
            let text = match read_flow_file(&file) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(FlowProblem {
                        file: shown,
                        line: None,
                        column: None,
                        message: format!("cannot read: {e}"),
                    });
                    continue;
                }
            };
            match parse_flow(&text, &shown) {
                Ok(flow) => {
                    if let Some(first) = origin.get(&flow.name) {
                        problems.push(FlowProblem {
                            file: shown,
                            line: None,
                            column: None,
                            message: format!("flow name `{}` is already used by {first}", flow.name),
                        });
                        continue;
                    }
                    origin.insert(flow.name.clone(), shown);
                    flows.insert(flow.name.clone(), std::sync::Arc::new(flow));
                }
                Err(mut p) => problems.append(&mut p),
            }
        }
        if !problems.is_empty() {
            return Err(FlowError::Invalid { problems });
        }
        Ok(FlowCatalog { flows })
    }

    /// A catalog of the given flows.
    pub fn from_flows(flows: impl IntoIterator<Item = Flow>) -> Self {
        FlowCatalog { flows: flows.into_iter().map(|f| (f.name.clone(), std::sync::Arc::new(f))).collect() }
    }

    /// The flow named `name`.
    pub fn get(&self, name: &str) -> Option<std::sync::Arc<Flow>> {
        self.flows.get(name).cloned()
    }

    /// Flows marked golden, by name.
    pub fn golden(&self) -> Vec<std::sync::Arc<Flow>> {
        self.flows.values().filter(|f| f.golden).cloned().collect()
    }

    /// Number of flows.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// All flows, by name.
    pub fn iter(&self) -> impl Iterator<Item = &std::sync::Arc<Flow>> {
        self.flows.values()
    }
}

/// The largest flow file read: a flow is a page of YAML.
pub const MAX_FLOW_FILE_BYTES: u64 = 1 << 20;

/// Reads one flow file: only a regular file (after symlinks), of at most
/// [`MAX_FLOW_FILE_BYTES`]. A FIFO would block the start for ever and a
/// device like `/dev/zero` never ends; both are refused by name.
fn read_flow_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    use std::os::unix::fs::FileTypeExt as _;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let t = meta.file_type();
        let what = if t.is_fifo() {
            "a FIFO"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(std::io::Error::other(format!("{what}: a flow must be a regular file")));
    }
    let mut text = String::new();
    std::fs::File::open(path)?.take(MAX_FLOW_FILE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FLOW_FILE_BYTES {
        return Err(std::io::Error::other(format!("larger than {} KiB", MAX_FLOW_FILE_BYTES >> 10)));
    }
    Ok(text)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        // Kubernetes mounts ConfigMaps through `..data` symlinks and hidden
        // timestamped directories; the visible names are the files.
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name: users
tags: [smoke]
golden: true
snapshot:
  ignore: ["$.created_at", "$..id"]
steps:
  - id: create
    action: http_request
    config:
      method: post
      url: "${env.API_GATEWAY_URL}/users"
      headers:
        content-type: application/json
      body:
        name: ada
      timeout: 5s
    assert:
      status: 201
      json:
        - path: $.name
          equals: ada
        - path: $.id
          exists: true
      body_contains: ada
      headers:
        content-type: { contains: json }
    output:
      user_id: $.id
  - id: read
    action: http_request
    config:
      url: "${env.API_GATEWAY_URL}/users/${steps.create.user_id}"
    assert:
      status: [200, 304]
"#;

    #[test]
    fn a_full_flow_parses() {
        let flow = parse_flow(GOOD, "users.yaml").unwrap();
        assert_eq!(flow.name, "users");
        assert!(flow.golden);
        assert_eq!(flow.steps.len(), 2);
        assert_eq!(flow.steps[0].method, Method::POST);
        assert_eq!(flow.steps[0].timeout, Duration::from_secs(5));
        assert_eq!(flow.steps[0].asserts.len(), 5);
        assert_eq!(flow.steps[1].url.parts[2], Part::Step("create".into(), "user_id".into()));
    }

    fn problems(text: &str) -> Vec<String> {
        parse_flow(text, "f.yaml").unwrap_err().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn malformed_flows_name_file_and_line() {
        let p = problems("name: x\nsteps:\n  - id: a\n    action: http_request\n    config:\n      url: http://h/\n      verb: GET\n");
        assert!(p[0].starts_with("f.yaml:7:"), "{p:?}");
        assert!(p[0].contains("verb"), "{p:?}");

        let p = problems("name: x\nsteps:\n  - id: a\n    action: shell\n    config: {url: http://h/}\n");
        assert_eq!(p, ["f.yaml:4:13: step `a`: unknown action `shell` (supported: http_request)"]);

        let p = problems(
            "name: x\nsteps:\n  - id: a\n    action: http_request\n    config: {url: \"http://h/${steps.b.id}\"}\n",
        );
        assert!(p[0].starts_with("f.yaml:5:") && p[0].contains("refers to no earlier step"), "{p:?}");

        let p = problems("name: x\nsteps:\n  - id: a\n    action: http_request\n    config: {url: http://h/}\n  - id: a\n    action: http_request\n    config: {url: \"${steps.a.token}\"}\n");
        assert!(p.iter().any(|m| m.starts_with("f.yaml:6:") && m.contains("duplicate step id")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("has no output `token`")), "{p:?}");

        let p = problems("name: x\nsteps: []\n");
        assert!(p[0].starts_with("f.yaml:2:") && p[0].contains("at least one step"), "{p:?}");

        let p = problems("name: x\nname: y\nsteps: []\n");
        assert!(p[0].contains("duplicate"), "{p:?}");

        let p = problems(
            "name: x\nsteps:\n  - id: a\n    action: http_request\n    config: {url: http://h/, timeout: soon}\n",
        );
        assert!(p[0].contains("invalid timeout"), "{p:?}");
    }

    #[test]
    fn templates() {
        let env: HashMap<String, String> = [("HOST".to_owned(), "h:1".to_owned())].into();
        let mut scope = Scope { env: Some(&env), ..Default::default() };
        scope.steps.insert("a".into(), [("id".to_owned(), Value::from(7))].into());
        let t = Template::parse("http://${env.HOST}/u/${steps.a.id}?x=$${lit}&y=$5").unwrap();
        assert_eq!(t.render(&scope).unwrap(), "http://h:1/u/7?x=${lit}&y=$5");
        assert_eq!(Template::parse("${steps.a.id}").unwrap().render_value(&scope).unwrap(), Value::from(7));
        assert!(Template::parse("${env.NOPE}").unwrap().render(&scope).unwrap_err().contains("not set"));
        assert!(Template::parse("${oops}").is_err());
        assert!(Template::parse("${env.X").is_err());
    }

    #[test]
    fn json_paths() {
        let v: Value =
            serde_json::json!({"a": {"b": [1, {"c": "x"}]}, "id": 3, "items": [{"id": 1, "n": 1}, {"id": 2}]});
        assert_eq!(JsonPath::parse("$.a.b[1].c").unwrap().get(&v), Some(&Value::from("x")));
        assert_eq!(JsonPath::parse("$['a']['b'][0]").unwrap().get(&v), Some(&Value::from(1)));
        assert_eq!(JsonPath::parse("$").unwrap().get(&v), Some(&v));
        assert!(JsonPath::parse("a.b").is_err());
        let mut w = v.clone();
        JsonPath::parse("$..id").unwrap().replace_all(&mut w, &Value::from("<ignored>"));
        assert_eq!(w["id"], "<ignored>");
        assert_eq!(w["items"][1]["id"], "<ignored>");
        assert_eq!(w["items"][0]["n"], 1);
        let mut w = v.clone();
        JsonPath::parse("$.items[*].id").unwrap().replace_all(&mut w, &Value::Null);
        assert_eq!(w["items"][0]["id"], Value::Null);
        assert_eq!(w["id"], 3);
    }

    #[test]
    fn special_files_among_the_flows_are_refused_by_name_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), GOOD).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("z.yaml")).unwrap();
        let fifo = dir.path().join("f.yaml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        // Opening the FIFO would block for ever; loading must not.
        let err = FlowCatalog::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("f.yaml") && err.contains("a FIFO"), "{err}");
        assert!(err.contains("z.yaml") && err.contains("a device"), "{err}");
    }
}
