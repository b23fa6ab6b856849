//! `sandbox-echo`: a small HTTP server that the sandbox's tests run as a
//! process-backed pod.
//!
//! It listens on 127.0.0.1:$PORT and serves:
//! - `GET /`: JSON naming `POD_NAME`, `POD_NAMESPACE`, `ECHO_MESSAGE`, the
//!   port and the argv;
//! - `GET /healthz`: 200;
//! - `GET /ready`: 200, or 503 when `READY_FILE` is set and that file is absent;
//! - `GET /prestop`: appends `prestop` to `EVENT_FILE` (when set), 200;
//! - `GET /file`: the content of the file at `FILE_PATH`, or 404.
//!
//! On SIGTERM it appends `sigterm` to `EVENT_FILE`, keeps serving for
//! `SHUTDOWN_DELAY_MS` (default 0), then exits 0.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::signal::unix::{signal, SignalKind};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // The handler is installed before anything else, so a SIGTERM that comes
    // early is a graceful shutdown rather than death by signal.
    let mut sigterm = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(error) => {
            eprintln!("sandbox-echo: cannot handle SIGTERM: {error}");
            return ExitCode::from(2);
        }
    };
    let Some(port) = std::env::var("PORT").ok().and_then(|p| p.parse::<u16>().ok()) else {
        eprintln!("sandbox-echo: PORT must be set to a port number");
        return ExitCode::from(2);
    };
    let delay = std::env::var("SHUTDOWN_DELAY_MS")
        .ok()
        .and_then(|d| d.parse().ok())
        .map_or(Duration::ZERO, Duration::from_millis);
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(error) => {
            eprintln!("sandbox-echo: cannot listen on 127.0.0.1:{port}: {error}");
            return ExitCode::from(1);
        }
    };
    eprintln!("sandbox-echo: listening on 127.0.0.1:{port}");
    let shutdown = async move {
        sigterm.recv().await;
        record_event("sigterm");
        eprintln!("sandbox-echo: SIGTERM; exiting in {} ms", delay.as_millis());
        tokio::time::sleep(delay).await;
    };
    match axum::serve(listener, app()).with_graceful_shutdown(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sandbox-echo: {error}");
            ExitCode::from(1)
        }
    }
}

fn app() -> Router {
    Router::new()
        .route("/", get(echo))
        .route("/healthz", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .route("/prestop", get(prestop))
        .route("/file", get(file))
}

/// The content of the file `$FILE_PATH` (a path under a volume mount, which
/// the sandbox maps into the pod's directory), or 404.
async fn file() -> Result<String, StatusCode> {
    let path = std::env::var_os("FILE_PATH").ok_or(StatusCode::NOT_FOUND)?;
    std::fs::read_to_string(path).map_err(|_| StatusCode::NOT_FOUND)
}

async fn echo() -> Json<Value> {
    let var = |key: &str| std::env::var(key).ok();
    Json(json!({
        "pod": var("POD_NAME"),
        "namespace": var("POD_NAMESPACE"),
        "message": var("ECHO_MESSAGE"),
        "port": var("PORT"),
        "argv": std::env::args().collect::<Vec<_>>(),
    }))
}

async fn ready() -> StatusCode {
    match std::env::var_os("READY_FILE") {
        Some(path) if !std::path::Path::new(&path).exists() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    }
}

async fn prestop() -> &'static str {
    record_event("prestop");
    "ok"
}

/// Appends `event` as a line to `EVENT_FILE`, so tests see what happened in
/// which order.
fn record_event(event: &str) {
    let Some(path) = std::env::var_os("EVENT_FILE") else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| writeln!(file, "{event}"));
    if let Err(error) = written {
        eprintln!("sandbox-echo: cannot record `{event}`: {error}");
    }
}
