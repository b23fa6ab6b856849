//! Running a flow: steps in order, substitution, the request through the
//! egress client, assertions and captures, under the run's deadline; and the
//! limiter that bounds how many runs execute and wait.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::egress::{EgressClient, OutboundRequest, RequestError};
use crate::flows::{render_json, Body, Flow, Observed, Scope, Step};
use crate::metrics::{Metrics, StepBatch};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every step passed.
    Passed = 0,
    /// An assertion failed.
    Failed = 1,
    /// A step could not be executed (denied egress, transport error,
    /// unresolved reference).
    Error = 2,
    /// MAX_EXECUTION_TIME ran out.
    Timeout = 3,
}

impl Outcome {
    /// Every outcome, in metric order.
    pub const ALL: [Outcome; 4] = [Outcome::Passed, Outcome::Failed, Outcome::Error, Outcome::Timeout];

    /// The label used in metrics and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Response received, every assertion held.
    Passed,
    /// Response received, an assertion failed.
    Failed,
    /// No response (or a bad reference).
    Error,
    /// Not run because an earlier step did not pass.
    Skipped,
}

/// One step of a run report.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Step id.
    pub id: String,
    /// How it ended.
    pub status: StepStatus,
    /// Method and URL actually requested (after substitution).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// Response status code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Redirects followed.
    #[serde(skip_serializing_if = "is_zero")]
    pub redirects: u32,
    /// Wall time of the request, in milliseconds.
    pub duration_ms: f64,
    /// Assertions that did not hold.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assertion_failures: Vec<String>,
    /// Why the step could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Captured outputs.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, Value>,
    /// The response body as JSON (or text), kept for snapshots.
    #[serde(skip)]
    pub body: Option<Value>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The result of one run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Unique id of the run.
    pub id: String,
    /// Flow name.
    pub flow: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Start time (RFC 3339).
    pub started_at: String,
    /// Wall time in milliseconds.
    pub duration_ms: f64,
    /// Each step, in order (skipped ones included).
    pub steps: Vec<StepReport>,
}

/// Executes flows with the egress client.
#[derive(Clone)]
pub struct Executor {
    client: EgressClient,
    env: Arc<HashMap<String, String>>,
    gateway: Option<String>,
    max_request_body: usize,
    metrics: Arc<Metrics>,
    next_id: Arc<AtomicU64>,
}

impl Executor {
    /// An executor; `env` is what `${env.X}` sees, `gateway` the base of
    /// relative step URLs.
    pub fn new(
        client: EgressClient,
        env: HashMap<String, String>,
        gateway: Option<String>,
        max_request_body: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        Executor {
            client,
            env: Arc::new(env),
            gateway,
            max_request_body,
            metrics,
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Runs `flow`, which must finish within `limit`.
    pub async fn run(&self, flow: &Flow, limit: Duration) -> RunReport {
        self.run_keeping_bodies(flow, limit, false).await
    }

    /// [`Executor::run`], keeping every step's response body in the report
    /// (for snapshots) when `keep_bodies`.
    #[tracing::instrument(name = "run", skip_all, fields(flow = %flow.name))]
    pub async fn run_keeping_bodies(&self, flow: &Flow, limit: Duration, keep_bodies: bool) -> RunReport {
        let started = Instant::now();
        let deadline = started + limit;
        let started_at = jiff::Timestamp::now().to_string();
        let id =
            format!("run-{}-{}", jiff::Timestamp::now().as_millisecond(), self.next_id.fetch_add(1, Ordering::Relaxed));
        let mut scope = Scope { env: Some(&self.env), steps: HashMap::new() };
        let mut timer = StepTimer::new(deadline);
        let mut latencies = Latencies::new(&self.metrics, started);
        let mut steps = Vec::with_capacity(flow.steps.len());
        let mut outcome = Outcome::Passed;
        for step in &flow.steps {
            if outcome != Outcome::Passed {
                steps.push(skipped(step));
                continue;
            }
            let (report, step_outcome) =
                self.run_step(step, &scope, &mut timer, &mut latencies, limit, keep_bodies).await;
            // Values are kept only for steps a later step refers to: the
            // flow's references are all known (and checked) at load.
            if report.status == StepStatus::Passed && step.referenced {
                // Every step offers its status and body besides what it declares.
                let mut values = report.outputs.clone();
                values.entry("status".into()).or_insert_with(|| Value::from(report.http_status.unwrap_or_default()));
                if step.body_referenced {
                    values.entry("body".into()).or_insert_with(|| report.body.clone().unwrap_or(Value::Null));
                }
                scope.steps.insert(step.id.clone(), values);
            }
            outcome = step_outcome;
            steps.push(report);
        }
        let report = RunReport {
            id,
            flow: flow.name.clone(),
            outcome,
            started_at,
            duration_ms: millis(started.elapsed()),
            steps,
        };
        self.metrics.run_finished(outcome);
        tracing::debug!(run = %report.id, outcome = outcome.as_str(), "run finished");
        report
    }

    async fn run_step(
        &self,
        step: &Step,
        scope: &Scope<'_>,
        timer: &mut StepTimer,
        latencies: &mut Latencies<'_>,
        limit: Duration,
        keep_body: bool,
    ) -> (StepReport, Outcome) {
        let mut report = StepReport {
            id: step.id.clone(),
            status: StepStatus::Error,
            request: None,
            http_status: None,
            redirects: 0,
            duration_ms: 0.0,
            assertion_failures: Vec::new(),
            error: None,
            outputs: BTreeMap::new(),
            body: None,
        };
        let request = match self.build_request(step, scope) {
            Ok(r) => r,
            Err(e) => {
                report.error = Some(e);
                return (report, Outcome::Error);
            }
        };
        // FLOW_* values (secrets) are masked wherever a request is reported.
        report.request = Some(format!("{} {}", request.method.as_str(), step.url.render_masked(scope)));
        // One clock read before the request and one after: the step's
        // timer, its duration and the run's deadline all derive from them.
        let started = Instant::now();
        let (until, run_limited) = match started.checked_add(step.timeout) {
            Some(step_deadline) if step_deadline <= timer.run_deadline => (step_deadline, false),
            _ => (timer.run_deadline, true),
        };
        let result = timer.limit(until, self.client.send(request)).await;
        let took = started.elapsed();
        report.duration_ms = millis(took);
        latencies.observe(took, started);
        let response = match result {
            None if run_limited => {
                report.error = Some(format!("run exceeded MAX_EXECUTION_TIME ({}s)", limit.as_secs()));
                return (report, Outcome::Timeout);
            }
            None => {
                report.error = Some(format!("no response within the step timeout ({}ms)", step.timeout.as_millis()));
                return (report, Outcome::Error);
            }
            Some(Err(e)) => {
                if matches!(
                    e,
                    RequestError::Egress(
                        crate::egress::EgressError::Denied { .. } | crate::egress::EgressError::InvalidHost(_)
                    )
                ) {
                    self.metrics.egress_denied();
                    tracing::warn!(step = %step.id, error = %e, "egress denied");
                }
                report.error = Some(e.to_string());
                return (report, Outcome::Error);
            }
            Some(Ok(r)) => r,
        };
        report.http_status = Some(response.status.as_u16());
        report.redirects = response.redirects;
        let keep_body = keep_body || step.body_referenced;
        // The body is decoded only as far as the step's checks need it.
        let text = if keep_body || step.reads_text {
            String::from_utf8_lossy(&response.body)
        } else {
            std::borrow::Cow::Borrowed("")
        };
        let json: Option<Value> =
            if keep_body || step.parse_json { serde_json::from_slice(&response.body).ok() } else { None };
        let observed =
            Observed { status: response.status.as_u16(), headers: &response.headers, text: &text, json: json.as_ref() };
        report.assertion_failures = step.asserts.iter().filter_map(|a| a.check(&observed)).collect();
        let mut missing = Vec::new();
        for (name, capture) in &step.outputs {
            match capture.extract(&observed) {
                Some(v) => {
                    report.outputs.insert(name.clone(), v);
                }
                None => missing.push(name.as_str()),
            }
        }
        if !missing.is_empty() {
            report.assertion_failures.push(format!("output: nothing to capture for {}", missing.join(", ")));
        }
        if keep_body {
            report.body = Some(json.unwrap_or_else(|| Value::String(text.into_owned())));
        }
        let outcome = if report.assertion_failures.is_empty() { Outcome::Passed } else { Outcome::Failed };
        report.status = if outcome == Outcome::Passed { StepStatus::Passed } else { StepStatus::Failed };
        (report, outcome)
    }

    fn build_request(&self, step: &Step, scope: &Scope<'_>) -> Result<OutboundRequest, String> {
        let mut url = step.url.render(scope).map_err(|e| format!("config.url: {e}"))?;
        if url.starts_with('/') {
            match &self.gateway {
                Some(base) => url = format!("{base}{url}"),
                None => return Err(format!("config.url `{url}` is relative and API_GATEWAY_URL is not set")),
            }
        }
        let mut headers = HeaderMap::new();
        for (name, template) in &step.headers {
            let value = template.render(scope).map_err(|e| format!("header `{name}`: {e}"))?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| format!("header `{name}`: value is not a valid header value"))?;
            headers.append(name.clone(), value);
        }
        let body = match &step.body {
            None => Bytes::new(),
            Some(Body::Text(t)) => Bytes::from(t.render(scope).map_err(|e| format!("config.body: {e}"))?),
            Some(Body::Json(v)) => {
                if !headers.contains_key(CONTENT_TYPE) {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                let rendered = render_json(v, scope).map_err(|e| format!("config.body: {e}"))?;
                Bytes::from(serde_json::to_vec(&rendered).expect("JSON values serialize"))
            }
        };
        if body.len() > self.max_request_body {
            return Err(format!(
                "config.body is {} bytes, over MAX_REQUEST_BODY ({})",
                body.len(),
                self.max_request_body
            ));
        }
        Ok(OutboundRequest { method: step.method.clone(), url, headers, body })
    }
}

/// The timer behind every step deadline of one run.
///
/// A tokio timer per step costs a registration in the timer wheel and a
/// removal each time, a few percent of a fast step. Here one timer serves
/// the whole run and is moved lazily: it is moved earlier when a step's
/// deadline comes before it, and when it fires before the current step's
/// deadline (because it was set for an earlier step) it is moved to that
/// deadline and waited on again. With steps much shorter than their
/// timeout, it is registered once per run.
struct StepTimer {
    sleep: Pin<Box<tokio::time::Sleep>>,
    /// When MAX_EXECUTION_TIME runs out.
    run_deadline: Instant,
}

impl StepTimer {
    /// A timer for a run that must end by `run_deadline`.
    fn new(run_deadline: Instant) -> Self {
        StepTimer { sleep: Box::pin(tokio::time::sleep_until(run_deadline.into())), run_deadline }
    }

    /// `fut`'s output, or `None` once `until` has passed.
    async fn limit<F: Future>(&mut self, until: Instant, fut: F) -> Option<F::Output> {
        let until = tokio::time::Instant::from_std(until);
        if until < self.sleep.deadline() {
            self.sleep.as_mut().reset(until);
        }
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(out));
            }
            while self.sleep.as_mut().poll(cx).is_ready() {
                if self.sleep.deadline() >= until {
                    return Poll::Ready(None);
                }
                // Set for an earlier step: wait for this one's deadline.
                self.sleep.as_mut().reset(until);
            }
            Poll::Pending
        })
        .await
    }
}

/// How often a run adds its step latencies to the shared metrics.
const LATENCY_FLUSH: Duration = Duration::from_secs(1);

/// A run's step latencies: counted locally, added to [`Metrics`] once a
/// second and when the run ends, also when it is abandoned midway (the
/// caller went away), so every step that ran is counted.
struct Latencies<'m> {
    metrics: &'m Metrics,
    batch: StepBatch,
    added: Instant,
}

impl<'m> Latencies<'m> {
    fn new(metrics: &'m Metrics, now: Instant) -> Self {
        Latencies { metrics, batch: StepBatch::default(), added: now }
    }

    /// Counts a step that started at `started` and took `took`.
    fn observe(&mut self, took: Duration, started: Instant) {
        self.batch.observe(took);
        let now = started + took;
        if now.saturating_duration_since(self.added) >= LATENCY_FLUSH {
            self.metrics.add_steps(&mut self.batch);
            self.added = now;
        }
    }
}

impl Drop for Latencies<'_> {
    fn drop(&mut self) {
        self.metrics.add_steps(&mut self.batch);
    }
}

fn skipped(step: &Step) -> StepReport {
    StepReport {
        id: step.id.clone(),
        status: StepStatus::Skipped,
        request: None,
        http_status: None,
        redirects: 0,
        duration_ms: 0.0,
        assertion_failures: Vec::new(),
        error: None,
        outputs: BTreeMap::new(),
        body: None,
    }
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Bounds the runs executing at once and those waiting for a worker.
#[derive(Debug)]
pub struct RunLimiter {
    workers: Arc<Semaphore>,
    capacity: usize,
    waiting: AtomicUsize,
    queue_size: usize,
}

/// The queue is full.
#[derive(Debug, thiserror::Error)]
#[error("the run queue is full ({0} waiting); retry later")]
pub struct QueueFull(pub usize);

/// A worker slot; dropping it frees the slot.
#[derive(Debug)]
pub struct WorkerSlot(#[allow(dead_code)] OwnedSemaphorePermit);

impl RunLimiter {
    /// `workers` runs at once, `queue_size` more waiting.
    pub fn new(workers: usize, queue_size: usize) -> Self {
        RunLimiter {
            workers: Arc::new(Semaphore::new(workers)),
            capacity: workers,
            waiting: AtomicUsize::new(0),
            queue_size,
        }
    }

    /// A worker slot, waiting in the queue if every worker is busy; refused
    /// at once when the queue is full.
    pub async fn acquire(&self) -> Result<WorkerSlot, QueueFull> {
        if let Ok(p) = self.workers.clone().try_acquire_owned() {
            return Ok(WorkerSlot(p));
        }
        let before = self.waiting.fetch_add(1, Ordering::SeqCst);
        // Decrements even when the waiting request is cancelled (client gone).
        struct Leave<'a>(&'a AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let leave = Leave(&self.waiting);
        if before >= self.queue_size {
            return Err(QueueFull(before));
        }
        let permit = self.workers.clone().acquire_owned().await.expect("the semaphore is never closed");
        drop(leave);
        Ok(WorkerSlot(permit))
    }

    /// Runs executing now.
    pub fn in_flight(&self) -> usize {
        self.capacity - self.workers.available_permits()
    }

    /// Runs waiting for a worker.
    pub fn queued(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// WORKER_CONCURRENCY.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn step_timer_cuts_a_step_at_its_deadline_only() {
        let start = Instant::now();
        let mut timer = StepTimer::new(start + Duration::from_secs(3600));
        // Set early by a step with a short timeout that finished in time...
        let quick = timer.limit(start + Duration::from_millis(20), async { 1 }).await;
        assert_eq!(quick, Some(1));
        // ...the timer fires during the next step, which must not be cut short.
        let later = start + Duration::from_millis(400);
        let slow = timer.limit(later, tokio::time::sleep(Duration::from_millis(100))).await;
        assert_eq!(slow, Some(()));
        assert!(Instant::now() >= start + Duration::from_millis(100));
        // A step that outlives its own deadline is cut there.
        let stuck = timer.limit(Instant::now() + Duration::from_millis(50), std::future::pending::<()>()).await;
        assert_eq!(stuck, None);
        // And an earlier deadline than the timer's pulls the timer in.
        let t = Instant::now();
        let mut timer = StepTimer::new(t + Duration::from_secs(3600));
        assert_eq!(timer.limit(t + Duration::from_millis(30), std::future::pending::<()>()).await, None);
        assert!(t.elapsed() < Duration::from_secs(30));
    }

    #[tokio::test]
    async fn limiter_queues_then_refuses() {
        let limiter = Arc::new(RunLimiter::new(1, 1));
        let first = limiter.acquire().await.unwrap();
        assert_eq!(limiter.in_flight(), 1);
        let l = limiter.clone();
        let waiter = tokio::spawn(async move { l.acquire().await.map(|_| ()) });
        while limiter.queued() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(limiter.acquire().await.is_err(), "a second waiter exceeds the queue");
        drop(first);
        waiter.await.unwrap().unwrap();
        assert_eq!(limiter.queued(), 0);
    }
}
