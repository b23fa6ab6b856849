//! What every action runs with, passed in rather than reached for: the
//! assets to render from, the cluster (connected once, on first use), the
//! clock and where progress events go. The CLI builds one per command; the
//! HTTP server one per process, shared by its requests.

use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::assets::Assets;
use crate::clock::{self, Clock};
use crate::cluster::{Cluster, ClusterError, ClusterOptions};
use crate::events::{Progress, Silent};

/// The dependencies of the `ops` actions.
pub struct Context {
    assets: Assets,
    cluster_options: ClusterOptions,
    cluster: OnceCell<Arc<Cluster>>,
    clock: Clock,
    progress: Arc<dyn Progress>,
}

impl Context {
    /// A context over `assets`, with the system clock, no progress output
    /// and the default cluster (`KUBECONFIG`, `~/.kube/config`, in-cluster)
    /// connected when an action first needs it.
    pub fn new(assets: Assets) -> Self {
        Context {
            assets,
            cluster_options: ClusterOptions::default(),
            cluster: OnceCell::new(),
            clock: clock::system(),
            progress: Arc::new(Silent),
        }
    }

    /// Connects to the cluster these options name, on first use.
    pub fn with_cluster_options(mut self, options: ClusterOptions) -> Self {
        self.cluster_options = options;
        self.cluster = OnceCell::new();
        self
    }

    /// Uses an already connected cluster (the HTTP server, tests).
    pub fn with_cluster(mut self, cluster: Cluster) -> Self {
        self.cluster = OnceCell::new_with(Some(Arc::new(cluster)));
        self
    }

    /// A context with the same assets, clock and progress, on `cluster`.
    pub fn for_cluster(&self, cluster: Cluster) -> Context {
        Context {
            assets: self.assets.clone(),
            cluster_options: ClusterOptions::default(),
            cluster: OnceCell::new_with(Some(Arc::new(cluster))),
            clock: self.clock.clone(),
            progress: self.progress.clone(),
        }
    }

    /// Reads the time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Sends progress events to `progress`.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// The chart, profiles and modules.
    pub fn assets(&self) -> &Assets {
        &self.assets
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Where progress events go.
    pub fn progress(&self) -> &dyn Progress {
        self.progress.as_ref()
    }

    /// The cluster, connected on the first call (no request is made until
    /// an action sends one).
    pub async fn cluster(&self) -> Result<&Cluster, ClusterError> {
        let cluster = self
            .cluster
            .get_or_try_init(|| async { Cluster::connect(&self.cluster_options).await.map(Arc::new) })
            .await?;
        Ok(cluster.as_ref())
    }

    /// The cluster's URL and context for messages, once connected.
    pub fn cluster_endpoint(&self) -> Option<String> {
        self.cluster.get().map(|c| c.endpoint().to_string()).filter(|e| !e.is_empty())
    }

    /// The namespace for objects that name none, known without connecting:
    /// the connected cluster's, else `--namespace`, else the kubeconfig
    /// context's (as kubectl picks it), else `None`.
    pub fn default_namespace(&self) -> Option<String> {
        if let Some(cluster) = self.cluster.get() {
            return Some(cluster.namespace().to_string());
        }
        self.cluster_options.namespace.clone().or_else(|| self.cluster_options.context_namespace())
    }
}
