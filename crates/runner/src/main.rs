//! `testmesh-runner`: configuration from the environment, logs to stderr,
//! then the service until SIGTERM.

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code when the runner could not start or stopped with a failure.
const EXIT_FAILURE: u8 = 1;

#[tokio::main]
async fn main() -> ExitCode {
    // LOG_LEVEL is what the chart sets; RUST_LOG wins for finer filters.
    let filter =
        std::env::var("RUST_LOG").or_else(|_| std::env::var("LOG_LEVEL")).unwrap_or_else(|_| "info".to_owned());
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    // `testmesh-runner healthcheck` is the image's HEALTHCHECK.
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return match runner::service::probe_live().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: not live: {e}");
                ExitCode::from(EXIT_FAILURE)
            }
        };
    }
    match runner::run_from_env().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                eprintln!("caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
