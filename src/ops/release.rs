//! `status`, `history` and `rollback`: reading a release's records, and
//! re-applying one of them.

use std::time::Duration;

use super::prepare::ReleaseRef;
use super::Context;
use crate::cluster::apply::{apply_objects, ApplyOptions};
use crate::cluster::inventory::ApplySet;
use crate::cluster::lock::{self, ReleaseLock};
use crate::cluster::release::{NewRevision, ReleaseStore, Revision, Status};
use crate::cluster::wait::{self, Readiness, WaitOptions};
use crate::cluster::ClusterError;
use crate::error::Result;

/// `meshctl history`: every recorded revision, oldest first.
pub async fn history(ctx: &Context, release: &ReleaseRef) -> Result<Vec<Revision>> {
    let cluster = ctx.cluster().await?;
    Ok(ReleaseStore::new(cluster, &release.namespace, &release.name).history().await?)
}

/// A release's state for `meshctl status`.
#[derive(Debug)]
pub struct ReleaseStatus {
    /// The release.
    pub release: ReleaseRef,
    /// The current (last deployed) revision, if any.
    pub current: Option<Revision>,
    /// The newest revision, when it is not the current one (failed or pending).
    pub latest: Option<Revision>,
    /// Readiness of each object of the current revision (`Kind/namespace/name`).
    pub objects: Vec<(String, Readiness)>,
}

impl ReleaseStatus {
    /// Whether a revision is deployed and every object of it is ready.
    pub fn all_ready(&self) -> bool {
        self.current.is_some() && self.objects.iter().all(|(_, r)| matches!(r, Readiness::Ready))
    }
}

/// `meshctl status`.
pub async fn status(ctx: &Context, release: &ReleaseRef) -> Result<ReleaseStatus> {
    let cluster = ctx.cluster().await?;
    let store = ReleaseStore::new(cluster, &release.namespace, &release.name);
    let history = store.history().await?;
    let current = history.iter().rev().find(|r| r.status == Status::Deployed).cloned();
    let latest = history.last().filter(|r| Some(r.number) != current.as_ref().map(|c| c.number)).cloned();
    let objects = match &current {
        Some(rev) => wait::readiness_of(cluster, &rev.content.manifests).await?,
        None => Vec::new(),
    };
    Ok(ReleaseStatus { release: release.clone(), current, latest, objects })
}

/// What `meshctl rollback` was asked to do.
#[derive(Clone, Debug)]
pub struct RollbackRequest {
    /// The release.
    pub release: ReleaseRef,
    /// The revision to return to; default: the deployed one before the current.
    pub revision: Option<u32>,
    /// How long to wait for readiness.
    pub timeout: Duration,
    /// How long the release lock lives without renewal.
    pub lock_duration: Duration,
}

/// A finished rollback.
#[derive(Clone, Debug)]
pub struct RolledBack {
    /// The revision re-applied.
    pub from: u32,
    /// The revision recording the rollback.
    pub recorded: u32,
}

/// `meshctl rollback [--revision N]`: re-applies that revision (default: the
/// deployed one before the current) and prunes the rest, under the lock.
pub async fn rollback(ctx: &Context, request: &RollbackRequest) -> Result<RolledBack> {
    let release = &request.release;
    let cluster = ctx.cluster().await?;
    let store = ReleaseStore::new(cluster, &release.namespace, &release.name).with_clock(ctx.clock().clone());
    let history = store.history().await?;
    let current = history.iter().rev().find(|r| r.status == Status::Deployed).map(|r| r.number);
    let target = match request.revision {
        Some(n) => store.get(n).await?,
        None => history
            .iter()
            .rev()
            .find(|r| {
                Some(r.number) != current
                    && r.number < current.unwrap_or(u32::MAX)
                    && matches!(r.status, Status::Deployed | Status::Superseded)
            })
            .cloned()
            .ok_or_else(|| ClusterError::Release {
                release: release.name.clone(),
                message: "no earlier deployed revision to roll back to (see `meshctl history`)".into(),
            })?,
    };
    let lock = ReleaseLock::acquire(
        cluster,
        &release.namespace,
        &release.name,
        &lock::default_holder(),
        request.lock_duration,
        ctx.progress(),
        ctx.clock(),
    )
    .await?;
    let applyset = ApplySet::new(&release.name, &release.namespace);
    let plan = Redeploy { target: &target, timeout: request.timeout, wait: true };
    let result = redeploy(ctx, &store, &applyset, &plan).await;
    let _ = lock.release().await;
    Ok(RolledBack { from: target.number, recorded: result? })
}

/// Re-applying a recorded revision (rollback, `--atomic`).
pub(crate) struct Redeploy<'a> {
    /// The revision to return to.
    pub target: &'a Revision,
    /// How long to wait for readiness.
    pub timeout: Duration,
    /// Whether to wait.
    pub wait: bool,
}

/// Re-applies `plan.target` with pruning, recorded as a new revision; the
/// caller holds the release lock. Returns the new revision's number.
pub(crate) async fn redeploy(
    ctx: &Context,
    store: &ReleaseStore<'_>,
    applyset: &ApplySet,
    plan: &Redeploy<'_>,
) -> std::result::Result<u32, ClusterError> {
    let target = plan.target;
    let description = format!("rollback to {}", target.number);
    let revision = store
        .begin(NewRevision {
            content: target.content.clone(),
            applied_by: lock::default_holder(),
            description: description.clone(),
        })
        .await?;
    let options = ApplyOptions { prune: true, force_conflicts: true, ..Default::default() };
    let cluster = store.cluster();
    let work = async {
        let report = apply_objects(cluster, applyset, &target.content.manifests, &options, ctx.progress()).await?;
        if plan.wait {
            let w = WaitOptions { timeout: plan.timeout, ..Default::default() };
            wait::wait_ready(cluster, &report.live, &w, ctx.progress()).await?;
        }
        Ok::<_, ClusterError>(())
    };
    match work.await {
        Ok(()) => {
            store.finish(revision.number, Status::Deployed, &description).await?;
            Ok(revision.number)
        }
        Err(e) => {
            let _ = store.finish(revision.number, Status::Failed, &e.to_string()).await;
            Err(e)
        }
    }
}
