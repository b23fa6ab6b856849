//! `meshctl validate` as a user runs it: kubeconform's conformance corpus
//! (every row of ../shared/corpus/kubeconform/EXPECTED.md), hostile input,
//! the reporters, and the chart's own renders.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::util::{meshctl, render_to, root, ENVIRONMENTS, PROFILES};

fn corpus() -> PathBuf {
    root().join("../shared/corpus/kubeconform")
}

/// Runs `meshctl validate -o json ARGS` in the corpus directory; returns
/// the exit code and the report.
fn validate_json(args: &[&str]) -> (i32, Value) {
    let run = meshctl().args(["validate", "-o", "json"]).args(args).current_dir(&corpus()).run();
    let code = run.output.status.code().expect("exit code");
    let report: Value = serde_json::from_str(&run.stdout())
        .unwrap_or_else(|e| panic!("validate {args:?}: stdout is not JSON ({e}):\n{}\n{}", run.stdout(), run.stderr()));
    (code, report)
}

fn statuses(report: &Value) -> Vec<String> {
    report["resources"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap().to_owned()).collect()
}

fn findings(report: &Value) -> Vec<(String, String, String)> {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["findings"].as_array().unwrap().iter())
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["pointer"].as_str().unwrap_or_default().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn all_valid(args: &[&str], count: usize) {
    let (code, report) = validate_json(args);
    let st = statuses(&report);
    assert_eq!(st.len(), count, "{args:?}: {st:?}\n{report:#}");
    assert!(st.iter().all(|s| s == "valid"), "{args:?}: {st:?}\n{report:#}");
    assert_eq!(code, 0, "{args:?}");
}

#[test]
fn conformance_valid_inputs() {
    all_valid(&["valid.yaml"], 1);
    all_valid(&["valid.json"], 1);
    all_valid(&["folder/"], 7);
    all_valid(&["multi_valid.yaml"], 6);
    all_valid(&["multi_valid_source.yaml"], 6);
    all_valid(&["list_valid.yaml"], 6);
    all_valid(&["multi_with_list.yaml"], 2);
    for empty in ["list_empty_valid.yaml", "blank.yaml", "comment.yaml"] {
        all_valid(&[empty], 0);
    }
    for f in [
        "int_or_string.yaml",
        "quantity.yaml",
        "null_string.yaml",
        "null_array.yaml",
        "generate_name.yaml",
        "unconventional_keys.yaml",
        "full_domain_group.yaml",
        "valid_version.yaml",
    ] {
        all_valid(&[f], 1);
    }
    // extra_property.yaml's DaemonSet also has a selector that does not match
    // its template labels: a server-side rule, independent of --strict.
    let (code, report) = validate_json(&["extra_property.yaml", "--strict=false"]);
    let f = findings(&report);
    assert!(f.iter().all(|(rule, _, _)| rule != "unknown-field"), "{f:?}");
    assert_eq!(f.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(), ["selector"], "{f:?}");
    assert_eq!(code, 1);
}

#[test]
fn conformance_folder_counts_two_files() {
    let (_, report) = validate_json(&["folder/"]);
    let mut files: Vec<&str> =
        report["resources"].as_array().unwrap().iter().map(|r| r["file"].as_str().unwrap()).collect();
    files.dedup();
    assert_eq!(files.len(), 2, "{files:?}");
}

#[test]
fn conformance_strict_errors() {
    let (code, report) = validate_json(&["extra_property.yaml"]);
    assert_eq!(code, 1);
    assert!(
        findings(&report).iter().any(|(rule, at, _)| rule == "unknown-field" && at == "/spec/replicas"),
        "{report:#}"
    );

    let (code, report) = validate_json(&["duplicate_property.yaml"]);
    assert_eq!(code, 1);
    assert_eq!(statuses(&report), ["invalid"]);
    let f = findings(&report);
    assert!(f.iter().any(|(rule, _, msg)| rule == "duplicate-key" && msg.contains("`containers`")), "{f:?}");
}

#[test]
fn conformance_invalid_inputs() {
    for file in ["invalid.yaml", "multi_invalid.yaml"] {
        let (code, report) = validate_json(&[file]);
        assert_eq!(code, 1, "{file}");
        let f = findings(&report);
        let at = if file == "invalid.yaml" { "/spec/replicas" } else { "/spec/ports/0/port" };
        assert!(f.iter().any(|(rule, p, _)| rule == "schema" && p == at), "{file}: {f:?}");
    }
    // multi_invalid.yaml's bad document is the Service; the row names
    // /spec/replicas for invalid.yaml, whose ReplicationController has it.
    let (_, report) = validate_json(&["invalid.yaml"]);
    assert!(findings(&report)[0].2.contains("expected an integer"), "{report:#}");

    let (code, report) = validate_json(&["list_invalid.yaml"]);
    assert_eq!(code, 1);
    assert_eq!(statuses(&report), ["valid", "invalid"]);
    let f = findings(&report);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].1, "/spec/replicas");
    assert!(f[0].2.contains("invalid type: string") && f[0].2.contains("integer"), "{f:?}");

    let (code, report) = validate_json(&["multi_invalid_resources.yaml"]);
    assert_eq!(code, 1);
    let docs: Vec<u64> =
        report["resources"].as_array().unwrap().iter().map(|r| r["document"].as_u64().unwrap()).collect();
    assert_eq!(docs, [1, 2, 3, 4, 5], "every document reported: {report:#}");
    assert!(statuses(&report).iter().all(|s| s != "valid"));
}

#[test]
fn conformance_missing_kind_and_api_version() {
    for file in ["missing_kind.yaml", "missing_kind_value.yaml"] {
        let (code, report) = validate_json(&[file]);
        assert_eq!(code, 1);
        assert!(
            findings(&report).iter().any(|(rule, _, msg)| rule == "missing-kind" && msg.contains("`kind`")),
            "{file}"
        );
    }
    let (code, report) = validate_json(&["missing_apiversion.yaml"]);
    assert_eq!(code, 1);
    let f = findings(&report);
    assert!(f.iter().any(|(rule, _, msg)| rule == "missing-api-version" && msg.contains("`apiVersion`")), "{f:?}");
    assert!(!f.iter().any(|(rule, _, _)| rule == "missing-kind"), "{f:?}");
}

#[test]
fn conformance_custom_resources() {
    let (code, report) = validate_json(&["test_crd.yaml"]);
    assert_eq!(code, 1);
    let f = findings(&report);
    assert!(f[0].0 == "missing-schema" && f[0].2.contains("sagemaker.aws.amazon.com/v1 TrainingJob"), "{f:?}");

    let (code, report) = validate_json(&["test_crd.yaml", "--ignore-missing-schemas"]);
    assert_eq!((code, statuses(&report)), (0, vec!["skipped".to_owned()]));

    let (code, report) = validate_json(&["test_crd.yaml", "--crds", "registry/"]);
    assert_eq!((code, statuses(&report)), (0, vec!["valid".to_owned()]), "{report:#}");

    let (code, report) = validate_json(&[
        "grafana-alert-rule-group-sample.yaml",
        "--schema-location",
        "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json",
    ]);
    assert_eq!((code, statuses(&report)), (0, vec!["valid".to_owned()]), "{report:#}");

    let (code, report) = validate_json(&["httpproxy.yaml", "--ignore-missing-schemas"]);
    assert_eq!((code, statuses(&report)), (0, vec!["skipped".to_owned()]));
}

#[test]
fn crd_schema_is_applied_not_just_found() {
    // The same TrainingJob with a wrong type must fail against the CRD.
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(corpus().join("test_crd.yaml")).unwrap();
    let bad = text.replacen("    - name: max_depth\n", "    - name: 7\n      bogus: true\n", 1);
    assert_ne!(bad, text, "fixture changed");
    let file = tmp.path().join("bad_crd.yaml");
    std::fs::write(&file, bad).unwrap();
    let (code, report) = validate_json(&[file.to_str().unwrap(), "--crds", "registry/"]);
    assert_eq!(code, 1, "{report:#}");
    let f = findings(&report);
    assert!(f.iter().any(|(_, at, _)| at == "/spec/hyperParameters/0/name"), "{f:?}");
    assert!(f.iter().any(|(_, at, _)| at == "/spec/hyperParameters/0"), "strict: the unknown field: {f:?}");
}

#[test]
fn conformance_duplicates() {
    for file in ["duplicates.yaml", "duplicates-with-namespace.yaml", "duplicates-non-namespaced.yaml"] {
        let (code, report) = validate_json(&[file]);
        assert_eq!(code, 1, "{file}");
        let dup: Vec<_> = findings(&report).into_iter().filter(|f| f.0 == "duplicate-object").collect();
        assert_eq!(dup.len(), 1, "{file}: {report:#}");
    }
    let (code, report) =
        validate_json(&["duplicates-with-namespace-default.yaml", "--namespace", "the-default-namespace"]);
    assert_eq!(code, 1);
    assert!(findings(&report).iter().any(|f| f.0 == "duplicate-object"));
    for file in ["same-object-different-namespace.yaml", "same-object-different-namespace-default.yaml"] {
        let (_, report) = validate_json(&[file, "--namespace", "the-default-namespace"]);
        assert!(!findings(&report).iter().any(|f| f.0 == "duplicate-object"), "{file}: {report:#}");
    }
}

#[test]
fn conformance_missing_path_exits_2_naming_it() {
    let err = meshctl().args(["validate", "no/such/file.yaml"]).current_dir(&corpus()).fails(2);
    assert!(err.contains("no/such/file.yaml"), "{err}");
}

fn xmllint() -> &'static str {
    let ok = Command::new(sandbox::tools::path("xmllint")).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(ok, "xmllint is required for the JUnit schema check: apt-get install libxml2-utils (.ci/run does)");
    "xmllint"
}

#[test]
fn junit_output_validates_against_the_xsd() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        vec!["multi_invalid_resources.yaml", "valid.yaml", "test_crd.yaml"],
        vec!["list_invalid.yaml", "httpproxy.yaml", "--ignore-missing-schemas"],
        vec!["blank.yaml"],
    ] {
        let run = meshctl().args(["validate", "-o", "junit"]).args(&args).current_dir(&corpus()).run();
        let xml = tmp.path().join("out.xml");
        std::fs::write(&xml, &run.output.stdout).unwrap();
        let check = Command::new(xmllint())
            .args(["--noout", "--schema"])
            .arg(corpus().join("junit.xsd"))
            .arg(&xml)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{args:?}: junit output does not validate:\n{}\n{}",
            String::from_utf8_lossy(&check.stderr),
            run.stdout()
        );
    }
}

#[test]
fn sarif_output_has_rules_results_and_locations() {
    let run =
        meshctl().args(["validate", "-o", "sarif", "extra_property.yaml", "invalid.yaml"]).current_dir(&corpus()).run();
    assert_eq!(run.output.status.code(), Some(1));
    let sarif: Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run0 = &sarif["runs"][0];
    assert_eq!(run0["tool"]["driver"]["name"], "meshctl");
    let rules: Vec<&str> =
        run0["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(rules.contains(&"unknown-field") && rules.contains(&"schema"), "{rules:?}");
    for result in run0["results"].as_array().unwrap() {
        let idx = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx], result["ruleId"].as_str().unwrap());
        let loc = &result["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"].as_str().unwrap().ends_with(".yaml"));
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(!result["message"]["text"].as_str().unwrap().is_empty());
    }
}

#[test]
fn text_summary_counts() {
    let out = meshctl()
        .args(["validate", "--summary", "multi_invalid.yaml", "test_crd.yaml", "--ignore-missing-schemas"])
        .current_dir(&corpus())
        .run();
    assert_eq!(out.output.status.code(), Some(1));
    let text = out.stdout();
    let summary = text.lines().last().unwrap();
    assert!(
        summary.starts_with("Summary: 7 resources found in 2 files - Valid: 5, Invalid: 1, Errors: 0, Skipped: 1"),
        "{summary}"
    );
    assert!(text.contains("multi_invalid.yaml:"), "{text}");
}

#[test]
fn stdin_is_read() {
    let file = std::fs::File::open(corpus().join("invalid.yaml")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(["validate", "-", "-o", "json"])
        .stdin(file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["resources"][0]["file"], "-");
    assert_eq!(report["resources"][0]["status"], "invalid");
}

/// Hostile inputs: each a clear error for its file in bounded time and
/// memory, never a crash or hang, and the other files still validated.
#[test]
fn hostile_inputs_fail_per_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut bomb = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let mut prev = 'a';
    for c in 'b'..='k' {
        bomb.push_str(&format!(
            "  {c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
        prev = c;
    }
    std::fs::write(dir.join("1-alias-bomb.yaml"), bomb).unwrap();
    let deep = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: deep}}\ndata: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    std::fs::write(dir.join("2-deep.yaml"), deep).unwrap();
    let mut big = String::with_capacity(51 << 20);
    big.push_str("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n");
    let mut i = 0;
    while big.len() < 50 << 20 {
        big.push_str(&format!("  k{i}: \"{}\"\n", "x".repeat(100)));
        i += 1;
    }
    std::fs::write(dir.join("3-big.yaml"), big).unwrap();
    std::fs::write(dir.join("4-utf8.yaml"), b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \xff\xfe}\n").unwrap();
    std::fs::write(dir.join("5-binary.yaml"), [0x7fu8, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0xff, 0x00, 0x10]).unwrap();
    std::fs::copy(corpus().join("valid.yaml"), dir.join("6-valid.yaml")).unwrap();

    let run = meshctl().args(["validate", "-o", "json"]).arg(dir.to_str().unwrap()).run();
    assert_eq!(run.output.status.code(), Some(1), "{}", run.stderr());
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    let by_file = |name: &str| -> Vec<Value> {
        report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["file"].as_str().unwrap().ends_with(name))
            .cloned()
            .collect()
    };
    let expect = [
        ("1-alias-bomb.yaml", "yaml", "alias replay limit exceeded"),
        ("2-deep.yaml", "yaml", "recursion limit"),
        ("3-big.yaml", "document-size", "larger than 8 MiB"),
        ("4-utf8.yaml", "read", "invalid UTF-8 in line 3"),
        ("5-binary.yaml", "read", "binary data"),
    ];
    for (file, rule, text) in expect {
        let rs = by_file(file);
        assert_eq!(rs.len(), 1, "{file}: {rs:?}");
        assert_eq!(rs[0]["status"], "error", "{file}: {:?}", rs[0]);
        let f = &rs[0]["findings"][0];
        assert_eq!(f["rule"], rule, "{file}: {f}");
        assert!(f["message"].as_str().unwrap().contains(text), "{file}: {f}");
    }
    let valid = by_file("6-valid.yaml");
    assert_eq!(valid.len(), 1);
    assert_eq!(valid[0]["status"], "valid");
}

#[test]
fn chart_renders_validate_clean() {
    for profile in PROFILES {
        for env in ENVIRONMENTS {
            let run = meshctl().args(["validate", "--profile", profile, "--env", env, "-o", "json"]).run();
            let report: Value = serde_json::from_str(&run.stdout()).unwrap();
            let problems: Vec<&Value> = report["resources"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["status"] != "valid" || !r["findings"].as_array().unwrap().is_empty())
                .collect();
            assert!(problems.is_empty(), "{profile}/{env}: {problems:#?}");
            assert_eq!(run.output.status.code(), Some(0));
            let kinds: Vec<&str> =
                report["resources"].as_array().unwrap().iter().filter_map(|r| r["kind"].as_str()).collect();
            assert!(kinds.contains(&"TerraformFile"), "the Terraform module is validated too");
        }
    }
}

#[test]
fn offline_profile_requires_digests() {
    let run = meshctl()
        .args([
            "validate",
            "-p",
            "offline",
            "-e",
            "dev",
            "--set",
            "runner.image.digest=",
            "--set",
            "runner.image.tag=1.0",
            "-o",
            "json",
        ])
        .run();
    assert_eq!(run.output.status.code(), Some(1));
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    let f = findings(&report);
    assert!(f.iter().any(|(rule, at, _)| rule == "image-digest" && at.ends_with("/image")), "{f:?}");
}

#[test]
fn validate_profile_reports_values_violations_as_invalid() {
    let err = meshctl().args(["validate", "-p", "aws", "-e", "dev", "--set", "runner.replicas=many"]).fails(1);
    assert!(err.contains("at /runner/replicas"), "{err}");
}

#[test]
fn rendered_output_directory_validates_including_terraform() {
    let tmp = tempfile::tempdir().unwrap();
    let out = render_to(tmp.path(), "gcp", "prod", &[]);
    let schemas = root().join("templates/helm/testmesh/schemas");
    // The whole output directory: manifests and the Terraform module, not
    // values.yaml or render.json.
    let text =
        meshctl().args(["validate", "-v", "--crds", schemas.to_str().unwrap()]).arg(out.to_str().unwrap()).success();
    assert!(text.contains("TerraformFile"), "{text}");
    assert!(!text.contains("values.yaml") && !text.contains("render.json"), "{text}");
    // Break the module: an undeclared variable is an error on its file.
    let main_tf = out.join("terraform/main.tf");
    let text = std::fs::read_to_string(&main_tf).unwrap();
    std::fs::write(&main_tf, format!("{text}\nlocals {{\n  oops = var.not_declared\n}}\n")).unwrap();
    let run = meshctl().args(["validate", "-o", "json"]).arg(out.join("terraform").to_str().unwrap()).run();
    assert_eq!(run.output.status.code(), Some(1));
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    assert!(findings(&report)
        .iter()
        .any(|(rule, _, msg)| rule == "undeclared-variable" && msg.contains("not_declared")));
}

#[test]
fn chart_custom_resources_match_upstream_models() {
    let models = root().join("tests/upstream-models");
    assert!(
        models.join("node_modules/@kubernetes-models/external-secrets").is_dir(),
        "run `npm ci --prefix tests/upstream-models` first (.ci/run does)"
    );
    let mut objects = Vec::new();
    for profile in PROFILES {
        let tmp = tempfile::tempdir().unwrap();
        let out = render_to(tmp.path(), profile, "prod", &[]);
        for (_, v) in crate::util::manifests(&out) {
            if matches!(v["kind"].as_str(), Some("ExternalSecret" | "SecretStore" | "ServiceMonitor")) {
                objects.push(v);
            }
        }
    }
    assert!(objects.len() >= 9, "{}", objects.len());
    let mut child = Command::new(sandbox::tools::path("node"))
        .arg(models.join("check.mjs"))
        .current_dir(&models)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node is required");
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(serde_json::to_string(&objects).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "upstream models reject rendered objects:\n{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("ok ")).count(), objects.len(), "{text}");
}

#[test]
fn profiles_validate_with_the_render_engine() {
    meshctl().args(["validate"]).arg(root().join("profiles").to_str().unwrap()).success();
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("aws.yaml");
    let text = std::fs::read_to_string(root().join("profiles/aws.yaml")).unwrap();
    std::fs::write(
        &bad,
        text.replacen("        minNodes: 3\n", "        minNodes: 30\n", 1).replacen(
            "region: us-east-1",
            "region: 7",
            1,
        ),
    )
    .unwrap();
    let run = meshctl().args(["validate", "-o", "json", bad.to_str().unwrap()]).run();
    assert_eq!(run.output.status.code(), Some(1));
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    let f = findings(&report);
    assert!(f.iter().any(|(rule, at, _)| rule == "profile" && at == "/spec/region"), "{f:?}");

    std::fs::write(&bad, text.replacen("        minNodes: 3\n", "        minNodes: 30\n", 1)).unwrap();
    let run = meshctl().args(["validate", "-o", "json", bad.to_str().unwrap()]).run();
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    let f = findings(&report);
    assert!(f.iter().any(|(_, at, msg)| at == "/spec/cluster/minNodes" && msg.contains("environment `prod`")), "{f:?}");
}
