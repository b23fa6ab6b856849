//! `meshctl sandbox up` as a user runs it: the kubeconfig it writes works
//! with the real kubectl, a Deployment applied server-side rolls out, and
//! Ctrl-C stops it cleanly.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);

fn kubectl(kubeconfig: &std::path::Path, cache: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(sandbox::tools::path("kubectl"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .output()
        .expect("kubectl is installed");
    assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn sandbox_up_serves_kubectl_until_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("k");
    let cache = dir.path().join("cache");
    let child = Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(["sandbox", "up", "--pod-ready-delay-ms", "50", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Killed if the test fails before it stops the sandbox itself.
    let mut guard = KillOnDrop(Some(child));
    let started = Instant::now();
    while !kubeconfig.exists() {
        assert!(started.elapsed() < DEADLINE, "no kubeconfig was written");
        std::thread::sleep(Duration::from_millis(50));
    }
    let namespaces = kubectl(&kubeconfig, &cache, &["get", "ns"]);
    assert!(namespaces.lines().any(|l| l.starts_with("default ")), "{namespaces}");

    let manifest = dir.path().join("web.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n",
    )
    .unwrap();
    let applied = kubectl(&kubeconfig, &cache, &["apply", "--server-side", "-f", manifest.to_str().unwrap()]);
    assert_eq!(applied.trim(), "deployment.apps/web serverside-applied");
    loop {
        let available =
            kubectl(&kubeconfig, &cache, &["get", "deployment", "web", "-o", "jsonpath={.status.availableReplicas}"]);
        if available == "2" {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the deployment never reported 2 available replicas (last: {available:?})"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Ctrl-C (SIGINT) stops it with exit 0.
    let child = guard.0.take().unwrap();
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("sandbox stopped"), "{stderr}");
}

struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn sandbox_up_refuses_a_bad_image_mapping() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_meshctl")).args(["sandbox", "up", "--image", "example/app"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--image \"example/app\": expected IMAGE=PATH"), "{stderr}");
}
