//! A Kubernetes API sandbox: a real HTTPS server on 127.0.0.1 that speaks the
//! Kubernetes REST API for the resources meshctl uses, for tests and for
//! `meshctl sandbox up`.
//!
//! ```no_run
//! let sandbox = sandbox::Sandbox::start(sandbox::SandboxConfig::default())?;
//! std::fs::write("kubeconfig", sandbox.kubeconfig())?;
//! // kubectl --kubeconfig kubeconfig get ns
//! // Dropping the handle stops the server and every pod process.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What it implements: discovery (plain and aggregated) and the OpenAPI v3
//! documents kubectl reads; CRUD with label and field selectors;
//! resourceVersion, uid, generation and creationTimestamp; the status
//! subresource; deletion with finalizers, grace periods, owner-reference
//! propagation and namespace termination; watch with resume, bookmarks and
//! 410 Gone; dry runs; field validation; server-side apply with managed
//! fields and conflicts; merge, strategic-merge and JSON patches; immutable
//! fields; controllers for Deployments, ReplicaSets, StatefulSets, Jobs,
//! PVCs, Endpoints and EndpointSlices; process-backed pods for mapped images;
//! the service and pod proxy; fault injection and request counters.
//! What it does not: scheduling, networking (CNI, kube-proxy, DNS),
//! admission webhooks, RBAC (one token may do everything), protobuf,
//! conversion between custom resource versions, or persistent volumes with
//! real storage.

pub mod api;
pub mod apiserver;
pub mod apply;
pub mod controllers;
pub mod discovery;
pub mod faults;
pub mod fieldpath;
pub mod fields;
pub mod kubelet;
pub mod patch;
pub mod proxy;
pub mod resources;
pub mod rules;
pub mod selector;
pub mod status;
pub mod store;
pub mod table;
pub mod tls;
pub mod tools;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

pub use apiserver::ApiServer;
pub use faults::{FaultAction, FaultRule};
pub use kubelet::ImageMap;

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to access `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("the state directory is unusable: {0}")]
    State(String),
    #[error("the sandbox runtime failed to start")]
    Runtime(#[source] std::io::Error),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }
}

/// How to run a sandbox. `Default` gives a fresh, in-memory sandbox on a
/// free loopback port with quick rollouts.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Where objects, the CA and the token persist between runs.
    pub state_dir: Option<PathBuf>,
    /// How many changes watches can resume from; older gives 410 Gone.
    pub watch_history: usize,
    /// How long a watch lasts when the client gives no `timeoutSeconds`.
    pub watch_timeout: Duration,
    /// How often watches that allow bookmarks receive one.
    pub bookmark_interval: Duration,
    /// How long a simulated pod takes to become ready.
    pub pod_ready_delay: Duration,
    /// How long a change in ready pods takes to reach Endpoints (and the
    /// service proxy), as endpoint propagation does in a cluster.
    pub endpoint_delay: Duration,
    /// Images run as real processes.
    pub images: ImageMap,
    /// Caps probe periods of process-backed pods (tests use ~100 ms).
    pub probe_period_cap: Option<Duration>,
    /// Fault rules active from the start.
    pub faults: Vec<FaultRule>,
    /// Seed for rate-based faults, so a run can be repeated.
    pub fault_seed: u64,
    /// Namespaces created at start (a cluster always has `default`).
    pub namespaces: Vec<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_dir: None,
            watch_history: 10_000,
            watch_timeout: Duration::from_secs(1800),
            bookmark_interval: Duration::from_secs(10),
            pod_ready_delay: Duration::from_millis(200),
            endpoint_delay: Duration::ZERO,
            images: ImageMap::default(),
            probe_period_cap: None,
            faults: Vec::new(),
            fault_seed: 1,
            namespaces: vec!["default".into(), "kube-system".into(), "kube-public".into()],
        }
    }
}

/// State shared by every request and controller of one sandbox.
pub struct Shared {
    pub api: ApiServer,
    pub faults: faults::Faults,
    pub config: SandboxConfig,
    pub(crate) token: String,
    /// `127.0.0.1:PORT`.
    pub address: String,
    pub(crate) pods: controllers::PodRuntime,
}

/// A running sandbox. Dropping it stops the server, its controllers and
/// every pod process.
pub struct Sandbox {
    url: String,
    kubeconfig: String,
    ca_pem: String,
    token: String,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Sandbox {
    /// Starts a sandbox on its own runtime (so it serves callers that are
    /// async or not alike) and returns once it accepts connections.
    pub fn start(config: SandboxConfig) -> Result<Self, Error> {
        if let Some(dir) = &config.state_dir {
            private_dir(dir)?;
        }
        let credentials = tls::Credentials::load_or_generate(config.state_dir.as_deref())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sandbox")
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        // Bound without block_on, so a caller that is itself async can start
        // a sandbox.
        let bind_error = |source| Error::Bind { addr: config.listen, source };
        let std_listener = std::net::TcpListener::bind(config.listen).map_err(bind_error)?;
        std_listener.set_nonblocking(true).map_err(bind_error)?;
        let listener = {
            let _guard = runtime.enter();
            TcpListener::from_std(std_listener).map_err(bind_error)?
        };
        let local = listener.local_addr().map_err(|source| Error::Bind { addr: config.listen, source })?;
        let address = local.to_string();
        let url = format!("https://{address}");
        let store = store::Store::open(config.state_dir.as_deref(), config.watch_history)?;
        let work_dir = match &config.state_dir {
            Some(dir) => dir.join("pods"),
            None => std::env::temp_dir().join(format!("meshctl-sandbox-{}-{}", std::process::id(), local.port())),
        };
        let shared = Arc::new(Shared {
            api: ApiServer::new(store),
            faults: faults::Faults::new(config.faults.clone(), config.fault_seed),
            token: credentials.token.clone(),
            address: address.clone(),
            pods: controllers::PodRuntime::new(config.images.clone(), work_dir, config.probe_period_cap),
            config,
        });
        controllers::bootstrap(&shared);
        let app = axum::Router::new().fallback(api::handle).with_state(shared.clone());
        let acceptor = tokio_rustls::TlsAcceptor::from(credentials.server_config.clone());
        runtime.spawn(serve(listener, acceptor, app));
        runtime.spawn(controllers::run(shared.clone()));
        Ok(Sandbox {
            kubeconfig: credentials.kubeconfig(&url),
            url,
            ca_pem: credentials.ca_pem,
            token: credentials.token,
            shared,
            runtime: Some(runtime),
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A kubeconfig for kubectl and kube-rs (context `sandbox`, namespace
    /// `default`).
    pub fn kubeconfig(&self) -> &str {
        &self.kubeconfig
    }

    /// Writes the kubeconfig to `path` (mode 0600: it holds the token).
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), Error> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        file.write_all(self.kubeconfig.as_bytes()).map_err(|e| Error::io(path, e))
    }

    /// PEM of the CA that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The API server's state, for tests and benchmarks that inspect it
    /// directly.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Request counters: `{"requests": {"<verb> <resource>": n}, "total",
    /// "mutating"}`.
    pub fn counters(&self) -> serde_json::Value {
        self.shared.faults.counters()
    }

    /// Adds a fault rule at run time.
    pub fn inject(&self, rule: FaultRule) {
        self.shared.faults.add(rule);
    }

    /// Blocks until SIGINT or SIGTERM, then stops (pods get their grace
    /// period). Not for async callers.
    pub fn run_until_signal(mut self) -> Result<(), Error> {
        let runtime = self.runtime.take().expect("the runtime lives until drop");
        let shared = self.shared.clone();
        runtime.block_on(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(Error::Runtime)?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            shared.pods.stop_all().await;
            Ok::<(), Error>(())
        })?;
        runtime.shutdown_timeout(Duration::from_secs(2));
        Ok(())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            let shared = self.shared.clone();
            let (done, stopped) = std::sync::mpsc::channel();
            runtime.spawn(async move {
                // Pod processes get a short grace: a test's sandbox is going
                // away and nobody waits for a clean drain.
                let _ = tokio::time::timeout(Duration::from_secs(5), shared.pods.stop_all()).await;
                let _ = done.send(());
            });
            // A plain channel, not block_on: the handle may be dropped inside
            // another runtime.
            let _ = stopped.recv_timeout(Duration::from_secs(6));
            runtime.shutdown_background();
            // Pod directories of an in-memory sandbox go with it.
            if self.shared.config.state_dir.is_none() {
                let _ = std::fs::remove_dir_all(self.shared.pods.work_dir());
            }
        }
    }
}

async fn serve(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor, app: axum::Router) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let service = TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

/// Creates `dir` (and its parents) if missing and makes it private to its
/// owner (0700): it holds the CA key, the token and every object,
/// Secrets included.
pub(crate) fn private_dir(dir: &std::path::Path) -> Result<(), Error> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| Error::io(dir, e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| Error::io(dir, e))
}

/// Creates (or truncates) a file readable and writable by its owner only
/// (0600), whatever the umask, and tightens an existing one.
pub(crate) fn create_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}
