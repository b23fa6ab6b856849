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
    // kube's client logs every failed connection attempt itself; meshctl
    // reports the failure once, naming the server, so those logs are off
    // unless MESHCTL_LOG asks for them. Colour only on a terminal.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MESHCTL_LOG")
                .unwrap_or_else(|_| "warn,kube_client=off".into()),
        )
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
