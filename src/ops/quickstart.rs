//! `quickstart`: the deployment rehearsal — start the sandbox, prepare and
//! apply a profile environment to it, wait, read the status and the
//! runner's health through the API server's service proxy.

use std::path::PathBuf;
use std::time::Duration;

use super::apply::{apply, ApplyOutcome, ApplyRequest, Deployed};
use super::prepare::{prepare, PrepareRequest, Source};
use super::release::{status, ReleaseStatus};
use super::{render, Context, RenderRequest};
use crate::cluster::{Cluster, ClusterOptions};
use crate::error::{Error, Result};
use crate::validate::model::Report;

/// What `meshctl quickstart` was asked to do.
#[derive(Clone, Debug)]
pub struct QuickstartRequest {
    /// The profile environment to deploy.
    pub render: RenderRequest,
    /// The runner binary the runner's pods run as; `None` simulates them.
    pub runner_binary: Option<PathBuf>,
    /// How long to wait for every workload.
    pub timeout: Duration,
    /// Where to write the sandbox's kubeconfig.
    pub kubeconfig: PathBuf,
}

/// The runner's answer to `GET /v1/health` through the service proxy.
#[derive(Clone, Debug)]
pub enum RunnerHealth {
    /// The runner answered with this body; `healthy` when it reports
    /// `"status": "ok"`.
    Answered {
        /// The body.
        body: String,
        /// Whether it says the runner is healthy.
        healthy: bool,
    },
    /// No answer (the runner's pods run the real binary).
    NoAnswer(String),
    /// Simulated runner pods serve no HTTP.
    Simulated,
}

/// What the rehearsal did; the sandbox keeps running until this is dropped.
pub struct Rehearsal {
    /// The sandbox, still running.
    pub sandbox: sandbox::Sandbox,
    /// Its kubeconfig.
    pub kubeconfig: PathBuf,
    /// The apply's outcome.
    pub outcome: RehearsalOutcome,
}

/// How the apply ended.
pub enum RehearsalOutcome {
    /// The rendered set is invalid; nothing was applied.
    Invalid(Report),
    /// The apply failed.
    Failed(Error),
    /// Deployed.
    Deployed(Box<Deployment>),
}

/// A rehearsal deployment that went through.
pub struct Deployment {
    /// The apply.
    pub deployed: Deployed,
    /// Readiness after it.
    pub status: ReleaseStatus,
    /// The runner's health.
    pub health: RunnerHealth,
    /// The service-proxy path of the health endpoint.
    pub health_path: String,
}

/// Runs the rehearsal. Errors are those before anything was deployed (the
/// profile does not render, the sandbox does not start); an apply that
/// fails is a [`RehearsalOutcome::Failed`] with the sandbox still up.
pub async fn quickstart(ctx: &Context, request: &QuickstartRequest) -> Result<Rehearsal> {
    if let Some(binary) = &request.runner_binary {
        if !binary.is_file() {
            return Err(Error::argument(format!("--runner-binary `{}`", binary.display()), "not a file"));
        }
    }
    // Map the chart's runner image(s) to the runner binary, so the runner's
    // pods are real processes with real probes.
    let mut images = sandbox::ImageMap::default();
    if let Some(binary) = &request.runner_binary {
        for object in &render(ctx, &request.render)?.objects {
            let containers = &object.object["spec"]["template"]["spec"]["containers"];
            for c in containers.as_array().into_iter().flatten() {
                let image = c["image"].as_str().unwrap_or_default();
                if image.contains("testmesh-runner") {
                    let repository = image.split('@').next().unwrap_or(image);
                    images.insert(repository, binary.clone());
                }
            }
        }
    }
    let sandbox = sandbox::Sandbox::start(sandbox::SandboxConfig {
        images,
        probe_period_cap: Some(Duration::from_millis(500)),
        pod_ready_delay: Duration::from_millis(300),
        ..Default::default()
    })?;
    sandbox.write_kubeconfig(&request.kubeconfig)?;
    ctx.progress().event(crate::events::Event::Note(format!("sandbox listening on {}", sandbox.url())));
    let options = ClusterOptions { kubeconfig: Some(request.kubeconfig.clone()), ..Default::default() };
    let ctx = ctx.for_cluster(Cluster::connect(&options).await?);
    let outcome = deploy(&ctx, request).await;
    Ok(Rehearsal { sandbox, kubeconfig: request.kubeconfig.clone(), outcome })
}

async fn deploy(ctx: &Context, request: &QuickstartRequest) -> RehearsalOutcome {
    let prepared = match prepare(
        ctx,
        &PrepareRequest { source: Source::Render(request.render.clone()), release: None, namespace: None },
    ) {
        Ok(set) => set,
        Err(e) => return RehearsalOutcome::Failed(e),
    };
    let apply_request = ApplyRequest { timeout: request.timeout, ..Default::default() };
    let deployed = match apply(ctx, &prepared, &apply_request, std::future::pending()).await {
        Ok(ApplyOutcome::Applied(d)) => d,
        Ok(ApplyOutcome::Invalid(report)) => return RehearsalOutcome::Invalid(report),
        Err(e) => return RehearsalOutcome::Failed(e),
    };
    let status = match status(ctx, &deployed.release).await {
        Ok(s) => s,
        Err(e) => return RehearsalOutcome::Failed(e),
    };
    let health_path = format!(
        "/api/v1/namespaces/{}/services/{}-runner:http/proxy/v1/health",
        deployed.release.namespace, deployed.release.name
    );
    let health =
        if request.runner_binary.is_none() { RunnerHealth::Simulated } else { runner_health(ctx, &health_path).await };
    RehearsalOutcome::Deployed(Box::new(Deployment { deployed, status, health, health_path }))
}

async fn runner_health(ctx: &Context, path: &str) -> RunnerHealth {
    let cluster = match ctx.cluster().await {
        Ok(c) => c,
        Err(e) => return RunnerHealth::NoAnswer(e.to_string()),
    };
    let request = match http::Request::get(path).body(Vec::new()) {
        Ok(r) => r,
        Err(e) => return RunnerHealth::NoAnswer(e.to_string()),
    };
    match cluster.client().request_text(request).await {
        Ok(body) => {
            let healthy = serde_json::from_str::<serde_json::Value>(&body).is_ok_and(|v| v["status"] == "ok");
            RunnerHealth::Answered { body, healthy }
        }
        Err(e) => RunnerHealth::NoAnswer(e.to_string()),
    }
}
