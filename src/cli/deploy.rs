//! `meshctl apply | diff | status | history | rollback`: requests from
//! arguments, the async runtime, signal handling, and printing outcomes.

use std::io::Write as _;
use std::sync::Arc;

use super::args::{ApplyArgs, DiffArgs, RollbackArgs, TargetArgs};
use super::{print_stdout, EXIT_BAD, EXIT_OK};
use crate::cluster::apply::ApplyOptions;
use crate::cluster::wait::Readiness;
use crate::cluster::ClusterOptions;
use crate::error::{Error, Result};
use crate::ops::{self, ApplyOutcome, ApplyRequest, Context, PrepareRequest, ReleaseRef, RollbackRequest, Source};
use crate::validate::report::{write_text, TextOptions};

impl TargetArgs {
    fn source(&self, from: &[String]) -> Option<Source> {
        match self.profile.render_request() {
            Some(request) => Some(Source::Render(request)),
            None if !from.is_empty() => Some(Source::Paths(from.to_vec())),
            None => None,
        }
    }

    fn cluster_options(&self) -> ClusterOptions {
        ClusterOptions {
            // KUBECONFIG may list several files; kube-rs merges them
            // itself when no single file is forced.
            kubeconfig: self.kubeconfig.clone().filter(|p| !p.to_string_lossy().contains(':')),
            context: self.context.clone(),
            namespace: self.namespace.clone(),
        }
    }

    /// The context for this target's cluster, reporting progress on stderr.
    fn context(&self, ctx: Context) -> Context {
        ctx.with_cluster_options(self.cluster_options()).with_progress(Arc::from(super::progress::reporter()))
    }

    fn prepare_request(&self, source: Source) -> PrepareRequest {
        PrepareRequest { source, release: self.release.clone(), namespace: self.namespace.clone() }
    }

    /// The release addressed: the source's, or `--release` in `-n`.
    fn release(&self, ctx: &Context) -> Result<ReleaseRef> {
        ops::identify(ctx, self.source(&[]).as_ref(), self.release.as_deref(), self.namespace.as_deref())
    }
}

/// Names the cluster in an unreachable-cluster error.
fn located<T>(ctx: &Context, result: Result<T>) -> Result<T> {
    result.map_err(|e| match (e, ctx.cluster_endpoint()) {
        (Error::Cluster(c), Some(endpoint)) => Error::Cluster(c.at(&endpoint)),
        (e, _) => e,
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io(std::path::Path::new("<tokio runtime>"), e))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupted() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

pub(super) fn run_apply(ctx: Context, args: ApplyArgs) -> Result<i32> {
    let ctx = args.target.context(ctx);
    let source = args.target.source(&args.from).expect("clap requires --profile or --from");
    let set = ops::prepare(&ctx, &args.target.prepare_request(source))?;
    let dry_run = args.dry_run == "server";
    let request = ApplyRequest {
        apply: ApplyOptions { force_conflicts: args.force_conflicts, dry_run, prune: args.prune, ..Default::default() },
        wait: args.wait && !dry_run,
        timeout: args.timeout,
        atomic: args.atomic,
        lock_duration: args.lock_duration,
    };
    let outcome = located(&ctx, runtime()?.block_on(ops::apply(&ctx, &set, &request, interrupted())));
    // Finish the progress display before the outcome is printed.
    drop(ctx);
    match outcome? {
        ApplyOutcome::Invalid(report) => {
            let mut err = std::io::stderr().lock();
            let _ = write_text(&report, &mut err, TextOptions::default());
            let _ = writeln!(err, "error: the set is invalid; nothing was applied");
            Ok(EXIT_BAD)
        }
        ApplyOutcome::Applied(done) => {
            let r = &done.report;
            let (name, namespace) = (&done.release.name, &done.release.namespace);
            let what = match done.revision {
                Some(n) => format!("release {name} (namespace {namespace}) revision {n} deployed"),
                None => format!("release {name} (namespace {namespace}) dry run"),
            };
            let line = format!(
                "{what}: {} created, {} configured, {} unchanged, {} pruned\n",
                r.created.len(),
                r.configured.len(),
                r.unchanged.len(),
                r.pruned.len()
            );
            print_stdout(line.as_bytes())?;
            Ok(EXIT_OK)
        }
    }
}

pub(super) fn run_diff(ctx: Context, args: DiffArgs) -> Result<i32> {
    let ctx = args.target.context(ctx);
    let source = args.target.source(&args.from).expect("clap requires --profile or --from");
    let set = ops::prepare(&ctx, &args.target.prepare_request(source))?;
    if !set.is_valid() {
        eprintln!("warning: the set is invalid and would not be applied (see `meshctl validate`)");
    }
    let diffs = located(&ctx, runtime()?.block_on(ops::diff(&ctx, &set, args.show_secrets)))?;
    let text: String = diffs.iter().map(|d| d.text.as_str()).collect();
    print_stdout(text.as_bytes())?;
    Ok(if diffs.is_empty() { EXIT_OK } else { EXIT_BAD })
}

pub(super) fn run_status(ctx: Context, args: TargetArgs) -> Result<i32> {
    let ctx = args.context(ctx);
    let release = args.release(&ctx)?;
    let status = located(&ctx, runtime()?.block_on(ops::status(&ctx, &release)))?;
    let mut out = String::new();
    out.push_str(&format!("release: {}\nnamespace: {}\n", status.release.name, status.release.namespace));
    match &status.current {
        Some(rev) => out.push_str(&format!(
            "revision: {} (deployed {}, by {})\nsource: {}\n",
            rev.number,
            rev.finished.unwrap_or(rev.started).strftime("%Y-%m-%dT%H:%M:%SZ"),
            rev.applied_by,
            if rev.content.profile.is_empty() {
                "manifest files (--from)".to_string()
            } else {
                format!("profile {} environment {}", rev.content.profile, rev.content.environment)
            }
        )),
        None => out.push_str("revision: none deployed\n"),
    }
    if let Some(latest) = &status.latest {
        out.push_str(&format!(
            "latest attempt: revision {} {} ({})\n",
            latest.number,
            latest.status.as_str(),
            latest.description
        ));
    }
    out.push_str("objects:\n");
    for (object, readiness) in &status.objects {
        let (state, reason) = match readiness {
            Readiness::Ready => ("ready", String::new()),
            Readiness::InProgress(r) => ("waiting", format!(" ({r})")),
            Readiness::Failed(r) => ("failed", format!(" ({r})")),
        };
        out.push_str(&format!("  {state:<8} {object}{reason}\n"));
    }
    print_stdout(out.as_bytes())?;
    Ok(if status.all_ready() { EXIT_OK } else { EXIT_BAD })
}

pub(super) fn run_history(ctx: Context, args: TargetArgs) -> Result<i32> {
    let ctx = args.context(ctx);
    let release = args.release(&ctx)?;
    let revisions = located(&ctx, runtime()?.block_on(ops::history(&ctx, &release)))?;
    let mut out = format!("REVISION  STATUS      STARTED               BY{}DESCRIPTION\n", " ".repeat(30));
    for r in &revisions {
        out.push_str(&format!(
            "{:<9} {:<11} {:<21} {:<32}{}\n",
            r.number,
            r.status.as_str(),
            r.started.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            r.applied_by,
            r.description.lines().next().unwrap_or_default()
        ));
    }
    if revisions.is_empty() {
        eprintln!("release {} in namespace {} has no revisions", release.name, release.namespace);
    }
    print_stdout(out.as_bytes())?;
    Ok(EXIT_OK)
}

pub(super) fn run_rollback(ctx: Context, args: RollbackArgs) -> Result<i32> {
    let ctx = args.target.context(ctx);
    let request = RollbackRequest {
        release: args.target.release(&ctx)?,
        revision: args.revision,
        timeout: args.timeout,
        lock_duration: args.lock_duration,
    };
    let done = located(&ctx, runtime()?.block_on(ops::rollback(&ctx, &request)));
    drop(ctx);
    let done = done?;
    print_stdout(
        format!(
            "release {} rolled back to revision {} (recorded as revision {})\n",
            request.release.name, done.from, done.recorded
        )
        .as_bytes(),
    )?;
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::super::args::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_like_kubectl_timeouts() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("12").unwrap(), Duration::from_secs(12));
        assert!(parse_duration("5 parsecs").is_err());
    }
}
