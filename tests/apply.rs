//! `meshctl apply / diff / status / history / rollback` against the sandbox,
//! as a user runs them: the real binary, a kubeconfig, and kubectl to read
//! back what meshctl did.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util::meshctl;

const DEADLINE: Duration = Duration::from_secs(60);

struct Cluster {
    sandbox: sandbox::Sandbox,
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Self {
        let sandbox = sandbox::Sandbox::start(sandbox::SandboxConfig {
            pod_ready_delay: Duration::from_millis(50),
            ..Default::default()
        })
        .expect("the sandbox starts");
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        sandbox.write_kubeconfig(&kubeconfig).unwrap();
        Cluster { sandbox, kubeconfig, dir }
    }

    /// `meshctl <command> -p offline -e dev --kubeconfig K <extra>`.
    fn meshctl(&self, command: &str, extra: &[&str]) -> crate::util::Meshctl {
        meshctl()
            .args([command, "-p", "offline", "-e", "dev", "--kubeconfig"])
            .arg(self.kubeconfig.to_str().unwrap())
            .args(extra)
    }

    fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(sandbox::tools::path("kubectl"))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .output()
            .expect("kubectl is installed");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn kubectl_json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.extend(["-o", "json"]);
        let (ok, out, err) = self.kubectl(&args);
        assert!(ok, "kubectl {args:?}: {err}");
        serde_json::from_str(&out).unwrap()
    }

    fn mutating(&self) -> u64 {
        self.sandbox.counters()["mutating"].as_u64().unwrap()
    }
}

#[test]
fn a_fresh_apply_deploys_every_object_and_kubectl_sees_the_applyset() {
    let cluster = Cluster::start();
    let out = cluster.meshctl("apply", &["--timeout", "60s"]).success();
    assert!(out.starts_with("release testmesh (namespace testmesh) revision 1 deployed: "), "{out}");
    assert!(out.contains(" 0 pruned"), "{out}");

    // Every workload is rolled out.
    let deployments = cluster.kubectl_json(&["get", "deployments", "-n", "testmesh"]);
    let items = deployments["items"].as_array().unwrap();
    assert!(items.len() >= 3);
    for d in items {
        assert_eq!(d["status"]["availableReplicas"], d["spec"]["replicas"], "{}", d["metadata"]["name"]);
    }
    // Applied by the meshctl field manager, labelled into the ApplySet.
    let runner =
        cluster.kubectl_json(&["get", "deployment", "testmesh-runner", "-n", "testmesh", "--show-managed-fields"]);
    let id = runner["metadata"]["labels"]["applyset.kubernetes.io/part-of"].as_str().unwrap().to_string();
    assert!(id.starts_with("applyset-") && id.ends_with("-v1"));
    assert!(runner["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["manager"] == "meshctl" && m["operation"] == "Apply"));
    let parent = cluster.kubectl_json(&["get", "secret", "applyset-testmesh", "-n", "testmesh"]);
    assert_eq!(parent["metadata"]["labels"]["applyset.kubernetes.io/id"], id.as_str());
    let kinds = parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"].as_str().unwrap();
    assert!(kinds.contains("Deployment.apps") && kinds.contains("Service"), "{kinds}");
    // kubectl finds the set's members by the label.
    let (ok, members, _) = cluster.kubectl(&[
        "get",
        "deployments,services",
        "-n",
        "testmesh",
        "-l",
        &format!("applyset.kubernetes.io/part-of={id}"),
        "-o",
        "name",
    ]);
    assert!(ok && members.lines().count() >= 7, "{members}");

    // status and history.
    let status = cluster.meshctl("status", &[]).success();
    assert!(
        status.contains("revision: 1") && status.contains("ready    Deployment/testmesh/testmesh-runner"),
        "{status}"
    );
    let history = cluster.meshctl("history", &[]).success();
    assert!(history.lines().nth(1).unwrap().starts_with("1         deployed"), "{history}");
}

#[test]
fn an_unchanged_reapply_sends_no_mutating_request() {
    let cluster = Cluster::start();
    cluster.meshctl("apply", &[]).success();
    let before = cluster.mutating();
    let out = cluster.meshctl("apply", &[]).success();
    assert!(out.contains("revision 1 deployed: 0 created, 0 configured"), "{out}");
    assert_eq!(cluster.mutating(), before, "{}", cluster.sandbox.counters());
}

#[test]
fn diff_shows_a_change_apply_makes_it_and_diff_is_then_clean() {
    let cluster = Cluster::start();
    cluster.meshctl("apply", &[]).success();
    cluster.meshctl("diff", &[]).success();
    let diff = cluster.meshctl("diff", &["--set", "api.replicas=3"]).run().code(1).stdout();
    assert!(diff.contains("-  replicas: 2") && diff.contains("+  replicas: 3"), "{diff}");
    assert!(diff.contains("Deployment/testmesh/testmesh-api"), "{diff}");
    let out = cluster.meshctl("apply", &["--set", "api.replicas=3"]).success();
    assert!(out.contains("revision 2 deployed: 0 created, 1 configured"), "{out}");
    cluster.meshctl("diff", &["--set", "api.replicas=3"]).success();
}

#[test]
fn prune_deletes_only_members_no_longer_rendered() {
    let cluster = Cluster::start();
    cluster.meshctl("apply", &[]).success();
    // An object outside the set, with the same kind, must survive.
    let dir = cluster.dir.path();
    let outsider = write(dir, "outsider.yaml", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: outsider\n  namespace: testmesh\nspec:\n  defaultBackend:\n    service:\n      name: other\n      port:\n        number: 80\n");
    let (ok, _, err) = cluster.kubectl(&["apply", "--server-side", "-f", outsider.to_str().unwrap()]);
    assert!(ok, "{err}");

    // Without --prune the dropped object stays.
    let out = cluster.meshctl("apply", &["--set", "ingress.enabled=false"]).success();
    assert!(out.contains(" 0 pruned"), "{out}");
    assert!(cluster.kubectl(&["get", "ingress", "testmesh", "-n", "testmesh"]).0);

    let out = cluster.meshctl("apply", &["--prune", "--set", "ingress.enabled=false"]).success();
    assert!(out.contains(" 1 pruned"), "{out}");
    assert!(!cluster.kubectl(&["get", "ingress", "testmesh", "-n", "testmesh"]).0, "pruned");
    assert!(cluster.kubectl(&["get", "ingress", "outsider", "-n", "testmesh"]).0, "outside the set: kept");
    // The inventory no longer lists the kind.
    let parent = cluster.kubectl_json(&["get", "secret", "applyset-testmesh", "-n", "testmesh"]);
    let kinds = parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"].as_str().unwrap();
    assert!(!kinds.contains("Ingress"), "{kinds}");
}

#[test]
fn a_field_owned_by_another_manager_is_a_conflict_until_forced() {
    let cluster = Cluster::start();
    cluster.meshctl("apply", &[]).success();
    let dir = cluster.dir.path();
    let scale = write(dir, "scale.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: testmesh-api\n  namespace: testmesh\nspec:\n  replicas: 4\n");
    let (ok, _, err) = cluster.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager",
        "ops-team",
        "--force-conflicts",
        "-f",
        scale.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let err = cluster.meshctl("apply", &["--set", "api.replicas=3"]).fails(1);
    assert!(err.contains("conflict with \"ops-team\"") && err.contains(".spec.replicas"), "{err}");
    assert!(err.contains("--force-conflicts"), "{err}");
    cluster.meshctl("apply", &["--set", "api.replicas=3", "--force-conflicts"]).success();
    let api = cluster.kubectl_json(&["get", "deployment", "testmesh-api", "-n", "testmesh"]);
    assert_eq!(api["spec"]["replicas"], 3);
}

const NEVER_READY: &str = "api.podAnnotations.sandbox\\.meshctl\\.dev/behavior=never-ready";

#[test]
fn a_never_ready_rollout_with_atomic_is_rolled_back_and_exits_1() {
    let cluster = Cluster::start();
    cluster.meshctl("apply", &[]).success();
    let err = cluster.meshctl("apply", &["--atomic", "--timeout", "3s", "--set-string", NEVER_READY]).fails(1);
    assert!(err.contains("timed out") && err.contains("Deployment/testmesh/testmesh-api"), "{err}");
    assert!(err.contains("rolled back (--atomic) to revision 1"), "{err}");
    let history = cluster.meshctl("history", &[]).success();
    let statuses: Vec<&str> = history.lines().skip(1).map(|l| l.split_whitespace().nth(1).unwrap()).collect();
    assert_eq!(statuses, ["superseded", "failed", "deployed"], "{history}");
    assert!(history.contains("rollback to 1"), "{history}");
    // The pods are back on the old template, and the release is clean.
    eventually("the api rolls back", || {
        let api = cluster.kubectl_json(&["get", "deployment", "testmesh-api", "-n", "testmesh"]);
        (api["spec"]["template"]["metadata"]["annotations"]["sandbox.meshctl.dev/behavior"].is_null()
            && api["status"]["availableReplicas"] == 2)
            .then_some(())
    });
    cluster.meshctl("diff", &[]).success();
}

#[test]
fn rollback_returns_to_an_earlier_revision() {
    let cluster = Cluster::start();
    cluster.meshctl("apply", &[]).success();
    cluster.meshctl("apply", &["--set", "api.replicas=3"]).success();
    let out = cluster.meshctl("rollback", &[]).success();
    assert!(out.contains("rolled back to revision 1 (recorded as revision 3)"), "{out}");
    let api = cluster.kubectl_json(&["get", "deployment", "testmesh-api", "-n", "testmesh"]);
    assert_eq!(api["spec"]["replicas"], 2);
    let err = cluster.meshctl("rollback", &["--revision", "9"]).fails(2);
    assert!(err.contains("revision 9"), "{err}");
}

#[test]
fn a_second_concurrent_apply_fails_at_once_naming_the_holder() {
    let cluster = Cluster::start();
    cluster.meshctl("apply", &[]).success();
    // The first apply waits on a workload that never becomes ready.
    let first = Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(["apply", "-p", "offline", "-e", "dev", "--timeout", "120s", "--set-string", NEVER_READY, "--kubeconfig"])
        .arg(&cluster.kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = Guard(Some(first));
    eventually("the first apply holds the lock", || {
        cluster.kubectl(&["get", "lease", "meshctl-lock-testmesh", "-n", "testmesh"]).0.then_some(())
    });
    let err = cluster.meshctl("apply", &[]).fails(2);
    assert!(err.contains("operation in progress by ") && err.contains(" since "), "{err}");

    // SIGTERM: the first marks its revision failed and releases the lock.
    let child = first.0.take().unwrap();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!cluster.kubectl(&["get", "lease", "meshctl-lock-testmesh", "-n", "testmesh"]).0, "the lock was released");
    let history = cluster.meshctl("history", &[]).success();
    assert!(history.lines().any(|l| l.starts_with("2 ") && l.contains("failed")), "{history}");
    cluster.meshctl("apply", &[]).success();
}

#[test]
fn after_a_sigkill_the_next_apply_takes_over_the_expired_lock_and_converges() {
    let cluster = Cluster::start();
    let first = Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args([
            "apply",
            "-p",
            "offline",
            "-e",
            "dev",
            "--timeout",
            "120s",
            "--lock-duration",
            "2s",
            "--set-string",
            NEVER_READY,
            "--kubeconfig",
        ])
        .arg(&cluster.kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = Guard(Some(first));
    eventually("the first apply is waiting", || {
        let (ok, out, _) = cluster.kubectl(&["get", "deployment", "testmesh-api", "-n", "testmesh", "-o", "name"]);
        (ok && !out.is_empty()).then_some(())
    });
    let mut child = first.0.take().unwrap();
    child.kill().unwrap(); // SIGKILL: no cleanup at all.
    child.wait().unwrap();
    assert!(
        cluster.kubectl(&["get", "lease", "meshctl-lock-testmesh", "-n", "testmesh"]).0,
        "the dead holder's lease remains"
    );

    // Re-running converges once the dead holder's lease has expired.
    let run = eventually("a re-run takes over the lock", || {
        let run = cluster.meshctl("apply", &["--lock-duration", "2s"]).run();
        (run.output.status.code() == Some(0)).then_some(run)
    });
    assert!(run.stderr().contains("took over the lock"), "{}", run.stderr());
    let status = cluster.meshctl("status", &[]).success();
    assert!(!status.contains("waiting"), "{status}");
}

#[test]
fn injected_api_faults_are_survived() {
    let cluster = Cluster::start();
    for rule in [
        json!({"verb": "patch", "action": "status", "code": 429, "retryAfter": 1, "count": 2}),
        json!({"verb": "list", "action": "status", "code": 503, "count": 2}),
        json!({"verb": "patch", "action": "status", "code": 500, "count": 1}),
        json!({"verb": "patch", "action": "conflict", "count": 1}),
        json!({"verb": "get", "action": "status", "code": 502, "count": 1}),
    ] {
        cluster.sandbox.inject(serde_json::from_value(rule).unwrap());
    }
    let out = cluster.meshctl("apply", &[]).success();
    assert!(out.contains("revision 1 deployed"), "{out}");
    assert!(cluster.sandbox.shared().faults.rules().is_empty(), "every injected fault was hit");
}

#[test]
fn an_invalid_set_is_never_applied() {
    let cluster = Cluster::start();
    let before = cluster.mutating();
    // Policy: the runner runs arbitrary flows and must have a NetworkPolicy.
    let err = cluster.meshctl("apply", &["--set", "runner.networkPolicy.enabled=false"]).fails(1);
    assert!(err.contains("[runner-network-policy]") && err.contains("nothing was applied"), "{err}");
    assert_eq!(cluster.mutating(), before);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Guard(Option<std::process::Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn exec_credential_plugins_and_contexts_are_honoured() {
    let cluster = Cluster::start();
    let kubeconfig = cluster.sandbox.kubeconfig();
    let field = |key: &str| kubeconfig.lines().find_map(|l| l.trim().strip_prefix(key)).unwrap().trim().to_string();
    let (server, ca) = (field("server:"), field("certificate-authority-data:"));
    let credential = format!(
        r#"{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"{}"}}}}"#,
        cluster.sandbox.token()
    );
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: sb\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: bad\n  user:\n    token: wrong\n- name: plugin\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: sh\n      args: [\"-c\", {}]\n      interactiveMode: Never\ncontexts:\n- name: broken\n  context: {{cluster: sb, user: bad}}\n- name: exec\n  context: {{cluster: sb, user: plugin}}\ncurrent-context: broken\n",
        serde_json::to_string(&format!("printf '%s' '{credential}'")).unwrap()
    );
    let path = write(cluster.dir.path(), "multi.yaml", &text);
    let err = meshctl().args(["status", "-p", "offline", "-e", "dev", "--kubeconfig", path.to_str().unwrap()]).fails(2);
    assert!(err.contains("Unauthorized") || err.contains("401"), "{err}");
    let out = meshctl()
        .args(["apply", "-p", "offline", "-e", "dev", "--context", "exec", "--kubeconfig", path.to_str().unwrap()])
        .success();
    assert!(out.contains("revision 1 deployed"), "{out}");
}

#[test]
fn manifests_from_a_directory_are_applied_as_a_release() {
    let cluster = Cluster::start();
    let out_dir = crate::util::render_to(cluster.dir.path(), "offline", "dev", &[]);
    let manifests = out_dir.join("manifests");
    let out = meshctl()
        .args(["apply", "--from", manifests.to_str().unwrap(), "--kubeconfig", cluster.kubeconfig.to_str().unwrap()])
        .success();
    assert!(out.contains("release testmesh (namespace testmesh) revision 1 deployed"), "{out}");
    // Status and history need no profile: the release and its namespace.
    let status = meshctl()
        .args([
            "status",
            "--release",
            "testmesh",
            "-n",
            "testmesh",
            "--kubeconfig",
            cluster.kubeconfig.to_str().unwrap(),
        ])
        .success();
    assert!(status.contains("source: manifest files (--from)"), "{status}");
    // The same objects from the profile are no change at all.
    let before = cluster.mutating();
    let out = cluster.meshctl("apply", &[]).success();
    assert!(out.contains("revision 1 deployed: 0 created, 0 configured"), "{out}");
    assert_eq!(cluster.mutating(), before);
}

#[test]
fn a_server_dry_run_reports_changes_and_stores_nothing() {
    let cluster = Cluster::start();
    cluster.meshctl("apply", &[]).success();
    let run = cluster.meshctl("apply", &["--dry-run=server", "--set", "api.replicas=5"]).run().code(0);
    assert!(run.stdout().contains("dry run: 0 created, 1 configured"), "{}", run.stdout());
    assert!(run.stderr().contains("Deployment/testmesh/testmesh-api (configured)"), "{}", run.stderr());
    let api = cluster.kubectl_json(&["get", "deployment", "testmesh-api", "-n", "testmesh"]);
    assert_eq!(api["spec"]["replicas"], 2, "nothing was stored");
    // No lock was taken and no revision recorded.
    let history = cluster.meshctl("history", &[]).success();
    assert_eq!(history.lines().count(), 2, "{history}");
}
