use clap::Parser as _;

// Validation allocates many small values on every core; glibc's allocator
// spent a third of the run in malloc/free and held freed memory per thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use meshctl::cli::{self, Cli, EXIT_FAILED};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { EXIT_FAILED } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MESHCTL_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    let code = match cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{}", cli::report(&err));
            cli::exit_code(&err)
        }
    };
    std::process::exit(code);
}
