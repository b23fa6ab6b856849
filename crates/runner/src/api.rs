//! The HTTP API: health, readiness and metrics; runs; snapshot seed,
//! compare and listing. Handlers decode requests and call the executor and
//! the snapshot store; they hold no logic of their own.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::Config;
use crate::egress::{Allowlist, EgressClient, GuardedConnector, Resolve};
use crate::execute::{Executor, Outcome, QueueFull, RunLimiter, RunReport, WorkerSlot};
use crate::flows::{parse_flow, Flow, FlowCatalog, FlowProblem};
use crate::metrics::Metrics;
use crate::reports::ReportLog;
use crate::snapshots::{self, SnapshotStore};

/// Where the service is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Lifecycle {
    /// Not yet listening for work.
    Starting = 0,
    /// Serving.
    Ready = 1,
    /// SIGTERM received: finishing in-flight runs, accepting no new ones.
    Draining = 2,
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    config: Config,
    flows: FlowCatalog,
    executor: Executor,
    limiter: RunLimiter,
    store: SnapshotStore,
    reports: ReportLog,
    metrics: Arc<Metrics>,
    lifecycle: AtomicU8,
    // One seed at a time: sequence numbers and idempotency keys are
    // decided under it.
    seed_lock: tokio::sync::Mutex<()>,
}

impl AppState {
    /// Opens the snapshot store and reports directory and builds the HTTP
    /// client. `flow_env` is what `${env.X}` resolves against; `resolver`
    /// turns host names into addresses (the system resolver in production).
    pub fn new(
        config: Config,
        flows: FlowCatalog,
        flow_env: HashMap<String, String>,
        resolver: Arc<dyn Resolve>,
    ) -> Result<AppState, crate::service::Error> {
        let store = SnapshotStore::open(&config.snapshot_dir)?;
        let reports = ReportLog::open(&config.reports_dir)?;
        let metrics = Arc::new(Metrics::default());
        let connector = GuardedConnector::new(Allowlist::new(config.allowed_networks.clone()), resolver);
        let client = EgressClient::new(connector, config.max_response_body);
        let mut env = flow_env;
        if let Some(url) = &config.api_gateway_url {
            env.insert("API_GATEWAY_URL".into(), url.clone());
        }
        let executor =
            Executor::new(client, env, config.api_gateway_url.clone(), config.max_request_body, metrics.clone());
        let limiter = RunLimiter::new(config.worker_concurrency, config.queue_size);
        Ok(AppState {
            inner: Arc::new(Shared {
                config,
                flows,
                executor,
                limiter,
                store,
                reports,
                metrics,
                lifecycle: AtomicU8::new(Lifecycle::Starting as u8),
                seed_lock: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The current phase.
    pub fn lifecycle(&self) -> Lifecycle {
        match self.inner.lifecycle.load(Ordering::SeqCst) {
            0 => Lifecycle::Starting,
            1 => Lifecycle::Ready,
            _ => Lifecycle::Draining,
        }
    }

    /// Marks the service ready (once it listens).
    pub fn mark_ready(&self) {
        let _ = self.inner.lifecycle.compare_exchange(
            Lifecycle::Starting as u8,
            Lifecycle::Ready as u8,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }

    /// Readiness turns false and new runs are refused; in-flight ones go on.
    pub fn begin_draining(&self) {
        self.inner.lifecycle.store(Lifecycle::Draining as u8, Ordering::SeqCst);
    }

    /// Whether no run is executing or waiting.
    pub fn idle(&self) -> bool {
        self.inner.limiter.in_flight() == 0 && self.inner.limiter.queued() == 0
    }

    /// Runs executing now.
    pub fn in_flight(&self) -> usize {
        self.inner.limiter.in_flight()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    async fn worker(&self) -> Result<WorkerSlot, ApiError> {
        if self.lifecycle() == Lifecycle::Draining {
            self.inner.metrics.run_rejected();
            return Err(ApiError::Draining);
        }
        self.inner.limiter.acquire().await.map_err(|e| {
            self.inner.metrics.run_rejected();
            ApiError::QueueFull(e)
        })
    }
}

/// The runner's HTTP service.
pub fn app(state: AppState) -> Router {
    let body_limit = state.inner.config.max_request_body;
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/v1/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/runs", post(create_run))
        .route("/v1/snapshots", get(list_snapshots))
        .route("/v1/snapshots/seed", post(seed))
        .route("/v1/snapshots/compare", post(compare))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// An API failure: user mistakes get their message and a 4xx; internal
/// failures a generic 500, with the details only in the log.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// An inline flow is malformed.
    #[error("invalid flow")]
    InvalidFlow(Vec<FlowProblem>),
    /// The request body was refused (too large, not JSON, wrong shape).
    #[error("{1}")]
    Rejected(StatusCode, String),
    /// The named flow does not exist.
    #[error("no flow named `{0}`")]
    UnknownFlow(String),
    /// Every worker is busy and the queue is full.
    #[error(transparent)]
    QueueFull(QueueFull),
    /// The runner is shutting down.
    #[error("the runner is shutting down; send the run to another replica")]
    Draining,
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// A golden flow failed, so nothing was stored.
    #[error("seed refused: {message}")]
    SeedFailed {
        /// Which flows failed.
        message: String,
        /// Their reports.
        runs: Vec<RunReport>,
    },
    /// Something broke inside the runner.
    #[error("internal error")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let (status, body) = match self {
            ApiError::BadRequest(_) | ApiError::UnknownFlow(_) => {
                let status = if matches!(self, ApiError::UnknownFlow(_)) {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::BAD_REQUEST
                };
                (status, json!({ "error": message }))
            }
            ApiError::Rejected(status, _) => (status, json!({ "error": message })),
            ApiError::InvalidFlow(problems) => {
                (StatusCode::BAD_REQUEST, json!({ "error": message, "problems": problems }))
            }
            ApiError::QueueFull(_) => {
                let mut r = (StatusCode::TOO_MANY_REQUESTS, Json(json!({ "error": message }))).into_response();
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return r;
            }
            ApiError::Draining => (StatusCode::SERVICE_UNAVAILABLE, json!({ "error": message })),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, json!({ "error": message })),
            ApiError::SeedFailed { runs, .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, json!({ "error": message, "runs": runs }))
            }
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": "internal error; see the runner's log" }))
            }
        };
        (status, Json(body)).into_response()
    }
}

async fn live() -> &'static str {
    "ok\n"
}

async fn ready(State(state): State<AppState>) -> Response {
    match state.lifecycle() {
        Lifecycle::Ready => (StatusCode::OK, Json(json!({ "status": "ready" }))).into_response(),
        Lifecycle::Starting => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "starting" }))).into_response(),
        Lifecycle::Draining => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "draining" }))).into_response(),
    }
}

async fn health(State(state): State<AppState>) -> Response {
    let s = &state.inner;
    let writable = {
        let store_state = state.clone();
        tokio::task::spawn_blocking(move || store_state.inner.store.check_writable()).await
    };
    let snapshot_dir = match writable {
        Ok(Ok(())) => json!({ "status": "pass", "path": s.config.snapshot_dir }),
        Ok(Err(e)) => json!({ "status": "fail", "path": s.config.snapshot_dir, "error": e.to_string() }),
        Err(e) => json!({ "status": "fail", "path": s.config.snapshot_dir, "error": e.to_string() }),
    };
    let listing = s.store.listing();
    let snapshots = json!({
        "status": if listing.corrupt.is_empty() { "pass" } else { "warn" },
        "current": listing.current,
        "sets": listing.sets.len(),
        "corrupt": listing.corrupt,
    });
    let flows = json!({
        "status": if s.flows.is_empty() { "warn" } else { "pass" },
        "loaded": s.flows.len(),
        "golden": s.flows.golden().len(),
    });
    let runs = json!({
        "status": "pass",
        "in_flight": s.limiter.in_flight(),
        "queued": s.limiter.queued(),
        "worker_concurrency": s.limiter.capacity(),
    });
    let failing = snapshot_dir["status"] == "fail";
    let warning = [&snapshots, &flows].iter().any(|c| c["status"] == "warn");
    let status = match state.lifecycle() {
        Lifecycle::Starting => "starting",
        Lifecycle::Draining => "draining",
        Lifecycle::Ready if failing => "failing",
        Lifecycle::Ready if warning => "degraded",
        Lifecycle::Ready => "ok",
    };
    let code = if matches!(status, "ok" | "degraded") { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
        "checks": { "flows": flows, "snapshot_dir": snapshot_dir, "snapshots": snapshots, "runs": runs },
    });
    (code, Json(body)).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let s = &state.inner;
    let (sets, corrupt) = s.store.counts();
    let text = s.metrics.render(s.limiter.in_flight(), s.limiter.queued(), sets, corrupt);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// POST /v1/runs: a named flow, or an inline one (YAML text, or the same
/// shape as a JSON object).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Name of a flow in FLOWS_DIR.
    #[serde(default)]
    pub flow: Option<String>,
    /// A flow document.
    #[serde(default)]
    pub inline: Option<Value>,
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(t)| t).map_err(|e| ApiError::Rejected(e.status(), e.body_text()))
}

async fn create_run(
    State(state): State<AppState>,
    body: Result<Json<RunRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let request = json_body(body)?;
    let flow: Arc<Flow> = match (request.flow, request.inline) {
        (Some(name), None) => state.inner.flows.get(&name).ok_or(ApiError::UnknownFlow(name))?,
        (None, Some(inline)) => {
            let text = match inline {
                Value::String(text) => text,
                // JSON is YAML, so an object goes through the same loader.
                other => serde_json::to_string_pretty(&other).expect("JSON values serialize"),
            };
            Arc::new(parse_flow(&text, "inline").map_err(ApiError::InvalidFlow)?)
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of `flow` (a name) or `inline` (a flow document)".into(),
            ))
        }
    };
    let _slot = state.worker().await?;
    let report = state.inner.executor.run(&flow, state.inner.config.max_execution_time).await;
    tracing::info!(run = %report.id, flow = %report.flow, outcome = report.outcome.as_str(), ms = report.duration_ms, "run finished");
    // Serialised once: the same bytes are the response and the kept line.
    let json = Bytes::from(serde_json::to_vec(&report).expect("reports serialize"));
    // A report that cannot be kept is logged, never a failed run.
    if let Err(e) = state.inner.reports.append(json.clone()).await {
        tracing::warn!(run = %report.id, error = %crate::egress::error_chain(&e), "could not keep the run report");
    }
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json).into_response())
}

async fn run_golden(state: &AppState) -> Result<(Vec<Arc<Flow>>, Vec<RunReport>), ApiError> {
    let golden = state.inner.flows.golden();
    if golden.is_empty() {
        return Err(ApiError::Conflict("no flow is marked `golden: true`".into()));
    }
    let _slot = state.worker().await?;
    let mut reports = Vec::with_capacity(golden.len());
    for flow in &golden {
        reports.push(state.inner.executor.run_keeping_bodies(flow, state.inner.config.max_execution_time, true).await);
    }
    Ok((golden, reports))
}

fn normalised(flows: &[Arc<Flow>], reports: &[RunReport]) -> BTreeMap<String, Value> {
    flows.iter().zip(reports).map(|(f, r)| (f.name.clone(), snapshots::normalise(f, r))).collect()
}

async fn seed(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if !k.is_empty() && k.len() <= 255 => Some(k.to_owned()),
            _ => return Err(ApiError::BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into())),
        },
    };
    let _seeding = state.inner.seed_lock.lock().await;
    // Another replica on a shared volume may have seeded with this key.
    rescan(&state).await?;
    if let Some(k) = &key {
        if let Some(existing) = state.inner.store.by_idempotency_key(k) {
            let mut r = (StatusCode::OK, Json(json!({ "set": existing, "replayed": true }))).into_response();
            r.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(r);
        }
    }
    let (flows, reports) = run_golden(&state).await?;
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| r.outcome != Outcome::Passed)
        .map(|r| format!("`{}` {}", r.flow, r.outcome.as_str()))
        .collect();
    if !failed.is_empty() {
        let runs = reports.into_iter().filter(|r| r.outcome != Outcome::Passed).collect();
        return Err(ApiError::SeedFailed {
            message: format!("golden flows did not pass: {}", failed.join(", ")),
            runs,
        });
    }
    let results = normalised(&flows, &reports);
    let store_state = state.clone();
    let created_at = jiff::Timestamp::now().to_string();
    let set = tokio::task::spawn_blocking(move || store_state.inner.store.save(results, key, created_at))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(crate::egress::error_chain(&e)))?;
    let summary = snapshot_summary(&set);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "set": summary, "replayed": false, "runs": reports.iter().map(run_brief).collect::<Vec<_>>() })),
    )
        .into_response())
}

fn snapshot_summary(set: &snapshots::SnapshotSet) -> snapshots::SetSummary {
    snapshots::SetSummary {
        id: set.id.clone(),
        sequence: set.sequence,
        created_at: set.created_at.clone(),
        hash: set.hash.clone(),
        flows: set.flows.len(),
        idempotency_key: set.idempotency_key.clone(),
    }
}

fn run_brief(r: &RunReport) -> Value {
    json!({ "id": r.id, "flow": r.flow, "outcome": r.outcome, "duration_ms": r.duration_ms })
}

/// `POST /v1/snapshots/compare` body: which golden set to compare against.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CompareRequest {
    /// A set id (`set-00000001`); default: the newest set, which must be
    /// intact.
    set: Option<String>,
}

async fn compare(State(state): State<AppState>, body: Option<Json<CompareRequest>>) -> Result<Json<Value>, ApiError> {
    let request = body.map(|Json(r)| r).unwrap_or_default();
    // Re-verify what is on disk first: a set damaged since it was read must
    // not be the reference.
    rescan(&state).await?;
    let store = &state.inner.store;
    let golden = match &request.set {
        Some(id) => store.get(id).map_err(ApiError::Conflict)?,
        None => {
            // A gate that passes against stale data is worse than one that
            // fails: the newest set is the reference, and if it is damaged
            // the comparison says so instead of using an older one.
            if let Some(corrupt) = store.corrupt_newer_than_current() {
                return Err(ApiError::Conflict(format!(
                    "the newest snapshot set `{}` is corrupt ({}): seed a new set, or compare against an intact one with {{\"set\": \"set-NNNNNNNN\"}} (see GET /v1/snapshots)",
                    corrupt.file, corrupt.reason
                )));
            }
            store
                .current()
                .ok_or_else(|| ApiError::Conflict("there is no golden snapshot set yet; seed one first".into()))?
        }
    };
    let (flows, reports) = run_golden(&state).await?;
    let current = normalised(&flows, &reports);
    let flows = snapshots::compare(&golden, &current);
    let matched = flows.iter().all(|f| f.result == "match");
    Ok(Json(json!({
        "result": if matched { "match" } else { "mismatch" },
        "snapshot": { "id": golden.id, "hash": golden.hash, "created_at": golden.created_at },
        "flows": flows,
        "runs": reports.iter().map(run_brief).collect::<Vec<_>>(),
    })))
}

async fn rescan(state: &AppState) -> Result<(), ApiError> {
    let s = state.clone();
    tokio::task::spawn_blocking(move || s.inner.store.rescan())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(crate::egress::error_chain(&e)))
}

async fn list_snapshots(State(state): State<AppState>) -> Result<Json<snapshots::Listing>, ApiError> {
    rescan(&state).await?;
    Ok(Json(state.inner.store.listing()))
}
