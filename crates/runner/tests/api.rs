//! The HTTP API through `app()`, and once on a real port.

use std::time::Duration;

use axum::http::StatusCode;
use runner::{AppState, Config};
use serde_json::json;

use crate::util::{self, call, eventually, Upstream};

fn golden_flow(upstream: &Upstream) -> String {
    format!(
        r#"
name: versions
golden: true
steps:
  - id: v
    action: http_request
    config: {{ url: "{}/version" }}
    assert: {{ status: 200 }}
"#,
        upstream.url()
    )
}

#[tokio::test]
async fn health_reports_flows_snapshot_dir_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let state = util::state(dir.path(), &[golden_flow(&upstream)]);
    let reply = call(&state, "GET", "/v1/health", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["checks"]["flows"]["loaded"], 1);
    assert_eq!(body["checks"]["flows"]["golden"], 1);
    assert_eq!(body["checks"]["snapshot_dir"]["status"], "pass");
    assert_eq!(body["checks"]["runs"]["in_flight"], 0);
    assert_eq!(call(&state, "GET", "/health/live", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unwritable_snapshot_dir_fails_health() {
    let dir = tempfile::tempdir().unwrap();
    let state = util::state(dir.path(), &[]);
    // Replacing the directory with a file makes every write fail, even as root.
    std::fs::remove_dir_all(dir.path().join("snapshots")).unwrap();
    std::fs::write(dir.path().join("snapshots"), b"not a directory").unwrap();
    let reply = call(&state, "GET", "/v1/health", None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.text);
    assert_eq!(reply.json()["checks"]["snapshot_dir"]["status"], "fail");
    assert_eq!(reply.json()["status"], "failing");
}

#[tokio::test]
async fn readiness_follows_the_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_dir(dir.path());
    let state = AppState::new(config, Default::default(), Default::default(), util::resolver(&[])).unwrap();
    let reply = call(&state, "GET", "/health/ready", None).await;
    assert_eq!((reply.status, reply.json()["status"].clone()), (StatusCode::SERVICE_UNAVAILABLE, json!("starting")));
    state.mark_ready();
    assert_eq!(call(&state, "GET", "/health/ready", None).await.status, StatusCode::OK);
    state.begin_draining();
    let reply = call(&state, "GET", "/health/ready", None).await;
    assert_eq!((reply.status, reply.json()["status"].clone()), (StatusCode::SERVICE_UNAVAILABLE, json!("draining")));
    // Liveness stays up: the process is healthy, just leaving.
    assert_eq!(call(&state, "GET", "/health/live", None).await.status, StatusCode::OK);
    let run = call(&state, "POST", "/v1/runs", Some(json!({"flow": "x"}))).await;
    assert_eq!(run.status, StatusCode::NOT_FOUND);
    let inline = "name: x\nsteps:\n  - id: a\n    action: http_request\n    config: {url: 'http://127.0.0.1:9/'}\n";
    let run = call(&state, "POST", "/v1/runs", Some(json!({ "inline": inline }))).await;
    assert_eq!(run.status, StatusCode::SERVICE_UNAVAILABLE, "{}", run.text);
}

#[tokio::test]
async fn metrics_count_runs_steps_and_sets() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let state = util::state(dir.path(), &[golden_flow(&upstream)]);
    let run = call(&state, "POST", "/v1/runs", Some(json!({"flow": "versions"}))).await;
    assert_eq!(run.json()["outcome"], "passed", "{}", run.text);
    assert_eq!(call(&state, "POST", "/v1/snapshots/seed", None).await.status, StatusCode::CREATED);
    let reply = call(&state, "GET", "/metrics", None).await;
    assert!(reply.headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = reply.text;
    assert!(text.contains("testmesh_runner_runs_total{outcome=\"passed\"} 2\n"), "{text}");
    assert!(text.contains("testmesh_runner_step_duration_seconds_count 2\n"), "{text}");
    assert!(text.contains("testmesh_runner_runs_in_flight 0\n"), "{text}");
    assert!(text.contains("testmesh_runner_snapshot_sets 1\n"), "{text}");
}

#[tokio::test]
async fn bad_run_requests_are_4xx_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let state = util::state(dir.path(), &[]);
    let reply = call(&state, "POST", "/v1/runs", Some(json!({"flow": "nope"}))).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["error"], "no flow named `nope`");
    let reply = call(&state, "POST", "/v1/runs", Some(json!({}))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = call(&state, "POST", "/v1/runs", Some(json!({"flow": "a", "bogus": 1}))).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.json()["error"].as_str().unwrap().contains("unknown field `bogus`"), "{}", reply.text);
    // An inline flow is checked like a file, with line and column.
    let reply = call(
        &state,
        "POST",
        "/v1/runs",
        Some(json!({"inline": "name: x\nsteps:\n  - id: a\n    action: ftp\n    config: {url: 'http://h/'}\n"})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let problem = &reply.json()["problems"][0];
    assert_eq!((problem["line"].as_u64(), problem["file"].as_str()), (Some(4), Some("inline")), "{}", reply.text);
    assert!(problem["message"].as_str().unwrap().contains("unknown action `ftp`"));
    // The API's own body cap.
    let huge = "x".repeat(2 << 20);
    let reply = call(&state, "POST", "/v1/runs", Some(json!({ "inline": huge }))).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let mut config = Config::for_dir(dir.path());
    config.worker_concurrency = 1;
    config.queue_size = 1;
    let slow = format!(
        "name: slow\nsteps:\n  - id: s\n    action: http_request\n    config: {{url: '{}/slow'}}\n",
        upstream.url()
    );
    let state = util::state_with(config, &[slow], std::sync::Arc::new(runner::egress::SystemResolver));
    let first = tokio::spawn({
        let s = state.clone();
        async move { call(&s, "POST", "/v1/runs", Some(json!({"flow": "slow"}))).await }
    });
    eventually("the first run to reach the upstream", || async {
        (upstream.state.gated_hits.load(std::sync::atomic::Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    let queued = tokio::spawn({
        let s = state.clone();
        async move { call(&s, "POST", "/v1/runs", Some(json!({"flow": "slow"}))).await }
    });
    eventually("the second run to queue", || async {
        let h = call(&state, "GET", "/v1/health", None).await.json();
        (h["checks"]["runs"]["queued"] == 1).then_some(())
    })
    .await;
    let refused = call(&state, "POST", "/v1/runs", Some(json!({"flow": "slow"}))).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.text);
    assert_eq!(refused.headers["retry-after"], "1");
    upstream.state.open_gate();
    assert_eq!(first.await.unwrap().json()["outcome"], "passed");
    assert_eq!(queued.await.unwrap().json()["outcome"], "passed");
    let metrics = call(&state, "GET", "/metrics", None).await.text;
    assert!(metrics.contains("testmesh_runner_runs_total{outcome=\"rejected\"} 1\n"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_execution_time_stops_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let mut config = Config::for_dir(dir.path());
    config.max_execution_time = Duration::from_millis(300);
    let flow = format!(
        "name: slow\nsteps:\n  - id: s\n    action: http_request\n    config: {{url: '{u}/slow'}}\n  - id: after\n    action: http_request\n    config: {{url: '{u}/version'}}\n",
        u = upstream.url()
    );
    let state = util::state_with(config, &[flow], std::sync::Arc::new(runner::egress::SystemResolver));
    let report = call(&state, "POST", "/v1/runs", Some(json!({"flow": "slow"}))).await.json();
    assert_eq!(report["outcome"], "timeout", "{report}");
    assert!(report["steps"][0]["error"].as_str().unwrap().contains("MAX_EXECUTION_TIME"), "{report}");
    assert_eq!(report["steps"][1]["status"], "skipped");
    upstream.state.open_gate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_on_a_real_port_and_drains_on_signal() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let slow = format!(
        "name: slow\nsteps:\n  - id: s\n    action: http_request\n    config: {{url: '{}/slow'}}\n",
        upstream.url()
    );
    let state =
        util::state_with(Config::for_dir(dir.path()), &[slow], std::sync::Arc::new(runner::egress::SystemResolver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(runner::serve_on(listener, state.clone(), async move {
        let _ = stop_rx.await;
    }));
    let health = util::http("GET", &format!("{base}/v1/health"), None, &[]).await.unwrap();
    assert_eq!(health.json()["status"], "ok", "{}", health.text);
    let run = tokio::spawn({
        let url = format!("{base}/v1/runs");
        async move { util::http("POST", &url, Some(json!({"flow": "slow"})), &[]).await }
    });
    eventually("the run to reach the upstream", || async {
        (upstream.state.gated_hits.load(std::sync::atomic::Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    stop_tx.send(()).unwrap();
    eventually("readiness to turn false", || async {
        let r = util::http("GET", &format!("{base}/health/ready"), None, &[]).await.ok()?;
        (r.status == StatusCode::SERVICE_UNAVAILABLE).then_some(())
    })
    .await;
    assert!(!server.is_finished(), "the server waits for the in-flight run");
    upstream.state.open_gate();
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.json()["outcome"], "passed", "{}", report.text);
    tokio::time::timeout(util::PATIENCE, server).await.unwrap().unwrap().unwrap();
}
