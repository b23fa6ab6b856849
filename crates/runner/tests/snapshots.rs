//! Seeding and comparing golden snapshots through the API.

use std::sync::atomic::Ordering;

use axum::http::StatusCode;

use crate::util::{self, call, call_with, Upstream};

fn golden_flows(upstream: &Upstream) -> Vec<String> {
    vec![
        format!(
            r#"
name: version
golden: true
snapshot:
  ignore: [$.generated_at]
steps:
  - id: v
    action: http_request
    config: {{ url: "{u}/version" }}
    assert: {{ status: 200 }}
"#,
            u = upstream.url()
        ),
        format!(
            r#"
name: user
golden: true
snapshot:
  ignore: ["$..created_at"]
steps:
  - id: u
    action: http_request
    config: {{ url: "{u}/users/1" }}
"#,
            u = upstream.url()
        ),
        // Not golden: never seeded.
        format!(
            "name: other\nsteps:\n  - id: o\n    action: http_request\n    config: {{ url: '{}/users/2' }}\n",
            upstream.url()
        ),
    ]
}

#[tokio::test]
async fn seed_compare_match_then_upstream_change_is_a_readable_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let state = util::state(dir.path(), &golden_flows(&upstream));

    let none = call(&state, "POST", "/v1/snapshots/compare", None).await;
    assert_eq!(none.status, StatusCode::CONFLICT, "{}", none.text);

    let seeded = call(&state, "POST", "/v1/snapshots/seed", None).await;
    assert_eq!(seeded.status, StatusCode::CREATED, "{}", seeded.text);
    let set = seeded.json()["set"].clone();
    assert_eq!(set["id"], "set-00000001");
    assert_eq!(set["flows"], 2);
    assert!(set["hash"].as_str().unwrap().starts_with("sha256:"));

    // created_at and generated_at differ on every call; they are ignored.
    let same = call(&state, "POST", "/v1/snapshots/compare", None).await.json();
    assert_eq!(same["result"], "match", "{same:#}");
    assert_eq!(same["snapshot"]["id"], "set-00000001");

    upstream.state.version.store(2, Ordering::SeqCst);
    let changed = call(&state, "POST", "/v1/snapshots/compare", None).await.json();
    assert_eq!(changed["result"], "mismatch", "{changed:#}");
    let flows = changed["flows"].as_array().unwrap();
    let user = flows.iter().find(|f| f["flow"] == "user").unwrap();
    assert_eq!(user["result"], "match");
    let version = flows.iter().find(|f| f["flow"] == "version").unwrap();
    assert_eq!(version["result"], "mismatch");
    let diff = version["diff"].as_str().unwrap();
    assert!(diff.contains("--- golden/version (set-00000001)\n+++ current/version\n"), "{diff}");
    assert!(diff.contains("-        \"version\": 0\n+        \"version\": 2\n"), "{diff}");
    assert!(diff.contains("\"generated_at\": \"<ignored>\""), "{diff}");

    // A new seed makes the changed upstream the golden state.
    let reseeded = call(&state, "POST", "/v1/snapshots/seed", None).await.json();
    assert_eq!(reseeded["set"]["id"], "set-00000002");
    assert_ne!(reseeded["set"]["hash"], set["hash"]);
    assert_eq!(call(&state, "POST", "/v1/snapshots/compare", None).await.json()["result"], "match");
    let listing = call(&state, "GET", "/v1/snapshots", None).await.json();
    assert_eq!(listing["current"], "set-00000002");
    assert_eq!(listing["sets"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_idempotency_key_seeds_once() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let state = util::state(dir.path(), &golden_flows(&upstream));
    let key = [("idempotency-key", "deploy-42")];
    let first = call_with(&state, "POST", "/v1/snapshots/seed", None, &key).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let hits = upstream.state.hits.load(Ordering::SeqCst);
    upstream.state.version.store(9, Ordering::SeqCst);
    let again = call_with(&state, "POST", "/v1/snapshots/seed", None, &key).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.json()["set"], first.json()["set"]);
    assert_eq!(upstream.state.hits.load(Ordering::SeqCst), hits, "a replay runs nothing");
    let other = call_with(&state, "POST", "/v1/snapshots/seed", None, &[("idempotency-key", "deploy-43")]).await;
    assert_eq!(other.json()["set"]["id"], "set-00000002");
}

#[tokio::test]
async fn a_failing_golden_flow_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let failing = format!(
        "name: broken\ngolden: true\nsteps:\n  - id: b\n    action: http_request\n    config: {{url: '{}/users/404'}}\n    assert: {{status: 200}}\n",
        upstream.url()
    );
    let state = util::state(dir.path(), &[failing]);
    let reply = call(&state, "POST", "/v1/snapshots/seed", None).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["error"], "seed refused: golden flows did not pass: `broken` failed");
    assert_eq!(body["runs"][0]["steps"][0]["assertion_failures"][0], "status: expected 200, got 404");
    assert_eq!(call(&state, "GET", "/v1/snapshots", None).await.json()["sets"], serde_json::json!([]));
}

#[tokio::test]
async fn a_corrupt_set_is_reported_and_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let state = util::state(dir.path(), &golden_flows(&upstream));
    assert_eq!(call(&state, "POST", "/v1/snapshots/seed", None).await.status, StatusCode::CREATED);
    upstream.state.version.store(5, Ordering::SeqCst);
    assert_eq!(call(&state, "POST", "/v1/snapshots/seed", None).await.status, StatusCode::CREATED);
    // Damage the newest set on disk, as a bad disk or a bad hand would.
    let newest = dir.path().join("snapshots/set-00000002.json");
    let text = std::fs::read_to_string(&newest).unwrap().replace("\"version\": 5", "\"version\": 6");
    std::fs::write(&newest, text).unwrap();

    let listing = call(&state, "GET", "/v1/snapshots", None).await.json();
    assert_eq!(listing["current"], "set-00000001", "{listing:#}");
    assert_eq!(listing["corrupt"][0]["file"], "set-00000002.json");
    assert!(listing["corrupt"][0]["reason"].as_str().unwrap().contains("content hash mismatch"));
    let health = call(&state, "GET", "/v1/health", None).await.json();
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["checks"]["snapshots"]["status"], "warn");
    // Compare refuses to pass or fail against an older set in silence: it
    // names the corrupt one.
    let refused = call(&state, "POST", "/v1/snapshots/compare", None).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert!(refused.text.contains("set-00000002.json") && refused.text.contains("corrupt"), "{}", refused.text);
    // Asked for the intact set by name, it compares: version 5 now differs
    // from its 0.
    let body = serde_json::json!({"set": "set-00000001"});
    let compared = call(&state, "POST", "/v1/snapshots/compare", Some(body)).await.json();
    assert_eq!(compared["snapshot"]["id"], "set-00000001");
    assert_eq!(compared["result"], "mismatch");
    let damaged = call(&state, "POST", "/v1/snapshots/compare", Some(serde_json::json!({"set": "set-00000002"}))).await;
    assert_eq!(damaged.status, StatusCode::CONFLICT, "{}", damaged.text);
}
