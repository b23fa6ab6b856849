//! Measured comparison of two YAML parsers for meshctl's validator on the
//! same inputs:
//!
//! - `meshctl`: meshctl's own path, `yaml::decode(text, line, strict =
//!   true)` per document (serde-saphyr with meshctl's YAML 1.1 visitor and
//!   budgets), documents split by `yaml::DocumentSplitter`. When this
//!   comparison was first run the `meshctl` path was serde_yaml 0.9; the
//!   result (bench/yaml-compare.md) is why it is serde-saphyr now.
//! - `saphyr`: serde-saphyr 2.x, one call per document (same splitter), into
//!   `serde_json::Value`, with the options meshctl would use
//!   (`DuplicateKeyPolicy::Error`, alias limits, a budget).
//! - `saphyr-default`: serde-saphyr with `Options::default()` (its duplicate
//!   policy is already `Error`), to show what the crate does unconfigured.
//!
//! Modes (`cargo run --release --example yaml_compare -- MODE`):
//! `speed [--docs N] [--runs N] [--file PATH]`, `dupes`, `bomb-timing`,
//! `bomb KIND PARSER` (parses only one hostile input; for `/usr/bin/time -v`),
//! `deep` (runs every deep-nesting case in a child process), `errors`,
//! `types`, `all` (everything but `bomb`).

use std::fmt::Write as _;
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use meshctl::yaml::decode;
use meshctl::yaml::DocumentSplitter;
use serde::de::DeserializeSeed as _;
use serde_json::Value;
use serde_saphyr::{DuplicateKeyPolicy, Options};

// ---------------------------------------------------------------------------
// The parsers under test.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parser {
    Meshctl,
    Saphyr,
    SaphyrDefault,
    SaphyrNoBudget,
}

impl Parser {
    fn name(self) -> &'static str {
        match self {
            Parser::Meshctl => "meshctl",
            Parser::Saphyr => "saphyr",
            Parser::SaphyrDefault => "saphyr-default",
            Parser::SaphyrNoBudget => "saphyr-nobudget",
        }
    }
    fn from_name(s: &str) -> Parser {
        match s {
            "meshctl" => Parser::Meshctl,
            "saphyr" => Parser::Saphyr,
            "saphyr-default" => Parser::SaphyrDefault,
            "saphyr-nobudget" => Parser::SaphyrNoBudget,
            other => die(&format!("unknown parser {other:?}")),
        }
    }
}

/// The options meshctl would pass: duplicate keys are errors, aliases are
/// bounded well below the defaults (manifests rarely use them), the same
/// nesting depth as serde_yaml's recursion limit (128; CRD schemas nest
/// deeply), one document per call (the splitter hands over one), no comment
/// capture (the validator never reads comments) and plain one-line errors
/// (meshctl prints its own file:line:column).
fn saphyr_options() -> Options {
    serde_saphyr::options! {
        duplicate_keys: DuplicateKeyPolicy::Error,
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
        emit_comments: false,
        with_snippet: false,
    }
}

fn options_for(p: Parser) -> Options {
    match p {
        Parser::Saphyr => saphyr_options(),
        Parser::SaphyrDefault => Options::default(),
        Parser::SaphyrNoBudget => serde_saphyr::options! { budget: None, with_snippet: false },
        Parser::Meshctl => unreachable!(),
    }
}

/// A parse failure as each parser reports it (file line, 1-based column).
#[derive(Debug, Clone)]
struct Failure {
    message: String,
    line: Option<u64>,
    column: Option<u64>,
    /// The parser's complete text where meshctl shortens it.
    full: Option<String>,
}

impl Failure {
    fn pos(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{l}:{c}"),
            (Some(l), None) => format!("{l}"),
            _ => "-".into(),
        }
    }
}

/// One document's text (starting at file line `first_line`) to values.
fn parse_doc(p: Parser, text: &str, first_line: usize) -> Result<Vec<Value>, Failure> {
    match p {
        Parser::Meshctl => decode(text, first_line, true).map_err(|e| Failure {
            message: format!("[{}] {}", e.rule, e.message),
            line: e.line.map(|l| l as u64),
            column: e.column.map(|c| c as u64),
            full: serde_yaml_full_error(text),
        }),
        _ => saphyr_doc(text, first_line, options_for(p)),
    }
}

fn saphyr_doc(text: &str, first_line: usize, opts: Options) -> Result<Vec<Value>, Failure> {
    match serde_saphyr::from_str_with_options::<Value>(text, opts) {
        // Like decode(): a document that is only null is no object.
        Ok(Value::Null) => Ok(Vec::new()),
        Ok(v) => Ok(vec![v]),
        Err(e) => Err(saphyr_failure(&e, first_line)),
    }
}

fn saphyr_failure(e: &serde_saphyr::Error, first_line: usize) -> Failure {
    let loc = e.location();
    Failure {
        message: one_line(&e.without_snippet().to_string()),
        line: loc.as_ref().map(|l| l.line() + first_line as u64 - 1),
        column: loc.as_ref().map(|l| l.column()),
        full: None,
    }
}

/// serde_yaml's own message, untruncated (decode.rs cuts it at " at line ").
fn serde_yaml_full_error(text: &str) -> Option<String> {
    for doc in serde_yaml::Deserializer::from_str(text) {
        let seed = MeshctlSeed { strict: true };
        if let Err(e) = seed.deserialize(doc) {
            return Some(one_line(&e.to_string()));
        }
    }
    None
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits `stream` like the validator and parses every document; returns
/// (documents, values) or the first failure with its file position.
fn parse_stream(p: Parser, stream: &str) -> Result<(usize, Vec<Value>), Failure> {
    let mut docs = 0;
    let mut out = Vec::new();
    for raw in DocumentSplitter::new(stream.as_bytes()) {
        let raw =
            raw.map_err(|e| Failure { message: e.message, line: Some(e.line as u64), column: None, full: None })?;
        let text = raw.text.map_err(|m| Failure { message: m, line: None, column: None, full: None })?;
        docs += 1;
        out.extend(parse_doc(p, &text, raw.line)?);
    }
    Ok((docs, out))
}

// ---------------------------------------------------------------------------
// A copy of decode.rs's visitor (private there), to run serde-saphyr through
// exactly the same Value construction in one speed variant.

#[derive(Clone, Copy)]
struct MeshctlSeed {
    strict: bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for MeshctlSeed {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for MeshctlSeed {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
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
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("{v} is not a finite number")))
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
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(self)?;
            if self.strict && out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

struct KeySeed;

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed {
    type Value = String;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeySeed {
    type Value = String;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
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

// ---------------------------------------------------------------------------
// 1. Speed.

/// A tiny deterministic generator (no rand dependency).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn hex(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from_digit(self.below(16) as u32, 16).unwrap()).collect()
    }
}

fn deployment(out: &mut String, i: usize, r: &mut Lcg) {
    let ns = i % 7;
    let replicas = 1 + r.below(5);
    let digest = r.hex(64);
    let _ = write!(
        out,
        "# Source: testmesh/templates/svc-{i}/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-{i}
  namespace: team-{ns}
  labels:
    app.kubernetes.io/name: svc-{i}
    app.kubernetes.io/part-of: testmesh
    app.kubernetes.io/version: \"1.{}.{}\"
  annotations:
    deployment.kubernetes.io/revision: \"{}\"
    description: >-
      Folded description for service {i}, which spans
      two lines of text in the manifest.
spec:
  replicas: {replicas}
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      app.kubernetes.io/name: svc-{i}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: 25%, maxUnavailable: 0}}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: svc-{i}
    spec:
      serviceAccountName: svc-{i}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        fsGroup: 10001
      containers:
",
        i % 10,
        i % 3,
        r.below(50),
    );
    for c in 0..1 + r.below(3) {
        let _ = write!(
            out,
            "        - name: c{c}
          image: \"registry.local:5000/testmesh/svc-{i}@sha256:{digest}\"
          imagePullPolicy: IfNotPresent
          args: [\"--port=8080\", \"--log-level=info\", \"--shard={c}\"]
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
            - name: metrics
              containerPort: 9090
              protocol: TCP
          env:
"
        );
        for k in 0..3 + r.below(6) {
            let _ = writeln!(out, "            - name: VAR_{k}\n              value: \"value-{i}-{k}\"");
        }
        out.push_str(
            "            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits:
              cpu: \"1\"
              memory: 512Mi
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: 5
            periodSeconds: 10
          volumeMounts:
            - name: config
              mountPath: /etc/svc
              readOnly: true
",
        );
    }
    let _ = write!(
        out,
        "      volumes:
        - name: config
          configMap:
            name: svc-{i}-config
            defaultMode: 420
"
    );
}

fn service(out: &mut String, i: usize) {
    let _ = write!(
        out,
        "apiVersion: v1
kind: Service
metadata:
  name: svc-{i}
  namespace: team-{}
  labels:
    app.kubernetes.io/name: svc-{i}
    app.kubernetes.io/part-of: testmesh
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: svc-{i}
  ports:
    - name: http
      port: 80
      targetPort: http
      protocol: TCP
    - name: metrics
      port: 9090
      targetPort: 9090
      protocol: TCP
",
        i % 7
    );
}

fn config_map(out: &mut String, i: usize, r: &mut Lcg) {
    let _ = write!(
        out,
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: svc-{i}-config
  namespace: team-{}
data:
  app.properties: |
",
        i % 7
    );
    for k in 0..5 + r.below(20) {
        let _ = writeln!(out, "    setting.{k}.value=some text {} with = and : signs", r.next());
    }
    let _ = write!(
        out,
        "  nginx.conf: |
    server {{
      listen 80;
      location / {{
        proxy_pass http://svc-{i}:8080;
        proxy_set_header Host $host;
      }}
    }}
  settings.json: '{{\"replicas\": 3, \"feature\": \"on\", \"name\": \"svc-{i}\"}}'
  motd: \"Welcome to svc-{i}\\n\\tTabbed line with \\\"quotes\\\" and caf\\u00e9\"
  LOG_LEVEL: info
  RETRIES: \"5\"
"
    );
}

/// `docs` documents: 40% Deployments, 30% Services, 30% ConfigMaps.
fn synthetic_corpus(docs: usize) -> String {
    let mut r = Lcg(0x5eed);
    let mut out = String::with_capacity(docs * 1600);
    for i in 0..docs {
        out.push_str("---\n");
        match i % 10 {
            0..=3 => deployment(&mut out, i, &mut r),
            4..=6 => service(&mut out, i),
            _ => config_map(&mut out, i, &mut r),
        }
    }
    out
}

/// meshctl's own chart, rendered for every profile and environment, repeated
/// up to `docs` documents.
fn chart_corpus(docs: usize) -> Result<(String, usize), String> {
    let ctx = meshctl::ops::Context::new(meshctl::assets::Assets::embedded());
    let mut objects = Vec::new();
    for profile in ["offline", "aws", "azure", "gcp"] {
        for env in ["dev", "staging", "prod"] {
            let req = meshctl::ops::RenderRequest {
                profile: profile.into(),
                environment: env.into(),
                values: meshctl::profile::values::UserValues::default(),
            };
            let set = meshctl::ops::render(&ctx, &req).map_err(|e| format!("render {profile}/{env}: {e}"))?;
            objects.extend(set.objects.into_iter().map(|o| o.yaml));
        }
    }
    if objects.is_empty() {
        return Err("the render produced no objects".into());
    }
    let distinct = objects.len();
    let mut out = String::new();
    for k in 0..docs {
        out.push_str("---\n");
        let y = &objects[k % distinct];
        out.push_str(y);
        if !y.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok((out, distinct))
}

/// One timed pass of a variant over the corpus; returns documents parsed.
type Pass = fn(&str) -> usize;

fn pass_split_only(corpus: &str) -> usize {
    let mut n = 0;
    for raw in DocumentSplitter::new(corpus.as_bytes()) {
        black_box(raw.unwrap().text.unwrap());
        n += 1;
    }
    n
}

fn pass_meshctl(corpus: &str) -> usize {
    let mut n = 0;
    for raw in DocumentSplitter::new(corpus.as_bytes()) {
        let raw = raw.unwrap();
        let v = decode(raw.text.as_ref().unwrap(), raw.line, true).unwrap();
        n += v.len();
        black_box(v);
    }
    n
}

fn pass_saphyr(corpus: &str) -> usize {
    let opts = saphyr_options();
    let mut n = 0;
    for raw in DocumentSplitter::new(corpus.as_bytes()) {
        let raw = raw.unwrap();
        let v: Value = serde_saphyr::from_str_with_options(raw.text.as_ref().unwrap(), opts.clone()).unwrap();
        n += 1;
        black_box(v);
    }
    n
}

fn pass_saphyr_meshctl_visitor(corpus: &str) -> usize {
    let opts = saphyr_options();
    let mut n = 0;
    for raw in DocumentSplitter::new(corpus.as_bytes()) {
        let raw = raw.unwrap();
        let v = serde_saphyr::with_deserializer_from_str_with_options(raw.text.as_ref().unwrap(), opts.clone(), |de| {
            MeshctlSeed { strict: false }.deserialize(de)
        })
        .unwrap();
        n += 1;
        black_box(v);
    }
    n
}

fn pass_saphyr_default(corpus: &str) -> usize {
    let mut n = 0;
    for raw in DocumentSplitter::new(corpus.as_bytes()) {
        let raw = raw.unwrap();
        let v: Value = serde_saphyr::from_str(raw.text.as_ref().unwrap()).unwrap();
        n += 1;
        black_box(v);
    }
    n
}

fn time_pass(f: Pass, corpus: &str, runs: usize) -> (usize, Duration, Duration) {
    let mut times = Vec::new();
    let mut docs = 0;
    for _ in 0..runs {
        let t = Instant::now();
        docs = f(corpus);
        times.push(t.elapsed());
    }
    times.sort();
    (docs, times[0], times[times.len() / 2])
}

/// The first JSON pointer at which two values differ.
fn first_diff(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            if x.len() != y.len() || x.keys().ne(y.keys()) {
                return Some(format!(
                    "{path}: keys {:?} vs {:?}",
                    x.keys().collect::<Vec<_>>(),
                    y.keys().collect::<Vec<_>>()
                ));
            }
            x.iter().find_map(|(k, v)| first_diff(v, &y[k], &format!("{path}/{k}")))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (p, q))| first_diff(p, q, &format!("{path}/{i}")))
        }
        _ if a == b => None,
        _ => Some(format!("{path}: {a} vs {b}")),
    }
}

fn check_same(corpus: &str) {
    let (_, a) = parse_stream(Parser::Meshctl, corpus).unwrap_or_else(|e| die(&format!("meshctl: {e:?}")));
    let (_, b) = parse_stream(Parser::Saphyr, corpus).unwrap_or_else(|e| die(&format!("saphyr: {e:?}")));
    let differing: Vec<String> = a.iter().zip(&b).filter_map(|(x, y)| first_diff(x, y, "")).collect();
    println!(
        "  same values: {} of {} documents identical (key order included){}",
        a.len() - differing.len(),
        a.len(),
        differing.first().map(|d| format!("; first difference at {d}")).unwrap_or_default()
    );
}

fn bench_corpus(label: &str, corpus: &str, runs: usize) {
    let bytes = corpus.len();
    let docs = pass_split_only(corpus);
    println!(
        "\n## {label}: {docs} documents, {:.2} MB ({bytes} bytes), best and median of {runs} runs",
        bytes as f64 / 1e6
    );
    check_same(corpus);
    println!("| variant | docs/s (best) | MB/s (best) | best ms | median ms |");
    println!("|---|---:|---:|---:|---:|");
    let variants: [(&str, Pass); 5] = [
        ("split only (DocumentSplitter, no parse)", pass_split_only),
        ("meshctl: yaml::decode() = serde-saphyr + decode.rs visitor, strict", pass_meshctl),
        ("serde-saphyr -> serde_json::Value, meshctl options", pass_saphyr),
        ("serde-saphyr -> decode.rs visitor copy, meshctl options", pass_saphyr_meshctl_visitor),
        ("serde-saphyr -> serde_json::Value, Options::default()", pass_saphyr_default),
    ];
    for (name, f) in variants {
        let (n, best, median) = time_pass(f, corpus, runs);
        let s = best.as_secs_f64();
        println!(
            "| {name} | {:.0} | {:.1} | {:.1} | {:.1} |",
            n as f64 / s,
            bytes as f64 / 1e6 / s,
            s * 1e3,
            median.as_secs_f64() * 1e3
        );
    }
}

fn speed(args: &[String]) {
    let mut docs = 20_000;
    let mut runs = 5;
    let mut file = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--docs" => docs = it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| die("--docs N")),
            "--runs" => runs = it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| die("--runs N")),
            "--file" => file = Some(it.next().unwrap_or_else(|| die("--file PATH")).clone()),
            other => die(&format!("unknown speed option {other}")),
        }
    }
    println!("# 1. Speed (single thread; MB = 10^6 bytes; splitting included in every parse variant)");
    if let Some(path) = file {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| die(&format!("{path}: {e}")));
        bench_corpus(&format!("file {path}"), &text, runs);
        return;
    }
    bench_corpus("synthetic corpus (Deployments, Services, ConfigMaps; no anchors)", &synthetic_corpus(docs), runs);
    match chart_corpus(docs) {
        Ok((text, distinct)) => bench_corpus(
            &format!("meshctl chart render ({distinct} distinct objects from 4 profiles x 3 environments, repeated)"),
            &text,
            runs,
        ),
        Err(e) => println!("\n(chart corpus skipped: {e})"),
    }
}

// ---------------------------------------------------------------------------
// 2. Duplicate keys.

struct DupCase {
    name: &'static str,
    text: &'static str,
    /// (line, column) of the repeated key in the stream.
    key: (u64, u64),
    /// (line, column) of the mapping holding it.
    map: (u64, u64),
}

fn where_is(f: &Failure, key: (u64, u64), map: (u64, u64)) -> &'static str {
    match (f.line, f.column) {
        (Some(l), Some(c)) if (l, c) == key => "the duplicate key",
        (Some(l), Some(c)) if (l, c) == map => "the enclosing map",
        (Some(l), _) if l == key.0 => "the duplicate key's line",
        (Some(_), _) => "elsewhere",
        _ => "no position",
    }
}

fn dupes() {
    println!("\n# 2. Duplicate keys (strict; positions are stream line:column)");
    let cases = [
        DupCase { name: "top level `a: 1\\na: 2`", text: "a: 1\na: 2\n", key: (2, 1), map: (1, 1) },
        DupCase {
            name: "nested (metadata.labels.app)",
            text: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    app: a\n    tier: web\n    app: b\ndata: {}\n",
            key: (8, 5),
            map: (6, 5),
        },
        DupCase { name: "flow map `{a: 1, b: 2, a: 3}`", text: "spec: {a: 1, b: 2, a: 3}\n", key: (1, 20), map: (1, 7) },
        DupCase {
            name: "3rd document of a stream, deep",
            text: "a: 1\n---\nb: 2\n---\nkind: Pod\nspec:\n  containers:\n    - name: x\n      image: y\n      image: z\n",
            key: (10, 7),
            map: (8, 7),
        },
        DupCase { name: "int key and string key `1:` / `\"1\":`", text: "1: a\n\"1\": b\n", key: (2, 1), map: (1, 1) },
    ];
    println!("| case | parser | rejected? | position | points at | message |");
    println!("|---|---|---|---|---|---|");
    for c in &cases {
        for p in [Parser::Meshctl, Parser::Saphyr] {
            match parse_stream(p, c.text) {
                Ok((_, v)) => println!(
                    "| {} | {} | no | - | - | accepted: {} |",
                    c.name,
                    p.name(),
                    v.iter().map(Value::to_string).collect::<Vec<_>>().join(" ; ")
                ),
                Err(f) => println!(
                    "| {} | {} | yes | {} | {} | {} |",
                    c.name,
                    p.name(),
                    f.pos(),
                    where_is(&f, c.key, c.map),
                    f.message.replace('|', "\\|")
                ),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 3. Alias bombs.

/// Billion laughs: `a` holds 9 strings, each next level 9 aliases of the
/// previous one; 10 levels expand to 9^10 (3.5e9) strings.
fn billion_laughs() -> String {
    let mut s = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let mut prev = 'a';
    for c in 'b'..='j' {
        let refs = vec![format!("*{prev}"); 9].join(",");
        let _ = writeln!(s, "{c}: &{c} [{refs}]");
        prev = c;
    }
    s
}

/// Few aliases, big leaves: 9 strings of 10 kB, 5 levels (9^5 = 59,049
/// leaves = 590 MB if expanded) plus 2,000 filler scalars so that the
/// document has enough events to stay under serde_yaml's repetition limit
/// (alias jumps <= 100 x events). The document itself is 0.1 MB.
fn wide_leaves() -> String {
    let leaf = format!("\"{}\"", "x".repeat(10_000));
    let mut s = format!("a: &a [{}]\n", vec![leaf; 9].join(","));
    let mut prev = 'a';
    for c in 'b'..='e' {
        let refs = vec![format!("*{prev}"); 9].join(",");
        let _ = writeln!(s, "{c}: &{c} [{refs}]");
        prev = c;
    }
    let _ = writeln!(s, "filler: [{}]", vec!["0"; 2_000].join(","));
    s
}

/// Legitimate anchor use: one anchor, 50 aliases.
fn benign_anchors() -> String {
    let mut s = String::from("defaults: &d {cpu: 100m, memory: 128Mi}\ncontainers:\n");
    for i in 0..50 {
        let _ = writeln!(s, "  - {{name: c{i}, resources: *d}}");
    }
    s
}

fn hostile(kind: &str) -> String {
    match kind {
        "laughs" => billion_laughs(),
        "wide" => wide_leaves(),
        "benign" => benign_anchors(),
        other => die(&format!("unknown bomb kind {other:?} (laughs, wide, benign)")),
    }
}

/// (scalars, string bytes) of a value, counted without serializing it.
fn weigh(v: &Value) -> (usize, usize) {
    match v {
        Value::Array(a) => a.iter().map(weigh).fold((0, 0), |x, y| (x.0 + y.0, x.1 + y.1)),
        Value::Object(m) => {
            m.iter().map(|(k, v)| (k.len(), weigh(v))).fold((0, 0), |x, (k, y)| (x.0 + y.0, x.1 + k + y.1))
        }
        Value::String(s) => (1, s.len()),
        _ => (1, 0),
    }
}

fn describe(r: &Result<Vec<Value>, Failure>) -> String {
    match r {
        Ok(v) => {
            let (n, bytes) = v.iter().map(weigh).fold((0, 0), |x, y| (x.0 + y.0, x.1 + y.1));
            format!("accepted ({n} scalars, {:.1} MB of string data)", bytes as f64 / 1e6)
        }
        Err(f) => format!("rejected at {}: {}", f.pos(), f.message),
    }
}

/// Parses only one hostile input, once (for `/usr/bin/time -v`).
fn bomb(kind: &str, parser: &str) {
    let text = hostile(kind);
    if parser == "none" {
        println!("bomb {kind} none: input built ({} bytes), not parsed", black_box(&text).len());
        return;
    }
    let p = Parser::from_name(parser);
    let t = Instant::now();
    let r = parse_doc(p, &text, 1);
    let el = t.elapsed();
    println!("bomb {kind} {}: {:.2} ms, {}", p.name(), el.as_secs_f64() * 1e3, describe(&r));
}

fn bomb_timing() {
    println!("\n# 3. Alias bombs (in-process timing, best of 5; peak RSS comes from /usr/bin/time -v below)");
    println!("| input | input bytes | parser | result | best ms |");
    println!("|---|---:|---|---|---:|");
    for kind in ["laughs", "wide", "benign"] {
        let text = hostile(kind);
        for p in [Parser::Meshctl, Parser::Saphyr, Parser::SaphyrDefault] {
            let mut best = Duration::MAX;
            let mut last = None;
            for _ in 0..5 {
                let t = Instant::now();
                let r = parse_doc(p, &text, 1);
                best = best.min(t.elapsed());
                last = Some(r);
            }
            let r = last.unwrap();
            println!(
                "| {kind} | {} | {} | {} | {:.3} |",
                text.len(),
                p.name(),
                describe(&r).replace('|', "\\|"),
                best.as_secs_f64() * 1e3
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 4. Deep nesting, each case in a child process.

fn deep_text(kind: &str, n: usize) -> String {
    match kind {
        "flow-seq" => format!("{}{}", "[".repeat(n), "]".repeat(n)),
        "flow-seq-unclosed" => "[".repeat(n),
        "flow-map" => format!("{}x{}", "{a: ".repeat(n), "}".repeat(n)),
        "block-seq" => format!("{}x\n", "- ".repeat(n)),
        other => die(&format!("unknown deep kind {other:?}")),
    }
}

fn deep_child(parser: &str, kind: &str, stack: &str, n: usize) {
    let p = Parser::from_name(parser);
    let text = deep_text(kind, n);
    let run = move || {
        let t = Instant::now();
        let r = parse_doc(p, &text, 1);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        match r {
            Ok(v) => println!("ok: accepted ({} values) in {ms:.2} ms", v.len()),
            Err(f) => println!("error at {} in {ms:.2} ms: {}", f.pos(), f.message),
        }
    };
    match stack {
        "main" => run(),
        // rayon's worker threads (which run decode() in meshctl validate)
        // get std's default 2 MiB stack.
        "2mib" => std::thread::Builder::new().stack_size(2 << 20).spawn(run).unwrap().join().unwrap(),
        other => die(&format!("unknown stack {other:?}")),
    }
}

/// Runs one deep-nesting case in a child process and says what happened.
fn deep_case(p: Parser, kind: &str, stack: &str, n: usize) -> String {
    let exe = std::env::current_exe().unwrap();
    let out =
        Command::new(&exe).args(["deep-child", p.name(), kind, stack, &n.to_string()]).output().expect("spawn child");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let outcome = if out.status.success() {
        stdout
    } else {
        use std::os::unix::process::ExitStatusExt as _;
        let sig = out.status.signal().map(|s| format!("killed by signal {s}")).unwrap_or_default();
        let code = out.status.code().map(|c| format!("exit code {c}")).unwrap_or_default();
        let why = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        format!("CRASH: {sig}{code}; stderr: {why}")
    };
    outcome.replace('|', "\\|")
}

/// Time to reject `{a: ` nested n deep, as n doubles.
fn deep_scale() {
    println!("\n# 4b. Rejection time against nesting depth (`{{a: ` x n, closed; child processes, main stack)");
    println!("| n | input bytes | meshctl | saphyr |");
    println!("|---:|---:|---|---|");
    for n in [10_000, 20_000, 40_000] {
        println!(
            "| {n} | {} | {} | {} |",
            deep_text("flow-map", n).len(),
            deep_case(Parser::Meshctl, "flow-map", "main", n),
            deep_case(Parser::Saphyr, "flow-map", "main", n)
        );
    }
}

fn deep() {
    let n = 10_000;
    println!("\n# 4. Deep nesting ({n} levels; every case in its own child process)");
    println!("| input | parser | stack | outcome |");
    println!("|---|---|---|---|");
    for kind in ["flow-seq-unclosed", "flow-seq", "flow-map", "block-seq"] {
        for p in [Parser::Meshctl, Parser::Saphyr, Parser::SaphyrDefault, Parser::SaphyrNoBudget] {
            for stack in ["main", "2mib"] {
                println!("| {kind} | {} | {stack} | {} |", p.name(), deep_case(p, kind, stack, n));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 5. Error positions.

struct BadInput {
    name: &'static str,
    text: &'static str,
    /// The real fault: line, and a needle whose first byte on that line is it.
    fault_line: usize,
    needle: &'static str,
}

fn fault_of(b: &BadInput) -> (u64, u64) {
    let line = b.text.lines().nth(b.fault_line - 1).unwrap();
    let col = line.find(b.needle).unwrap_or_else(|| die(&format!("needle {:?} not on line", b.needle)));
    (b.fault_line as u64, line[..col].chars().count() as u64 + 1)
}

fn errors() {
    println!("\n# 5. Error positions (stream line:column; fault = where a person must edit)");
    let bad = [
        BadInput {
            name: "unclosed flow sequence",
            text: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  hosts: [a.local, b.local\n  port: \"80\"\n",
            fault_line: 6,
            needle: "[",
        },
        BadInput {
            name: "bad indentation (under-indented key)",
            text: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: demo\nspec:\n  containers:\n    - name: app\n      image: nginx\n     ports: []\n",
            fault_line: 9,
            needle: "ports",
        },
        BadInput {
            name: "tab indentation",
            text: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: demo\n",
            fault_line: 4,
            needle: "\t",
        },
        BadInput {
            name: "unterminated quoted string",
            text: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"demo\ndata:\n  key: value\n",
            fault_line: 4,
            needle: "\"",
        },
        BadInput {
            name: "invalid escape `\\w` in double quotes",
            text: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  path: \"C:\\windows\\system\"\n",
            fault_line: 6,
            needle: "\\",
        },
    ];
    println!("| input | fault | parser | position | distance (lines, cols) | message |");
    println!("|---|---|---|---|---|---|");
    let mut full = Vec::new();
    for b in &bad {
        let fault = fault_of(b);
        for p in [Parser::Meshctl, Parser::Saphyr] {
            match parse_stream(p, b.text) {
                Ok((_, v)) => println!(
                    "| {} | {}:{} | {} | - | - | ACCEPTED: {} |",
                    b.name,
                    fault.0,
                    fault.1,
                    p.name(),
                    v.iter().map(Value::to_string).collect::<Vec<_>>().join(" ; ").replace('|', "\\|")
                ),
                Err(f) => {
                    let dist = match (f.line, f.column) {
                        (Some(l), Some(c)) => format!("{}, {}", l.abs_diff(fault.0), c.abs_diff(fault.1)),
                        (Some(l), None) => format!("{}, ?", l.abs_diff(fault.0)),
                        _ => "?".into(),
                    };
                    println!(
                        "| {} | {}:{} | {} | {} | {dist} | {} |",
                        b.name,
                        fault.0,
                        fault.1,
                        p.name(),
                        f.pos(),
                        f.message.replace('|', "\\|")
                    );
                    if let Some(s) = f.full {
                        full.push(format!("{}: {s}", b.name));
                    }
                }
            }
        }
    }
    println!("\nserde_yaml's untruncated messages (decode.rs keeps only the text before \" at line \"):");
    for s in full {
        println!("- {s}");
    }
    // What serde-saphyr's default rendering (with a source snippet) looks like.
    let b = &bad[0];
    if let Err(e) = serde_saphyr::from_str::<Value>(b.text) {
        println!("\nserde-saphyr's default Display (with_snippet: true) for \"{}\":\n```\n{e}\n```", b.name);
    }
}

// ---------------------------------------------------------------------------
// 6. Type fidelity.

fn types() {
    println!("\n# 6. Type fidelity (each scalar parsed alone as `v: SCALAR`; JSON shown)");
    println!("Kubernetes column: what sigs.k8s.io/yaml (goyaml.v2 resolve rules, YAML 1.1) yields, read from its");
    println!("source, not run here. saphyr+octal = meshctl options plus `legacy_octal_numbers: true`.");
    let cases: [(&str, &str); 27] = [
        ("yes", "true"),
        ("no", "false"),
        ("on", "true"),
        ("off", "false"),
        ("y", "true"),
        ("True", "true"),
        ("0755", "493"),
        ("0o755", "493"),
        ("0x1F", "31"),
        ("1e3", "1000"),
        ("-1.5e-3", "-0.0015"),
        (".5", "0.5"),
        ("1.10", "1.1"),
        ("1_000", "1000"),
        ("+12", "12"),
        ("~", "null"),
        ("null", "null"),
        ("", "null"),
        ("\"8080\"", "\"8080\""),
        ("'0755'", "\"0755\""),
        ("\"true\"", "\"true\""),
        (".inf", "error (JSON has no Inf)"),
        (".nan", "error (JSON has no NaN)"),
        ("2024-01-02", "\"2024-01-02\""),
        ("18446744073709551616", "18446744073709551616"),
        ("{1: x, true: z}", "{\"1\":\"x\",\"true\":\"z\"}"),
        ("!!str 12", "\"12\""),
    ];
    println!("| scalar | Kubernetes | meshctl | saphyr | saphyr+octal |");
    println!("|---|---|---|---|---|");
    let octal = {
        let mut o = saphyr_options();
        o.legacy_octal_numbers = true;
        o
    };
    let show = |r: Result<Vec<Value>, Failure>| match r {
        Ok(v) => v.first().map(|d| d["v"].to_string()).unwrap_or_else(|| "(null doc)".into()),
        Err(f) => format!("error: {}", f.message),
    };
    for (scalar, k8s) in cases {
        let text = format!("v: {scalar}\n");
        println!(
            "| `{}` | {k8s} | {} | {} | {} |",
            if scalar.is_empty() { "(empty)" } else { scalar },
            show(parse_doc(Parser::Meshctl, &text, 1)).replace('|', "\\|"),
            show(parse_doc(Parser::Saphyr, &text, 1)).replace('|', "\\|"),
            show(saphyr_doc(&text, 1, octal.clone())).replace('|', "\\|"),
        );
    }
    println!("\nEmitters (meshctl renders manifests with serde_yaml::to_string): the strings [\"yes\", \"on\", \"y\", \"0755\", \"1_000\"] become");
    let strings = serde_json::json!(["yes", "on", "y", "0755", "1_000"]);
    let flat = |s: String| one_line(&s);
    println!("- serde_yaml::to_string: `{}`", flat(serde_yaml::to_string(&strings).unwrap_or_else(|e| e.to_string())));
    println!(
        "- serde_saphyr::to_string: `{}`",
        flat(serde_saphyr::to_string(&strings).unwrap_or_else(|e| e.to_string()))
    );
    let merge = "base: &base {cpu: 100m, memory: 1Gi}\nv:\n  <<: *base\n  memory: 2Gi\n";
    println!(
        "\nMerge key (`<<: *base` then `memory: 2Gi`; Kubernetes/goyaml.v2 merges to {{cpu: 100m, memory: 2Gi}}):"
    );
    for p in [Parser::Meshctl, Parser::Saphyr] {
        println!("- {}: {}", p.name(), show(parse_doc(p, merge, 1)));
    }
}

// ---------------------------------------------------------------------------

fn die(msg: &str) -> ! {
    eprintln!("yaml_compare: {msg}");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_else(|| die("missing argument"));
    match args.first().map(String::as_str) {
        Some("speed") => speed(&args[1..]),
        Some("dupes") => dupes(),
        Some("bomb-timing") => bomb_timing(),
        Some("bomb") => bomb(arg(1), arg(2)),
        Some("deep") => deep(),
        Some("deep-scale") => deep_scale(),
        Some("deep-child") => {
            deep_child(arg(1), arg(2), arg(3), arg(4).parse().unwrap_or_else(|_| die("N")));
        }
        Some("errors") => errors(),
        Some("types") => types(),
        Some("all") => {
            speed(&args[1..]);
            dupes();
            bomb_timing();
            deep();
            deep_scale();
            errors();
            types();
        }
        _ => die("usage: yaml_compare speed [--docs N] [--runs N] [--file PATH] | dupes | bomb-timing | \
             bomb laughs|wide|benign meshctl|saphyr|saphyr-default|none | deep | deep-scale | errors | types | all"),
    }
}
