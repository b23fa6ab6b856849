//! Shared helpers: a local upstream server, runner states over temporary
//! directories, requests through `app()`, a plain HTTP client for real
//! ports, and the runner binary as a child process.

use std::collections::HashMap;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use runner::egress::{Resolve, StaticResolver, SystemResolver};
use runner::flows::FlowCatalog;
use runner::{app, AppState, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

/// Generous: the tests run on a loaded two-core machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// What the upstream test server knows and lets tests change.
#[derive(Default)]
pub struct UpstreamState {
    /// Returned by GET /version; tests bump it to "change the upstream".
    pub version: AtomicU64,
    /// Requests that reached a gated endpoint.
    pub gated_hits: AtomicUsize,
    /// Every request count.
    pub hits: AtomicUsize,
    gate: Mutex<Option<tokio::sync::watch::Sender<bool>>>,
    gate_rx: Mutex<Option<tokio::sync::watch::Receiver<bool>>>,
    /// When set, GET /version waits at the gate too.
    pub version_gated: std::sync::atomic::AtomicBool,
}

impl UpstreamState {
    /// Lets every gated request (waiting or future) through.
    pub fn open_gate(&self) {
        if let Some(tx) = &*self.gate.lock().unwrap() {
            let _ = tx.send(true);
        }
    }

    async fn wait_at_gate(&self) {
        self.gated_hits.fetch_add(1, Ordering::SeqCst);
        let mut rx = self.gate_rx.lock().unwrap().clone().expect("gate");
        let _ = rx.wait_for(|open| *open).await;
    }
}

/// A local HTTP server flows run against.
pub struct Upstream {
    /// Where it listens (127.0.0.1).
    pub addr: SocketAddr,
    /// Its state.
    pub state: Arc<UpstreamState>,
}

impl Upstream {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts it on a free port; it stops with the test's runtime.
    pub async fn start() -> Upstream {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let state = Arc::new(UpstreamState::default());
        *state.gate.lock().unwrap() = Some(tx);
        *state.gate_rx.lock().unwrap() = Some(rx);
        let router = Router::new()
            .route("/users/{id}", get(user))
            .route("/users", post(create_user))
            .route("/version", get(version))
            .route("/redirect", get(redirect))
            .route("/slow", get(slow))
            .route("/big", get(|| async { "x".repeat(64 * 1024) }))
            .route("/text", get(|| async { ([("x-served-by", "upstream")], "plain hello") }))
            .with_state(state.clone())
            .layer(axum::middleware::from_fn_with_state(state.clone(), count));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Upstream { addr, state }
    }
}

async fn count(State(s): State<Arc<UpstreamState>>, req: Request<Body>, next: axum::middleware::Next) -> Response {
    s.hits.fetch_add(1, Ordering::SeqCst);
    next.run(req).await
}

async fn user(axum::extract::Path(id): axum::extract::Path<u64>) -> Response {
    if id == 404 {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "no such user"}))).into_response();
    }
    // created_at changes on every call, as real timestamps do.
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let n = CALLS.fetch_add(1, Ordering::SeqCst);
    Json(json!({"id": id, "name": "ada", "created_at": format!("2024-01-01T00:00:{:02}Z", n % 60), "roles": ["admin"]}))
        .into_response()
}

async fn create_user(headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (
        StatusCode::CREATED,
        [("location", "/users/42")],
        Json(json!({"id": 42, "name": body["name"], "token_seen": token})),
    )
        .into_response()
}

async fn version(State(s): State<Arc<UpstreamState>>) -> Json<Value> {
    if s.version_gated.load(Ordering::SeqCst) {
        s.wait_at_gate().await;
    }
    Json(json!({"version": s.version.load(Ordering::SeqCst), "generated_at": "changes-every-time"}))
}

async fn redirect(Query(q): Query<HashMap<String, String>>) -> Redirect {
    Redirect::to(&q["to"])
}

async fn slow(State(s): State<Arc<UpstreamState>>) -> Json<Value> {
    s.wait_at_gate().await;
    Json(json!({"slow": "done"}))
}

/// A runner state over `dir`, allowing 127.0.0.0/8, with `flows` and the
/// system resolver; ready.
pub fn state(dir: &Path, flows: &[String]) -> AppState {
    state_with(Config::for_dir(dir), flows, Arc::new(SystemResolver))
}

/// A runner state with a given configuration and resolver; ready.
pub fn state_with(config: Config, flows: &[String], resolver: Arc<dyn Resolve>) -> AppState {
    let flows = FlowCatalog::from_flows(flows.iter().enumerate().map(|(i, text)| {
        runner::flows::parse_flow(text, &format!("flow{i}.yaml")).unwrap_or_else(|p| panic!("{p:?}"))
    }));
    let env = [("FLOW_TOKEN".to_owned(), "s3cret".to_owned())].into();
    let state = AppState::new(config, flows, env, resolver).unwrap();
    state.mark_ready();
    state
}

/// A resolver that knows only `names`.
pub fn resolver(names: &[(&str, &str)]) -> Arc<dyn Resolve> {
    let mut r = StaticResolver::default();
    for (name, ip) in names {
        r = r.with(name, &[ip.parse().unwrap()]);
    }
    Arc::new(r)
}

/// A response, decoded.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

/// Sends a request through `app(state)` without a socket.
pub async fn call(state: &AppState, method: &str, path: &str, body: Option<Value>) -> Reply {
    call_with(state, method, path, body, &[]).await
}

/// [`call`] with extra headers.
pub async fn call_with(
    state: &AppState,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = match body {
        Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())).unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let res = app(state.clone()).oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Reply { status: parts.status, headers: parts.headers, text: String::from_utf8_lossy(&bytes).into_owned() }
}

/// Runs an inline flow through the API and returns the report.
pub async fn run_inline(state: &AppState, flow: &str) -> Value {
    let reply = call(state, "POST", "/v1/runs", Some(json!({ "inline": flow }))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()
}

/// A plain HTTP/1.1 request to a real port.
pub async fn http(method: &str, url: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Result<Reply, String> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let bytes = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            bytes::Bytes::from(b.to_string())
        }
        None => bytes::Bytes::new(),
    };
    let res = client.request(req.body(http_body_util::Full::new(bytes)).unwrap()).await.map_err(|e| e.to_string())?;
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Reply { status: parts.status, headers: parts.headers, text: String::from_utf8_lossy(&bytes).into_owned() })
}

/// Polls `check` until it returns Some, for up to [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(t) = check().await {
            return t;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The runner binary as a child process; killed when dropped.
pub struct RunnerProcess {
    pub child: Child,
    pub url: String,
    pub stderr: Arc<Mutex<String>>,
}

impl RunnerProcess {
    /// Starts the binary with `env` (plus BIND_ADDRESS=127.0.0.1, PORT=0)
    /// and waits for its "listening on" line.
    pub async fn start(env: &[(&str, String)]) -> RunnerProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_testmesh-runner"));
        cmd.env_clear()
            .env("BIND_ADDRESS", "127.0.0.1")
            .env("PORT", "0")
            .env("LOG_LEVEL", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn testmesh-runner");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_owned());
                }
                log.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let addr = tokio::task::spawn_blocking(move || rx.recv_timeout(PATIENCE))
            .await
            .unwrap()
            .unwrap_or_else(|_| panic!("the runner did not start: {}", stderr.lock().unwrap()));
        RunnerProcess { child, url: format!("http://{addr}"), stderr }
    }

    /// Sends a signal with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success(), "kill -{name}");
    }

    /// Waits for the process to exit.
    pub async fn wait(mut self) -> (std::process::ExitStatus, String) {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let log = self.stderr.lock().unwrap().clone();
                return (status, log);
            }
            assert!(std::time::Instant::now() < deadline, "the runner did not exit: {}", self.stderr.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for RunnerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
