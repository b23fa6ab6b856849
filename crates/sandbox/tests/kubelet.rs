//! Process-backed pods: real processes, real probes, real signals.
//!
//! Every wait polls the pod's state with a generous deadline; nothing here
//! depends on how fast the machine is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sandbox::kubelet::{ImageMap, Kubelet, PodState, RunningPod};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEADLINE: Duration = Duration::from_secs(20);

fn kubelet(dir: &Path) -> Kubelet {
    let mut images = ImageMap::default();
    images.insert("example.test/echo", env!("CARGO_BIN_EXE_sandbox-echo"));
    images.insert("example.test/false:1", "/bin/false");
    images.insert("example.test/shell", "/bin/sh");
    Kubelet::new(images, dir.join("pods"))
        .with_probe_period_cap(Some(Duration::from_millis(100)))
        .with_restart_backoff(Duration::from_millis(100), Duration::from_millis(400))
}

fn pod(name: &str, container: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "demo"},
        "spec": {"containers": [container]},
    })
}

fn echo_container(env: Value) -> Value {
    json!({
        "name": "web",
        "image": "example.test/echo:1.0",
        "args": ["--greeting", "$(ECHO_MESSAGE)"],
        "ports": [{"name": "http", "containerPort": 8080}],
        "env": env,
    })
}

/// Waits until `condition` holds, failing with the last state after the deadline.
async fn wait_until(pod: &RunningPod, what: &str, condition: impl Fn(&PodState) -> bool) -> PodState {
    let mut state = pod.state();
    let reached = tokio::time::timeout(DEADLINE, state.wait_for(|s| condition(s))).await.is_ok();
    let last = state.borrow().clone();
    assert!(reached, "timed out waiting until {what}; last state: {last:#?}");
    last
}

/// A plain HTTP GET returning the status code and body.
async fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect to the pod");
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let code = response.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (code, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probed_pod_becomes_ready_and_serves_its_env_on_its_host_port() {
    let dir = tempfile::tempdir().unwrap();
    let kubelet = kubelet(dir.path());
    let mut container = echo_container(json!([
        {"name": "ECHO_MESSAGE", "value": "hello"},
        {"name": "OWN_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "PORT", "value": "8080"},
    ]));
    container["readinessProbe"] = json!({"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5});
    let pod = pod("echo-ready", container);
    assert!(kubelet.runs(&pod));
    assert!(!kubelet.runs(&json!({"spec": {"containers": [{"name": "x", "image": "nginx:1"}]}})));

    let running = kubelet.start(&pod).await.unwrap();
    let state = wait_until(&running, "the pod is ready", PodState::ready).await;

    let port = running.host_port(8080).expect("container port 8080 is mapped");
    assert_eq!(running.host_port("http"), Some(port));
    assert_ne!(port, 8080, "the container port is served on a free loopback port");
    let (code, body) = get(port, "/").await;
    assert_eq!(code, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["pod"], "echo-ready");
    assert_eq!(body["namespace"], "demo");
    assert_eq!(body["message"], "hello");
    assert_eq!(body["port"], port.to_string(), "PORT is the host port, whatever env says");
    assert_eq!(body["argv"].as_array().unwrap()[1..], [json!("--greeting"), json!("hello")]);

    let status = state.to_status();
    assert_eq!(status["phase"], "Running");
    assert_eq!(status["podIP"], "127.0.0.1");
    let ready = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap();
    assert_eq!(ready["status"], "True");
    assert_eq!(status["containerStatuses"][0]["ready"], true);
    assert!(status["containerStatuses"][0]["state"]["running"]["startedAt"].is_string());

    let log = std::fs::read_to_string(running.log_path("web").unwrap()).unwrap();
    assert!(log.contains("listening on 127.0.0.1"), "{log}");
    running.terminate(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_readiness_probe_keeps_the_pod_unready_until_it_passes() {
    let dir = tempfile::tempdir().unwrap();
    let ready_file = dir.path().join("ready");
    let mut container = echo_container(json!([{"name": "READY_FILE", "value": ready_file.to_str().unwrap()}]));
    container["readinessProbe"] = json!({"httpGet": {"path": "/ready", "port": 8080}});
    let running = kubelet(dir.path()).start(&pod("echo-unready", container)).await.unwrap();

    // Wait until the server answers 503 itself, then give the probe many
    // periods to (wrongly) pass.
    let port = running.host_port(8080).unwrap();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Ok(Ok(mut stream)) =
            tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(("127.0.0.1", port))).await
        {
            drop(stream.shutdown().await);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the server never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get(port, "/ready").await.0, 503);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let state = running.state().borrow().clone();
    assert!(!state.ready(), "{state:#?}");
    assert!(state.containers[0].running && state.containers[0].started);
    let status = state.to_status();
    assert_eq!(status["containerStatuses"][0]["ready"], false);
    let ready = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap();
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "ContainersNotReady");

    std::fs::write(&ready_file, "").unwrap();
    wait_until(&running, "the pod is ready once /ready passes", PodState::ready).await;
    running.terminate(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_liveness_probe_restarts_the_container() {
    let dir = tempfile::tempdir().unwrap();
    let mut container = echo_container(json!([]));
    container["livenessProbe"] = json!({"httpGet": {"path": "/missing", "port": "http"}, "failureThreshold": 2});
    let running = kubelet(dir.path()).start(&pod("echo-unhealthy", container)).await.unwrap();

    let state = wait_until(&running, "the container was restarted twice", |s| s.containers[0].restart_count >= 2).await;
    let last = state.containers[0].last_termination.as_ref().expect("a restarted container has a last state");
    assert!(last.message.as_deref().unwrap_or("").contains("Liveness probe failed"), "{last:#?}");
    // Every run of the container appends to the same log.
    let log = std::fs::read_to_string(running.log_path("web").unwrap()).unwrap();
    assert!(log.matches("listening on").count() >= 2, "{log}");
    running.terminate(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_container_is_restarted_with_back_off() {
    let dir = tempfile::tempdir().unwrap();
    let kubelet = kubelet(dir.path());
    let running =
        kubelet.start(&pod("crasher", json!({"name": "app", "image": "example.test/false:1"}))).await.unwrap();
    let state = wait_until(&running, "the container is in CrashLoopBackOff after restarts", |s| {
        let c = &s.containers[0];
        c.restart_count >= 2 && c.reason.as_deref() == Some("CrashLoopBackOff")
    })
    .await;
    assert!(!state.ready());
    let status = state.to_status();
    let app = &status["containerStatuses"][0];
    assert_eq!(app["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert_eq!(app["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(app["lastState"]["terminated"]["reason"], "Error");
    assert_eq!(status["phase"], "Running");
    running.terminate(Duration::from_secs(10)).await;

    // With restartPolicy Never the first exit is final and the pod fails.
    let mut once = pod("crash-once", json!({"name": "app", "image": "example.test/false:1"}));
    once["spec"]["restartPolicy"] = json!("Never");
    let running = kubelet.start(&once).await.unwrap();
    let state = wait_until(&running, "the pod failed", |s| s.phase == sandbox::kubelet::Phase::Failed).await;
    assert_eq!(state.containers[0].restart_count, 0);
    assert_eq!(state.to_status()["containerStatuses"][0]["state"]["terminated"]["exitCode"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn termination_runs_pre_stop_then_sigterm_and_the_server_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events");
    let mut container = echo_container(json!([
        {"name": "EVENT_FILE", "value": events.to_str().unwrap()},
        {"name": "SHUTDOWN_DELAY_MS", "value": "300"},
    ]));
    container["readinessProbe"] = json!({"httpGet": {"path": "/ready", "port": "http"}});
    container["lifecycle"] = json!({"preStop": {"httpGet": {"path": "/prestop", "port": "http"}}});
    let running = kubelet(dir.path()).start(&pod("echo-graceful", container)).await.unwrap();
    wait_until(&running, "the pod is ready", PodState::ready).await;

    let state = running.state();
    running.terminate(Duration::from_secs(15)).await;
    let state = state.borrow().clone();
    let web = &state.containers[0];
    assert!(!web.running);
    assert_eq!(web.exit_code, Some(0), "{state:#?}");
    assert_eq!(web.reason.as_deref(), Some("Completed"));
    assert_eq!(state.phase, sandbox::kubelet::Phase::Succeeded);
    let events = std::fs::read_to_string(&events).unwrap();
    assert_eq!(events.lines().collect::<Vec<_>>(), ["prestop", "sigterm"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_ignoring_sigterm_is_killed_with_its_children_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let container = json!({
        "name": "stubborn",
        "image": "example.test/shell:latest",
        "command": ["sh", "-c", "trap '' TERM; sleep 100 & echo $! > sleep.pid; touch trapped; wait"],
        // Ready once the trap is in place, so SIGTERM cannot come before it.
        "readinessProbe": {"exec": {"command": ["test", "-f", "sleep.pid"]}},
    });
    let running = kubelet(dir.path()).start(&pod("stubborn", container)).await.unwrap();
    wait_until(&running, "the shell has trapped SIGTERM", PodState::ready).await;
    let pid_file = running.dir().join("sleep.pid");
    let sleep_pid: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();

    let state = running.state();
    running.terminate(Duration::from_secs(1)).await;
    let state = state.borrow().clone();
    assert_eq!(state.containers[0].exit_code, Some(137), "SIGKILL: {state:#?}");
    assert_eq!(state.containers[0].reason.as_deref(), Some("Error"));
    assert_eq!(state.phase, sandbox::kubelet::Phase::Failed);

    // The shell's child went with it (it may linger briefly as a zombie
    // until init reaps it).
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while alive(sleep_pid) {
        assert!(tokio::time::Instant::now() < deadline, "the shell's child {sleep_pid} survived the pod");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A live (not zombie) process with this pid exists.
fn alive(pid: u32) -> bool {
    let stat = PathBuf::from(format!("/proc/{pid}/stat"));
    match std::fs::read_to_string(stat) {
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}
