//! The command line: one door onto the `ops` actions. [`args`] is the
//! grammar; each handler builds a request and an [`ops::Context`] once,
//! calls one action and prints its outcome. Data goes to stdout, messages
//! to stderr.

pub mod args;
mod deploy;
mod local;
pub mod progress;
mod quickstart;

use std::io::Write;

pub use args::{Cli, Command};

use crate::assets::Assets;
use crate::error::{Category, Error, Result};
use crate::ops;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: the thing checked is bad (invalid manifests, a diff exists,
/// a rollout failed, an object was rejected).
pub const EXIT_BAD: i32 = 1;
/// Exit code: the command could not do its job (bad arguments, unreadable
/// or malformed input, unreachable cluster).
pub const EXIT_FAILED: i32 = 2;

/// Runs the parsed command line and returns the exit code.
pub fn run(cli: Cli) -> Result<i32> {
    let assets = match &cli.root {
        Some(root) => Assets::from_dir(root)?,
        None => Assets::embedded(),
    };
    let ctx = ops::Context::new(assets);
    match cli.command {
        Command::Profiles(command) => local::run_profiles(&ctx, command),
        Command::Render(args) => local::run_render(&ctx, args),
        Command::Validate(args) => local::run_validate(&ctx, args),
        Command::Sandbox(args::SandboxCommand::Up(args)) => local::run_sandbox(args),
        Command::Apply(args) => deploy::run_apply(ctx, args),
        Command::Diff(args) => deploy::run_diff(ctx, args),
        Command::Status(args) => deploy::run_status(ctx, args),
        Command::History(args) => deploy::run_history(ctx, args),
        Command::Rollback(args) => deploy::run_rollback(ctx, args),
        Command::Quickstart(args) => quickstart::run_quickstart(ctx, args),
    }
}

/// Writes data to stdout; a closed pipe (`meshctl ... | head`) is not an
/// error.
pub(crate) fn print_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io(std::path::Path::new("<stdout>"), e)),
        _ => Ok(()),
    }
}

/// The exit code for a failed command: 1 when the thing checked or
/// deployed is bad (a rollout failed, an object was rejected), 2 when the
/// command could not do its job.
pub fn exit_code(err: &Error) -> i32 {
    match err.category() {
        Category::Rejected => EXIT_BAD,
        Category::Usage | Category::Input | Category::Cluster => EXIT_FAILED,
    }
}

/// Formats an error and its causes for stderr: the message, then one
/// "caused by:" line per source.
pub fn report(err: &Error) -> String {
    let mut out = format!("error: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        out.push_str(&format!("\n  caused by: {s}"));
        source = s.source();
    }
    out
}
