//! The `testmesh-runner` binary: configuration errors, SIGTERM drain, and
//! SIGKILL in the middle of a seed.

use std::process::Command;
use std::sync::atomic::Ordering;

use axum::http::StatusCode;
use serde_json::json;

use crate::util::{eventually, http, RunnerProcess, Upstream};

fn run_to_exit(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_testmesh-runner"));
    cmd.env_clear().env("BIND_ADDRESS", "127.0.0.1").env("PORT", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_configuration_exits_non_zero_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s").display().to_string();
    for (var, value, expect) in [
        (
            "WORKER_CONCURRENCY",
            "zero",
            "error: invalid WORKER_CONCURRENCY=\"zero\": expected a whole number from 1 to 1024",
        ),
        (
            "ALLOWED_NETWORKS",
            "10.0.0.0/8,10.0.0.1",
            "error: invalid ALLOWED_NETWORKS=\"10.0.0.0/8,10.0.0.1\": `10.0.0.1`: expected a CIDR",
        ),
        ("MAX_EXECUTION_TIME", "-5", "error: invalid MAX_EXECUTION_TIME=\"-5\""),
        ("PORT", "http", "error: invalid PORT=\"http\""),
        ("API_GATEWAY_URL", "gateway:5016", "error: invalid API_GATEWAY_URL=\"gateway:5016\""),
        ("FLOWS_DIR", "/nonexistent/flows", "error: cannot load flows from FLOWS_DIR `/nonexistent/flows`"),
    ] {
        let (code, stderr) = run_to_exit(&[(var, value), ("SNAPSHOT_DIR", &snap)]);
        assert_eq!(code, Some(1), "{var}={value}: {stderr}");
        assert!(stderr.contains(expect), "{var}={value}: {stderr}");
    }
}

#[test]
fn malformed_flows_stop_the_start_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir(&flows).unwrap();
    std::fs::write(
        flows.join("bad.yaml"),
        "name: bad\nsteps:\n  - id: a\n    action: http_request\n    config: {url: 'http://h/${steps.zz.id}'}\n",
    )
    .unwrap();
    let (code, stderr) = run_to_exit(&[
        ("FLOWS_DIR", &flows.display().to_string()),
        ("SNAPSHOT_DIR", &dir.path().join("s").display().to_string()),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    let file = flows.join("bad.yaml").display().to_string();
    assert!(stderr.contains(&format!("caused by: {file}:5:")), "{stderr}");
    assert!(stderr.contains("`${steps.zz.id}` refers to no earlier step"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_flows_start_and_answer_health() {
    let dir = tempfile::tempdir().unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/flows");
    let runner = RunnerProcess::start(&[
        ("FLOWS_DIR", examples.to_owned()),
        ("SNAPSHOT_DIR", dir.path().join("snapshots").display().to_string()),
        ("REPORTS_DIR", dir.path().join("reports").display().to_string()),
    ])
    .await;
    let health = http("GET", &format!("{}/v1/health", runner.url), None, &[]).await.unwrap();
    assert_eq!(health.status, StatusCode::OK, "{}", health.text);
    assert_eq!(health.json()["checks"]["flows"]["loaded"], 2);

    // The image's HEALTHCHECK command.
    let port = runner.url.rsplit(':').next().unwrap().to_owned();
    let probe = |port: &str| {
        Command::new(env!("CARGO_BIN_EXE_testmesh-runner")).arg("healthcheck").env("PORT", port).output().unwrap()
    };
    let live = probe(&port);
    assert!(live.status.success(), "{}", String::from_utf8_lossy(&live.stderr));
    drop(runner);
    let dead = probe(&port);
    assert_eq!(dead.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&dead.stderr).starts_with("error: not live:"));
}

fn flow_files(dir: &std::path::Path, upstream: &Upstream) -> String {
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::write(
        flows.join("version.yaml"),
        format!(
            "name: version\ngolden: true\nsnapshot: {{ignore: [$.generated_at]}}\nsteps:\n  - id: v\n    action: http_request\n    config: {{url: '{}/version', timeout: 5m}}\n",
            upstream.url()
        ),
    )
    .unwrap();
    std::fs::write(
        flows.join("slow.yaml"),
        format!(
            "name: slow\nsteps:\n  - id: s\n    action: http_request\n    config: {{url: '{}/slow', timeout: 5m}}\n",
            upstream.url()
        ),
    )
    .unwrap();
    flows.display().to_string()
}

fn runner_env(dir: &std::path::Path, flows: String) -> Vec<(&'static str, String)> {
    vec![
        ("FLOWS_DIR", flows),
        ("SNAPSHOT_DIR", dir.join("snapshots").display().to_string()),
        ("REPORTS_DIR", dir.join("reports").display().to_string()),
        ("ALLOWED_NETWORKS", "127.0.0.0/8".to_owned()),
        ("WORKER_CONCURRENCY", "2".to_owned()),
        ("SHUTDOWN_TIMEOUT", "120".to_owned()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_turns_readiness_false_and_lets_the_run_finish() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let flows = flow_files(dir.path(), &upstream);
    let runner = RunnerProcess::start(&runner_env(dir.path(), flows)).await;
    let base = runner.url.clone();
    let ready = http("GET", &format!("{base}/health/ready"), None, &[]).await.unwrap();
    assert_eq!(ready.status, StatusCode::OK);

    let run = tokio::spawn({
        let url = format!("{base}/v1/runs");
        async move { http("POST", &url, Some(json!({"flow": "slow"})), &[]).await }
    });
    eventually("the run to reach the upstream", || async {
        (upstream.state.gated_hits.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    runner.signal("TERM");
    let draining = eventually("readiness to turn false", || async {
        let r = http("GET", &format!("{base}/health/ready"), None, &[]).await.ok()?;
        (r.status == StatusCode::SERVICE_UNAVAILABLE).then_some(r)
    })
    .await;
    assert_eq!(draining.json()["status"], "draining");
    let refused = http("POST", &format!("{base}/v1/runs"), Some(json!({"flow": "slow"})), &[]).await.unwrap();
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE, "{}", refused.text);

    upstream.state.open_gate();
    let report = run.await.unwrap().expect("the in-flight run gets its response");
    assert_eq!(report.json()["outcome"], "passed", "{}", report.text);
    let (status, log) = runner.wait().await;
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("SIGTERM received"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_that_runs_out_of_time_says_so_once() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let flows = flow_files(dir.path(), &upstream);
    let mut env = runner_env(dir.path(), flows);
    env.retain(|(k, _)| *k != "SHUTDOWN_TIMEOUT");
    env.push(("SHUTDOWN_TIMEOUT", "1".to_owned()));
    let runner = RunnerProcess::start(&env).await;
    let url = format!("{}/v1/runs", runner.url);
    let _run = tokio::spawn(async move { http("POST", &url, Some(json!({"flow": "slow"})), &[]).await });
    eventually("the run to reach the upstream", || async {
        (upstream.state.gated_hits.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    runner.signal("TERM");
    let (status, log) = runner.wait().await;
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("1 runs were still in flight"), "{log}");
    // Not also the contrary: the log tells one story.
    assert!(!log.contains("in-flight runs done"), "{log}");
    upstream.state.open_gate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_seed_keeps_the_previous_golden_set() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let flows = flow_files(dir.path(), &upstream);
    let env = runner_env(dir.path(), flows);
    let runner = RunnerProcess::start(&env).await;
    let first = http("POST", &format!("{}/v1/snapshots/seed", runner.url), None, &[]).await.unwrap();
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let first_set = first.json()["set"].clone();

    // The second seed stalls at the upstream with new content in hand.
    upstream.state.version.store(7, Ordering::SeqCst);
    upstream.state.version_gated.store(true, Ordering::SeqCst);
    let seed_url = format!("{}/v1/snapshots/seed", runner.url);
    let seed = tokio::spawn(async move { http("POST", &seed_url, None, &[]).await });
    eventually("the second seed to be in progress", || async {
        (upstream.state.gated_hits.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    let mut runner = runner;
    runner.child.kill().unwrap(); // SIGKILL
    runner.child.wait().unwrap();
    assert!(seed.await.unwrap().is_err(), "the killed seed never answered");

    let restarted = RunnerProcess::start(&env).await;
    let listing = http("GET", &format!("{}/v1/snapshots", restarted.url), None, &[]).await.unwrap().json();
    assert_eq!(listing["current"], first_set["id"], "{listing:#}");
    assert_eq!(listing["sets"].as_array().unwrap().len(), 1, "{listing:#}");
    assert_eq!(listing["corrupt"], json!([]), "{listing:#}");
    assert_eq!(listing["sets"][0]["hash"], first_set["hash"]);
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.path().join("snapshots")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["set-00000001.json"], "no partial file remains");

    // The served set is the first one: the upstream's change shows as a mismatch.
    upstream.state.open_gate();
    let compared = http("POST", &format!("{}/v1/snapshots/compare", restarted.url), None, &[]).await.unwrap().json();
    assert_eq!(compared["snapshot"]["id"], first_set["id"]);
    assert_eq!(compared["result"], "mismatch", "{compared:#}");
}
