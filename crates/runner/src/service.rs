//! Starting and stopping the service: configuration to a listening server,
//! readiness, and the drain on SIGTERM.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::api::{app, AppState};
use crate::config::{Config, ConfigError};
use crate::egress::SystemResolver;
use crate::flows::{FlowCatalog, FlowError};
use crate::reports::ReportError;
use crate::snapshots::StoreError;

/// Why the runner stopped with a failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An environment variable is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// FLOWS_DIR holds malformed flows.
    #[error("cannot load flows from FLOWS_DIR `{dir}`")]
    Flows {
        /// The directory.
        dir: String,
        /// The problems.
        #[source]
        source: FlowError,
    },
    /// SNAPSHOT_DIR is unusable.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// REPORTS_DIR is unusable.
    #[error(transparent)]
    Reports(#[from] ReportError),
    /// The port is taken or not ours.
    #[error("cannot listen on {addr} (BIND_ADDRESS, PORT)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server failed.
    #[error("the server failed")]
    Serve(#[source] std::io::Error),
    /// Runs were still in flight when SHUTDOWN_TIMEOUT ran out.
    #[error("{runs} runs were still in flight after SHUTDOWN_TIMEOUT ({secs}s); they were abandoned")]
    DrainTimeout {
        /// Runs abandoned.
        runs: usize,
        /// The deadline.
        secs: u64,
    },
}

/// Reads the configuration and the flows from the environment and serves
/// until SIGTERM (or Ctrl-C).
pub async fn run_from_env() -> Result<(), Error> {
    let config = Config::from_env()?;
    // Flows see API_GATEWAY_URL and FLOW_* only: inline flows arrive over
    // the API, and must not be able to read the runner's own secrets.
    let flow_env: HashMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("FLOW_")).collect();
    let flows = load_flows(&config)?;
    let state = AppState::new(config, flows, flow_env, Arc::new(SystemResolver))?;
    serve(state, shutdown_signal()).await
}

fn load_flows(config: &Config) -> Result<FlowCatalog, Error> {
    if !config.flows_dir_explicit && !config.flows_dir.exists() {
        tracing::warn!(dir = %config.flows_dir.display(), "FLOWS_DIR is not set and `flows` does not exist: no flows loaded");
        return Ok(FlowCatalog::default());
    }
    let flows = FlowCatalog::load_dir(&config.flows_dir)
        .map_err(|source| Error::Flows { dir: config.flows_dir.display().to_string(), source })?;
    tracing::info!(dir = %config.flows_dir.display(), flows = flows.len(), golden = flows.golden().len(), "flows loaded");
    Ok(flows)
}

/// Serves `state` until `signal` resolves, then drains: readiness turns
/// false at once, new runs are refused with 503 while the port stays open
/// (so probes and load balancers see the change), and once in-flight and
/// queued runs are done — or SHUTDOWN_TIMEOUT passes — the server stops.
pub async fn serve(
    state: AppState,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let addr = SocketAddr::new(state.config().bind_address, state.config().port);
    let listener = TcpListener::bind(addr).await.map_err(|source| Error::Bind { addr, source })?;
    serve_on(listener, state, signal).await
}

/// [`serve`] on a listener the caller bound (tests bind port 0 first).
pub async fn serve_on(
    listener: TcpListener,
    state: AppState,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let config = state.config().clone();
    let local = listener.local_addr().map_err(Error::Serve)?;
    // Tests and operators read this line to find the port.
    tracing::info!("listening on {local}");
    state.mark_ready();
    let (forced_tx, forced_rx) = tokio::sync::oneshot::channel::<usize>();
    let drain_state = state.clone();
    let drain = async move {
        signal.await;
        drain_state.begin_draining();
        tracing::info!(in_flight = drain_state.in_flight(), "draining: readiness is false, new runs are refused");
        let deadline = tokio::time::Instant::now() + config.shutdown_timeout;
        while !drain_state.idle() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Say what happened once: either the runs finished, or the
        // DrainTimeout error (reported by the caller) says they were not.
        if drain_state.idle() {
            tracing::info!("in-flight runs done; closing the listener");
        } else {
            let _ = forced_tx.send(drain_state.in_flight());
        }
    };
    let server = std::future::IntoFuture::into_future(axum::serve(listener, app(state)).with_graceful_shutdown(drain));
    tokio::select! {
        result = server => result.map_err(Error::Serve),
        Ok(runs) = forced_rx => Err(Error::DrainTimeout { runs, secs: config.shutdown_timeout.as_secs() }),
    }
}

/// SIGTERM (Kubernetes) or SIGINT (a terminal).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}

/// Asks a runner on this machine (`PORT`, default 8080) whether it is live:
/// the container image's HEALTHCHECK, so the image needs no curl.
pub async fn probe_live() -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let port = std::env::var("PORT").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "8080".to_owned());
    let port: u16 = port.parse().map_err(|_| format!("invalid PORT={port:?}"))?;
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
        stream.write_all(b"GET /health/live HTTP/1.0\r\nHost: localhost\r\n\r\n").await.map_err(|e| e.to_string())?;
        let mut head = Vec::new();
        stream.take(64).read_to_end(&mut head).await.map_err(|e| e.to_string())?;
        let head = String::from_utf8_lossy(&head);
        if head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200") {
            Ok(())
        } else {
            Err(format!("unexpected answer: {}", head.lines().next().unwrap_or_default()))
        }
    };
    tokio::time::timeout(Duration::from_secs(3), attempt).await.map_err(|_| "no answer within 3s".to_owned())?
}
