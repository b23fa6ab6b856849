//! Hostile and faulty input, as an adversarial user would give it: inputs
//! that never end, devices, symlink loops, unreadable folders, an empty
//! pipe, an unreachable cluster. Each must end quickly with a clear
//! message, the other inputs still handled.

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use crate::util::meshctl;

#[test]
fn a_values_file_that_never_ends_is_refused_by_name() {
    let err = meshctl().args(["render", "-p", "offline", "-e", "dev", "-f", "/dev/zero"]).fails(2);
    assert!(err.contains("/dev/zero") && err.contains("a character device"), "{err}");
}

#[test]
fn a_device_named_for_validation_is_reported_and_the_rest_validated() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok.yaml");
    std::fs::write(&ok, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n").unwrap();
    let run = meshctl().args(["validate", "-o", "json", "/dev/zero", ok.to_str().unwrap()]).run().code(1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let text = report.to_string();
    assert!(text.contains("a character device"), "{text}");
    assert!(text.contains("\"name\":\"a\""), "ok.yaml was still validated: {text}");
}

#[test]
fn an_empty_stdin_is_no_input_not_a_pass() {
    // `meshctl render ... | meshctl validate -` with a render that printed
    // nothing must not pass.
    let run = meshctl().args(["validate", "-"]).run().code(1);
    assert!(run.stdout().contains("no input"), "{}", run.stdout());
}

#[test]
fn symlink_loops_end_and_each_file_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("m");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n").unwrap();
    std::os::unix::fs::symlink("..", root.join("sub/up")).unwrap();
    std::os::unix::fs::symlink("..", root.join("sub/up2")).unwrap();
    let out = meshctl().args(["validate", "-v", root.to_str().unwrap()]).success();
    assert_eq!(out.matches("ConfigMap").count(), 1, "read once, no false duplicates:\n{out}");
    assert_eq!(out.matches("symlink loop").count(), 2, "both links named:\n{out}");
}

#[test]
fn an_unreadable_folder_is_reported_and_the_other_inputs_validated() {
    // Root ignores mode 000, so the run drops to `nobody`.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ok = dir.path().join("ok.yaml");
    std::fs::write(&ok, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n").unwrap();
    std::fs::set_permissions(&ok, std::fs::Permissions::from_mode(0o644)).unwrap();
    let d = dir.path().join("d");
    std::fs::create_dir_all(d.join("locked")).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(d.join("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let output = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", env!("CARGO_BIN_EXE_meshctl")])
        .args(["validate", "-o", "json", ok.to_str().unwrap(), d.to_str().unwrap()])
        .output()
        .expect("setpriv (util-linux) runs");
    let raw = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{raw}{}", String::from_utf8_lossy(&output.stderr));
    let stdout = serde_json::from_str::<serde_json::Value>(&raw).expect("a JSON report").to_string();
    assert!(stdout.contains("cannot read directory") && stdout.contains("locked"), "{stdout}");
    assert!(stdout.contains("\"name\":\"a\""), "ok.yaml was still validated: {stdout}");
}

#[test]
fn an_unreachable_cluster_is_one_error_naming_the_server_without_colour() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    // Port 1 on loopback: nothing listens there.
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n\
         users:\n- name: u\n  user: {token: t}\ncontexts:\n- name: lab\n  context: {cluster: c, user: u}\n\
         current-context: lab\n",
    )
    .unwrap();
    let err = meshctl()
        .args(["apply", "-p", "offline", "-e", "dev", "--timeout", "5s", "--kubeconfig"])
        .arg(kubeconfig.to_str().unwrap())
        .fails(2);
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert!(err.contains("cannot reach the cluster API at https://127.0.0.1:1/ (context lab)"), "{err}");
    assert!(!err.contains('\u{1b}') && !err.contains("ERROR"), "no colour, no library log lines:\n{err}");
}

#[test]
fn a_schema_error_never_prints_a_sensitive_value() {
    let err =
        meshctl().args(["render", "-p", "offline", "-e", "dev", "--set", "postgresql.passwordSecret=hunter2"]).fails(2);
    assert!(err.contains("/postgresql/passwordSecret"), "the place is named: {err}");
    assert!(!err.contains("hunter2"), "the value is not: {err}");
    assert!(err.contains("(set by --set (value not shown))"), "{err}");
}
