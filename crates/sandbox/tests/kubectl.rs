//! The real kubectl against the sandbox: what a user rehearsing a deployment
//! types, with its output checked.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{start, DEADLINE};

struct Kubectl {
    kubeconfig: PathBuf,
    cache: PathBuf,
    _dir: tempfile::TempDir,
}

impl Kubectl {
    fn new(sandbox: &sandbox::Sandbox) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        sandbox.write_kubeconfig(&kubeconfig).unwrap();
        Kubectl { kubeconfig, cache: dir.path().join("cache"), _dir: dir }
    }

    /// Runs kubectl; returns (success, stdout, stderr).
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let output = Command::new(sandbox::tools::path("kubectl"))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .output()
            .expect("kubectl runs (`bash .ci/deps` installs it)");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "kubectl {args:?} failed:\n{err}\n{out}");
        out
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&args)).unwrap()
    }

    fn wait_for(&self, what: &str, args: &[&str], check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let value = self.json(args);
            if check(&value) {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting until {what}; last:\n{value:#}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const APP: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
  - port: 80
";

#[test]
fn kubectl_gets_applies_server_side_reads_back_and_deletes() {
    let sandbox = start();
    let kubectl = Kubectl::new(&sandbox);
    let dir = tempfile::tempdir().unwrap();

    let namespaces = kubectl.ok(&["get", "namespaces"]);
    let header = namespaces.lines().next().unwrap();
    assert!(header.starts_with("NAME") && header.contains("STATUS") && header.contains("AGE"), "{namespaces}");
    assert!(namespaces.lines().any(|l| l.starts_with("default ") && l.contains("Active")), "{namespaces}");

    let manifest = write(dir.path(), "app.yaml", APP);
    let applied = kubectl.ok(&["apply", "--server-side", "-f", manifest.to_str().unwrap()]);
    assert_eq!(
        applied.lines().collect::<Vec<_>>(),
        [
            "namespace/shop serverside-applied",
            "deployment.apps/web serverside-applied",
            "service/web serverside-applied"
        ]
    );

    // The Deployment rolls out: the controller reports available replicas.
    let deployment = kubectl.wait_for(
        "the deployment is available",
        &["get", "deployment", "web", "-n", "shop", "--show-managed-fields"],
        |d| d["status"]["availableReplicas"] == 2 && d["status"]["observedGeneration"] == d["metadata"]["generation"],
    );
    let fields = &deployment["metadata"]["managedFields"][0];
    assert_eq!(fields["manager"], "kubectl");
    assert_eq!(fields["operation"], "Apply");
    assert!(fields["fieldsV1"]["f:spec"]["f:replicas"].is_object());
    let service = kubectl.json(&["get", "service", "web", "-n", "shop"]);
    assert!(service["spec"]["clusterIP"].as_str().unwrap().starts_with("10.96."));
    let pods = kubectl.ok(&["get", "pods", "-n", "shop"]);
    assert_eq!(pods.lines().filter(|l| l.contains("1/1") && l.contains("Running")).count(), 2, "{pods}");
    // kubectl 1.35+ waits through a streaming list (sendInitialEvents):
    // it must see the state and the end-of-initial-events bookmark.
    let waited = kubectl.ok(&["wait", "--for=condition=Available", "deployment/web", "-n", "shop", "--timeout=20s"]);
    assert!(waited.contains("condition met"), "{waited}");

    // Re-applying the same file changes nothing.
    let before = deployment["metadata"]["resourceVersion"].clone();
    kubectl.ok(&["apply", "--server-side", "-f", manifest.to_str().unwrap()]);
    let after = kubectl.json(&["get", "deployment", "web", "-n", "shop"]);
    assert_eq!(after["metadata"]["generation"], deployment["metadata"]["generation"]);
    assert_eq!(after["metadata"]["resourceVersion"], before, "a no-op apply writes nothing");

    // Another manager changing a field kubectl owns is a conflict.
    let scaled = APP.replace("replicas: 2", "replicas: 3");
    let scaled = write(dir.path(), "scaled.yaml", &scaled);
    let (ok, _, err) =
        kubectl.run(&["apply", "--server-side", "--field-manager", "ops", "-f", scaled.to_str().unwrap()]);
    assert!(!ok && err.contains("conflict with \"kubectl\"") && err.contains(".spec.replicas"), "{err}");
    kubectl.ok(&[
        "apply",
        "--server-side",
        "--field-manager",
        "ops",
        "--force-conflicts",
        "-f",
        scaled.to_str().unwrap(),
    ]);
    kubectl.wait_for("three replicas", &["get", "deployment", "web", "-n", "shop"], |d| {
        d["status"]["availableReplicas"] == 3
    });

    // Unknown fields are refused (kubectl asks for strict validation).
    let typo = write(dir.path(), "typo.yaml", &APP.replace("replicas: 2", "replica: 2"));
    let (ok, _, err) = kubectl.run(&["apply", "--server-side", "-f", typo.to_str().unwrap()]);
    assert!(!ok && err.contains("unknown field \"spec.replica\""), "{err}");

    let deleted = kubectl.ok(&["delete", "deployment", "web", "-n", "shop"]);
    // kubectl 1.36 (the one .ci/deps pins) names the namespace.
    assert_eq!(deleted.trim(), "deployment.apps \"web\" deleted from shop namespace");
    let (ok, _, err) = kubectl.run(&["get", "deployment", "web", "-n", "shop"]);
    assert!(!ok && (err.contains("NotFound") || err.contains("not found")), "{err}");
    kubectl.wait_for("the pods are collected", &["get", "pods", "-n", "shop"], |list| {
        list["items"].as_array().unwrap().is_empty()
    });
}

#[test]
fn the_admin_endpoint_takes_fault_rules_and_reports_counters() {
    let sandbox = start();
    let kubectl = Kubectl::new(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    let rule = write(
        dir.path(),
        "rule.json",
        r#"{"verb": "list", "resource": "configmaps", "action": "status", "code": 500, "count": 1}"#,
    );
    kubectl.ok(&["create", "--raw", "/sandbox/admin/faults", "-f", rule.to_str().unwrap()]);
    let (ok, _, err) = kubectl.run(&["get", "configmaps"]);
    assert!(!ok && err.contains("injected fault"), "{err}");
    kubectl.ok(&["get", "configmaps"]);
    let counters: Value = serde_json::from_str(&kubectl.ok(&["get", "--raw", "/sandbox/admin/counters"])).unwrap();
    assert_eq!(counters["requests"]["list configmaps"], 2, "{counters}");
}

#[test]
fn kubectl_without_the_token_is_unauthorized() {
    let sandbox = start();
    let kubectl = Kubectl::new(&sandbox);
    let (ok, _, err) = kubectl.run(&["--token", "wrong", "get", "namespaces"]);
    assert!(!ok);
    assert!(err.contains("Unauthorized") || err.contains("logged in"), "{err}");
}
