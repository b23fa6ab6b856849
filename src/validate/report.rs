//! Reporters for `meshctl validate`: the [`Report`] of a run as plain text,
//! JSON, JUnit XML or SARIF 2.1.0 (`-o text|json|junit|sarif`).
//!
//! Every reporter keeps resources in input order and findings in the order
//! they were found, and none writes timings or anything else that changes from
//! run to run, so outputs can be compared byte for byte in golden tests and CI
//! diffs. Stdin (file `-`) is shown as `stdin` by the text, JUnit and SARIF
//! reporters; JSON keeps the model as it is.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{self, Write};

use serde::Serialize;

use crate::validate::model::{Finding, Report, ResourceReport, Severity, Status, Summary};

/// Options of [`write_text`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// End with one `Summary: ...` line with the counts of the run.
    pub summary: bool,
    /// Also print one `... is valid` line per valid resource.
    pub verbose: bool,
}

/// Writes `report` as text, one line per problem, in the style of
/// kubeconform and compilers: `file:line: subject: severity [rule] at pointer:
/// message`, so the output is easy to grep and editors can jump to the place.
///
/// ```text
/// deploy.yaml:12: Deployment default/web: error [unknown-field] at /spec/replicass: unknown field `replicass`
/// crd.yaml:1: TrainingJob train: skipped: no schema for sagemaker.aws.amazon.com/v1 TrainingJob
/// ```
///
/// Skipped resources get one `skipped` line each. With
/// [`TextOptions::verbose`] every valid resource gets a `... is valid` line;
/// with [`TextOptions::summary`] the output ends with a `Summary:` line.
/// Otherwise a run where everything is valid prints nothing.
pub fn write_text(report: &Report, w: &mut dyn Write, opts: TextOptions) -> io::Result<()> {
    for r in &report.resources {
        let findings = findings(r);
        if r.status == Status::Skipped {
            let place = place(r);
            let subject = subject(r);
            if findings.is_empty() {
                writeln!(w, "{place}: {subject}: skipped")?;
            }
            for f in findings.iter() {
                writeln!(w, "{place}: {subject}: skipped: {}", one_line(&f.message))?;
            }
            continue;
        }
        for f in findings.iter() {
            writeln!(w, "{}", text_line(r, f))?;
        }
        if opts.verbose && r.status == Status::Valid {
            writeln!(w, "{}: {} is valid", place(r), subject(r))?;
        }
    }
    if opts.summary {
        writeln!(w, "{}", summary_line(report))?;
    }
    Ok(())
}

/// Writes `report` as pretty-printed JSON with a trailing newline:
/// `{"resources": [...], "summary": {...}}`, each resource serialized as
/// [`ResourceReport`] and the summary as [`Summary`].
pub fn write_json(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    #[derive(Serialize)]
    struct JsonReport<'a> {
        resources: &'a [ResourceReport],
        summary: Summary,
    }
    let json = JsonReport { resources: &report.resources, summary: report.summary() };
    serde_json::to_writer_pretty(&mut *w, &json)?;
    writeln!(w)
}

/// Writes `report` as JUnit XML that validates against the Jenkins JUnit
/// schema kubeconform uses (`junit.xsd` in the kubeconform corpus).
///
/// One `<testsuite>` per file, in order of first appearance, and one
/// `<testcase>` per resource (name: the resource, classname: `Kind@apiVersion`).
/// An invalid resource gets one `<failure>` per error, a resource that could
/// not be read one `<error>` per error, a skipped one `<skipped>` with the
/// reason; warnings go to `<system-out>`. No `time` attributes: the schema
/// does not require them and the output stays deterministic.
pub fn write_junit(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    let s = report.summary();
    writeln!(w, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    // `testsuites` has no `skipped` attribute in this schema; kubeconform
    // counts skipped resources as `disabled` there, and so do we.
    writeln!(
        w,
        r#"<testsuites name="meshctl validate" tests="{}" failures="{}" errors="{}" disabled="{}">"#,
        s.resources, s.invalid, s.errors, s.skipped
    )?;
    for (id, (file, resources)) in group_by_file(report).into_iter().enumerate() {
        let count = |status: Status| resources.iter().filter(|r| r.status == status).count();
        writeln!(
            w,
            r#"  <testsuite name="{}" id="{id}" tests="{}" failures="{}" errors="{}" skipped="{}">"#,
            xml_escape(display_file(file), true),
            resources.len(),
            count(Status::Invalid),
            count(Status::Error),
            count(Status::Skipped),
        )?;
        for r in resources {
            write_testcase(w, r)?;
        }
        writeln!(w, "  </testsuite>")?;
    }
    writeln!(w, "</testsuites>")
}

/// Writes `report` as a SARIF 2.1.0 log for GitHub code scanning and other
/// SARIF viewers, with a trailing newline.
///
/// One run by the `meshctl` driver (version `tool_version`) with one rule per
/// distinct rule id, sorted by id, and one result per finding, in input order:
/// `ruleId`, `ruleIndex` into the rules, `level` (`error` or `warning`), a
/// message naming the resource and the pointer, and the file (relative as
/// given, `stdin` for `-`) with the line where the resource starts.
pub fn write_sarif(report: &Report, w: &mut dyn Write, tool_version: &str) -> io::Result<()> {
    let all: Vec<(&ResourceReport, Cow<'_, [Finding]>)> = report.resources.iter().map(|r| (r, findings(r))).collect();

    // A rule's default level is the most severe level it was reported at.
    let mut levels: BTreeMap<&'static str, Severity> = BTreeMap::new();
    for f in all.iter().flat_map(|(_, findings)| findings.iter()) {
        levels.entry(f.rule).and_modify(|s| *s = (*s).min(f.severity)).or_insert(f.severity);
    }
    let index: HashMap<&str, usize> = levels.keys().enumerate().map(|(i, id)| (*id, i)).collect();
    let rules = levels
        .iter()
        .map(|(id, severity)| SarifRule {
            id,
            short_description: SarifText { text: describe_rule(id) },
            default_configuration: SarifConfiguration { level: sarif_level(*severity) },
        })
        .collect();

    let mut results = Vec::new();
    for (r, findings) in &all {
        for f in findings.iter() {
            results.push(SarifResult {
                rule_id: f.rule,
                rule_index: index[f.rule],
                level: sarif_level(f.severity),
                message: SarifText { text: format!("{}: {}", subject(r), with_pointer(f)) },
                locations: [SarifLocation {
                    physical_location: SarifPhysicalLocation {
                        artifact_location: SarifArtifactLocation { uri: artifact_uri(&r.file) },
                        region: SarifRegion { start_line: r.line.max(1) },
                    },
                }],
            });
        }
    }

    let log = SarifLog {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: [SarifRun {
            tool: SarifTool {
                driver: SarifDriver {
                    name: "meshctl",
                    information_uri: "https://meshctl.dev",
                    version: tool_version,
                    rules,
                },
            },
            results,
        }],
    };
    serde_json::to_writer_pretty(&mut *w, &log)?;
    writeln!(w)
}

// --- shared by the reporters -------------------------------------------------

/// Rule of the stand-in finding for a resource that failed to be read but has
/// no finding saying why.
const UNREADABLE_RULE: &str = "unreadable";
/// Rule of the stand-in finding for an invalid resource without an error.
const INVALID_RULE: &str = "invalid";

/// The findings of `r`, plus a stand-in error when its status says it failed
/// but no error finding says why: no reporter may show a failed resource as
/// clean, and SARIF needs a rule id for every result.
fn findings(r: &ResourceReport) -> Cow<'_, [Finding]> {
    let has_error = r.findings.iter().any(|f| f.severity == Severity::Error);
    let stand_in = match r.status {
        Status::Error if !has_error => Finding::error(UNREADABLE_RULE, None, "could not be read or parsed"),
        Status::Invalid if !has_error => Finding::error(INVALID_RULE, None, "the resource is invalid"),
        _ => return Cow::Borrowed(&r.findings),
    };
    let mut all = r.findings.clone();
    all.push(stand_in);
    Cow::Owned(all)
}

/// The file as shown to people: `-` is stdin.
fn display_file(file: &str) -> &str {
    if file == "-" {
        "stdin"
    } else {
        file
    }
}

/// `file:line`, where the resource starts.
fn place(r: &ResourceReport) -> String {
    format!("{}:{}", display_file(&r.file), r.line)
}

/// What a line is about: `Deployment default/web`, with ` (item 2)` for items
/// of a `kind: List`, or `document 3` when nothing of the resource is known.
fn subject(r: &ResourceReport) -> String {
    let base = if r.kind.is_none() && r.name.is_none() { format!("document {}", r.document) } else { r.identity() };
    match r.item {
        Some(item) => format!("{base} (item {item})"),
        None => base,
    }
}

/// The text reporter's line for one finding.
fn text_line(r: &ResourceReport, f: &Finding) -> String {
    let at = match f.pointer.as_deref() {
        // The empty pointer is the whole resource: nothing to add.
        Some(pointer) if !pointer.is_empty() => format!(" at {pointer}"),
        _ => String::new(),
    };
    let severity = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    format!("{}: {}: {severity} [{}]{at}: {}", place(r), subject(r), f.rule, one_line(&f.message))
}

/// `message (at /pointer)`, or the bare message when there is no place.
fn with_pointer(f: &Finding) -> String {
    match f.pointer.as_deref() {
        Some(pointer) if !pointer.is_empty() => format!("{} (at {pointer})", f.message),
        _ => f.message.clone(),
    }
}

/// `message` on one line, so that one problem is one line of text output.
fn one_line(message: &str) -> Cow<'_, str> {
    if message.contains(['\n', '\r']) {
        Cow::Owned(message.split(['\n', '\r']).filter(|part| !part.is_empty()).collect::<Vec<_>>().join(" "))
    } else {
        Cow::Borrowed(message)
    }
}

/// `Summary: 12 resources found in 3 files - Valid: 10, ...`. Files are the
/// distinct files resources came from.
fn summary_line(report: &Report) -> String {
    let s = report.summary();
    let files = report.resources.iter().map(|r| r.file.as_str()).collect::<HashSet<_>>().len();
    format!(
        "Summary: {} found in {} - Valid: {}, Invalid: {}, Errors: {}, Skipped: {}, Warnings: {}",
        plural(s.resources, "resource"),
        plural(files, "file"),
        s.valid,
        s.invalid,
        s.errors,
        s.skipped,
        s.warnings
    )
}

/// `1 file`, `2 files`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

// --- JUnit -------------------------------------------------------------------

/// Resources grouped by file, files in order of first appearance.
fn group_by_file(report: &Report) -> Vec<(&str, Vec<&ResourceReport>)> {
    let mut groups: Vec<(&str, Vec<&ResourceReport>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for r in &report.resources {
        let i = *index.entry(&r.file).or_insert_with(|| {
            groups.push((&r.file, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(r);
    }
    groups
}

/// One `<testcase>`. The schema fixes the order of the children: skipped,
/// errors, failures, system-out.
fn write_testcase(w: &mut dyn Write, r: &ResourceReport) -> io::Result<()> {
    let mut attrs = format!(r#"name="{}""#, xml_escape(&subject(r), true));
    let classname = match (&r.kind, &r.api_version) {
        (Some(kind), Some(api_version)) => Some(format!("{kind}@{api_version}")),
        (Some(kind), None) => Some(kind.clone()),
        (None, _) => None,
    };
    if let Some(classname) = classname {
        write!(attrs, r#" classname="{}""#, xml_escape(&classname, true)).expect("writing to a String");
    }

    let findings = findings(r);
    if findings.is_empty() && r.status != Status::Skipped {
        return writeln!(w, "    <testcase {attrs}/>");
    }
    writeln!(w, "    <testcase {attrs}>")?;

    // What the status element does not carry goes to system-out as text lines.
    let mut rest: Vec<&Finding> = Vec::new();
    match r.status {
        Status::Skipped => {
            let reason = findings.iter().map(|f| one_line(&f.message)).collect::<Vec<_>>().join("; ");
            writeln!(w, "      <skipped>{}</skipped>", xml_escape(&reason, false))?;
        }
        Status::Error | Status::Invalid => {
            let element = if r.status == Status::Error { "error" } else { "failure" };
            for f in findings.iter() {
                if f.severity != Severity::Error {
                    rest.push(f);
                    continue;
                }
                writeln!(
                    w,
                    r#"      <{element} message="{}" type="{}">{}</{element}>"#,
                    xml_escape(&with_pointer(f), true),
                    xml_escape(f.rule, true),
                    xml_escape(&text_line(r, f), false),
                )?;
            }
        }
        Status::Valid => rest.extend(findings.iter()),
    }
    if !rest.is_empty() {
        let lines = rest.iter().map(|f| text_line(r, f)).collect::<Vec<_>>().join("\n");
        writeln!(w, "      <system-out>{}</system-out>", xml_escape(&lines, false))?;
    }
    writeln!(w, "    </testcase>")
}

/// `s` escaped for XML 1.0 text (`attr: false`) or a quoted attribute value
/// (`attr: true`). Characters XML 1.0 cannot hold at all, not even as
/// character references (most C0 controls such as NUL, U+FFFE, U+FFFF), are
/// dropped. In attributes, tabs and line breaks are written as character
/// references, since parsers would otherwise turn them into spaces.
fn xml_escape(s: &str, attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' if attr => write!(out, "&#{};", u32::from(c)).expect("writing to a String"),
            // Parsers turn a raw CR into LF, even in text.
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}' => out.push(c),
            _ => {}
        }
    }
    out
}

// --- SARIF -------------------------------------------------------------------

/// `level` of a SARIF result or rule configuration.
fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// A short description made from a rule id: `unknown-field` is
/// "Unknown field".
fn describe_rule(id: &str) -> String {
    let words = id.replace(['-', '_'], " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => words,
    }
}

/// `file` as a relative URI reference: `stdin` for `-`, no leading `./`,
/// `/` as separator, and everything outside the URI's unreserved and
/// sub-delimiter characters percent-encoded (spaces, `%`, `#`, `?`, `:`, ...).
fn artifact_uri(file: &str) -> String {
    if file == "-" {
        return "stdin".to_owned();
    }
    let file = if std::path::MAIN_SEPARATOR == '\\' { file.replace('\\', "/") } else { file.to_owned() };
    let mut path = file.as_str();
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    let mut uri = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&b) {
            uri.push(char::from(b));
        } else {
            write!(uri, "%{b:02X}").expect("writing to a String");
        }
    }
    uri
}

#[derive(Serialize)]
struct SarifLog<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [SarifRun<'a>; 1],
}

#[derive(Serialize)]
struct SarifRun<'a> {
    tool: SarifTool<'a>,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct SarifTool<'a> {
    driver: SarifDriver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifDriver<'a> {
    name: &'static str,
    information_uri: &'static str,
    version: &'a str,
    rules: Vec<SarifRule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRule {
    id: &'static str,
    short_description: SarifText,
    default_configuration: SarifConfiguration,
}

#[derive(Serialize)]
struct SarifConfiguration {
    level: &'static str,
}

#[derive(Serialize)]
struct SarifText {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: SarifText,
    locations: [SarifLocation; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    physical_location: SarifPhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifPhysicalLocation {
    artifact_location: SarifArtifactLocation,
    region: SarifRegion,
}

#[derive(Serialize)]
struct SarifArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRegion {
    start_line: usize,
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::path::Path;
    use std::process::{Command, Stdio};

    use serde_json::{json, Value};

    use super::*;

    fn resource(file: &str, document: usize, line: usize, kind: Option<&str>, name: Option<&str>) -> ResourceReport {
        ResourceReport {
            file: file.to_owned(),
            document,
            item: None,
            line,
            api_version: kind.map(|_| "apps/v1".to_owned()),
            kind: kind.map(str::to_owned),
            namespace: name.map(|_| "default".to_owned()),
            name: name.map(str::to_owned),
            status: Status::Valid,
            findings: Vec::new(),
        }
    }

    /// One resource of every status, a list item, stdin, and a warning.
    fn sample() -> Report {
        let mut web = resource("deploy.yaml", 1, 1, Some("Deployment"), Some("web"));
        web.status = Status::Invalid;
        web.findings = vec![
            Finding::error("unknown-field", Some("/spec/replicass".to_owned()), "unknown field `replicass`"),
            Finding::warning("image-tag", Some("/spec/template/spec/containers/0/image".to_owned()), "no tag"),
        ];
        let mut service = resource("deploy.yaml", 2, 14, Some("Service"), Some("web"));
        service.api_version = Some("v1".to_owned());
        let mut job = resource("crd.yaml", 1, 1, Some("TrainingJob"), Some("train"));
        job.api_version = Some("sagemaker.aws.amazon.com/v1".to_owned());
        job.namespace = None;
        job.status = Status::Skipped;
        job.findings =
            vec![Finding::warning("missing-schema", None, "no schema for sagemaker.aws.amazon.com/v1 TrainingJob")];
        let mut broken = resource("broken.yaml", 2, 5, None, None);
        broken.status = Status::Error;
        broken.findings = vec![Finding::error("yaml-syntax", None, "did not find expected key\nwhile parsing a map")];
        let mut item = resource("list.yaml", 1, 1, Some("Deployment"), Some("api"));
        item.item = Some(2);
        item.status = Status::Invalid;
        item.findings = vec![Finding::error("schema", Some("/spec/replicas".to_owned()), "expected integer")];
        let mut stdin = resource("-", 1, 1, Some("ConfigMap"), Some("settings"));
        stdin.api_version = Some("v1".to_owned());
        stdin.findings = vec![Finding::warning("image-tag", Some(String::new()), "whole resource")];
        Report { resources: vec![web, service, job, broken, item, stdin] }
    }

    fn text(report: &Report, opts: TextOptions) -> String {
        let mut out = Vec::new();
        write_text(report, &mut out, opts).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_prints_one_line_per_problem() {
        let expected = "\
deploy.yaml:1: Deployment default/web: error [unknown-field] at /spec/replicass: unknown field `replicass`
deploy.yaml:1: Deployment default/web: warning [image-tag] at /spec/template/spec/containers/0/image: no tag
crd.yaml:1: TrainingJob train: skipped: no schema for sagemaker.aws.amazon.com/v1 TrainingJob
broken.yaml:5: document 2: error [yaml-syntax]: did not find expected key while parsing a map
list.yaml:1: Deployment default/api (item 2): error [schema] at /spec/replicas: expected integer
stdin:1: ConfigMap default/settings: warning [image-tag]: whole resource
";
        assert_eq!(text(&sample(), TextOptions::default()), expected);
    }

    #[test]
    fn text_verbose_names_valid_resources_and_summary_counts_files() {
        let out = text(&sample(), TextOptions { summary: true, verbose: true });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 9, "{out}");
        assert_eq!(lines[2], "deploy.yaml:14: Service default/web is valid");
        assert_eq!(lines[7], "stdin:1: ConfigMap default/settings is valid");
        assert_eq!(
            lines[8],
            "Summary: 6 resources found in 5 files - Valid: 2, Invalid: 2, Errors: 1, Skipped: 1, Warnings: 3"
        );
    }

    #[test]
    fn text_is_silent_when_everything_is_valid() {
        let report = Report { resources: vec![resource("a.yaml", 1, 1, Some("Deployment"), Some("web"))] };
        assert_eq!(text(&report, TextOptions::default()), "");
        assert_eq!(
            text(&report, TextOptions { summary: true, verbose: false }),
            "Summary: 1 resource found in 1 file - Valid: 1, Invalid: 0, Errors: 0, Skipped: 0, Warnings: 0\n"
        );
        assert_eq!(text(&Report::default(), TextOptions::default()), "");
    }

    #[test]
    fn text_never_shows_a_failed_resource_as_clean() {
        let mut broken = resource("a.yaml", 1, 3, None, None);
        broken.status = Status::Error;
        assert_eq!(
            text(&Report { resources: vec![broken] }, TextOptions::default()),
            "a.yaml:3: document 1: error [unreadable]: could not be read or parsed\n"
        );
    }

    #[test]
    fn json_round_trips_through_serde_json() {
        let report = sample();
        let mut out = Vec::new();
        write_json(&report, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.ends_with("}\n") && out.contains("\n  \"resources\": ["), "not pretty: {out}");
        let parsed: Value = serde_json::from_str(&out).unwrap();
        let expected = json!({
            "resources": serde_json::to_value(&report.resources).unwrap(),
            "summary": serde_json::to_value(report.summary()).unwrap(),
        });
        assert_eq!(parsed, expected);
        assert_eq!(parsed["resources"][0]["apiVersion"], "apps/v1");
        assert_eq!(parsed["resources"][0]["findings"][0]["rule"], "unknown-field");
        assert_eq!(parsed["summary"]["warnings"], 3);
    }

    fn junit(report: &Report) -> String {
        let mut out = Vec::new();
        write_junit(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Runs xmllint on `xml` with `args`, returning stdout; panics with the
    /// XML and xmllint's complaints when it fails, or when it is missing.
    fn xmllint(xml: &str, args: &[&str]) -> String {
        let mut child = match Command::new(sandbox::tools::path("xmllint"))
            .args(args)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                panic!("xmllint not found: install libxml2-utils (apt-get install -y libxml2-utils)")
            }
            Err(e) => panic!("failed to run xmllint: {e}"),
        };
        child.stdin.take().unwrap().write_all(xml.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "xmllint {args:?} failed:\n{}\n--- XML ---\n{xml}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn validate_junit(xml: &str) {
        let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/kubeconform/junit.xsd");
        assert!(xsd.is_file(), "missing JUnit schema {}", xsd.display());
        xmllint(xml, &["--noout", "--schema", xsd.to_str().unwrap()]);
    }

    #[test]
    fn junit_validates_against_the_schema() {
        let mut report = sample();
        let mut nasty = resource("we<i>rd&\"'.yaml", 1, 3, Some("Deployment"), Some("a<&\"'b"));
        nasty.status = Status::Invalid;
        nasty.findings = vec![
            Finding::error("schema", Some("/metadata/labels/a~1b".to_owned()), "bad <&\"'>\u{0}\u{8}\u{FFFF} value\n!"),
            Finding::warning("image-tag", None, "tab\there ]]> <![CDATA[ x"),
        ];
        report.resources.push(nasty);
        let xml = junit(&report);
        assert!(!xml.contains('\u{0}') && !xml.contains('\u{8}') && !xml.contains('\u{FFFF}'), "{xml}");
        validate_junit(&xml);

        // What a JUnit consumer reads back is what was reported.
        let read = |xpath: &str| {
            let out = xmllint(&xml, &["--xpath", xpath]);
            out.strip_suffix('\n').unwrap_or(&out).to_owned()
        };
        assert_eq!(read("string(//testsuite[@id='5']/@name)"), "we<i>rd&\"'.yaml");
        assert_eq!(read("string(//testsuite[@id='5']/testcase/@name)"), "Deployment default/a<&\"'b");
        assert_eq!(
            read("string(//testsuite[@id='5']//failure/@message)"),
            "bad <&\"'> value\n! (at /metadata/labels/a~1b)"
        );
        assert_eq!(read("count(//testsuite)"), "6");
        assert_eq!(read("string(/testsuites/@tests)"), "7");
        assert_eq!(read("string(/testsuites/@failures)"), "3");
        assert_eq!(read("string(/testsuites/@errors)"), "1");
        assert_eq!(read("string(/testsuites/@disabled)"), "1");
        assert_eq!(read("string(//testsuite[@name='deploy.yaml']/@tests)"), "2");
        assert_eq!(read("string(//testcase[@name='Deployment default/web']/@classname)"), "Deployment@apps/v1");
        assert_eq!(read("string(//testcase[@name='Deployment default/web']/failure/@type)"), "unknown-field");
        assert_eq!(
            read("string(//testsuite[@name='crd.yaml']//skipped)"),
            "no schema for sagemaker.aws.amazon.com/v1 TrainingJob"
        );
        assert_eq!(read("string(//testsuite[@name='broken.yaml']/testcase/error/@type)"), "yaml-syntax");
        assert_eq!(
            read("string(//testsuite[@name='stdin']/testcase/system-out)"),
            "stdin:1: ConfigMap default/settings: warning [image-tag]: whole resource"
        );
        assert_eq!(read("count(//testcase[@name='Service default/web']/*)"), "0");
    }

    #[test]
    fn junit_of_an_empty_run_validates() {
        let xml = junit(&Report::default());
        assert!(xml.contains(r#"tests="0""#));
        validate_junit(&xml);
    }

    #[test]
    fn xml_escape_drops_what_xml_cannot_hold() {
        assert_eq!(xml_escape("a<b>&\"'\u{0}\u{1F}\u{FFFE}é😀", false), "a&lt;b&gt;&amp;&quot;&apos;é😀");
        assert_eq!(xml_escape("a\tb\nc\rd", true), "a&#9;b&#10;c&#13;d");
        assert_eq!(xml_escape("a\tb\nc\rd", false), "a\tb\nc&#13;d");
    }

    fn sarif(report: &Report) -> Value {
        let mut out = Vec::new();
        write_sarif(report, &mut out, "1.2.3").unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.ends_with("}\n"));
        serde_json::from_str(&out).unwrap()
    }

    #[test]
    fn sarif_has_what_code_scanning_needs() {
        let log = sarif(&sample());
        assert_eq!(log["$schema"], "https://json.schemastore.org/sarif-2.1.0.json");
        assert_eq!(log["version"], "2.1.0");
        assert_eq!(log["runs"].as_array().unwrap().len(), 1);
        let driver = &log["runs"][0]["tool"]["driver"];
        assert_eq!(driver["name"], "meshctl");
        assert_eq!(driver["informationUri"], "https://meshctl.dev");
        assert_eq!(driver["version"], "1.2.3");

        let rules = driver["rules"].as_array().unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["image-tag", "missing-schema", "schema", "unknown-field", "yaml-syntax"]);
        assert_eq!(rules[3]["shortDescription"]["text"], "Unknown field");
        let default_level =
            |id: &str| rules.iter().find(|r| r["id"] == id).unwrap()["defaultConfiguration"]["level"].clone();
        assert_eq!(default_level("unknown-field"), "error");
        assert_eq!(default_level("image-tag"), "warning");

        let results = log["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 6);
        for result in results {
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], result["ruleId"], "{result}");
            assert!(!result["message"]["text"].as_str().unwrap().is_empty());
            let location = &result["locations"][0]["physicalLocation"];
            assert!(location["artifactLocation"]["uri"].is_string());
            assert!(location["region"]["startLine"].as_u64().unwrap() >= 1);
            assert!(result.get("partialFingerprints").is_none());
        }
        let levels: Vec<&str> = results.iter().map(|r| r["level"].as_str().unwrap()).collect();
        assert_eq!(levels, ["error", "warning", "warning", "error", "error", "warning"]);

        assert_eq!(results[0]["ruleId"], "unknown-field");
        assert_eq!(
            results[0]["message"]["text"],
            "Deployment default/web: unknown field `replicass` (at /spec/replicass)"
        );
        assert_eq!(results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "deploy.yaml");
        // A document that could not be parsed is an error result too.
        assert_eq!(results[3]["ruleId"], "yaml-syntax");
        assert_eq!(results[3]["locations"][0]["physicalLocation"]["region"]["startLine"], 5);
        assert_eq!(results[5]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "stdin");
    }

    #[test]
    fn sarif_locations_are_valid_relative_uris_with_a_line() {
        let mut r = resource("./manifests/my app#1.yaml", 1, 0, Some("Deployment"), Some("web"));
        r.status = Status::Error;
        let log = sarif(&Report { resources: vec![r] });
        let result = &log["runs"][0]["results"][0];
        assert_eq!(result["ruleId"], "unreadable");
        assert_eq!(result["level"], "error");
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "manifests/my%20app%231.yaml");
        assert_eq!(location["region"]["startLine"], 1);
    }

    #[test]
    fn sarif_of_a_clean_run_has_no_results() {
        let log = sarif(&Report { resources: vec![resource("a.yaml", 1, 1, Some("Deployment"), Some("web"))] });
        assert_eq!(log["runs"][0]["results"], json!([]));
        assert_eq!(log["runs"][0]["tool"]["driver"]["rules"], json!([]));
    }
}
