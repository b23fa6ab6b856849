//! Every failure a user can cause exits 2 with a message naming the input,
//! the place and what was expected, and leaves `--out` untouched.

use std::path::Path;

use crate::util::{copy_project, meshctl, read_tree, render_to};

/// Runs `meshctl render` with `args` into `tmp/out`, expects exit 2, checks
/// nothing was written, and returns stderr.
fn render_fails(tmp: &Path, args: &[&str]) -> String {
    let out = tmp.join("out");
    let stderr = meshctl().arg("render").args(args).arg("--out").arg(out.to_str().unwrap()).fails(2);
    assert!(!out.exists(), "a failed render created {}", out.display());
    let leftovers: Vec<_> = std::fs::read_dir(tmp).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(
        leftovers.iter().all(|n| !n.to_string_lossy().contains("meshctl-tmp")),
        "staging directory left behind: {leftovers:?}"
    );
    stderr
}

#[test]
fn unknown_profile_lists_the_known_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let err = render_fails(tmp.path(), &["--profile", "digitalocean", "--env", "dev"]);
    assert!(err.contains("unknown profile `digitalocean`"), "{err}");
    assert!(err.contains("known profiles: aws, azure, gcp, offline"), "{err}");
}

#[test]
fn unknown_environment_lists_the_known_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let err = render_fails(tmp.path(), &["--profile", "gcp", "--env", "qa"]);
    assert!(err.contains("profile `gcp` has no environment `qa`"), "{err}");
    assert!(err.contains("dev, staging, prod"), "{err}");
}

#[test]
fn malformed_values_file_names_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bad.yaml");
    std::fs::write(&file, "runner:\n  replicas: 2\n  resources: {requests: [\n").unwrap();
    let err = render_fails(tmp.path(), &["-p", "aws", "-e", "dev", "-f", file.to_str().unwrap()]);
    // The `[` opened on line 3, column 25 is never closed.
    let expected = format!("{}:3:25: malformed YAML: unclosed bracket", file.display());
    assert!(err.contains(&expected), "want `{expected}` in:\n{err}");
}

#[test]
fn malformed_profile_names_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("project");
    copy_project(&root);
    let profile = root.join("profiles/gcp.yaml");
    let text = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(&profile, text.replacen("  region: europe-west1\n", "  region: [europe-west1\n", 1)).unwrap();
    let err = render_fails(tmp.path(), &["--root", root.to_str().unwrap(), "-p", "gcp", "-e", "dev"]);
    assert!(err.contains(&format!("{}:", profile.display())), "{err}");
    assert!(err.contains("malformed YAML"), "{err}");
    // The list opened on the `region:` line is never closed; libyaml notices
    // at the `:` of the next line, where a `,` or `]` was due.
    let line = text.lines().position(|l| l == "  region: europe-west1").unwrap() + 2;
    assert!(err.contains(&format!("{}:{line}:10: malformed YAML", profile.display())), "want line {line}:\n{err}");
}

#[test]
fn profile_schema_violation_is_a_json_pointer() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("project");
    copy_project(&root);
    let profile = root.join("profiles/aws.yaml");
    let text = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(&profile, text.replacen("    minNodes: 2\n", "    minNodes: two\n", 1)).unwrap();
    let err = render_fails(tmp.path(), &["--root", root.to_str().unwrap(), "-p", "aws", "-e", "prod"]);
    assert!(err.contains("invalid profile"), "{err}");
    assert!(err.contains("at /spec/cluster/minNodes"), "{err}");
    assert!(err.contains("integer"), "{err}");
}

#[test]
fn environment_breaking_a_cross_field_rule_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("project");
    copy_project(&root);
    let profile = root.join("profiles/aws.yaml");
    let text = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(&profile, text.replacen("        minNodes: 3\n", "        minNodes: 30\n", 1)).unwrap();
    let err = render_fails(tmp.path(), &["--root", root.to_str().unwrap(), "-p", "aws", "-e", "prod"]);
    assert!(
        err.contains("at /spec/cluster/minNodes: minNodes (30) must not exceed maxNodes (12) (environment `prod`)"),
        "{err}"
    );
}

#[test]
fn values_schema_violation_names_pointer_expectation_and_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let err = render_fails(tmp.path(), &["-p", "offline", "-e", "dev", "--set", "runner.replicas=three"]);
    assert!(err.contains("values do not match `templates/helm/testmesh/values.schema.json`"), "{err}");
    assert!(err.contains("at /runner/replicas: \"three\" is not of type \"integer\""), "{err}");
    assert!(err.contains("(set by --set `runner.replicas=three`)"), "{err}");

    let file = tmp.path().join("v.yaml");
    std::fs::write(&file, "runner:\n  workerConcurrency: 0\n  bogus: 1\n").unwrap();
    let err = render_fails(tmp.path(), &["-p", "offline", "-e", "dev", "-f", file.to_str().unwrap()]);
    assert!(err.contains("at /runner/workerConcurrency: 0 is less than the minimum of 1"), "{err}");
    assert!(err.contains("bogus"), "{err}");
    assert!(err.contains(&format!("(set by values file `{}`)", file.display())), "{err}");
}

#[test]
fn invalid_set_expression_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let err = render_fails(tmp.path(), &["-p", "aws", "-e", "dev", "--set", "agents[x].name=a"]);
    assert!(err.contains("invalid --set expression `agents[x].name=a`: list index `x` is not an integer"), "{err}");
    let err = render_fails(tmp.path(), &["-p", "aws", "-e", "dev", "--set-string", "runner.replicas"]);
    assert!(err.contains("invalid --set-string expression `runner.replicas`: key `replicas` has no value"), "{err}");
}

#[test]
fn template_error_names_template_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("project");
    copy_project(&root);
    let tpl = root.join("templates/helm/testmesh/templates/api.yaml");
    let text = std::fs::read_to_string(&tpl).unwrap();
    let broken = text.replacen("{{ a.replicas | json }}", "{{ a.replicaz | json }}", 1);
    let line = broken.lines().position(|l| l.contains("replicaz")).unwrap() + 1;
    std::fs::write(&tpl, broken).unwrap();
    let err = render_fails(tmp.path(), &["--root", root.to_str().unwrap(), "-p", "aws", "-e", "dev"]);
    assert!(err.contains(&format!("{}:{line}: template error", tpl.display())), "want line {line}:\n{err}");
    assert!(err.contains("a.replicaz"), "{err}");
}

#[test]
fn template_syntax_error_names_template_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("project");
    copy_project(&root);
    let tpl = root.join("templates/helm/testmesh/templates/rbac.yaml");
    let text = std::fs::read_to_string(&tpl).unwrap();
    std::fs::write(&tpl, format!("{text}\n{{% if %}}\n")).unwrap();
    let line = text.lines().count() + 2;
    let err = render_fails(tmp.path(), &["--root", root.to_str().unwrap(), "-p", "aws", "-e", "dev"]);
    assert!(err.contains(&format!("{}:{line}: template error", tpl.display())), "want line {line}:\n{err}");
}

#[test]
fn unencoded_expression_is_rejected_before_rendering() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("project");
    copy_project(&root);
    let tpl = root.join("templates/helm/testmesh/templates/namespace.yaml");
    let text = std::fs::read_to_string(&tpl).unwrap();
    let broken = text.replacen("{{ values.namespace | json }}", "{{ values.namespace }}", 1);
    let line = broken.lines().position(|l| l.contains("{{ values.namespace }}")).unwrap() + 1;
    std::fs::write(&tpl, broken).unwrap();
    let err = render_fails(tmp.path(), &["--root", root.to_str().unwrap(), "-p", "offline", "-e", "dev"]);
    assert!(err.contains(&format!("{}:{line}: unsafe template", tpl.display())), "{err}");
    assert!(err.contains("must end with the `json` filter"), "{err}");
}

#[test]
fn terraform_templates_may_not_print_values() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("project");
    copy_project(&root);
    let tf = root.join("templates/terraform/aws/main.tf");
    let text = std::fs::read_to_string(&tf).unwrap();
    std::fs::write(&tf, format!("{text}\n# {{{{ environment | json }}}}\n")).unwrap();
    let err = render_fails(tmp.path(), &["--root", root.to_str().unwrap(), "-p", "aws", "-e", "dev"]);
    assert!(err.contains("unsafe template"), "{err}");
    assert!(err.contains("terraform.tfvars.json"), "{err}");
}

#[test]
fn get_env_is_disabled() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("project");
    copy_project(&root);
    let tpl = root.join("templates/helm/testmesh/templates/namespace.yaml");
    let text = std::fs::read_to_string(&tpl).unwrap();
    std::fs::write(&tpl, text.replacen("{{ values.namespace | json }}", "{{ get_env(name=\"HOME\") | json }}", 1))
        .unwrap();
    let err = render_fails(tmp.path(), &["--root", root.to_str().unwrap(), "-p", "offline", "-e", "dev"]);
    assert!(err.contains("`get_env` is disabled"), "{err}");
}

#[test]
fn failed_render_keeps_the_previous_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = render_to(tmp.path(), "offline", "dev", &[]);
    let before = read_tree(&out);
    let stderr = meshctl()
        .args(["render", "-p", "offline", "-e", "dev", "--set", "runner.port=0", "--out", out.to_str().unwrap()])
        .fails(2);
    assert!(stderr.contains("at /runner/port"), "{stderr}");
    assert_eq!(read_tree(&out), before, "the failed render changed the previous output");

    // A successful re-render replaces it whole: no file of the old one stays.
    std::fs::write(out.join("manifests/99-stale.yaml"), "stale").unwrap();
    render_to(tmp.path(), "offline", "dev", &[]);
    assert!(!out.join("manifests/99-stale.yaml").exists());
}

#[test]
fn refuses_to_replace_a_directory_that_is_not_a_render() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("precious.txt"), "keep me").unwrap();
    let err = meshctl().args(["render", "-p", "aws", "-e", "dev", "--out", out.to_str().unwrap()]).fails(2);
    assert!(err.contains("not a meshctl render output"), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("precious.txt")).unwrap(), "keep me");
}

#[test]
fn missing_values_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let err = render_fails(tmp.path(), &["-p", "aws", "-e", "dev", "-f", "/nonexistent/values.yaml"]);
    assert!(err.contains("/nonexistent/values.yaml"), "{err}");
    assert!(err.contains("No such file"), "{err}");
}
