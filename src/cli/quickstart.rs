//! `meshctl quickstart`: runs the rehearsal action and prints what it
//! found; keeps the sandbox running with `--keep`.

use std::path::PathBuf;
use std::sync::Arc;

use super::args::QuickstartArgs;
use super::{exit_code, print_stdout, report, EXIT_BAD, EXIT_OK};
use crate::cluster::wait::Readiness;
use crate::error::{Error, Result};
use crate::kinds;
use crate::ops::{self, Context, Deployment, QuickstartRequest, RehearsalOutcome, RenderRequest, RunnerHealth};
use crate::profile::values::UserValues;

/// `testmesh-runner` next to meshctl (built by `cargo build --workspace`).
fn default_runner() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let candidate = exe.parent()?.join("testmesh-runner");
    candidate.is_file().then_some(candidate)
}

pub(super) fn run_quickstart(ctx: Context, args: QuickstartArgs) -> Result<i32> {
    let ctx = ctx.with_progress(Arc::from(super::progress::reporter()));
    let runner = args.runner_binary.clone().or_else(default_runner);
    eprintln!(
        "runner pods: {}",
        match &runner {
            Some(b) => format!("the real runner ({})", b.display()),
            None => "simulated (build it with `cargo build --release --workspace` to run it for real)".into(),
        }
    );
    let dir = std::env::temp_dir().join(format!("meshctl-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let request = QuickstartRequest {
        render: RenderRequest {
            profile: args.profile.clone(),
            environment: args.env.clone(),
            values: UserValues::default(),
        },
        runner_binary: runner,
        timeout: args.timeout,
        kubeconfig: args.keep.clone().unwrap_or_else(|| dir.join("kubeconfig")),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io(std::path::Path::new("<tokio runtime>"), e))?;
    let rehearsal = runtime.block_on(ops::quickstart(&ctx, &request));
    // Finish the progress display before the outcome is printed.
    drop(ctx);
    drop(runtime);
    let rehearsal = rehearsal?;
    let code = match &rehearsal.outcome {
        RehearsalOutcome::Invalid(_) => {
            eprintln!(
                "error: the rendered set is invalid (run `meshctl validate -p {} -e {}`)",
                args.profile, args.env
            );
            EXIT_BAD
        }
        RehearsalOutcome::Failed(e) => {
            eprintln!("{}", report(e));
            exit_code(e)
        }
        RehearsalOutcome::Deployed(done) => {
            let Deployment { deployed, status, health, health_path } = done.as_ref();
            let mut out = format!(
                "deployed release {} (namespace {}) revision {} to the sandbox\n",
                deployed.release.name,
                deployed.release.namespace,
                deployed.revision.map_or_else(|| "-".to_string(), |n| n.to_string())
            );
            let mut all_ready = true;
            for (object, readiness) in &status.objects {
                let kind = object.split('/').next().unwrap_or_default();
                if !kinds::is_workload(kind) {
                    continue;
                }
                let state = match readiness {
                    Readiness::Ready => "ready".to_string(),
                    Readiness::InProgress(r) => format!("not ready: {r}"),
                    Readiness::Failed(r) => format!("failed: {r}"),
                };
                all_ready &= matches!(readiness, Readiness::Ready);
                out.push_str(&format!("  {object:<50} {state}\n"));
            }
            match health {
                RunnerHealth::Answered { body, healthy } => {
                    all_ready &= healthy;
                    out.push_str(&format!("runner health (GET {health_path}):\n  {}\n", body.trim()));
                }
                RunnerHealth::NoAnswer(why) => {
                    all_ready = false;
                    out.push_str(&format!("runner health: no answer at {health_path}: {why}\n"));
                }
                RunnerHealth::Simulated => out.push_str("runner health: simulated runner pods serve no HTTP\n"),
            }
            out.push_str(&format!(
                "reach the runner: kubectl --kubeconfig {} get --raw {health_path}\n",
                rehearsal.kubeconfig.display()
            ));
            print_stdout(out.as_bytes())?;
            if all_ready {
                EXIT_OK
            } else {
                EXIT_BAD
            }
        }
    };
    if args.keep.is_some() {
        eprintln!("sandbox kept running; press Ctrl-C to stop");
        rehearsal.sandbox.run_until_signal()?;
    } else {
        drop(rehearsal);
        eprintln!("sandbox stopped");
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(code)
}
