//! `meshctl apply | diff | status | history | rollback`: arguments, the
//! async runtime, signal handling, and printing results.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::{print_stdout, ProfileArgs, EXIT_BAD, EXIT_OK};
use crate::assets::Assets;
use crate::cluster::apply::ApplyOptions;
use crate::cluster::diff::ObjectDiff;
use crate::cluster::wait::Readiness;
use crate::cluster::{ClusterError, ClusterOptions};
use crate::error::{Error, Result};
use crate::ops::deploy::{self, ApplyOutcome, ApplyRequest, ReleaseRequest, Source};
use crate::validate::report::{write_text, TextOptions};

/// Which release: profile and environment (or manifest files), values,
/// and cluster flags.
#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Release name; defaults to the chart's instance name (`testmesh`).
    #[arg(long)]
    pub release: Option<String>,
    /// Kubeconfig file; otherwise KUBECONFIG, ~/.kube/config, then in-cluster.
    #[arg(long, value_name = "FILE", env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use instead of the current one.
    #[arg(long)]
    pub context: Option<String>,
    /// Namespace for objects that name none (and of the release, without
    /// --profile).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
}

impl TargetArgs {
    fn source(&self, from: &[String]) -> Option<Source> {
        match self.profile.render_request() {
            Some(request) => Some(Source::Render(request)),
            None if !from.is_empty() => Some(Source::Manifests(from.to_vec())),
            None => None,
        }
    }

    fn release_request(&self, from: &[String]) -> ReleaseRequest {
        ReleaseRequest {
            source: self.source(from),
            cluster: ClusterOptions {
                // KUBECONFIG may list several files; kube-rs merges them
                // itself when no single file is forced.
                kubeconfig: self.kubeconfig.clone().filter(|p| !p.to_string_lossy().contains(':')),
                context: self.context.clone(),
                namespace: self.namespace.clone(),
            },
            release: self.release.clone(),
        }
    }
}

/// `meshctl apply` arguments.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("what").args(["profile", "from"]).required(true))]
pub struct ApplyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Apply these manifest files or directories as the release instead of
    /// rendering a profile (e.g. a `render --out` directory's manifests/);
    /// repeatable.
    #[arg(long, value_name = "PATH", conflicts_with = "profile")]
    pub from: Vec<String>,
    /// Wait until every object is ready (`--wait=false` to return after applying).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub wait: bool,
    /// How long to wait: 90s, 5m, 1h.
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// On failure, roll back to the last deployed revision.
    #[arg(long)]
    pub atomic: bool,
    /// Delete objects of this release that are no longer rendered.
    #[arg(long)]
    pub prune: bool,
    /// `server`: ask the API server what would change; change nothing.
    #[arg(long, value_name = "MODE", value_parser = ["server", "none"], default_value = "none")]
    pub dry_run: String,
    /// Take ownership of fields other field managers own.
    #[arg(long)]
    pub force_conflicts: bool,
    /// How long the release lock lasts without renewal; a crashed run's lock
    /// is taken over after this.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration, hide = true)]
    pub lock_duration: Duration,
}

/// `meshctl diff` arguments.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("what").args(["profile", "from"]).required(true))]
pub struct DiffArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Compare these manifest files or directories instead of a profile.
    #[arg(long, value_name = "PATH", conflicts_with = "profile")]
    pub from: Vec<String>,
    /// Show Secret data and sensitive values instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
}

/// `meshctl rollback` arguments.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The revision to return to; default: the deployed one before the current.
    #[arg(long)]
    pub revision: Option<u32>,
    /// How long to wait for readiness.
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration, hide = true)]
    pub lock_duration: Duration,
}

/// Parses `500ms`, `90s`, `5m`, `1h` or a number of seconds.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("{text:?} is not a duration (e.g. 90s, 5m, 1h)"))?;
    let seconds = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("unknown unit {other:?} in {text:?} (use ms, s, m or h)")),
    };
    Ok(Duration::from_secs_f64(seconds))
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

/// Exit code for a cluster failure: 1 when the release is bad for this
/// cluster (rollout failed, conflict, immutable field, rejected object), 2
/// when the command could not do its job.
pub fn exit_code_of(error: &Error) -> Option<i32> {
    match error {
        Error::Cluster(
            ClusterError::Timeout { .. }
            | ClusterError::Failed { .. }
            | ClusterError::Conflict { .. }
            | ClusterError::Immutable { .. }
            | ClusterError::Rejected { .. }
            | ClusterError::RolledBack { .. }
            | ClusterError::RollbackFailed { .. },
        ) => Some(EXIT_BAD),
        _ => None,
    }
}

pub fn run_apply(assets: &Assets, args: ApplyArgs) -> Result<i32> {
    let target = args.target.release_request(&args.from);
    let request = ApplyRequest {
        source: target.source.expect("clap requires --profile or --from"),
        cluster: target.cluster,
        release: target.release,
        apply: ApplyOptions {
            force_conflicts: args.force_conflicts,
            dry_run: args.dry_run == "server",
            prune: args.prune,
            ..Default::default()
        },
        wait: args.wait && args.dry_run != "server",
        timeout: args.timeout,
        atomic: args.atomic,
        lock_duration: args.lock_duration,
    };
    let progress = super::progress::reporter();
    let outcome = runtime()?.block_on(deploy::apply(assets, &request, progress.as_ref(), interrupted()))?;
    match outcome {
        ApplyOutcome::Invalid(report) => {
            let mut err = std::io::stderr().lock();
            let _ = write_text(&report, &mut err, TextOptions::default());
            let _ = writeln!(err, "error: the rendered set is invalid; nothing was applied");
            Ok(EXIT_BAD)
        }
        ApplyOutcome::Applied(done) => {
            let r = &done.report;
            let what = match done.revision {
                Some(n) => format!("release {} (namespace {}) revision {n} deployed", done.release, done.namespace),
                None => format!("release {} (namespace {}) dry run", done.release, done.namespace),
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

pub fn run_diff(assets: &Assets, args: DiffArgs) -> Result<i32> {
    let request = args.target.release_request(&args.from);
    let (_, diffs) = runtime()?.block_on(deploy::diff(assets, &request, args.show_secrets))?;
    let text: String = diffs.iter().map(|d: &ObjectDiff| d.text.clone()).collect();
    print_stdout(text.as_bytes())?;
    Ok(if diffs.is_empty() { EXIT_OK } else { EXIT_BAD })
}

pub fn run_status(assets: &Assets, args: TargetArgs) -> Result<i32> {
    let request = args.release_request(&[]);
    let status = runtime()?.block_on(deploy::status(assets, &request))?;
    let mut out = String::new();
    out.push_str(&format!("release: {}\nnamespace: {}\n", status.release.name, status.release.namespace));
    match &status.current {
        Some(rev) => out.push_str(&format!(
            "revision: {} (deployed {}, by {})\nsource: {}\n",
            rev.number,
            rev.finished.unwrap_or(rev.started).strftime("%Y-%m-%dT%H:%M:%SZ"),
            rev.applied_by,
            if rev.profile.is_empty() {
                "manifest files (--from)".to_string()
            } else {
                format!("profile {} environment {}", rev.profile, rev.env)
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
    let mut all_ready = status.current.is_some();
    out.push_str("objects:\n");
    for (object, readiness) in &status.objects {
        let (state, reason) = match readiness {
            Readiness::Ready => ("ready", String::new()),
            Readiness::InProgress(r) => ("waiting", format!(" ({r})")),
            Readiness::Failed(r) => ("failed", format!(" ({r})")),
        };
        all_ready &= matches!(readiness, Readiness::Ready);
        out.push_str(&format!("  {state:<8} {object}{reason}\n"));
    }
    print_stdout(out.as_bytes())?;
    Ok(if all_ready { EXIT_OK } else { EXIT_BAD })
}

pub fn run_history(assets: &Assets, args: TargetArgs) -> Result<i32> {
    let request = args.release_request(&[]);
    let (release, revisions) = runtime()?.block_on(deploy::history(assets, &request))?;
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

pub fn run_rollback(assets: &Assets, args: RollbackArgs) -> Result<i32> {
    let request = args.target.release_request(&[]);
    let progress = super::progress::reporter();
    let (release, from, new) = runtime()?.block_on(deploy::rollback(
        assets,
        &request,
        args.revision,
        args.timeout,
        args.lock_duration,
        progress.as_ref(),
    ))?;
    print_stdout(
        format!("release {} rolled back to revision {from} (recorded as revision {new})\n", release.name).as_bytes(),
    )?;
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

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
