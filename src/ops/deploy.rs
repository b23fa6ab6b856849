//! Deploying to a cluster: apply (render → validate → lock → record →
//! ordered server-side apply → wait → record), diff, status, history and
//! rollback. The CLI and the HTTP server both call these.

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

use super::{render, validate, RenderRequest, ValidateTarget};
use crate::assets::Assets;
use crate::cluster::apply::{apply_set, ApplyOptions, ApplyReport};
use crate::cluster::diff::{self, ObjectDiff};
use crate::cluster::events::{Event, Progress};
use crate::cluster::inventory::ApplySet;
use crate::cluster::lock::{self, ReleaseLock};
use crate::cluster::release::{NewRevision, ReleaseStore, Revision, Status};
use crate::cluster::wait::{self, Readiness, WaitOptions};
use crate::cluster::{Cluster, ClusterError, ClusterOptions};
use crate::error::Result;
use crate::validate::model::Report;
use crate::validate::ValidateOptions;

/// What `meshctl apply` was asked to do.
#[derive(Clone, Debug)]
pub struct ApplyRequest {
    /// What to apply: a profile environment, or manifest files.
    pub source: Source,
    /// How to reach the cluster.
    pub cluster: ClusterOptions,
    /// Release name; defaults to the chart's instance name.
    pub release: Option<String>,
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

/// What an apply did.
#[derive(Debug)]
pub enum ApplyOutcome {
    /// The rendered set failed validation; nothing was sent.
    Invalid(Report),
    /// Applied (and waited for, when asked).
    Applied(Deployed),
}

/// A finished apply.
#[derive(Debug)]
pub struct Deployed {
    pub release: String,
    pub namespace: String,
    /// The revision recorded (none for a dry run).
    pub revision: Option<u32>,
    pub report: ApplyReport,
}

/// What a release is made of.
#[derive(Clone, Debug)]
pub enum Source {
    /// A profile environment, rendered from the chart.
    Render(RenderRequest),
    /// Manifest files or directories (e.g. a `render --out` directory's
    /// `manifests/`), applied as they are.
    Manifests(Vec<String>),
}

/// A loaded source: the objects in apply order, and what the release
/// record keeps about where they came from.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub objects: Vec<Value>,
    pub profile: String,
    pub env: String,
    pub values: Value,
    pub chart_version: String,
}

/// Renders or reads the source. Manifests are put in apply order (by tier,
/// keeping file order within a tier).
pub fn load(assets: &Assets, source: &Source) -> Result<Loaded> {
    match source {
        Source::Render(request) => {
            let set = render(assets, request)?;
            Ok(Loaded {
                objects: set.objects.iter().map(|o| o.object.clone()).collect(),
                profile: set.profile.clone(),
                env: set.environment.clone(),
                values: set.values.clone(),
                chart_version: set.record["chart"]["version"].as_str().unwrap_or_default().to_string(),
            })
        }
        Source::Manifests(paths) => {
            let mut objects = Vec::new();
            for file in crate::validate::source::discover(paths)? {
                let mut text = String::new();
                let mut reader =
                    file.open().map_err(|e| crate::error::Error::io(std::path::Path::new(&file.name), e))?;
                std::io::Read::read_to_string(&mut reader, &mut text)
                    .map_err(|e| crate::error::Error::io(std::path::Path::new(&file.name), e))?;
                for doc in crate::yaml::parse_all(&file.name, &text)? {
                    if doc.is_null() {
                        continue;
                    }
                    if doc["kind"] == "List" {
                        objects.extend(doc["items"].as_array().cloned().unwrap_or_default());
                    } else {
                        objects.push(doc);
                    }
                }
            }
            objects.sort_by_key(|o| crate::render::tier_of(o["kind"].as_str().unwrap_or_default()));
            Ok(Loaded {
                objects,
                profile: String::new(),
                env: String::new(),
                values: Value::Null,
                chart_version: String::new(),
            })
        }
    }
}

fn validate_source(assets: &Assets, source: &Source) -> Result<Report> {
    let target = match source {
        Source::Render(request) => ValidateTarget::Render(request.clone()),
        Source::Manifests(paths) => ValidateTarget::Paths(paths.clone()),
    };
    validate(assets, &target, &ValidateOptions::default())
}

/// A release's identity: name and namespace.
#[derive(Clone, Debug)]
pub struct ReleaseRef {
    pub name: String,
    pub namespace: String,
}

/// The release a set of objects belongs to: `--release`, or the chart's
/// instance label; its namespace is the set's Namespace object (or the
/// first namespaced object's), else the cluster's.
pub fn release_of(objects: &[Value], release: Option<&str>, cluster_namespace: &str) -> ReleaseRef {
    let name = release
        .map(String::from)
        .or_else(|| {
            objects
                .iter()
                .find_map(|o| o["metadata"]["labels"]["app.kubernetes.io/instance"].as_str().map(String::from))
        })
        .unwrap_or_else(|| "testmesh".into());
    let namespace = objects
        .iter()
        .find(|o| o["kind"] == "Namespace")
        .and_then(|o| o["metadata"]["name"].as_str())
        .or_else(|| objects.iter().find_map(|o| o["metadata"]["namespace"].as_str()))
        .unwrap_or(cluster_namespace)
        .to_string();
    ReleaseRef { name, namespace }
}

/// The object with a namespace when it names none and is not a Namespace
/// (waiting needs to know where to look).
fn placed(object: &Value, namespace: &str) -> Value {
    let mut o = object.clone();
    if o["metadata"]["namespace"].is_null()
        && o["kind"] != "Namespace"
        && o["kind"] != "CustomResourceDefinition"
        && !o["kind"].as_str().unwrap_or_default().starts_with("Cluster")
    {
        o["metadata"]["namespace"] = serde_json::json!(namespace);
    }
    o
}

/// Creates the release namespace when it is missing, from the set's own
/// Namespace object (so the lock and the release records have a home);
/// the apply then finds it unchanged.
async fn ensure_namespace(
    cluster: &Cluster,
    set_id: &ApplySet,
    objects: &[Value],
    namespace: &str,
) -> std::result::Result<(), ClusterError> {
    use kube::api::{Api, Patch, PatchParams};
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client().clone());
    let existing = crate::cluster::client::with_retries(|| api.get_opt(namespace))
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
    set_id.label(&mut ns);
    // Exactly as the apply will send it, so the apply finds it unchanged.
    let ns = crate::cluster::apply::with_config_hash(ns);
    let params = PatchParams::apply(crate::cluster::apply::FIELD_MANAGER);
    let patch = Patch::Apply(&ns);
    crate::cluster::client::with_retries(|| api.patch(namespace, &params, &patch))
        .await
        .map_err(|e| ClusterError::api(format!("creating namespace {namespace}"), e))?;
    Ok(())
}

/// Runs `apply` (render, validate, lock, record, apply, wait, record) until
/// it finishes or `cancel` resolves (Ctrl-C, SIGTERM): then the revision is
/// marked failed, the lock released, and `ClusterError::Interrupted`
/// returned.
pub async fn apply(
    assets: &Assets,
    request: &ApplyRequest,
    progress: &dyn Progress,
    cancel: impl Future<Output = ()>,
) -> Result<ApplyOutcome> {
    let loaded = load(assets, &request.source)?;
    let report = validate_source(assets, &request.source)?;
    if !report.is_clean() {
        return Ok(ApplyOutcome::Invalid(report));
    }
    let cluster = Cluster::connect(&request.cluster).await?;
    let release = release_of(&loaded.objects, request.release.as_deref(), cluster.namespace());
    let applyset = ApplySet::new(&release.name, &release.namespace);
    let objects: Vec<Value> = loaded.objects.iter().map(|o| placed(o, &release.namespace)).collect();

    if request.apply.dry_run {
        let report = apply_set(&cluster, &applyset, &objects, &request.apply, progress).await?;
        return Ok(ApplyOutcome::Applied(Deployed {
            release: release.name,
            namespace: release.namespace,
            revision: None,
            report,
        }));
    }

    // Nothing to do: no lock, no record, no mutating request at all.
    // The record is read first: without a deployed revision of these very
    // manifests there is no need to list the live objects twice.
    let store = ReleaseStore::new(&cluster, &release.namespace, &release.name);
    if let Some(last) = store.last_deployed().await? {
        if last.manifests == objects
            && crate::cluster::apply::unchanged(&cluster, &applyset, &objects, request.apply.prune).await?
        {
            progress.event(Event::Note(format!("no changes: release {} is at revision {}", release.name, last.number)));
            if request.wait {
                let options = WaitOptions { timeout: request.timeout, ..Default::default() };
                let waited = tokio::select! {
                    r = wait::wait_ready(&cluster, &objects, &options, progress) => r,
                    _ = cancel => Err(ClusterError::Interrupted),
                };
                waited?;
            }
            let report = ApplyReport {
                unchanged: objects.iter().map(crate::cluster::client::object_id).collect(),
                ..Default::default()
            };
            return Ok(ApplyOutcome::Applied(Deployed {
                release: release.name,
                namespace: release.namespace,
                revision: Some(last.number),
                report,
            }));
        }
    }

    ensure_namespace(&cluster, &applyset, &objects, &release.namespace).await?;
    let holder = lock::default_holder();
    let lock =
        ReleaseLock::acquire(&cluster, &release.namespace, &release.name, &holder, request.lock_duration, progress)
            .await?;
    let revision = match store
        .begin(NewRevision {
            profile: loaded.profile.clone(),
            env: loaded.env.clone(),
            manifests: objects.clone(),
            values: loaded.values.clone(),
            applied_by: holder.clone(),
            description: "apply".into(),
            chart_version: loaded.chart_version.clone(),
        })
        .await
    {
        Ok(r) => r,
        Err(e) => {
            let _ = lock.release().await;
            return Err(e.into());
        }
    };

    let work = async {
        let report = apply_set(&cluster, &applyset, &objects, &request.apply, progress).await?;
        if request.wait {
            let options = WaitOptions { timeout: request.timeout, ..Default::default() };
            wait::wait_ready(&cluster, &report.live, &options, progress).await?;
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
                let rollback =
                    roll_back_to_last(&cluster, &store, &applyset, &release, revision.number, request, progress).await;
                let _ = lock.release().await;
                return Err(match rollback {
                    Ok(Some(to)) => ClusterError::RolledBack { cause: Box::new(cause), revision: to },
                    Ok(None) => ClusterError::RolledBack { cause: Box::new(cause), revision: 0 },
                    Err(second) => ClusterError::RollbackFailed { cause: Box::new(cause), rollback: Box::new(second) },
                }
                .into());
            }
            Err(cause)
        }
    };
    let _ = lock.release().await;
    let report = finished?;
    Ok(ApplyOutcome::Applied(Deployed {
        release: release.name,
        namespace: release.namespace,
        revision: Some(revision.number),
        report,
    }))
}

/// `--atomic`: re-applies the last deployed revision before `failed` and
/// prunes what the failed one added; records it as a new revision. `None`
/// when there was nothing deployed before (the failed objects are pruned).
async fn roll_back_to_last(
    cluster: &Cluster,
    store: &ReleaseStore<'_>,
    applyset: &ApplySet,
    release: &ReleaseRef,
    failed: u32,
    request: &ApplyRequest,
    progress: &dyn Progress,
) -> std::result::Result<Option<u32>, ClusterError> {
    let history = store.history().await?;
    let target =
        history.iter().rev().find(|r| r.number < failed && matches!(r.status, Status::Deployed | Status::Superseded));
    let Some(target) = target else {
        // Nothing to return to: remove what this apply created, keep the namespace.
        let keep: Vec<Value> = Vec::new();
        let options = ApplyOptions { prune: true, force_conflicts: true, ..request.apply.clone() };
        apply_set(cluster, applyset, &keep, &options, progress).await?;
        let _ = release;
        return Ok(None);
    };
    redeploy(cluster, store, applyset, target, request.timeout, request.wait, progress).await?;
    Ok(Some(target.number))
}

async fn redeploy(
    cluster: &Cluster,
    store: &ReleaseStore<'_>,
    applyset: &ApplySet,
    target: &Revision,
    timeout: Duration,
    wait_ready: bool,
    progress: &dyn Progress,
) -> std::result::Result<u32, ClusterError> {
    let revision = store
        .begin(NewRevision {
            profile: target.profile.clone(),
            env: target.env.clone(),
            manifests: target.manifests.clone(),
            values: target.values.clone(),
            applied_by: lock::default_holder(),
            description: format!("rollback to {}", target.number),
            chart_version: target.chart_version.clone(),
        })
        .await?;
    let options = ApplyOptions { prune: true, force_conflicts: true, ..Default::default() };
    let work = async {
        let report = apply_set(cluster, applyset, &target.manifests, &options, progress).await?;
        if wait_ready {
            let w = WaitOptions { timeout, ..Default::default() };
            wait::wait_ready(cluster, &report.live, &w, progress).await?;
        }
        Ok::<_, ClusterError>(())
    };
    match work.await {
        Ok(()) => {
            store.finish(revision.number, Status::Deployed, &format!("rollback to {}", target.number)).await?;
            Ok(revision.number)
        }
        Err(e) => {
            let _ = store.finish(revision.number, Status::Failed, &e.to_string()).await;
            Err(e)
        }
    }
}

/// What `rollback`, `status` and `history` address.
#[derive(Clone, Debug)]
pub struct ReleaseRequest {
    /// The source that names the release and its namespace; without one,
    /// `release` (default `testmesh`) in the cluster options' namespace.
    pub source: Option<Source>,
    pub cluster: ClusterOptions,
    pub release: Option<String>,
}

async fn open(assets: &Assets, request: &ReleaseRequest) -> Result<(Cluster, ReleaseRef, Vec<Value>)> {
    let objects = match &request.source {
        Some(source) => load(assets, source)?.objects,
        None => Vec::new(),
    };
    let cluster = Cluster::connect(&request.cluster).await?;
    let release = release_of(&objects, request.release.as_deref(), cluster.namespace());
    let objects = objects.iter().map(|o| placed(o, &release.namespace)).collect();
    Ok((cluster, release, objects))
}

/// `meshctl history`: every recorded revision, oldest first.
pub async fn history(assets: &Assets, request: &ReleaseRequest) -> Result<(ReleaseRef, Vec<Revision>)> {
    let (cluster, release, _) = open(assets, request).await?;
    let revisions = ReleaseStore::new(&cluster, &release.namespace, &release.name).history().await?;
    Ok((release, revisions))
}

/// A release's state for `meshctl status`.
#[derive(Debug)]
pub struct ReleaseStatus {
    pub release: ReleaseRef,
    /// The current (last deployed) revision, if any.
    pub current: Option<Revision>,
    /// The newest revision, when it is not the current one (failed or pending).
    pub latest: Option<Revision>,
    /// Readiness of each object of the current revision.
    pub objects: Vec<(String, Readiness)>,
}

/// `meshctl status`.
pub async fn status(assets: &Assets, request: &ReleaseRequest) -> Result<ReleaseStatus> {
    let (cluster, release, _) = open(assets, request).await?;
    let store = ReleaseStore::new(&cluster, &release.namespace, &release.name);
    let history = store.history().await?;
    let current = history.iter().rev().find(|r| r.status == Status::Deployed).cloned();
    let latest = history.last().filter(|r| Some(r.number) != current.as_ref().map(|c| c.number)).cloned();
    let objects = match &current {
        Some(rev) => wait::readiness_of(&cluster, &rev.manifests).await?,
        None => Vec::new(),
    };
    Ok(ReleaseStatus { release, current, latest, objects })
}

/// `meshctl rollback [--revision N]`: re-applies that revision (default: the
/// deployed one before the current) and prunes the rest, under the lock.
pub async fn rollback(
    assets: &Assets,
    request: &ReleaseRequest,
    to: Option<u32>,
    timeout: Duration,
    lock_duration: Duration,
    progress: &dyn Progress,
) -> Result<(ReleaseRef, u32, u32)> {
    let (cluster, release, _) = open(assets, request).await?;
    let store = ReleaseStore::new(&cluster, &release.namespace, &release.name);
    let history = store.history().await?;
    let current = history.iter().rev().find(|r| r.status == Status::Deployed).map(|r| r.number);
    let target = match to {
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
        &cluster,
        &release.namespace,
        &release.name,
        &lock::default_holder(),
        lock_duration,
        progress,
    )
    .await?;
    let applyset = ApplySet::new(&release.name, &release.namespace);
    let result = redeploy(&cluster, &store, &applyset, &target, timeout, true, progress).await;
    let _ = lock.release().await;
    let new = result?;
    Ok((release, target.number, new))
}

/// `meshctl diff`: the rendered set against the live objects, through a
/// server-side dry-run apply.
pub async fn diff(
    assets: &Assets,
    request: &ReleaseRequest,
    show_secrets: bool,
) -> Result<(ReleaseRef, Vec<ObjectDiff>)> {
    let (cluster, release, objects) = open(assets, request).await?;
    let applyset = ApplySet::new(&release.name, &release.namespace);
    let objects: Vec<Value> = objects
        .into_iter()
        .map(|mut o| {
            applyset.label(&mut o);
            crate::cluster::apply::with_config_hash(o)
        })
        .collect();
    let diffs = diff::diff_objects(&cluster, &objects, crate::cluster::apply::FIELD_MANAGER, show_secrets).await?;
    Ok((release, diffs))
}
