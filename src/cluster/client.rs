//! The cluster client: configuration from a kubeconfig (`--kubeconfig`,
//! `--context`, `KUBECONFIG`, `~/.kube/config`, exec credential plugins) or
//! in-cluster, a discovery cache for one run, and the retry policy every
//! request goes through.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use super::error::ClusterError;

/// How to reach the cluster (the CLI's cluster flags).
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    /// A kubeconfig file; otherwise `KUBECONFIG`, `~/.kube/config`, then the
    /// in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// A context of the kubeconfig other than its current one.
    pub context: Option<String>,
    /// The namespace for namespaced objects that name none; otherwise the
    /// context's namespace, then `default`.
    pub namespace: Option<String>,
}

impl ClusterOptions {
    /// The namespace of the kubeconfig context these options select (the
    /// current one unless `context` names another), read without
    /// connecting; `None` when there is no kubeconfig, no such context, or
    /// the context names no namespace. In a pod with no kubeconfig, the
    /// service account's namespace.
    pub fn context_namespace(&self) -> Option<String> {
        let kubeconfig = match &self.kubeconfig {
            Some(path) => Kubeconfig::read_from(path).ok(),
            None => Kubeconfig::read().ok(),
        };
        let Some(kubeconfig) = kubeconfig else {
            return std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
                .ok()
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty());
        };
        let name = self.context.clone().or(kubeconfig.current_context.clone())?;
        kubeconfig.contexts.into_iter().find(|c| c.name == name)?.context?.namespace
    }
}

/// A resource type as the cluster serves it.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// Group, version, kind and plural.
    pub resource: ApiResource,
    /// Whether objects of it live in a namespace.
    pub namespaced: bool,
}

/// A connected cluster with its discovery cache.
pub struct Cluster {
    client: kube::Client,
    namespace: String,
    /// `https://host:port (context NAME)`, for messages; empty when unknown.
    endpoint: String,
    discovery: Mutex<HashMap<String, Arc<Vec<Resolved>>>>,
}

impl Cluster {
    /// Connects (no request is made until the first call).
    pub async fn connect(options: &ClusterOptions) -> Result<Self, ClusterError> {
        let kube_options = KubeConfigOptions { context: options.context.clone(), ..Default::default() };
        let context_name = options.context.clone().or_else(|| {
            let kubeconfig = match &options.kubeconfig {
                Some(path) => Kubeconfig::read_from(path).ok(),
                None => Kubeconfig::read().ok(),
            };
            kubeconfig.and_then(|k| k.current_context)
        });
        let config = match &options.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .map_err(|e| ClusterError::Config(format!("cannot read kubeconfig `{}`: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &kube_options)
                    .await
                    .map_err(|e| ClusterError::Config(format!("kubeconfig `{}`: {e}", path.display())))?
            }
            None if options.context.is_some() => {
                kube::Config::from_kubeconfig(&kube_options).await.map_err(|e| ClusterError::Config(e.to_string()))?
            }
            None => kube::Config::infer().await.map_err(|e| {
                ClusterError::Config(format!("{e} (pass --kubeconfig, set KUBECONFIG, or run in a cluster)"))
            })?,
        };
        let namespace = options.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
        let endpoint = match &context_name {
            Some(context) => format!("{} (context {context})", config.cluster_url),
            None => config.cluster_url.to_string(),
        };
        let client = kube::Client::try_from(config).map_err(|e| ClusterError::Config(e.to_string()))?;
        let mut cluster = Cluster::from_client(client, namespace);
        cluster.endpoint = endpoint;
        Ok(cluster)
    }

    /// Wraps an existing client (tests, the HTTP server).
    pub fn from_client(client: kube::Client, namespace: String) -> Self {
        Cluster { client, namespace, endpoint: String::new(), discovery: Mutex::new(HashMap::new()) }
    }

    /// The underlying kube-rs client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The API server's URL and the kubeconfig context, for messages
    /// (empty for a client built elsewhere).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The namespace for objects that name none.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The resource serving `kind` in `api_version`, from the discovery
    /// cache (one request per group-version per run).
    pub async fn resolve(&self, api_version: &str, kind: &str) -> Result<Resolved, ClusterError> {
        let cached = self.discovery.lock().unwrap_or_else(|e| e.into_inner()).get(api_version).cloned();
        let list = match cached {
            Some(list) => list,
            None => {
                let fetched = if api_version.contains('/') {
                    self.client.list_api_group_resources(api_version).await
                } else {
                    self.client.list_core_api_resources(api_version).await
                };
                let fetched = match fetched {
                    Ok(list) => list,
                    Err(kube::Error::Api(s)) if s.code == 404 => {
                        return Err(ClusterError::UnknownKind {
                            api_version: api_version.into(),
                            kind: kind.into(),
                            hint: format!(
                                " (the API group-version {api_version} is not served; is its CRD installed?)"
                            ),
                        })
                    }
                    Err(e) => return Err(ClusterError::api(format!("discovery of {api_version}"), e)),
                };
                let (group, version) = match api_version.split_once('/') {
                    Some((g, v)) => (g.to_string(), v.to_string()),
                    None => (String::new(), api_version.to_string()),
                };
                let resolved: Vec<Resolved> = fetched
                    .resources
                    .iter()
                    .filter(|r| !r.name.contains('/'))
                    .map(|r| Resolved {
                        resource: ApiResource {
                            group: group.clone(),
                            version: version.clone(),
                            api_version: api_version.to_string(),
                            kind: r.kind.clone(),
                            plural: r.name.clone(),
                        },
                        namespaced: r.namespaced,
                    })
                    .collect();
                let list = Arc::new(resolved);
                self.discovery.lock().unwrap_or_else(|e| e.into_inner()).insert(api_version.to_string(), list.clone());
                list
            }
        };
        list.iter().find(|r| r.resource.kind == kind).cloned().ok_or_else(|| ClusterError::UnknownKind {
            api_version: api_version.into(),
            kind: kind.into(),
            hint: String::new(),
        })
    }

    /// Forgets what discovery said about `api_version` (after a CRD is
    /// installed, its group appears).
    pub fn forget(&self, api_version: &str) {
        self.discovery.lock().unwrap_or_else(|e| e.into_inner()).remove(api_version);
    }

    /// An API handle for a resolved type, in `namespace` when namespaced.
    pub fn api(&self, resolved: &Resolved, namespace: &str) -> Api<DynamicObject> {
        if resolved.namespaced {
            Api::namespaced_with(self.client.clone(), namespace, &resolved.resource)
        } else {
            Api::all_with(self.client.clone(), &resolved.resource)
        }
    }

    /// Resolves an object's type and returns the handle for it, with the
    /// object's namespace (this cluster's namespace when it names none).
    pub async fn api_for(&self, object: &Value) -> Result<(Api<DynamicObject>, Resolved, String), ClusterError> {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let resolved = self.resolve(api_version, kind).await?;
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or(&self.namespace).to_string();
        let api = self.api(&resolved, &namespace);
        Ok((api, resolved, namespace))
    }
}

/// `Kind/namespace/name` (or `Kind/name` when cluster-scoped), as events
/// and errors name objects.
pub fn object_id(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let name = object["metadata"]["name"].as_str().unwrap_or("?");
    match object["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// Whether a failed request may succeed if sent again: 429 and 5xx (kube-rs
/// already waits out Retry-After on 429/503/504), and a 409 about a stale
/// resourceVersion (not a server-side apply field conflict).
pub fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(s) => {
            s.code == 429
                || (500..600).contains(&s.code)
                || (s.code == 409 && s.message.contains("the object has been modified"))
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Runs `request` until it succeeds, fails for good, or has failed
/// transiently six times, backing off from 100 ms to ~3 s.
pub async fn with_retries<T, F, Fut>(mut request: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = Duration::from_millis(100);
    for attempt in 1.. {
        match request().await {
            Err(e) if attempt < 6 && is_transient(&e) => {
                tracing::debug!(attempt, "transient API error, retrying in {delay:?}: {e}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(3));
            }
            other => return other,
        }
    }
    unreachable!("the loop returns")
}
