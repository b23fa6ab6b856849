//! Flows against a local upstream: substitution, captures, assertions,
//! failures and limits.

use runner::Config;

use crate::util::{self, run_inline, Upstream};

#[tokio::test]
async fn steps_pass_values_along_and_report_each_step() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let state = util::state(dir.path(), &[]);
    let flow = format!(
        r#"
name: users
steps:
  - id: create
    action: http_request
    config:
      method: POST
      url: {u}/users
      headers:
        authorization: Bearer ${{env.FLOW_TOKEN}}
      body:
        name: ada
    assert:
      status: 201
      json:
        - path: $.name
          equals: ada
        - path: $.token_seen
          equals: Bearer s3cret
      headers:
        location: /users/42
        content-type: {{ contains: json }}
    output:
      user_id: $.id
      where: headers.location
  - id: read
    action: http_request
    config:
      url: "{u}/users/${{steps.create.user_id}}"
    assert:
      status: 200
      json:
        - path: $.id
          equals: 42
        - path: $.roles[0]
          equals: admin
        - path: $.missing
          exists: false
      body_contains: ada
  - id: text
    action: http_request
    config:
      url: "{u}/text?from=${{steps.read.status}}"
    assert:
      body_contains: [plain, hello]
      headers:
        x-served-by: {{ exists: true }}
  - id: copy
    action: http_request
    config:
      method: POST
      url: {u}/users
      body:
        # A whole-value reference keeps its JSON type: the earlier body.
        name: "${{steps.read.body}}"
    assert:
      json:
        - path: $.name.roles[0]
          equals: admin
"#,
        u = upstream.url()
    );
    let report = run_inline(&state, &flow).await;
    assert_eq!(report["outcome"], "passed", "{report:#}");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4);
    assert_eq!(steps[0]["http_status"], 201);
    assert_eq!(steps[0]["outputs"]["user_id"], 42);
    assert_eq!(steps[0]["outputs"]["where"], "/users/42");
    assert_eq!(steps[1]["request"], format!("GET {}/users/42", upstream.url()));
    assert_eq!(steps[2]["request"], format!("GET {}/text?from=200", upstream.url()));
    assert!(steps.iter().all(|s| s["duration_ms"].as_f64().unwrap() >= 0.0));
    // The report is also kept in REPORTS_DIR (a line in the hour's file)
    // by the time the response arrives, and is the same document.
    let kept = runner::reports::read_all(&dir.path().join("reports")).unwrap();
    let kept: Vec<_> = kept.into_iter().filter(|r| r["id"] == report["id"]).collect();
    assert_eq!(kept, std::slice::from_ref(&report));
}

#[tokio::test]
async fn assertion_failures_are_listed_and_later_steps_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let state = util::state(dir.path(), &[]);
    let flow = format!(
        r#"
name: failing
steps:
  - id: missing
    action: http_request
    config: {{ url: "{u}/users/404" }}
    assert:
      status: 200
      json:
        - path: $.name
          equals: ada
      body_contains: ada
      headers:
        x-request-id: {{ exists: true }}
  - id: never
    action: http_request
    config: {{ url: "{u}/users/1" }}
"#,
        u = upstream.url()
    );
    let report = run_inline(&state, &flow).await;
    assert_eq!(report["outcome"], "failed");
    let step = &report["steps"][0];
    assert_eq!(step["status"], "failed");
    assert_eq!(step["http_status"], 404);
    let failures: Vec<&str> =
        step["assertion_failures"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(
        failures,
        [
            "status: expected 200, got 404",
            "json $.name: expected \"ada\", but there is no value there",
            "body: expected to contain \"ada\"",
            "header x-request-id: expected present, absent",
        ]
    );
    assert_eq!(report["steps"][1]["status"], "skipped");
}

#[tokio::test]
async fn transport_errors_and_unset_variables_are_step_errors() {
    let dir = tempfile::tempdir().unwrap();
    let state = util::state(dir.path(), &[]);
    // Port 9 (discard) is closed on a test machine; 127.0.0.0/8 is allowed.
    let report = run_inline(
        &state,
        "name: e\nsteps:\n  - id: a\n    action: http_request\n    config: {url: 'http://127.0.0.1:9/'}\n",
    )
    .await;
    assert_eq!(report["outcome"], "error");
    assert!(report["steps"][0]["error"].as_str().unwrap().contains("could not connect to 127.0.0.1:9"), "{report}");
    let report = run_inline(
        &state,
        "name: e\nsteps:\n  - id: a\n    action: http_request\n    config: {url: 'http://127.0.0.1:9/${env.HOME}'}\n",
    )
    .await;
    assert!(report["steps"][0]["error"].as_str().unwrap().contains("`${env.HOME}` is not set"), "{report}");
    let report =
        run_inline(&state, "name: e\nsteps:\n  - id: a\n    action: http_request\n    config: {url: '/relative'}\n")
            .await;
    assert!(report["steps"][0]["error"].as_str().unwrap().contains("API_GATEWAY_URL is not set"), "{report}");
}

#[tokio::test]
async fn relative_urls_go_to_the_api_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let mut config = Config::for_dir(dir.path());
    config.api_gateway_url = Some(upstream.url());
    let state = util::state_with(config, &[], std::sync::Arc::new(runner::egress::SystemResolver));
    let flow = "name: g\nsteps:\n  - id: a\n    action: http_request\n    config: {url: /users/7}\n    assert: {json: [{path: $.id, equals: 7}]}\n  - id: b\n    action: http_request\n    config: {url: '${env.API_GATEWAY_URL}/users/8'}\n    assert: {status: 200}\n";
    let report = run_inline(&state, flow).await;
    assert_eq!(report["outcome"], "passed", "{report:#}");
}

#[tokio::test]
async fn response_bodies_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let mut config = Config::for_dir(dir.path());
    config.max_response_body = 4096;
    let state = util::state_with(config, &[], std::sync::Arc::new(runner::egress::SystemResolver));
    let report = run_inline(
        &state,
        &format!(
            "name: big\nsteps:\n  - id: a\n    action: http_request\n    config: {{url: '{}/big'}}\n",
            upstream.url()
        ),
    )
    .await;
    assert_eq!(report["outcome"], "error");
    assert_eq!(report["steps"][0]["error"], "response body exceeds MAX_RESPONSE_BODY (4096 bytes)");
}

#[tokio::test]
async fn the_flows_directory_loads_and_rejects_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(flows.join("nested")).unwrap();
    std::fs::write(
        flows.join("a.yaml"),
        "name: a\ngolden: true\nsteps:\n  - id: s\n    action: http_request\n    config: {url: 'http://h/'}\n",
    )
    .unwrap();
    std::fs::write(
        flows.join("nested/b.yml"),
        "name: b\nsteps:\n  - id: s\n    action: http_request\n    config: {url: 'http://h/'}\n",
    )
    .unwrap();
    std::fs::write(flows.join("README.md"), "not a flow").unwrap();
    let catalog = runner::flows::FlowCatalog::load_dir(&flows).unwrap();
    assert_eq!(catalog.len(), 2);
    assert_eq!(catalog.golden().len(), 1);

    std::fs::write(flows.join("c.yaml"), "name: c\nsteps:\n  - id: s\n    action: http_request\n    config:\n      url: 'http://h/'\n      method: 'GE T'\n").unwrap();
    std::fs::write(
        flows.join("d.yaml"),
        "name: a\nsteps:\n  - id: s\n    action: http_request\n    config: {url: 'http://h/'}\n",
    )
    .unwrap();
    let err = runner::flows::FlowCatalog::load_dir(&flows).unwrap_err().to_string();
    let c = flows.join("c.yaml").display().to_string();
    assert!(err.contains(&format!("{c}:7:15: step `s`: invalid method `GE T`")), "{err}");
    assert!(err.contains("flow name `a` is already used by"), "{err}");
}

#[tokio::test]
async fn flow_secrets_in_a_url_are_masked_in_the_response_and_the_reports() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let state = util::state(dir.path(), &[]);
    let flow = format!(
        r#"
name: token-in-url
steps:
  - id: text
    action: http_request
    config:
      url: "{u}/text?tok=${{env.FLOW_TOKEN}}"
    assert:
      status: 200
"#,
        u = upstream.url()
    );
    let report = run_inline(&state, &flow).await;
    assert_eq!(report["outcome"], "passed", "{report:#}");
    let request = report["steps"][0]["request"].as_str().unwrap();
    assert_eq!(request, format!("GET {}/text?tok=***", upstream.url()));
    assert!(!report.to_string().contains("s3cret"), "{report:#}");
    // Nor in anything the runner wrote (the reports file).
    for entry in walk(dir.path()) {
        let text = std::fs::read(&entry).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&text).contains("s3cret"), "{} holds the secret", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
