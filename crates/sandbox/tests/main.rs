//! The sandbox's integration tests: one binary, one module per area. Every
//! test talks to a real sandbox over HTTPS, through kube-rs or the real
//! kubectl.

mod api;
mod kubectl;
mod kubelet;
mod workloads;

use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use sandbox::{Sandbox, SandboxConfig};

/// How long any wait for the controllers may take before a test fails. A
/// deadline, not a measurement: waits poll and return as soon as they can.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A sandbox with quick rollouts.
pub fn start() -> Sandbox {
    start_with(SandboxConfig { pod_ready_delay: Duration::from_millis(50), ..Default::default() })
}

pub fn start_with(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).expect("the sandbox starts")
}

/// A kube-rs client for the sandbox, configured from its kubeconfig as a
/// user's would be.
pub async fn client(sandbox: &Sandbox) -> kube::Client {
    let kubeconfig = Kubeconfig::from_yaml(sandbox.kubeconfig()).expect("the kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube-rs accepts the kubeconfig");
    kube::Client::try_from(config).expect("a client")
}

/// Polls `check` until it returns `Some`, or fails naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
