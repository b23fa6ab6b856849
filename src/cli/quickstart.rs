//! `meshctl quickstart`: the deployment rehearsal on the embedded defaults —
//! start the sandbox, render, validate and apply a profile environment
//! (offline/dev by default), wait, print the status and the runner's
//! health, then stop (or keep serving with `--keep`).

use std::path::PathBuf;
use std::time::Duration;

use super::deploy::{exit_code_of, parse_duration};
use super::{print_stdout, EXIT_BAD, EXIT_OK};
use crate::assets::Assets;
use crate::cluster::apply::ApplyOptions;
use crate::cluster::wait::Readiness;
use crate::cluster::ClusterOptions;
use crate::error::{Error, Result};
use crate::ops::deploy::{self, ApplyOutcome, ApplyRequest, ReleaseRequest, Source};
use crate::ops::{self, RenderRequest};
use crate::values::UserValues;

/// `meshctl quickstart` arguments.
#[derive(Debug, clap::Args)]
pub struct QuickstartArgs {
    /// Profile to deploy.
    #[arg(long, short = 'p', default_value = "offline")]
    pub profile: String,
    /// Environment to deploy.
    #[arg(long, short = 'e', default_value = "dev")]
    pub env: String,
    /// The runner binary to run the runner's pods with; default:
    /// `testmesh-runner` next to meshctl (built by `cargo build --workspace`).
    /// Without one, the runner's pods are simulated like the others.
    #[arg(long, value_name = "PATH")]
    pub runner_binary: Option<PathBuf>,
    /// How long to wait for every workload.
    #[arg(long, value_name = "DUR", default_value = "3m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Keep the sandbox running after the rehearsal, until Ctrl-C, and write
    /// its kubeconfig to this file.
    #[arg(long, value_name = "KUBECONFIG")]
    pub keep: Option<PathBuf>,
}

fn default_runner() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let candidate = exe.parent()?.join("testmesh-runner");
    candidate.is_file().then_some(candidate)
}

pub fn run_quickstart(assets: &Assets, args: QuickstartArgs) -> Result<i32> {
    let render = RenderRequest {
        profile: args.profile.clone(),
        environment: args.env.clone(),
        user_values: UserValues::default(),
    };
    // Map the chart's runner image(s) to the runner binary, so the runner's
    // pods are real processes with real probes.
    let set = ops::render(assets, &render)?;
    let runner = args.runner_binary.clone().or_else(default_runner);
    let mut images = sandbox::ImageMap::default();
    if let Some(binary) = &runner {
        if !binary.is_file() {
            return Err(Error::Assets(format!("--runner-binary: `{}` is not a file", binary.display())));
        }
        for object in &set.objects {
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
    eprintln!(
        "runner pods: {}",
        match &runner {
            Some(b) => format!("the real runner ({})", b.display()),
            None => "simulated (build it with `cargo build --release --workspace` to run it for real)".into(),
        }
    );
    let sandbox = sandbox::Sandbox::start(sandbox::SandboxConfig {
        images,
        probe_period_cap: Some(Duration::from_millis(500)),
        pod_ready_delay: Duration::from_millis(300),
        ..Default::default()
    })?;
    let dir = tempfile_dir()?;
    let kubeconfig = args.keep.clone().unwrap_or_else(|| dir.join("kubeconfig"));
    sandbox.write_kubeconfig(&kubeconfig)?;
    eprintln!("sandbox listening on {}", sandbox.url());

    let cluster = ClusterOptions { kubeconfig: Some(kubeconfig.clone()), ..Default::default() };
    let request = ApplyRequest {
        source: Source::Render(render.clone()),
        cluster: cluster.clone(),
        release: None,
        apply: ApplyOptions::default(),
        wait: true,
        timeout: args.timeout,
        atomic: false,
        lock_duration: Duration::from_secs(30),
    };
    let progress = super::progress::reporter();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io(std::path::Path::new("<tokio runtime>"), e))?;
    let applied = runtime.block_on(deploy::apply(assets, &request, progress.as_ref(), std::future::pending()));
    drop(progress);
    let deployed = match applied {
        Ok(ApplyOutcome::Applied(d)) => d,
        Ok(ApplyOutcome::Invalid(_)) => {
            eprintln!(
                "error: the rendered set is invalid (run `meshctl validate -p {} -e {}`)",
                args.profile, args.env
            );
            return Ok(EXIT_BAD);
        }
        Err(e) => {
            eprintln!("{}", super::report(&e));
            return Ok(exit_code_of(&e).unwrap_or(super::EXIT_FAILED));
        }
    };
    let status = runtime.block_on(deploy::status(
        assets,
        &ReleaseRequest { source: Some(Source::Render(render)), cluster, release: None },
    ))?;
    let mut out = format!(
        "deployed release {} (namespace {}) revision {} to the sandbox\n",
        deployed.release,
        deployed.namespace,
        deployed.revision.unwrap_or(0)
    );
    let mut all_ready = true;
    for (object, readiness) in &status.objects {
        let kind = object.split('/').next().unwrap_or_default();
        if !matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet" | "Job") {
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
    // The runner's health, through the API server's service proxy.
    let health_path =
        format!("/api/v1/namespaces/{}/services/{}-runner:http/proxy/v1/health", deployed.namespace, deployed.release);
    let health = runtime.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(&kubeconfig).ok()?;
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.ok()?;
        let client = kube::Client::try_from(config).ok()?;
        let request = http::Request::get(health_path.as_str()).body(Vec::new()).ok()?;
        client.request_text(request).await.ok()
    });
    match health {
        Some(body) => out.push_str(&format!("runner health (GET {health_path}):\n  {}\n", body.trim())),
        None if runner.is_some() => {
            all_ready = false;
            out.push_str(&format!("runner health: no answer at {health_path}\n"));
        }
        None => out.push_str("runner health: simulated runner pods serve no HTTP\n"),
    }
    out.push_str(&format!("reach the runner: kubectl --kubeconfig {} get --raw {health_path}\n", kubeconfig.display()));
    print_stdout(out.as_bytes())?;
    drop(runtime);
    if args.keep.is_some() {
        eprintln!("sandbox kept running; press Ctrl-C to stop");
        sandbox.run_until_signal()?;
    } else {
        drop(sandbox);
        eprintln!("sandbox stopped");
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(if all_ready { EXIT_OK } else { EXIT_BAD })
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("meshctl-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}
