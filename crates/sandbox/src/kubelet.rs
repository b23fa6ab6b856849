//! Process-backed pods: runs the containers of a pod as local processes when
//! their images are mapped to executables, with container ports mapped to free
//! loopback ports, probes executed for real, restarts with back-off, and
//! graceful termination (preStop, SIGTERM, SIGKILL after the grace period).
//!
//! ```no_run
//! # async fn demo(pod: serde_json::Value) -> Result<(), sandbox::kubelet::KubeletError> {
//! use std::time::Duration;
//! use sandbox::kubelet::{ImageMap, Kubelet};
//!
//! let mut images = ImageMap::default();
//! images.insert("ghcr.io/testmesh/runner", "/path/to/testmesh-runner");
//! let kubelet = Kubelet::new(images, std::env::temp_dir().join("pods"));
//! if kubelet.runs(&pod) {
//!     let running = kubelet.start(&pod).await?;
//!     let mut state = running.state();
//!     state.wait_for(|s| s.ready()).await.ok();
//!     println!("listening on 127.0.0.1:{:?}", running.host_port("http"));
//!     running.terminate(Duration::from_secs(30)).await;
//! }
//! # Ok(()) }
//! ```
//!
//! What a container sees:
//! - argv: the mapped binary, then `command[1..]` (the image is the binary, so
//!   `command[0]` is dropped), then `args`, with `$(VAR)` expanded as
//!   Kubernetes does.
//! - environment: cleared, then `PATH` (the sandbox's), `HOME` (the pod
//!   directory), `HOSTNAME`, `POD_NAME`, `POD_NAMESPACE`, `POD_IP`, then the
//!   container's `env` (`value`, and `valueFrom.fieldRef` for the pod's
//!   metadata and status fields; `secretKeyRef`, `configMapKeyRef`,
//!   `resourceFieldRef` and `envFrom` are skipped with a warning, so a caller
//!   that can resolve them rewrites them as plain values before [`Kubelet::start`]),
//!   then `PORT` set to the host port of the container's first port (it
//!   overrides a `PORT` in `env`, since the process must listen where the
//!   sandbox routes traffic) and `PORT_<NAME>` for every named port.
//! - working directory: a fresh per-pod directory under the kubelet's work
//!   directory; each `volumeMounts[].mountPath` becomes
//!   `<pod dir>/volumes/<volume>[/<subPath>]` (an empty directory, or holding
//!   the files a volume's `x-sandbox-files` map names — the controller fills
//!   that in from ConfigMap and Secret volumes), and env
//!   values and arguments under a mount path are rewritten to it.
//! - stdout and stderr: appended to `<pod dir>/<container>.log`.
//!
//! Limits: every port is a TCP port on 127.0.0.1; init containers and
//! ephemeral containers are not run (a warning is logged and the pod is
//! treated as initialized); no resource limits, users, capabilities or
//! filesystem isolation; HTTPS probes fail (no TLS client), gRPC probes are
//! checked as TCP connects; a sandbox killed with SIGKILL cannot kill its
//! pods' processes (every other exit, including a panic that drops a
//! [`RunningPod`], does).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::future::pending;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, timeout, Instant};

/// The IP address pods and their host report: everything is on loopback.
pub const POD_IP: &str = "127.0.0.1";

/// Maps container images to local executables.
///
/// A key is either an exact image reference (`ghcr.io/acme/runner:1.2`) or a
/// repository without tag or digest (`ghcr.io/acme/runner`), which matches
/// the repository at any tag or digest. An exact key wins.
#[derive(Clone, Debug, Default)]
pub struct ImageMap {
    images: BTreeMap<String, PathBuf>,
}

impl ImageMap {
    /// Maps `image` (exact reference, or repository for every tag) to `binary`.
    pub fn insert(&mut self, image: impl Into<String>, binary: impl Into<PathBuf>) {
        self.images.insert(image.into(), binary.into());
    }

    /// The executable for `image`, if it is mapped.
    pub fn resolve(&self, image: &str) -> Option<&Path> {
        self.images.get(image).or_else(|| self.images.get(repository(image))).map(PathBuf::as_path)
    }

    /// True when no image is mapped.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }
}

/// The repository part of an image reference: without `@digest` and `:tag`
/// (a colon before the last slash belongs to a registry port).
fn repository(image: &str) -> &str {
    let image = image.split_once('@').map_or(image, |(repo, _)| repo);
    match image.rfind(':') {
        Some(colon) if !image[colon..].contains('/') => &image[..colon],
        _ => image,
    }
}

/// A container port, by number or by name (as a probe or a Service's
/// `targetPort` names it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortRef {
    /// `containerPort`.
    Number(u16),
    /// `ports[].name`.
    Name(String),
}

impl PortRef {
    /// Reads an int-or-string port as Kubernetes writes it; a string of
    /// digits is a number.
    pub fn from_json(value: &Value) -> Option<PortRef> {
        match value {
            Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()).map(PortRef::Number),
            Value::String(s) => Some(match s.parse::<u16>() {
                Ok(n) => PortRef::Number(n),
                Err(_) => PortRef::Name(s.clone()),
            }),
            _ => None,
        }
    }
}

impl From<u16> for PortRef {
    fn from(port: u16) -> Self {
        PortRef::Number(port)
    }
}

impl From<&str> for PortRef {
    fn from(name: &str) -> Self {
        PortRef::Name(name.to_owned())
    }
}

impl From<String> for PortRef {
    fn from(name: String) -> Self {
        PortRef::Name(name)
    }
}

impl From<&PortRef> for PortRef {
    fn from(port: &PortRef) -> Self {
        port.clone()
    }
}

/// One container port and the loopback port that serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMapping {
    /// The container declaring the port.
    pub container: String,
    /// `ports[].name`, when given.
    pub name: Option<String>,
    /// `ports[].containerPort`.
    pub container_port: u16,
    /// The port on 127.0.0.1 the process listens on (it gets it as `PORT`).
    pub host_port: u16,
}

/// Why a pod could not be started.
#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    /// The pod has no `spec.containers`.
    #[error("pod `{pod}` has no containers")]
    NoContainers {
        /// `namespace/name`.
        pod: String,
    },
    /// A container's image has no entry in the [`ImageMap`].
    #[error("container `{container}` of pod `{pod}`: image `{image}` is not mapped to a local binary")]
    ImageNotMapped {
        /// `namespace/name`.
        pod: String,
        /// The container name.
        container: String,
        /// The image reference.
        image: String,
    },
    /// The pod spec is malformed.
    #[error("pod `{pod}`: {message}")]
    InvalidSpec {
        /// `namespace/name`.
        pod: String,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The pod directory (or a volume or log file in it) could not be created.
    #[error("failed to prepare `{}` for pod `{pod}`", path.display())]
    PodDir {
        /// `namespace/name`.
        pod: String,
        /// The path that could not be created.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// No free loopback port could be bound.
    #[error("failed to allocate a loopback port for pod `{pod}`")]
    Port {
        /// `namespace/name`.
        pod: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A container's process could not be spawned.
    #[error("failed to start container `{container}` of pod `{pod}` from `{}`", binary.display())]
    Spawn {
        /// `namespace/name`.
        pod: String,
        /// The container name.
        container: String,
        /// The mapped executable.
        binary: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Runs pods whose images are all mapped to local executables.
#[derive(Clone, Debug)]
pub struct Kubelet {
    images: ImageMap,
    work_dir: PathBuf,
    probe_period_cap: Option<Duration>,
    backoff_initial: Duration,
    backoff_max: Duration,
    next_pod: Arc<AtomicU64>,
}

impl Kubelet {
    /// A kubelet running mapped images, with one directory per pod under
    /// `work_dir` (created on demand; the caller removes it).
    pub fn new(images: ImageMap, work_dir: PathBuf) -> Self {
        Kubelet {
            images,
            work_dir,
            probe_period_cap: None,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(10),
            next_pod: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Caps every probe's `periodSeconds` and `initialDelaySeconds` at `cap`
    /// (`None`: as written), so tests need not wait Kubernetes' 10 s periods.
    /// Timeouts and thresholds are kept.
    pub fn with_probe_period_cap(mut self, cap: Option<Duration>) -> Self {
        self.probe_period_cap = cap;
        self
    }

    /// Sets the restart back-off: `initial` after the first exit, doubling
    /// per consecutive exit up to `max` (defaults 500 ms and 10 s, where
    /// Kubernetes uses 10 s and 5 min). The count resets once a process has
    /// run for twice `max`.
    pub fn with_restart_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff_initial = initial;
        self.backoff_max = max.max(initial);
        self
    }

    /// Where pod directories are created.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// The image map this kubelet runs.
    pub fn images(&self) -> &ImageMap {
        &self.images
    }

    /// True when the pod (a v1 Pod as JSON) has containers and every one of
    /// them has a mapped image.
    pub fn runs(&self, pod: &Value) -> bool {
        match pod.pointer("/spec/containers").and_then(Value::as_array) {
            Some(containers) if !containers.is_empty() => containers.iter().all(|c| {
                c.get("image").and_then(Value::as_str).is_some_and(|image| self.images.resolve(image).is_some())
            }),
            _ => false,
        }
    }

    /// Starts the pod's containers as processes, each in its own process
    /// group, and supervises them (probes, restarts) until
    /// [`RunningPod::terminate`] or drop.
    ///
    /// Errors when the pod is not runnable or a first spawn fails; later
    /// failures show in [`RunningPod::state`] instead.
    pub async fn start(&self, pod: &Value) -> Result<RunningPod, KubeletError> {
        let seq = self.next_pod.fetch_add(1, Ordering::Relaxed);
        let spec = PodSpec::parse(pod, &self.images, &self.work_dir, seq)?;
        let id = spec.id.clone();
        let mut children = Vec::with_capacity(spec.containers.len());
        for container in &spec.containers {
            match spawn(container, &spec.dir) {
                Ok(child) => children.push(child),
                Err(source) => {
                    for child in &children {
                        kill_group(child.id(), libc::SIGKILL);
                    }
                    return Err(KubeletError::Spawn {
                        pod: id,
                        container: container.name.clone(),
                        binary: container.binary.clone(),
                        source,
                    });
                }
            }
        }

        let now = now();
        let containers = spec
            .containers
            .iter()
            .map(|c| ContainerState {
                name: c.name.clone(),
                image: c.image.clone(),
                ready: false,
                started: false,
                running: true,
                restart_count: 0,
                exit_code: None,
                reason: None,
                message: None,
                started_at: Some(now),
                last_termination: None,
            })
            .collect();
        let mut initial = PodState { phase: Phase::Pending, start_time: now, ready_changed_at: now, containers };
        initial.phase = initial.compute_phase();
        let (state, _) = watch::channel(initial);
        let ctx = Arc::new(PodContext {
            pids: Mutex::new(children.iter().map(Child::id).collect()),
            spec,
            probe_period_cap: self.probe_period_cap,
            backoff_initial: self.backoff_initial,
            backoff_max: self.backoff_max,
            state,
        });
        let (stop, _) = watch::channel(None);
        let tasks = children
            .into_iter()
            .enumerate()
            .map(|(index, child)| tokio::spawn(supervise(ctx.clone(), index, child, stop.subscribe())))
            .collect();
        tracing::debug!(pod = %id, dir = %ctx.spec.dir.display(), "started process-backed pod");
        Ok(RunningPod { ctx, stop, tasks })
    }
}

/// A pod whose containers run as local processes. Dropping it SIGKILLs them.
pub struct RunningPod {
    ctx: Arc<PodContext>,
    stop: watch::Sender<Option<Instant>>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningPod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningPod")
            .field("pod", &self.ctx.spec.id)
            .field("dir", &self.ctx.spec.dir)
            .field("ports", &self.ctx.spec.ports)
            .finish_non_exhaustive()
    }
}

impl RunningPod {
    /// The loopback port serving a container port, by number or name
    /// (`pod.host_port(8080)`, `pod.host_port("http")`).
    pub fn host_port(&self, port: impl Into<PortRef>) -> Option<u16> {
        host_port(&self.ctx.spec.ports, &port.into())
    }

    /// Every container port of the pod and its loopback port.
    pub fn ports(&self) -> &[PortMapping] {
        &self.ctx.spec.ports
    }

    /// The pod's working directory.
    pub fn dir(&self) -> &Path {
        &self.ctx.spec.dir
    }

    /// The file collecting a container's stdout and stderr, across restarts;
    /// `None` for an unknown container.
    pub fn log_path(&self, container: &str) -> Option<PathBuf> {
        self.ctx.spec.containers.iter().find(|c| c.name == container).map(|c| c.log_path.clone())
    }

    /// The pod's observed state, updated by probes and process exits.
    pub fn state(&self) -> watch::Receiver<PodState> {
        self.ctx.state.subscribe()
    }

    /// Terminates the pod gracefully: for each container at once, runs its
    /// preStop hook, sends SIGTERM to its process group, and sends SIGKILL
    /// when `grace` (counted from this call, preStop included) has passed.
    /// Returns when every process has exited; the final state shows each
    /// container terminated with its exit code (128 + signal when killed).
    pub async fn terminate(mut self, grace: Duration) {
        self.stop.send_replace(Some(Instant::now() + grace));
        for task in self.tasks.drain(..) {
            if let Err(error) = task.await {
                tracing::warn!(pod = %self.ctx.spec.id, %error, "container supervisor failed");
            }
        }
    }
}

impl Drop for RunningPod {
    fn drop(&mut self) {
        // Aborting a supervisor drops its `Child`, which SIGKILLs the group
        // leader (kill_on_drop); the group kill also reaches the leader's own
        // children, which would otherwise outlive the sandbox.
        let pids = self.ctx.pids.lock().unwrap_or_else(|e| e.into_inner());
        for pid in pids.iter() {
            kill_group(*pid, libc::SIGKILL);
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The phase of a pod, as in `status.phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Some container has not run yet.
    Pending,
    /// Every container has run and at least one is running or will restart.
    Running,
    /// Every container exited 0 and will not restart.
    Succeeded,
    /// Every container exited and will not restart, at least one not with 0.
    Failed,
}

impl Phase {
    /// The name Kubernetes writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
        }
    }
}

/// The observed state of a process-backed pod.
#[derive(Clone, Debug, PartialEq)]
pub struct PodState {
    /// The pod phase, derived from the containers.
    pub phase: Phase,
    /// When the pod was started.
    pub start_time: Timestamp,
    /// When [`PodState::ready`] last changed (the Ready condition's
    /// `lastTransitionTime`).
    pub ready_changed_at: Timestamp,
    /// One entry per container, in spec order.
    pub containers: Vec<ContainerState>,
}

/// The observed state of one container.
///
/// The container is running when `running`; terminated for good when not
/// running and `exit_code` is set (reason `Completed` or `Error`); otherwise
/// waiting, with `reason` `CrashLoopBackOff` during the restart back-off.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerState {
    /// The container name.
    pub name: String,
    /// The image reference from the spec.
    pub image: String,
    /// Running and passing its readiness probe (or running without one,
    /// after its startup probe).
    pub ready: bool,
    /// Running and past its startup probe (or running without one).
    pub started: bool,
    /// The process is alive.
    pub running: bool,
    /// How many times the container was restarted.
    pub restart_count: u32,
    /// The exit code once terminated for good (128 + signal when killed).
    pub exit_code: Option<i32>,
    /// `Completed`/`Error` when terminated, `CrashLoopBackOff` when waiting.
    pub reason: Option<String>,
    /// Details for `reason` (a failed probe, a spawn error, the back-off).
    pub message: Option<String>,
    /// When the current (or, when terminated, the last) process started.
    pub started_at: Option<Timestamp>,
    /// The previous termination, for `lastState` (set after a restart).
    pub last_termination: Option<Termination>,
}

/// How a container's process ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Termination {
    /// Exit code, or 128 + the signal that killed it.
    pub exit_code: i32,
    /// `Completed` (exit 0), `Error`, or `StartError` (spawn failed).
    pub reason: String,
    /// Why it was stopped (a failed liveness probe) or could not start.
    pub message: Option<String>,
    /// When the process started.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub finished_at: Timestamp,
}

impl PodState {
    /// Every container is ready.
    pub fn ready(&self) -> bool {
        !self.containers.is_empty() && self.containers.iter().all(|c| c.ready)
    }

    /// The container named `name`.
    pub fn container(&self, name: &str) -> Option<&ContainerState> {
        self.containers.iter().find(|c| c.name == name)
    }

    fn compute_phase(&self) -> Phase {
        if self.containers.iter().all(|c| !c.running && c.exit_code.is_some()) {
            if self.containers.iter().all(|c| c.exit_code == Some(0)) {
                Phase::Succeeded
            } else {
                Phase::Failed
            }
        } else if self.containers.iter().all(|c| c.started_at.is_some() || c.last_termination.is_some()) {
            Phase::Running
        } else {
            Phase::Pending
        }
    }

    /// The pod's `status` as Kubernetes writes it: phase, conditions
    /// (PodScheduled, Initialized, ContainersReady, Ready), containerStatuses
    /// (state, lastState, ready, started, restartCount), podIP(s), hostIP(s)
    /// and startTime.
    pub fn to_status(&self) -> Value {
        let start = format_time(self.start_time);
        let ready = if self.ready() { "True" } else { "False" };
        let changed = format_time(self.ready_changed_at);
        let condition = |kind: &str, status: &str, at: &str| {
            let mut c = json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": at});
            if status == "False" {
                c["reason"] = json!("ContainersNotReady");
                let unready: Vec<&str> = self.containers.iter().filter(|c| !c.ready).map(|c| c.name.as_str()).collect();
                c["message"] = json!(format!("containers with unready status: [{}]", unready.join(" ")));
            }
            c
        };
        json!({
            "phase": self.phase.as_str(),
            "conditions": [
                condition("PodScheduled", "True", &start),
                condition("Initialized", "True", &start),
                condition("ContainersReady", ready, &changed),
                condition("Ready", ready, &changed),
            ],
            "hostIP": POD_IP,
            "hostIPs": [{"ip": POD_IP}],
            "podIP": POD_IP,
            "podIPs": [{"ip": POD_IP}],
            "startTime": start,
            "containerStatuses": self.containers.iter().map(ContainerState::to_status).collect::<Vec<_>>(),
        })
    }
}

impl ContainerState {
    fn to_status(&self) -> Value {
        let state = if self.running {
            json!({"running": {"startedAt": self.started_at.map(format_time)}})
        } else if let Some(code) = self.exit_code {
            let mut terminated = json!({
                "exitCode": code,
                "reason": self.reason.clone().unwrap_or_else(|| exit_reason(code).to_owned()),
                "startedAt": self.started_at.map(format_time),
                "finishedAt": self.last_termination.as_ref().map(|t| format_time(t.finished_at)),
            });
            if let Some(message) = &self.message {
                terminated["message"] = json!(message);
            }
            json!({ "terminated": terminated })
        } else {
            let mut waiting = json!({"reason": self.reason.as_deref().unwrap_or("ContainerCreating")});
            if let Some(message) = &self.message {
                waiting["message"] = json!(message);
            }
            json!({ "waiting": waiting })
        };
        // A container terminated for good reports that termination as its
        // state; `lastState` is the one before it.
        let last = if !self.running && self.exit_code.is_some() { None } else { self.last_termination.as_ref() };
        let last_state = match last {
            Some(t) => {
                let mut terminated = json!({
                    "exitCode": t.exit_code,
                    "reason": t.reason,
                    "startedAt": t.started_at.map(format_time),
                    "finishedAt": format_time(t.finished_at),
                });
                if let Some(message) = &t.message {
                    terminated["message"] = json!(message);
                }
                json!({ "terminated": terminated })
            }
            None => json!({}),
        };
        json!({
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": state,
            "lastState": last_state,
        })
    }
}

fn exit_reason(code: i32) -> &'static str {
    if code == 0 {
        "Completed"
    } else {
        "Error"
    }
}

fn now() -> Timestamp {
    Timestamp::now()
}

/// RFC 3339 at second precision, as Kubernetes writes times.
fn format_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

// ---------------------------------------------------------------------------
// Pod spec parsing

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

struct PodSpec {
    id: String,
    dir: PathBuf,
    containers: Vec<ContainerSpec>,
    ports: Vec<PortMapping>,
    restart_policy: RestartPolicy,
    grace: Duration,
}

struct ContainerSpec {
    name: String,
    image: String,
    binary: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log_path: PathBuf,
    startup: Option<Probe>,
    readiness: Option<Probe>,
    liveness: Option<Probe>,
    pre_stop: Option<Handler>,
}

struct Probe {
    handler: Handler,
    initial_delay: Duration,
    period: Duration,
    timeout: Duration,
    success_threshold: u32,
    failure_threshold: u32,
}

/// A probe or lifecycle-hook action, with ports already mapped to host ports.
enum Handler {
    HttpGet { port: u16, path: String, headers: Vec<(String, String)>, https: bool },
    Tcp { port: u16 },
    Exec { command: Vec<String> },
    Sleep(Duration),
}

impl PodSpec {
    fn parse(pod: &Value, images: &ImageMap, work_dir: &Path, seq: u64) -> Result<PodSpec, KubeletError> {
        let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        let namespace = pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
        let id = format!("{namespace}/{name}");
        let invalid = |message: String| KubeletError::InvalidSpec { pod: id.clone(), message };
        if name.is_empty() {
            return Err(invalid("metadata.name is required".into()));
        }
        let spec = pod.get("spec").unwrap_or(&Value::Null);
        let containers = match spec.get("containers").and_then(Value::as_array) {
            Some(c) if !c.is_empty() => c,
            _ => return Err(KubeletError::NoContainers { pod: id }),
        };
        for kind in ["initContainers", "ephemeralContainers"] {
            if spec.get(kind).and_then(Value::as_array).is_some_and(|c| !c.is_empty()) {
                tracing::warn!(pod = %id, "the sandbox does not run {kind}; treating them as completed");
            }
        }
        let restart_policy = match spec.get("restartPolicy").and_then(Value::as_str) {
            None | Some("Always") => RestartPolicy::Always,
            Some("OnFailure") => RestartPolicy::OnFailure,
            Some("Never") => RestartPolicy::Never,
            Some(other) => {
                return Err(invalid(format!("spec.restartPolicy: expected Always, OnFailure or Never, got `{other}`")))
            }
        };
        let grace =
            Duration::from_secs(spec.get("terminationGracePeriodSeconds").and_then(Value::as_u64).unwrap_or(30));

        let dir = work_dir.join(format!("{namespace}_{name}_{seq}"));
        let prepare = |path: &Path| {
            std::fs::create_dir_all(path).map_err(|source| KubeletError::PodDir {
                pod: id.clone(),
                path: path.to_owned(),
                source,
            })
        };
        prepare(&dir)?;

        // Every container port gets a loopback port; the pod shares one
        // network namespace in Kubernetes, so numbers are pod-wide.
        let mut ports = Vec::new();
        for (i, container) in containers.iter().enumerate() {
            let cname = container.get("name").and_then(Value::as_str).unwrap_or("");
            if cname.is_empty() {
                return Err(invalid(format!("spec.containers[{i}].name is required")));
            }
            for (j, port) in container.get("ports").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let Some(container_port) =
                    port.get("containerPort").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok())
                else {
                    return Err(invalid(format!(
                        "spec.containers[{i}].ports[{j}].containerPort: expected a port number"
                    )));
                };
                if ports.iter().any(|p: &PortMapping| p.container_port == container_port) {
                    continue;
                }
                let host_port = free_port().map_err(|source| KubeletError::Port { pod: id.clone(), source })?;
                ports.push(PortMapping {
                    container: cname.to_owned(),
                    name: port.get("name").and_then(Value::as_str).map(str::to_owned),
                    container_port,
                    host_port,
                });
            }
        }

        let mut parsed = Vec::with_capacity(containers.len());
        for (i, container) in containers.iter().enumerate() {
            let cname = container.get("name").and_then(Value::as_str).unwrap_or("").to_owned();
            let image = container.get("image").and_then(Value::as_str).unwrap_or("");
            let binary = images
                .resolve(image)
                .ok_or_else(|| KubeletError::ImageNotMapped {
                    pod: id.clone(),
                    container: cname.clone(),
                    image: image.to_owned(),
                })?
                .to_owned();

            let mut mounts: Vec<(String, PathBuf)> = Vec::new();
            for mount in container.get("volumeMounts").and_then(Value::as_array).into_iter().flatten() {
                let (Some(volume), Some(path)) =
                    (mount.get("name").and_then(Value::as_str), mount.get("mountPath").and_then(Value::as_str))
                else {
                    continue;
                };
                let mut host = dir.join("volumes").join(volume);
                if let Some(sub) = mount.get("subPath").and_then(Value::as_str).filter(|s| !s.is_empty()) {
                    host = host.join(sub.trim_start_matches('/'));
                }
                prepare(&host)?;
                // Contents the caller resolved for the volume (a ConfigMap's
                // or Secret's keys), as `x-sandbox-files` on the volume.
                let files = spec
                    .get("volumes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .find(|v| v.get("name").and_then(Value::as_str) == Some(volume))
                    .and_then(|v| v.get("x-sandbox-files"))
                    .and_then(Value::as_object);
                for (file, content) in files.into_iter().flatten() {
                    if file.contains("..") || file.starts_with('/') {
                        continue;
                    }
                    let target = dir.join("volumes").join(volume).join(file);
                    if let Some(parent) = target.parent() {
                        prepare(parent)?;
                    }
                    std::fs::write(&target, content.as_str().unwrap_or_default())
                        .map_err(|source| KubeletError::PodDir { pod: id.clone(), path: target.clone(), source })?;
                }
                mounts.push((path.trim_end_matches('/').to_owned(), host));
            }
            // The longest mount path wins, as nested mounts shadow outer ones.
            mounts.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
            let remap = |value: &str| -> String {
                for (path, host) in &mounts {
                    if let Some(rest) = value.strip_prefix(path.as_str()) {
                        if rest.is_empty() || rest.starts_with('/') || path.is_empty() {
                            return format!("{}{rest}", host.display());
                        }
                    }
                }
                value.to_owned()
            };

            let mut env: Vec<(String, String)> = Vec::new();
            set_env(&mut env, "PATH", &std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()));
            set_env(&mut env, "HOME", &dir.display().to_string());
            set_env(&mut env, "HOSTNAME", name);
            set_env(&mut env, "POD_NAME", name);
            set_env(&mut env, "POD_NAMESPACE", namespace);
            set_env(&mut env, "POD_IP", POD_IP);
            if container.get("envFrom").and_then(Value::as_array).is_some_and(|e| !e.is_empty()) {
                tracing::warn!(pod = %id, container = %cname, "envFrom is not supported by the sandbox kubelet; skipped");
            }
            for var in container.get("env").and_then(Value::as_array).into_iter().flatten() {
                let Some(key) = var.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let value = if let Some(value) = var.get("value").and_then(Value::as_str) {
                    expand(value, &env)
                } else if let Some(from) = var.get("valueFrom") {
                    match field_ref(pod, from) {
                        Some(value) => value,
                        None => {
                            tracing::warn!(pod = %id, container = %cname, env = %key,
                                "env valueFrom is not supported by the sandbox kubelet (only fieldRef); skipped");
                            continue;
                        }
                    }
                } else {
                    String::new()
                };
                set_env(&mut env, key, &remap(&value));
            }
            let own_ports: Vec<&PortMapping> = ports.iter().filter(|p| p.container == cname).collect();
            if let Some(first) = own_ports.first() {
                set_env(&mut env, "PORT", &first.host_port.to_string());
            }
            for port in &own_ports {
                if let Some(pname) = &port.name {
                    let key = format!("PORT_{}", pname.to_uppercase().replace('-', "_"));
                    set_env(&mut env, &key, &port.host_port.to_string());
                }
            }

            let strings = |key: &str| -> Vec<String> {
                container
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|s| remap(&expand(s, &env)))
                    .collect()
            };
            let mut args: Vec<String> = strings("command").into_iter().skip(1).collect();
            args.extend(strings("args"));

            let field = |key: &str| format!("spec.containers[{i}].{key}");
            let probe = |key: &str| -> Result<Option<Probe>, KubeletError> {
                match container.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(p) => {
                        parse_probe(p, &ports, &cname).map(Some).map_err(|m| invalid(format!("{}: {m}", field(key))))
                    }
                }
            };
            let pre_stop = match container.pointer("/lifecycle/preStop") {
                None | Some(Value::Null) => None,
                Some(h) => Some(
                    parse_handler(h, &ports, &cname)
                        .map_err(|m| invalid(format!("{}: {m}", field("lifecycle.preStop"))))?,
                ),
            };
            let log_path = dir.join(format!("{cname}.log"));
            parsed.push(ContainerSpec {
                startup: probe("startupProbe")?,
                readiness: probe("readinessProbe")?,
                liveness: probe("livenessProbe")?,
                pre_stop,
                name: cname,
                image: image.to_owned(),
                binary,
                args,
                env,
                log_path,
            });
        }
        Ok(PodSpec { id, dir, containers: parsed, ports, restart_policy, grace })
    }
}

fn set_env(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    match env.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value.to_owned(),
        None => env.push((key.to_owned(), value.to_owned())),
    }
}

/// Expands `$(VAR)` from `env` as Kubernetes does: `$$` is a literal `$`,
/// and an unknown variable is left as written.
fn expand(input: &str, env: &[(String, String)]) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(after) = after.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else if let (Some(inner), Some(end)) = (after.strip_prefix('('), after.find(')')) {
            let name = &inner[..end - 1];
            match env.iter().find(|(k, _)| k == name) {
                Some((_, value)) => out.push_str(value),
                None => out.push_str(&rest[i..i + 2 + end]),
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The value of a `valueFrom.fieldRef`, or `None` for other sources.
fn field_ref(pod: &Value, from: &Value) -> Option<String> {
    let path = from.pointer("/fieldRef/fieldPath")?.as_str()?;
    let text = |pointer: &str| pod.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_owned();
    let keyed = |prefix: &str, map: &str| {
        let key = path.strip_prefix(prefix)?.strip_suffix("']")?;
        Some(pod.pointer(map)?.get(key)?.as_str().unwrap_or("").to_owned())
    };
    Some(match path {
        "metadata.name" => text("/metadata/name"),
        "metadata.namespace" => {
            pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_owned()
        }
        "metadata.uid" => text("/metadata/uid"),
        "spec.nodeName" => text("/spec/nodeName"),
        "spec.serviceAccountName" => text("/spec/serviceAccountName"),
        "status.podIP" | "status.hostIP" | "status.podIPs" | "status.hostIPs" => POD_IP.to_owned(),
        _ => keyed("metadata.labels['", "/metadata/labels")
            .or_else(|| keyed("metadata.annotations['", "/metadata/annotations"))?,
    })
}

fn host_port(ports: &[PortMapping], port: &PortRef) -> Option<u16> {
    match port {
        PortRef::Number(n) => ports.iter().find(|p| p.container_port == *n),
        PortRef::Name(name) => ports.iter().find(|p| p.name.as_deref() == Some(name)),
    }
    .map(|p| p.host_port)
}

/// Resolves a probe's port to a host port. A number that no container
/// declares is used as it is, since a process may listen on a fixed port.
fn probe_port(value: Option<&Value>, ports: &[PortMapping], container: &str) -> Result<u16, String> {
    let port = value.and_then(PortRef::from_json).ok_or_else(|| "port: expected a port number or name".to_owned())?;
    // A named port is looked up in the container's own ports first.
    let own: Vec<PortMapping> = ports.iter().filter(|p| p.container == container).cloned().collect();
    match (host_port(&own, &port).or_else(|| host_port(ports, &port)), port) {
        (Some(host), _) => Ok(host),
        (None, PortRef::Number(n)) => Ok(n),
        (None, PortRef::Name(name)) => Err(format!("port: no container port is named `{name}`")),
    }
}

fn parse_handler(value: &Value, ports: &[PortMapping], container: &str) -> Result<Handler, String> {
    if let Some(http) = value.get("httpGet") {
        let path = http.get("path").and_then(Value::as_str).unwrap_or("/");
        let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
        let headers = http
            .get("httpHeaders")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|h| {
                Some((
                    h.get("name")?.as_str()?.to_owned(),
                    h.get("value").and_then(Value::as_str).unwrap_or("").to_owned(),
                ))
            })
            .collect();
        let https = http.get("scheme").and_then(Value::as_str).is_some_and(|s| s.eq_ignore_ascii_case("https"));
        Ok(Handler::HttpGet {
            port: probe_port(http.get("port"), ports, container).map_err(|m| format!("httpGet.{m}"))?,
            path,
            headers,
            https,
        })
    } else if let Some(tcp) = value.get("tcpSocket").or_else(|| value.get("grpc")) {
        Ok(Handler::Tcp { port: probe_port(tcp.get("port"), ports, container).map_err(|m| format!("tcpSocket.{m}"))? })
    } else if let Some(exec) = value.get("exec") {
        let command: Vec<String> = exec
            .get("command")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        if command.is_empty() {
            return Err("exec.command: expected a non-empty list".into());
        }
        Ok(Handler::Exec { command })
    } else if let Some(sleep) = value.get("sleep") {
        Ok(Handler::Sleep(Duration::from_secs(sleep.get("seconds").and_then(Value::as_u64).unwrap_or(0))))
    } else {
        Err("expected one of httpGet, tcpSocket, grpc, exec or sleep".into())
    }
}

fn parse_probe(value: &Value, ports: &[PortMapping], container: &str) -> Result<Probe, String> {
    let seconds =
        |key: &str, default: u64| Duration::from_secs(value.get(key).and_then(Value::as_u64).unwrap_or(default));
    let count = |key: &str, default: u32| {
        value.get(key).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0).unwrap_or(default)
    };
    Ok(Probe {
        handler: parse_handler(value, ports, container)?,
        initial_delay: seconds("initialDelaySeconds", 0),
        period: seconds("periodSeconds", 10).max(Duration::from_secs(1)),
        timeout: seconds("timeoutSeconds", 1).max(Duration::from_secs(1)),
        success_threshold: count("successThreshold", 1),
        failure_threshold: count("failureThreshold", 3),
    })
}

/// A loopback port that was free a moment ago. Another process may take it
/// before the container binds it; the kernel hands out ephemeral ports in
/// sequence, which makes that rare.
fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind((POD_IP, 0))?.local_addr()?.port())
}

// ---------------------------------------------------------------------------
// Supervision

struct PodContext {
    spec: PodSpec,
    probe_period_cap: Option<Duration>,
    backoff_initial: Duration,
    backoff_max: Duration,
    state: watch::Sender<PodState>,
    /// Per container, the process group of the live process.
    pids: Mutex<Vec<Option<u32>>>,
}

impl PodContext {
    fn update(&self, index: usize, change: impl FnOnce(&mut ContainerState)) {
        self.state.send_if_modified(|state| {
            let before = state.clone();
            let was_ready = state.ready();
            change(&mut state.containers[index]);
            state.phase = state.compute_phase();
            if state.ready() != was_ready {
                state.ready_changed_at = now();
            }
            *state != before
        });
    }

    fn set_pid(&self, index: usize, pid: Option<u32>) {
        self.pids.lock().unwrap_or_else(|e| e.into_inner())[index] = pid;
    }

    fn scaled(&self, duration: Duration) -> Duration {
        match self.probe_period_cap {
            Some(cap) => duration.min(cap),
            None => duration,
        }
    }
}

fn spawn(container: &ContainerSpec, dir: &Path) -> io::Result<Child> {
    let log = OpenOptions::new().create(true).append(true).open(&container.log_path)?;
    Command::new(&container.binary)
        .args(&container.args)
        .env_clear()
        .envs(container.env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        // Its own process group, so signals reach the process's children too.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
}

/// Sends `signal` to the process group led by `pid`.
fn kill_group(pid: Option<u32>, signal: libc::c_int) {
    if let Some(pid) = pid.and_then(|p| libc::pid_t::try_from(p).ok()) {
        // SAFETY: kill(2) has no memory-safety preconditions; a group that is
        // already gone yields ESRCH, which is fine.
        unsafe {
            libc::kill(-pid, signal);
        }
    }
}

fn exit_code(status: &io::Result<ExitStatus>) -> i32 {
    match status {
        Ok(status) => status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        Err(_) => 128,
    }
}

/// Resolves when termination is requested, with its deadline.
async fn stop_requested(stop: &mut watch::Receiver<Option<Instant>>) -> Instant {
    loop {
        if let Some(deadline) = *stop.borrow_and_update() {
            return deadline;
        }
        if stop.changed().await.is_err() {
            // The pod handle is gone; its Drop aborts this task.
            return pending().await;
        }
    }
}

enum RunEnd {
    Exited(io::Result<ExitStatus>),
    Unhealthy(String),
    Stop(Instant),
}

/// Runs one container: watches the process, runs its probes, restarts it per
/// the restart policy, and stops it on request.
async fn supervise(ctx: Arc<PodContext>, index: usize, child: Child, mut stop: watch::Receiver<Option<Instant>>) {
    let spec = &ctx.spec.containers[index];
    let mut child = Ok(child);
    let mut consecutive_failures = 0u32;
    loop {
        let run_started = Instant::now();
        let started_at = now();
        let (code, message, stopping, start_error) = match child {
            Ok(mut process) => {
                let pid = process.id();
                ctx.set_pid(index, pid);
                ctx.update(index, |c| {
                    c.running = true;
                    c.ready = false;
                    c.started = false;
                    c.exit_code = None;
                    c.reason = None;
                    c.message = None;
                    c.started_at = Some(started_at);
                });
                let end = tokio::select! {
                    status = process.wait() => RunEnd::Exited(status),
                    message = run_probes(&ctx, index) => RunEnd::Unhealthy(message),
                    deadline = stop_requested(&mut stop) => RunEnd::Stop(deadline),
                };
                let (status, message, stopping) = match end {
                    RunEnd::Exited(status) => (status, None, false),
                    RunEnd::Unhealthy(message) => {
                        tracing::info!(pod = %ctx.spec.id, container = %spec.name, %message, "killing unhealthy container");
                        ctx.update(index, |c| c.ready = false);
                        let deadline = Instant::now() + ctx.spec.grace;
                        let status = stop_process(&ctx, spec, &mut process, pid, deadline, &mut stop).await;
                        (status, Some(message), false)
                    }
                    RunEnd::Stop(deadline) => {
                        let status = stop_process(&ctx, spec, &mut process, pid, deadline, &mut stop).await;
                        (status, None, true)
                    }
                };
                // Whatever the leader left behind in its group goes with it.
                kill_group(pid, libc::SIGKILL);
                ctx.set_pid(index, None);
                (exit_code(&status), message, stopping, false)
            }
            Err(error) => {
                let message = format!("failed to start `{}`: {error}", spec.binary.display());
                (128, Some(message), false, true)
            }
        };
        let termination = Termination {
            exit_code: code,
            reason: if start_error { "StartError" } else { exit_reason(code) }.to_owned(),
            message: message.clone(),
            started_at: Some(started_at),
            finished_at: now(),
        };
        let restart = !stopping
            && stop.borrow().is_none()
            && match ctx.spec.restart_policy {
                RestartPolicy::Always => true,
                RestartPolicy::OnFailure => code != 0,
                RestartPolicy::Never => false,
            };
        if !restart {
            ctx.update(index, |c| {
                c.running = false;
                c.ready = false;
                c.exit_code = Some(code);
                c.reason = Some(termination.reason.clone());
                c.message = message;
                c.last_termination = Some(termination);
            });
            return;
        }

        if run_started.elapsed() >= ctx.backoff_max * 2 {
            consecutive_failures = 0;
        }
        let delay = ctx.backoff_initial.saturating_mul(1 << consecutive_failures.min(16)).min(ctx.backoff_max);
        consecutive_failures += 1;
        ctx.update(index, |c| {
            c.running = false;
            c.ready = false;
            c.started = false;
            c.exit_code = None;
            c.reason = Some("CrashLoopBackOff".into());
            c.message = Some(format!(
                "back-off {} ms restarting failed container={} pod={}",
                delay.as_millis(),
                spec.name,
                ctx.spec.id
            ));
            c.last_termination = Some(termination.clone());
        });
        tokio::select! {
            () = sleep(delay) => {}
            _ = stop_requested(&mut stop) => {
                ctx.update(index, |c| {
                    c.exit_code = Some(code);
                    c.reason = Some(termination.reason.clone());
                    c.message = termination.message.clone();
                    c.started_at = termination.started_at;
                });
                return;
            }
        }
        ctx.update(index, |c| c.restart_count += 1);
        child = spawn(spec, &ctx.spec.dir);
    }
}

/// Stops a process: preStop hook, SIGTERM to its group, SIGKILL at
/// `deadline`, or sooner if termination is requested with an earlier
/// deadline meanwhile (a pod deleted while a liveness kill is under way).
async fn stop_process(
    ctx: &PodContext,
    spec: &ContainerSpec,
    process: &mut Child,
    pid: Option<u32>,
    deadline: Instant,
    stop: &mut watch::Receiver<Option<Instant>>,
) -> io::Result<ExitStatus> {
    let sooner = |deadline: Instant, stop: &mut watch::Receiver<Option<Instant>>| match *stop.borrow_and_update() {
        Some(requested) => deadline.min(requested),
        None => deadline,
    };
    let mut deadline = sooner(deadline, stop);
    if let Some(hook) = &spec.pre_stop {
        let budget = deadline.saturating_duration_since(Instant::now());
        let hook = hook.run(spec, &ctx.spec.dir, budget);
        tokio::pin!(hook);
        loop {
            tokio::select! {
                result = &mut hook => {
                    if let Err(message) = result {
                        tracing::warn!(pod = %ctx.spec.id, container = %spec.name, %message, "preStop hook failed");
                    }
                    break;
                }
                status = process.wait() => return status,
                () = sleep_until(deadline) => break,
                Ok(()) = stop.changed() => deadline = sooner(deadline, stop),
            }
        }
    }
    kill_group(pid, libc::SIGTERM);
    loop {
        tokio::select! {
            status = process.wait() => return status,
            () = sleep_until(deadline) => break,
            Ok(()) = stop.changed() => deadline = sooner(deadline, stop),
        }
    }
    tracing::info!(pod = %ctx.spec.id, container = %spec.name, "grace period over; sending SIGKILL");
    kill_group(pid, libc::SIGKILL);
    process.wait().await
}

/// Runs a container's probes; returns only when the container must be
/// killed (a startup or liveness probe reached its failure threshold).
async fn run_probes(ctx: &PodContext, index: usize) -> String {
    let spec = &ctx.spec.containers[index];
    if let Some(startup) = &spec.startup {
        if let Err(message) = probe_loop(ctx, index, startup, ProbeKind::Startup).await {
            return format!("Startup probe failed: {message}");
        }
    }
    ctx.update(index, |c| {
        c.started = true;
        if spec.readiness.is_none() {
            c.ready = true;
        }
    });
    let readiness = async {
        match &spec.readiness {
            Some(probe) => probe_loop(ctx, index, probe, ProbeKind::Readiness).await,
            None => pending().await,
        }
    };
    let liveness = async {
        match &spec.liveness {
            Some(probe) => probe_loop(ctx, index, probe, ProbeKind::Liveness).await,
            None => pending().await,
        }
    };
    tokio::select! {
        Err(message) = readiness => message,
        Err(message) = liveness => format!("Liveness probe failed: {message}"),
        else => pending().await,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ProbeKind {
    Startup,
    Readiness,
    Liveness,
}

/// Runs `probe` every period. A startup probe returns `Ok` on success; a
/// startup or liveness probe returns `Err` at its failure threshold; a
/// readiness probe only updates `ready` and never returns.
async fn probe_loop(ctx: &PodContext, index: usize, probe: &Probe, kind: ProbeKind) -> Result<(), String> {
    let spec = &ctx.spec.containers[index];
    sleep(ctx.scaled(probe.initial_delay)).await;
    let period = ctx.scaled(probe.period);
    let (mut successes, mut failures) = (0u32, 0u32);
    loop {
        let next = Instant::now() + period;
        match probe.handler.run(spec, &ctx.spec.dir, probe.timeout).await {
            Ok(()) => {
                successes += 1;
                failures = 0;
                match kind {
                    ProbeKind::Startup => return Ok(()),
                    ProbeKind::Readiness if successes >= probe.success_threshold => {
                        ctx.update(index, |c| c.ready = true)
                    }
                    _ => {}
                }
            }
            Err(message) => {
                successes = 0;
                failures += 1;
                tracing::debug!(pod = %ctx.spec.id, container = %spec.name, %message, failures, "probe failed");
                if failures >= probe.failure_threshold {
                    match kind {
                        ProbeKind::Readiness => ctx.update(index, |c| c.ready = false),
                        ProbeKind::Startup | ProbeKind::Liveness => return Err(message),
                    }
                }
            }
        }
        sleep_until(next).await;
    }
}

impl Handler {
    /// Runs the action against the container within `budget`.
    async fn run(&self, container: &ContainerSpec, dir: &Path, budget: Duration) -> Result<(), String> {
        match self {
            Handler::HttpGet { port, path, headers, https } => {
                let url = format!("http{}://{POD_IP}:{port}{path}", if *https { "s" } else { "" });
                if *https {
                    return Err(format!("Get \"{url}\": HTTPS probes are not supported by the sandbox"));
                }
                match timeout(budget, http_get(*port, path, headers)).await {
                    Ok(Ok(code)) if (200..400).contains(&code) => Ok(()),
                    Ok(Ok(code)) => Err(format!("HTTP probe failed with statuscode: {code}")),
                    Ok(Err(error)) => Err(format!("Get \"{url}\": {error}")),
                    Err(_) => Err(format!("Get \"{url}\": context deadline exceeded")),
                }
            }
            Handler::Tcp { port } => match timeout(budget, TcpStream::connect((POD_IP, *port))).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(error)) => Err(format!("dial tcp {POD_IP}:{port}: {error}")),
                Err(_) => Err(format!("dial tcp {POD_IP}:{port}: i/o timeout")),
            },
            Handler::Exec { command } => {
                let status = Command::new(&command[0])
                    .args(&command[1..])
                    .env_clear()
                    .envs(container.env.iter().map(|(k, v)| (k, v)))
                    .current_dir(dir)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .status();
                match timeout(budget, status).await {
                    Ok(Ok(status)) if status.success() => Ok(()),
                    Ok(Ok(status)) => Err(format!("command {command:?} exited with {}", exit_code(&Ok(status)))),
                    Ok(Err(error)) => Err(format!("command {command:?} could not run: {error}")),
                    Err(_) => Err(format!("command {command:?} timed out after {}s", budget.as_secs())),
                }
            }
            Handler::Sleep(duration) => {
                sleep((*duration).min(budget)).await;
                Ok(())
            }
        }
    }
}

/// A minimal HTTP/1.1 GET returning the status code (probes need nothing
/// more, and this keeps an HTTP client out of the crate).
async fn http_get(port: u16, path: &str, headers: &[(String, String)]) -> io::Result<u16> {
    let mut stream = TcpStream::connect((POD_IP, port)).await?;
    let mut request = format!("GET {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("Host: {POD_IP}:{port}\r\n"));
    }
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("user-agent")) {
        request.push_str("User-Agent: kube-probe/1.33\r\n");
    }
    for (key, value) in headers {
        request.push_str(&format!("{key}: {value}\r\n"));
    }
    request.push_str("Accept: */*\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::with_capacity(128);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .filter(|_| line.starts_with("HTTP/"))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed HTTP response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_resolve_exactly_or_by_repository() {
        let mut images = ImageMap::default();
        images.insert("registry:5000/acme/runner", "/bin/runner");
        images.insert("acme/tool:2", "/bin/tool2");
        assert_eq!(images.resolve("registry:5000/acme/runner:1.2"), Some(Path::new("/bin/runner")));
        assert_eq!(images.resolve("registry:5000/acme/runner@sha256:abc"), Some(Path::new("/bin/runner")));
        assert_eq!(images.resolve("registry:5000/acme/runner"), Some(Path::new("/bin/runner")));
        assert_eq!(images.resolve("acme/tool:2"), Some(Path::new("/bin/tool2")));
        assert_eq!(images.resolve("acme/tool:3"), None);
        assert_eq!(images.resolve("registry:5000/acme/other:1"), None);
    }

    #[test]
    fn env_references_expand_like_kubernetes() {
        let env = vec![("A".to_owned(), "one".to_owned())];
        assert_eq!(expand("x$(A)y", &env), "xoney");
        assert_eq!(expand("$(B)-$$(A)-$$-$", &env), "$(B)-$(A)-$-$");
        assert_eq!(expand("$(A", &env), "$(A");
    }

    #[test]
    fn field_refs_read_the_pod() {
        let pod = json!({"metadata": {"name": "p", "labels": {"app": "web"}}});
        let from = |path: &str| json!({"fieldRef": {"fieldPath": path}});
        assert_eq!(field_ref(&pod, &from("metadata.name")).as_deref(), Some("p"));
        assert_eq!(field_ref(&pod, &from("metadata.namespace")).as_deref(), Some("default"));
        assert_eq!(field_ref(&pod, &from("metadata.labels['app']")).as_deref(), Some("web"));
        assert_eq!(field_ref(&pod, &from("status.podIP")).as_deref(), Some(POD_IP));
        assert_eq!(field_ref(&pod, &json!({"secretKeyRef": {"name": "s", "key": "k"}})), None);
    }

    #[test]
    fn status_reports_waiting_containers_with_their_last_termination() {
        let at = Timestamp::from_second(1_700_000_000).unwrap();
        let state = PodState {
            phase: Phase::Running,
            start_time: at,
            ready_changed_at: at,
            containers: vec![ContainerState {
                name: "web".into(),
                image: "acme/web:1".into(),
                ready: false,
                started: false,
                running: false,
                restart_count: 2,
                exit_code: None,
                reason: Some("CrashLoopBackOff".into()),
                message: None,
                started_at: Some(at),
                last_termination: Some(Termination {
                    exit_code: 1,
                    reason: "Error".into(),
                    message: None,
                    started_at: Some(at),
                    finished_at: at,
                }),
            }],
        };
        let status = state.to_status();
        assert_eq!(status["phase"], "Running");
        assert_eq!(status["startTime"], "2023-11-14T22:13:20Z");
        assert_eq!(status["conditions"][3]["type"], "Ready");
        assert_eq!(status["conditions"][3]["status"], "False");
        let web = &status["containerStatuses"][0];
        assert_eq!(web["state"]["waiting"]["reason"], "CrashLoopBackOff");
        assert_eq!(web["lastState"]["terminated"]["exitCode"], 1);
        assert_eq!(web["restartCount"], 2);
    }
}
