//! `apply`: a prepared set to the cluster — lock, record a pending
//! revision, ordered server-side apply, wait, record the outcome; with
//! `--atomic`, roll back to the last deployed revision on failure.

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

use super::prepare::{PreparedSet, ReleaseRef};
use super::release::{redeploy, Redeploy};
use super::Context;
use crate::cluster::apply::{apply_objects, unchanged, with_config_hash, ApplyOptions, ApplyReport, FIELD_MANAGER};
use crate::cluster::client::{object_id, with_retries};
use crate::cluster::inventory::ApplySet;
use crate::cluster::lock::{self, ReleaseLock};
use crate::cluster::release::{NewRevision, ReleaseStore, Status};
use crate::cluster::wait::{self, WaitOptions};
use crate::cluster::{Cluster, ClusterError};
use crate::error::Result;
use crate::events::Event;
use crate::validate::model::Report;

/// How `apply` runs.
#[derive(Clone, Debug)]
pub struct ApplyRequest {
    /// Force, dry run, prune, concurrency.
    pub apply: ApplyOptions,
    /// Wait for readiness after applying.
    pub wait: bool,
    /// Limit for the wait.
    pub timeout: Duration,
    /// Roll back to the last deployed revision when apply or wait fails.
    pub atomic: bool,
    /// How long the release lock lives without renewal.
    pub lock_duration: Duration,
}

impl Default for ApplyRequest {
    fn default() -> Self {
        ApplyRequest {
            apply: ApplyOptions::default(),
            wait: true,
            timeout: Duration::from_secs(300),
            atomic: false,
            lock_duration: Duration::from_secs(30),
        }
    }
}

/// What an apply did.
#[derive(Debug)]
pub enum ApplyOutcome {
    /// The set failed validation; nothing was sent.
    Invalid(Report),
    /// Applied (and waited for, when asked).
    Applied(Deployed),
}

/// A finished apply.
#[derive(Debug)]
pub struct Deployed {
    /// The release.
    pub release: ReleaseRef,
    /// The revision recorded (none for a dry run).
    pub revision: Option<u32>,
    /// What happened to each object.
    pub report: ApplyReport,
}

/// Applies `set` until it finishes or `cancel` resolves (Ctrl-C, SIGTERM):
/// then the revision is marked failed, the lock released, and
/// `ClusterError::Interrupted` returned. An invalid set is not applied.
pub async fn apply(
    ctx: &Context,
    set: &PreparedSet,
    request: &ApplyRequest,
    cancel: impl Future<Output = ()>,
) -> Result<ApplyOutcome> {
    if !set.is_valid() {
        return Ok(ApplyOutcome::Invalid(set.report.clone()));
    }
    let cluster = ctx.cluster().await?;
    let progress = ctx.progress();
    let release = set.release.clone();
    let applyset = ApplySet::new(&release.name, &release.namespace);
    let objects = set.objects();

    if request.apply.dry_run {
        let report = apply_objects(cluster, &applyset, objects, &request.apply, progress).await?;
        return Ok(ApplyOutcome::Applied(Deployed { release, revision: None, report }));
    }

    // Nothing to do: no lock, no record, no mutating request at all.
    // The record is read first: without a deployed revision of these very
    // manifests there is no need to list the live objects.
    let store = ReleaseStore::new(cluster, &release.namespace, &release.name).with_clock(ctx.clock().clone());
    if let Some(last) = store.last_deployed().await? {
        if last.content.manifests == objects && unchanged(cluster, &applyset, objects, request.apply.prune).await? {
            progress.event(Event::Note(format!("no changes: release {} is at revision {}", release.name, last.number)));
            if request.wait {
                let options = WaitOptions { timeout: request.timeout, ..Default::default() };
                tokio::select! {
                    r = wait::wait_ready(cluster, objects, &options, progress) => r?,
                    _ = cancel => return Err(ClusterError::Interrupted.into()),
                }
            }
            let report = ApplyReport { unchanged: objects.iter().map(object_id).collect(), ..Default::default() };
            return Ok(ApplyOutcome::Applied(Deployed { release, revision: Some(last.number), report }));
        }
    }

    ensure_namespace(cluster, &applyset, objects, &release.namespace).await?;
    let holder = lock::default_holder();
    let lock = ReleaseLock::acquire(
        cluster,
        &release.namespace,
        &release.name,
        &holder,
        request.lock_duration,
        progress,
        ctx.clock(),
    )
    .await?;
    let draft = NewRevision { content: set.content.clone(), applied_by: holder.clone(), description: "apply".into() };
    let revision = match store.begin(draft).await {
        Ok(r) => r,
        Err(e) => {
            let _ = lock.release().await;
            return Err(e.into());
        }
    };

    let work = async {
        let report = apply_objects(cluster, &applyset, objects, &request.apply, progress).await?;
        if request.wait {
            let options = WaitOptions { timeout: request.timeout, ..Default::default() };
            wait::wait_ready(cluster, &report.live, &options, progress).await?;
        }
        Ok::<_, ClusterError>(report)
    };
    // Another operation took the lease over (ours was not renewed in time):
    // stop, rather than race it.
    let mut lost = lock.lost_signal();
    let lost = async move {
        let _ = lost.wait_for(|lost| *lost).await;
    };
    let result = tokio::select! {
        r = work => r,
        _ = cancel => Err(ClusterError::Interrupted),
        _ = lost => Err(ClusterError::LockLost),
    };
    let finished = match result {
        Ok(report) => store.finish(revision.number, Status::Deployed, "apply complete").await.map(|_| report),
        Err(cause) => {
            let _ = store.finish(revision.number, Status::Failed, &cause.to_string()).await;
            if request.atomic && !matches!(cause, ClusterError::Interrupted | ClusterError::LockLost) {
                progress.event(Event::Note(format!("apply failed; rolling back (--atomic): {cause}")));
                let rollback = roll_back_to_last(ctx, &store, &applyset, revision.number, request).await;
                let _ = lock.release().await;
                return Err(match rollback {
                    Ok(to) => ClusterError::RolledBack { cause: Box::new(cause), revision: to },
                    Err(second) => ClusterError::RollbackFailed { cause: Box::new(cause), rollback: Box::new(second) },
                }
                .into());
            }
            Err(cause)
        }
    };
    let _ = lock.release().await;
    let report = finished?;
    Ok(ApplyOutcome::Applied(Deployed { release, revision: Some(revision.number), report }))
}

/// `--atomic`: re-applies the last deployed revision before `failed` and
/// prunes what the failed one added; records it as a new revision. `None`
/// when there was nothing deployed before (the failed objects are pruned).
async fn roll_back_to_last(
    ctx: &Context,
    store: &ReleaseStore<'_>,
    applyset: &ApplySet,
    failed: u32,
    request: &ApplyRequest,
) -> std::result::Result<Option<u32>, ClusterError> {
    let history = store.history().await?;
    let target =
        history.iter().rev().find(|r| r.number < failed && matches!(r.status, Status::Deployed | Status::Superseded));
    let Some(target) = target else {
        // Nothing to return to: remove what this apply created, keep the namespace.
        let options = ApplyOptions { prune: true, force_conflicts: true, ..request.apply.clone() };
        apply_objects(store.cluster(), applyset, &[], &options, ctx.progress()).await?;
        return Ok(None);
    };
    let plan = Redeploy { target, timeout: request.timeout, wait: request.wait };
    redeploy(ctx, store, applyset, &plan).await?;
    Ok(Some(target.number))
}

/// Creates the release namespace when it is missing, from the set's own
/// Namespace object (so the lock and the release records have a home);
/// the apply then finds it unchanged.
async fn ensure_namespace(
    cluster: &Cluster,
    applyset: &ApplySet,
    objects: &[Value],
    namespace: &str,
) -> std::result::Result<(), ClusterError> {
    use kube::api::{Api, Patch, PatchParams};
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client().clone());
    let existing = with_retries(|| api.get_opt(namespace))
        .await
        .map_err(|e| ClusterError::api(format!("reading namespace {namespace}"), e))?;
    if existing.is_some() {
        return Ok(());
    }
    let mut ns = objects
        .iter()
        .find(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == namespace)
        .cloned()
        .unwrap_or_else(
            || serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
        );
    applyset.label(&mut ns);
    // Exactly as the apply will send it, so the apply finds it unchanged.
    let ns = with_config_hash(ns);
    let params = PatchParams::apply(FIELD_MANAGER);
    let patch = Patch::Apply(&ns);
    with_retries(|| api.patch(namespace, &params, &patch))
        .await
        .map_err(|e| ClusterError::api(format!("creating namespace {namespace}"), e))?;
    Ok(())
}
