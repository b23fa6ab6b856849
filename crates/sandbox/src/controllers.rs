//! The controllers and the kubelet of the sandbox: Deployment → ReplicaSet
//! → Pods with rollout status, StatefulSets, Jobs, PVC binding, Endpoints
//! and EndpointSlices, namespace termination, garbage collection through
//! owner references, and pods — run as real processes when their image is
//! mapped, simulated otherwise.
//!
//! Simulated pods become ready after [`crate::SandboxConfig::pod_ready_delay`].
//! For failure tests, the pod annotation `sandbox.meshctl.dev/behavior`
//! (set it on a workload's pod template) or an image whose name contains
//! `sandbox/never-ready` or `sandbox/crash` changes that:
//! - `never-ready`: the pod runs but never passes readiness;
//! - `crash`: the container crash-loops (`CrashLoopBackOff`, restarts
//!   growing); a Job's pod fails.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::apiserver::{now, DeleteOptions, WriteOptions};
use crate::kubelet::{ImageMap, Kubelet, PortRef, RunningPod};
use crate::resources::ResourceType;
use crate::selector::LabelSelector;
use crate::store::{Change, EventType, ObjectKey};
use crate::Shared;

/// The annotation that makes a simulated pod misbehave.
pub const BEHAVIOR_ANNOTATION: &str = "sandbox.meshctl.dev/behavior";

const MANAGER: &str = "kube-controller-manager";

/// Process-backed pods currently running.
pub struct PodRuntime {
    kubelet: Kubelet,
    running: Mutex<HashMap<(String, String), Arc<RunningPod>>>,
    /// Pods whose processes are being started (so a second change to the
    /// pod does not start them twice).
    starting: Mutex<std::collections::HashSet<(String, String)>>,
}

impl PodRuntime {
    pub(crate) fn new(images: ImageMap, work_dir: PathBuf, probe_cap: Option<Duration>) -> Self {
        PodRuntime {
            kubelet: Kubelet::new(images, work_dir).with_probe_period_cap(probe_cap),
            running: Mutex::new(HashMap::new()),
            starting: Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// Claims the right to start a pod; false when it is already starting.
    fn claim(&self, id: &(String, String)) -> bool {
        self.starting.lock().unwrap_or_else(|e| e.into_inner()).insert(id.clone())
    }

    fn release(&self, id: &(String, String)) {
        self.starting.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Arc<RunningPod>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The loopback port a running pod's container port is mapped to.
    pub fn host_port(&self, namespace: &str, name: &str, port: &PortRef) -> Option<u16> {
        self.lock().get(&(namespace.to_string(), name.to_string()))?.host_port(port.clone())
    }

    /// Where pod directories are created.
    pub fn work_dir(&self) -> &std::path::Path {
        self.kubelet.work_dir()
    }

    /// The log file of a running pod's container (the first when `None`).
    pub fn log_path(&self, namespace: &str, name: &str, container: Option<&str>) -> Option<PathBuf> {
        let running = self.lock().get(&(namespace.to_string(), name.to_string()))?.clone();
        match container {
            Some(c) => running.log_path(c),
            None => running.state().borrow().containers.first().and_then(|c| running.log_path(&c.name)),
        }
    }

    /// Terminates every pod process (sandbox shutdown).
    pub async fn stop_all(&self) {
        let pods: Vec<Arc<RunningPod>> = self.lock().drain().map(|(_, p)| p).collect();
        let stops =
            pods.into_iter().filter_map(|p| Arc::try_unwrap(p).ok()).map(|p| p.terminate(Duration::from_secs(3)));
        futures::future::join_all(stops).await;
    }
}

/// Creates the namespaces every cluster has.
pub(crate) fn bootstrap(shared: &Arc<Shared>) {
    let rt = shared.api.resource("", "v1", "namespaces").expect("namespaces are built in");
    for ns in &shared.config.namespaces {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        let opts = WriteOptions { field_manager: Some("kube-apiserver".into()), ..Default::default() };
        if let Err(e) = shared.api.create(&rt, "", body, &opts) {
            if e.code != 409 {
                tracing::warn!("failed to create namespace {ns}: {}", e.message);
            }
        }
    }
}

/// What a controller pass reconciles.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Work {
    Namespace(String),
    Object(ObjectKey),
    Endpoints(String),
    Collect { uid: String, namespace: String },
}

struct Timers {
    /// When simulated pods become ready (or crash again).
    pods: HashMap<(String, String), Instant>,
    /// Endpoint updates waiting out the propagation delay.
    endpoints: HashMap<String, Instant>,
}

/// Runs the controllers until the sandbox stops.
pub(crate) async fn run(shared: Arc<Shared>) {
    let rv = shared.api.store.resource_version();
    let Ok((_, mut changes)) = shared.api.store.follow(rv) else {
        return;
    };
    let mut timers = Timers { pods: HashMap::new(), endpoints: HashMap::new() };
    let mut queue: BTreeSet<Work> = BTreeSet::new();
    // Objects persisted in a state directory are reconciled once at start.
    for (key, _) in shared.api.store.all() {
        queue.insert(Work::Object(key));
    }
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut resync = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            change = changes.recv() => match change {
                Ok(change) => enqueue(&shared, &change, &mut queue),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    for (key, _) in shared.api.store.all() {
                        queue.insert(Work::Object(key));
                    }
                }
                Err(_) => return,
            },
            _ = tick.tick() => {
                let now = Instant::now();
                let due: Vec<(String, String)> = timers.pods.iter().filter(|(_, t)| **t <= now).map(|(k, _)| k.clone()).collect();
                for (ns, name) in due {
                    timers.pods.remove(&(ns.clone(), name.clone()));
                    queue.insert(Work::Object(ObjectKey::new("", "pods", &ns, &name)));
                }
                let due: Vec<String> = timers.endpoints.iter().filter(|(_, t)| **t <= now).map(|(k, _)| k.clone()).collect();
                for ns in due {
                    timers.endpoints.remove(&ns);
                    sync_endpoints(&shared, &ns);
                }
                // Drain whatever arrived, then reconcile the batch.
                while let Ok(change) = changes.try_recv() {
                    enqueue(&shared, &change, &mut queue);
                }
                let batch = std::mem::take(&mut queue);
                for work in batch {
                    reconcile(&shared, work, &mut timers);
                }
            }
            _ = resync.tick() => {
                // Deadlines (ProgressDeadlineExceeded) need a look without a change.
                let (deployments, _) = shared.api.store.list("apps", "deployments", None);
                for d in deployments {
                    queue.insert(Work::Object(key_of("apps", "deployments", &d)));
                }
            }
        }
    }
}

fn key_of(group: &str, plural: &str, obj: &Value) -> ObjectKey {
    ObjectKey::new(
        group,
        plural,
        obj["metadata"]["namespace"].as_str().unwrap_or_default(),
        obj["metadata"]["name"].as_str().unwrap_or_default(),
    )
}

fn owners(obj: &Value) -> impl Iterator<Item = &Value> {
    obj["metadata"]["ownerReferences"].as_array().into_iter().flatten()
}

fn enqueue(shared: &Arc<Shared>, change: &Change, queue: &mut BTreeSet<Work>) {
    let key = &change.key;
    let obj = &change.object;
    if change.event == EventType::Deleted {
        if let Some(uid) = obj["metadata"]["uid"].as_str() {
            queue.insert(Work::Collect { uid: uid.to_string(), namespace: key.namespace.clone() });
        }
    } else {
        queue.insert(Work::Object(key.clone()));
        if !obj["metadata"]["deletionTimestamp"].is_null() && key.plural == "namespaces" {
            queue.insert(Work::Namespace(key.name.clone()));
        }
    }
    // Owners learn about their dependents' changes.
    for owner in owners(obj) {
        let kind = owner["kind"].as_str().unwrap_or_default();
        let api_version = owner["apiVersion"].as_str().unwrap_or_default();
        if let Some(rt) = shared.api.registry().by_kind(api_version, kind) {
            queue.insert(Work::Object(ObjectKey::new(
                &rt.group,
                &rt.plural,
                &key.namespace,
                owner["name"].as_str().unwrap_or_default(),
            )));
        }
    }
    if key.group.is_empty() && (key.plural == "pods" || key.plural == "services") {
        queue.insert(Work::Endpoints(key.namespace.clone()));
    }
    // A namespace being emptied learns when its last objects go.
    if change.event == EventType::Deleted && !key.namespace.is_empty() {
        queue.insert(Work::Namespace(key.namespace.clone()));
    }
}

fn reconcile(shared: &Arc<Shared>, work: Work, timers: &mut Timers) {
    match work {
        Work::Namespace(name) => terminate_namespace(shared, &name),
        Work::Endpoints(ns) => {
            let delay = shared.config.endpoint_delay;
            if delay.is_zero() {
                sync_endpoints(shared, &ns);
            } else {
                timers.endpoints.entry(ns).or_insert_with(|| Instant::now() + delay);
            }
        }
        Work::Collect { uid, namespace } => collect_dependents(shared, &uid, &namespace),
        Work::Object(key) => {
            let Some(obj) = shared.api.store.get(&key) else {
                return;
            };
            if !obj["metadata"]["deletionTimestamp"].is_null() {
                finish_deletion(shared, &key, &obj);
                if key.plural != "pods" {
                    return;
                }
            }
            match (key.group.as_str(), key.plural.as_str()) {
                ("apps", "deployments") => deployment(shared, &key, &obj),
                ("apps", "replicasets") => replicaset(shared, &key, &obj),
                ("apps", "statefulsets") => statefulset(shared, &key, &obj),
                ("batch", "jobs") => job(shared, &key, &obj),
                ("apps", "daemonsets") => daemonset(shared, &key, &obj),
                ("", "persistentvolumeclaims") => bind_pvc(shared, &key, &obj),
                ("", "pods") => pod(shared, &key, &obj, timers),
                _ => {}
            }
        }
    }
}

fn rt(shared: &Shared, group: &str, plural: &str) -> Option<ResourceType> {
    shared.api.registry().by_plural(group, plural).cloned()
}

fn delete(shared: &Shared, group: &str, plural: &str, ns: &str, name: &str) {
    if let Some(rt) = rt(shared, group, plural) {
        let _ = shared.api.delete(&rt, ns, name, &DeleteOptions::default());
    }
}

/// Objects whose controller owner reference points at `uid`.
fn owned(shared: &Shared, group: &str, plural: &str, ns: &str, uid: &str) -> Vec<Arc<Value>> {
    let (items, _) = shared.api.store.list(group, plural, Some(ns));
    items.into_iter().filter(|o| owners(o).any(|r| r["uid"] == uid)).collect()
}

fn owner_ref(owner: &Value, rt: &ResourceType) -> Value {
    json!({
        "apiVersion": rt.api_version(),
        "kind": rt.kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes[..5].iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

fn template_hash(template: &Value) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    template.to_string().hash(&mut h);
    let n = h.finish();
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10).map(|i| ALPHABET[((n >> (i * 6)) % ALPHABET.len() as u64) as usize] as char).collect()
}

fn is_ready(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
        && pod["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn create_pod(shared: &Shared, ns: &str, name: &str, template: &Value, owner: Value, extra_labels: &[(&str, String)]) {
    let Some(rt) = rt(shared, "", "pods") else { return };
    let mut metadata = template["metadata"].clone();
    if !metadata.is_object() {
        metadata = json!({});
    }
    metadata["name"] = json!(name);
    metadata["namespace"] = json!(ns);
    for (k, v) in extra_labels {
        metadata["labels"][*k] = json!(v);
    }
    metadata["ownerReferences"] = json!([owner]);
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]});
    let opts = WriteOptions { field_manager: Some(MANAGER.into()), ..Default::default() };
    if let Err(e) = shared.api.create(&rt, ns, pod, &opts) {
        if e.code != 409 {
            tracing::warn!("failed to create pod {ns}/{name}: {}", e.message);
        }
    }
}

fn condition(kind: &str, status: bool, reason: &str, message: &str) -> Value {
    let t = now();
    json!({"type": kind, "status": if status { "True" } else { "False" }, "reason": reason, "message": message, "lastUpdateTime": t, "lastTransitionTime": t})
}

/// Sets a condition, keeping its transition time when the status is
/// unchanged (and the update time when nothing changed), as controllers do.
fn put_condition(status: &mut Value, new: Value) {
    if !status["conditions"].is_array() {
        status["conditions"] = json!([]);
    }
    let conditions = status["conditions"].as_array_mut().expect("set above");
    match conditions.iter_mut().find(|c| c["type"] == new["type"]) {
        Some(old) => {
            let same_status = old["status"] == new["status"];
            let same = same_status && old["reason"] == new["reason"] && old["message"] == new["message"];
            if same {
                return;
            }
            let mut new = new;
            if same_status {
                new["lastTransitionTime"] = old["lastTransitionTime"].clone();
            }
            *old = new;
        }
        None => conditions.push(new),
    }
}

fn get_condition<'a>(status: &'a Value, kind: &str) -> Option<&'a Value> {
    status["conditions"].as_array()?.iter().find(|c| c["type"] == kind)
}

/// maxUnavailable of a RollingUpdate strategy, as a replica count.
fn max_unavailable(deployment: &Value, desired: i64) -> i64 {
    let v = &deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"];
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => {
            s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()).map(|p| desired * p / 100).unwrap_or(0)
        }
        _ if deployment["spec"]["strategy"]["type"] == "Recreate" => desired,
        _ => desired / 4,
    }
}

fn deployment(shared: &Arc<Shared>, key: &ObjectKey, d: &Value) {
    let Some(dep_rt) = rt(shared, "apps", "deployments") else { return };
    let Some(rs_rt) = rt(shared, "apps", "replicasets") else { return };
    let uid = d["metadata"]["uid"].as_str().unwrap_or_default();
    let desired = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let template = &d["spec"]["template"];
    let hash = template_hash(template);
    let mut sets = owned(shared, "apps", "replicasets", &key.namespace, uid);
    let revision = |rs: &Value| {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            .as_str()
            .and_then(|r| r.parse::<i64>().ok())
            .unwrap_or(0)
    };
    sets.sort_by_key(|rs| revision(rs));
    let max_revision = sets.iter().map(|rs| revision(rs)).max().unwrap_or(0);
    let new_rs = sets.iter().find(|rs| rs["metadata"]["labels"]["pod-template-hash"] == hash.as_str()).cloned();
    let new_rs = match new_rs {
        Some(rs) => {
            if int(&rs["spec"]["replicas"]) != desired {
                shared.api.modify(&rs_rt, &key.namespace, rs["metadata"]["name"].as_str().unwrap_or_default(), |o| {
                    o["spec"]["replicas"] = json!(desired)
                });
            }
            rs.as_ref().clone()
        }
        None => {
            let name = format!("{}-{hash}", key.name);
            let mut tmpl = template.clone();
            tmpl["metadata"]["labels"]["pod-template-hash"] = json!(hash);
            let mut selector = d["spec"]["selector"].clone();
            selector["matchLabels"]["pod-template-hash"] = json!(hash);
            let mut labels = template["metadata"]["labels"].clone();
            labels["pod-template-hash"] = json!(hash);
            let rs = json!({
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": name,
                    "namespace": key.namespace,
                    "labels": labels,
                    "annotations": {"deployment.kubernetes.io/revision": (max_revision + 1).to_string(), "deployment.kubernetes.io/desired-replicas": desired.to_string()},
                    "ownerReferences": [owner_ref(d, &dep_rt)],
                },
                "spec": {"replicas": desired, "selector": selector, "template": tmpl, "minReadySeconds": d["spec"]["minReadySeconds"].clone()},
            });
            let opts = WriteOptions { field_manager: Some(MANAGER.into()), ..Default::default() };
            match shared.api.create(&rs_rt, &key.namespace, rs, &opts) {
                Ok(w) => w.object.as_ref().clone(),
                Err(e) => {
                    tracing::warn!("failed to create replicaset {name}: {}", e.message);
                    return;
                }
            }
        }
    };
    let new_name = new_rs["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let new_available = int(&new_rs["status"]["availableReplicas"]);
    // Old ReplicaSets shrink as the new one becomes available.
    let mut old_budget = (desired - new_available).max(0);
    for rs in sets.iter().rev().filter(|rs| rs["metadata"]["name"] != new_name.as_str()) {
        let current = int(&rs["spec"]["replicas"]);
        let target = current.min(old_budget);
        old_budget -= target;
        if target != current {
            shared.api.modify(&rs_rt, &key.namespace, rs["metadata"]["name"].as_str().unwrap_or_default(), |o| {
                o["spec"]["replicas"] = json!(target)
            });
        }
    }
    // Status from the ReplicaSets as they are now.
    let sets = owned(shared, "apps", "replicasets", &key.namespace, uid);
    let sum = |field: &str| sets.iter().map(|rs| int(&rs["status"][field])).sum::<i64>();
    let (replicas, ready, available) = (sum("replicas"), sum("readyReplicas"), sum("availableReplicas"));
    let new_rs = sets.iter().find(|rs| rs["metadata"]["name"] == new_name.as_str());
    let updated = new_rs.map(|rs| int(&rs["status"]["replicas"])).unwrap_or(0);
    let new_ready = new_rs.map(|rs| int(&rs["status"]["availableReplicas"])).unwrap_or(0);
    let old_left = sets
        .iter()
        .filter(|rs| rs["metadata"]["name"] != new_name.as_str())
        .map(|rs| int(&rs["status"]["replicas"]))
        .sum::<i64>();
    let complete = new_ready >= desired && old_left == 0 && updated == desired;
    let generation = d["metadata"]["generation"].clone();
    let deadline = d["spec"]["progressDeadlineSeconds"].as_i64().unwrap_or(600);
    let min_available = desired - max_unavailable(d, desired);
    shared.api.update_status(&dep_rt, &key.namespace, &key.name, |status| {
        let before = status.clone();
        status["observedGeneration"] = generation.clone();
        status["replicas"] = json!(replicas);
        status["updatedReplicas"] = json!(updated);
        status["readyReplicas"] = json!(ready);
        status["availableReplicas"] = json!(available);
        if replicas > available {
            status["unavailableReplicas"] = json!(replicas - available);
        } else if let Some(map) = status.as_object_mut() {
            map.remove("unavailableReplicas");
        }
        let available_ok = available >= min_available;
        put_condition(
            status,
            condition(
                "Available",
                available_ok,
                if available_ok { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                if available_ok {
                    "Deployment has minimum availability."
                } else {
                    "Deployment does not have minimum availability."
                },
            ),
        );
        let progressed = before["replicas"] != status["replicas"]
            || before["updatedReplicas"] != status["updatedReplicas"]
            || before["availableReplicas"] != status["availableReplicas"]
            || before["observedGeneration"] != status["observedGeneration"];
        let message_rs = format!("ReplicaSet \"{new_name}\"");
        if complete {
            put_condition(
                status,
                condition(
                    "Progressing",
                    true,
                    "NewReplicaSetAvailable",
                    &format!("{message_rs} has successfully progressed."),
                ),
            );
        } else if progressed {
            let mut c = condition("Progressing", true, "ReplicaSetUpdated", &format!("{message_rs} is progressing."));
            // Every step forward restarts the progress deadline.
            if let Some(old) = get_condition(status, "Progressing") {
                if old["status"] == "True" {
                    c["lastTransitionTime"] = old["lastTransitionTime"].clone();
                }
            }
            let conditions = status["conditions"].as_array_mut().expect("set by put_condition");
            conditions.retain(|x| x["type"] != "Progressing");
            conditions.push(c);
        } else if let Some(last) = get_condition(status, "Progressing")
            .and_then(|c| c["lastUpdateTime"].as_str())
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        {
            let stalled = jiff::Timestamp::now().as_second() - last.as_second();
            let already =
                get_condition(status, "Progressing").is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded");
            if stalled > deadline && !already {
                put_condition(
                    status,
                    condition(
                        "Progressing",
                        false,
                        "ProgressDeadlineExceeded",
                        &format!("{message_rs} has timed out progressing."),
                    ),
                );
            }
        }
    });
}

fn replicaset(shared: &Arc<Shared>, key: &ObjectKey, rs: &Value) {
    let Some(rs_rt) = rt(shared, "apps", "replicasets") else { return };
    let uid = rs["metadata"]["uid"].as_str().unwrap_or_default();
    let desired = rs["spec"]["replicas"].as_i64().unwrap_or(1);
    let pods: Vec<Arc<Value>> = owned(shared, "", "pods", &key.namespace, uid)
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect();
    let count = pods.len() as i64;
    if count < desired {
        for _ in count..desired {
            let name = format!("{}-{}", key.name, random_suffix());
            create_pod(shared, &key.namespace, &name, &rs["spec"]["template"], owner_ref(rs, &rs_rt), &[]);
        }
    } else if count > desired {
        let mut victims = pods.clone();
        // Unready pods go first, then the newest.
        victims.sort_by_key(|p| {
            (
                is_ready(p),
                std::cmp::Reverse(p["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string()),
            )
        });
        for p in victims.iter().take((count - desired) as usize) {
            delete(shared, "", "pods", &key.namespace, p["metadata"]["name"].as_str().unwrap_or_default());
        }
    }
    let pods: Vec<Arc<Value>> = owned(shared, "", "pods", &key.namespace, uid)
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect();
    let ready = pods.iter().filter(|p| is_ready(p)).count();
    let generation = rs["metadata"]["generation"].clone();
    shared.api.update_status(&rs_rt, &key.namespace, &key.name, |status| {
        status["replicas"] = json!(pods.len());
        status["fullyLabeledReplicas"] = json!(pods.len());
        status["readyReplicas"] = json!(ready);
        status["availableReplicas"] = json!(ready);
        status["observedGeneration"] = generation.clone();
    });
}

fn statefulset(shared: &Arc<Shared>, key: &ObjectKey, sts: &Value) {
    let Some(sts_rt) = rt(shared, "apps", "statefulsets") else { return };
    let desired = sts["spec"]["replicas"].as_i64().unwrap_or(1);
    let uid = sts["metadata"]["uid"].as_str().unwrap_or_default();
    let revision = format!("{}-{}", key.name, template_hash(&sts["spec"]["template"]));
    let parallel = sts["spec"]["podManagementPolicy"] == "Parallel";
    let pods = owned(shared, "", "pods", &key.namespace, uid);
    let by_ordinal = |i: i64| pods.iter().find(|p| p["metadata"]["name"] == format!("{}-{i}", key.name).as_str());
    // PVCs from volumeClaimTemplates, named <template>-<set>-<ordinal>.
    for i in 0..desired {
        for t in sts["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
            let claim = format!("{}-{}-{i}", t["metadata"]["name"].as_str().unwrap_or_default(), key.name);
            if shared.api.store.get(&ObjectKey::new("", "persistentvolumeclaims", &key.namespace, &claim)).is_none() {
                if let Some(pvc_rt) = rt(shared, "", "persistentvolumeclaims") {
                    let mut labels = sts["spec"]["selector"]["matchLabels"].clone();
                    if !labels.is_object() {
                        labels = json!({});
                    }
                    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "metadata": {"name": claim, "namespace": key.namespace, "labels": labels},
                        "spec": t["spec"]});
                    let opts = WriteOptions { field_manager: Some(MANAGER.into()), ..Default::default() };
                    let _ = shared.api.create(&pvc_rt, &key.namespace, pvc, &opts);
                }
            }
        }
    }
    // Create missing pods in order (OrderedReady: one at a time, each after
    // the previous is ready).
    for i in 0..desired {
        match by_ordinal(i) {
            Some(p) => {
                let stale = p["metadata"]["labels"]["controller-revision-hash"] != revision.as_str();
                if p["metadata"]["deletionTimestamp"].is_null()
                    && stale
                    && pods.iter().all(|q| q["metadata"]["deletionTimestamp"].is_null())
                {
                    // Rolling update from the highest ordinal: only when all
                    // others are ready.
                    let highest_stale = (0..desired).rev().find(|j| {
                        by_ordinal(*j)
                            .is_some_and(|q| q["metadata"]["labels"]["controller-revision-hash"] != revision.as_str())
                    });
                    if highest_stale == Some(i) && pods.iter().all(|q| is_ready(q)) {
                        delete(shared, "", "pods", &key.namespace, p["metadata"]["name"].as_str().unwrap_or_default());
                    }
                }
                if !parallel && !is_ready(p) {
                    break;
                }
            }
            None => {
                let mut template = sts["spec"]["template"].clone();
                // Each pod mounts its own claims.
                for t in sts["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
                    let tname = t["metadata"]["name"].as_str().unwrap_or_default();
                    let claim = format!("{tname}-{}-{i}", key.name);
                    if !template["spec"]["volumes"].is_array() {
                        template["spec"]["volumes"] = json!([]);
                    }
                    if let Some(volumes) = template["spec"]["volumes"].as_array_mut() {
                        volumes.push(json!({"name": tname, "persistentVolumeClaim": {"claimName": claim}}));
                    }
                }
                let name = format!("{}-{i}", key.name);
                create_pod(
                    shared,
                    &key.namespace,
                    &name,
                    &template,
                    owner_ref(sts, &sts_rt),
                    &[
                        ("controller-revision-hash", revision.clone()),
                        ("statefulset.kubernetes.io/pod-name", name.clone()),
                        ("apps.kubernetes.io/pod-index", i.to_string()),
                    ],
                );
                if !parallel {
                    break;
                }
            }
        }
    }
    for p in &pods {
        let name = p["metadata"]["name"].as_str().unwrap_or_default();
        let ordinal = name.rsplit('-').next().and_then(|n| n.parse::<i64>().ok()).unwrap_or(0);
        if ordinal >= desired && p["metadata"]["deletionTimestamp"].is_null() {
            delete(shared, "", "pods", &key.namespace, name);
        }
    }
    let live: Vec<&Arc<Value>> = pods.iter().filter(|p| p["metadata"]["deletionTimestamp"].is_null()).collect();
    let ready = live.iter().filter(|p| is_ready(p)).count();
    let updated =
        live.iter().filter(|p| p["metadata"]["labels"]["controller-revision-hash"] == revision.as_str()).count();
    let generation = sts["metadata"]["generation"].clone();
    shared.api.update_status(&sts_rt, &key.namespace, &key.name, |status| {
        status["observedGeneration"] = generation.clone();
        status["replicas"] = json!(live.len());
        status["readyReplicas"] = json!(ready);
        status["availableReplicas"] = json!(ready);
        status["currentReplicas"] = json!(updated);
        status["updatedReplicas"] = json!(updated);
        status["updateRevision"] = json!(revision);
        if updated == live.len() {
            status["currentRevision"] = json!(revision);
        }
    });
}

/// There are no nodes: a DaemonSet schedules nothing, and says so.
fn daemonset(shared: &Arc<Shared>, key: &ObjectKey, ds: &Value) {
    let Some(ds_rt) = rt(shared, "apps", "daemonsets") else { return };
    let generation = ds["metadata"]["generation"].clone();
    shared.api.update_status(&ds_rt, &key.namespace, &key.name, |status| {
        status["observedGeneration"] = generation.clone();
        for field in [
            "desiredNumberScheduled",
            "currentNumberScheduled",
            "numberReady",
            "numberAvailable",
            "updatedNumberScheduled",
            "numberMisscheduled",
        ] {
            status[field] = json!(0);
        }
    });
}

fn job(shared: &Arc<Shared>, key: &ObjectKey, job: &Value) {
    let Some(job_rt) = rt(shared, "batch", "jobs") else { return };
    let uid = job["metadata"]["uid"].as_str().unwrap_or_default();
    let completions = job["spec"]["completions"].as_i64().unwrap_or(1);
    let parallelism = job["spec"]["parallelism"].as_i64().unwrap_or(1);
    let backoff = job["spec"]["backoffLimit"].as_i64().unwrap_or(6);
    let pods = owned(shared, "", "pods", &key.namespace, uid);
    let phase = |p: &Value| p["status"]["phase"].as_str().unwrap_or("Pending").to_string();
    let succeeded = pods.iter().filter(|p| phase(p) == "Succeeded").count() as i64;
    let failed = pods.iter().filter(|p| phase(p) == "Failed").count() as i64;
    let active: Vec<&Arc<Value>> = pods
        .iter()
        .filter(|p| {
            !matches!(phase(p).as_str(), "Succeeded" | "Failed") && p["metadata"]["deletionTimestamp"].is_null()
        })
        .collect();
    let finished = get_condition(&job["status"], "Complete").is_some_and(|c| c["status"] == "True")
        || get_condition(&job["status"], "Failed").is_some_and(|c| c["status"] == "True");
    let done = succeeded >= completions;
    let exhausted = failed > backoff;
    if !finished && !done && !exhausted {
        let want = parallelism.min(completions - succeeded) - active.len() as i64;
        let mut labels = vec![("batch.kubernetes.io/job-name", key.name.clone()), ("job-name", key.name.clone())];
        labels.push(("batch.kubernetes.io/controller-uid", uid.to_string()));
        for _ in 0..want.max(0) {
            let name = format!("{}-{}", key.name, random_suffix());
            create_pod(shared, &key.namespace, &name, &job["spec"]["template"], owner_ref(job, &job_rt), &labels);
        }
    }
    if exhausted {
        for p in &active {
            delete(shared, "", "pods", &key.namespace, p["metadata"]["name"].as_str().unwrap_or_default());
        }
    }
    let ready = active.iter().filter(|p| is_ready(p)).count();
    let active_count = if done || exhausted { 0 } else { active.len() };
    shared.api.update_status(&job_rt, &key.namespace, &key.name, |status| {
        if status["startTime"].is_null() {
            status["startTime"] = json!(now());
        }
        status["active"] = json!(active_count);
        status["ready"] = json!(ready);
        status["succeeded"] = json!(succeeded);
        status["failed"] = json!(failed);
        if finished {
            return;
        }
        if done {
            status["completionTime"] = json!(now());
            put_condition(
                status,
                condition(
                    "SuccessCriteriaMet",
                    true,
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                ),
            );
            put_condition(
                status,
                condition("Complete", true, "CompletionsReached", "Reached expected number of succeeded pods"),
            );
        } else if exhausted {
            put_condition(
                status,
                condition("FailureTarget", true, "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
            );
            put_condition(
                status,
                condition("Failed", true, "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
            );
        }
    });
}

fn bind_pvc(shared: &Arc<Shared>, key: &ObjectKey, pvc: &Value) {
    if pvc["status"]["phase"] == "Bound" {
        return;
    }
    let Some(pvc_rt) = rt(shared, "", "persistentvolumeclaims") else { return };
    let volume = format!("pvc-{}", pvc["metadata"]["uid"].as_str().unwrap_or_default());
    shared.api.modify(&pvc_rt, &key.namespace, &key.name, |o| {
        if o["spec"]["volumeName"].is_null() {
            o["spec"]["volumeName"] = json!(volume);
        }
        o["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] = json!("yes");
        o["status"]["phase"] = json!("Bound");
        o["status"]["accessModes"] = o["spec"]["accessModes"].clone();
        o["status"]["capacity"]["storage"] = o["spec"]["resources"]["requests"]["storage"].clone();
    });
}

fn behavior(pod: &Value) -> &str {
    if let Some(b) = pod["metadata"]["annotations"][BEHAVIOR_ANNOTATION].as_str() {
        return b;
    }
    let images: Vec<&str> =
        pod["spec"]["containers"].as_array().into_iter().flatten().filter_map(|c| c["image"].as_str()).collect();
    if images.iter().any(|i| i.contains("sandbox/crash")) {
        "crash"
    } else if images.iter().any(|i| i.contains("sandbox/never-ready")) {
        "never-ready"
    } else {
        "ready"
    }
}

fn simulated_status(pod: &Value, ready: bool, restarts: i64, phase: &str) -> Value {
    let t = now();
    let crash = behavior(pod) == "crash";
    let statuses: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let state = match phase {
                "Succeeded" => json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": t, "finishedAt": t}}),
                "Failed" => json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": t, "finishedAt": t}}),
                _ if crash => json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off restarting failed container {} (simulated crash)", c["name"].as_str().unwrap_or_default())}}),
                _ => json!({"running": {"startedAt": t}}),
            };
            json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": ready, "started": !crash, "restartCount": restarts, "state": state})
        })
        .collect();
    let cond = |kind: &str, ok: bool| {
        let mut c = json!({"type": kind, "status": if ok { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": t});
        if !ok {
            c["reason"] = json!(if phase == "Succeeded" { "PodCompleted" } else { "ContainersNotReady" });
        }
        c
    };
    json!({
        "phase": phase,
        "conditions": [cond("PodScheduled", true), cond("Initialized", true), cond("ContainersReady", ready), cond("Ready", ready)],
        "hostIP": crate::kubelet::POD_IP,
        "podIP": crate::kubelet::POD_IP,
        "podIPs": [{"ip": crate::kubelet::POD_IP}],
        "startTime": pod["status"]["startTime"].as_str().map(String::from).unwrap_or(t),
        "containerStatuses": statuses,
    })
}

fn pod(shared: &Arc<Shared>, key: &ObjectKey, pod: &Value, timers: &mut Timers) {
    let Some(pod_rt) = rt(shared, "", "pods") else { return };
    let id = (key.namespace.clone(), key.name.clone());
    let terminating = !pod["metadata"]["deletionTimestamp"].is_null();
    let has_process = shared.pods.lock().contains_key(&id);
    if terminating {
        let grace = Duration::from_secs(pod["metadata"]["deletionGracePeriodSeconds"].as_u64().unwrap_or(30));
        match has_process {
            true => {
                let running = shared.pods.lock().remove(&id);
                let shared = shared.clone();
                let key = key.clone();
                tokio::spawn(async move {
                    if let Some(running) = running.and_then(|r| Arc::try_unwrap(r).ok()) {
                        running.terminate(grace).await;
                    }
                    if let Some(rt) = rt(&shared, "", "pods") {
                        finish_pod(&shared, &rt, &key);
                    }
                });
            }
            false if shared.pods.starting.lock().unwrap_or_else(|e| e.into_inner()).contains(&id) => {
                // Still starting: the starter sees the deletion and stops it.
            }
            false => finish_pod(shared, &pod_rt, key),
        }
        return;
    }
    if has_process {
        return;
    }
    if shared.pods.kubelet.runs(pod) {
        if !shared.pods.claim(&id) {
            return;
        }
        let kubelet = shared.pods.kubelet.clone();
        let pod = with_resolved_sources(shared, &key.namespace, pod);
        let shared = shared.clone();
        let key = key.clone();
        // Reserve the slot so later changes do not start it twice.
        tokio::spawn(async move {
            match kubelet.start(&pod).await {
                Ok(running) => {
                    let mut state = running.state();
                    let id = (key.namespace.clone(), key.name.clone());
                    shared.pods.lock().insert(id.clone(), Arc::new(running));
                    shared.pods.release(&id);
                    // A deletion that arrived while starting is handled now.
                    if shared.api.store.get(&key).is_none_or(|p| !p["metadata"]["deletionTimestamp"].is_null()) {
                        let running = shared.pods.lock().remove(&id);
                        if let Some(running) = running.and_then(|r| Arc::try_unwrap(r).ok()) {
                            running.terminate(Duration::from_secs(2)).await;
                        }
                        finish_pod(&shared, &pod_rt, &key);
                        return;
                    }
                    loop {
                        let status = state.borrow_and_update().to_status();
                        let alive =
                            shared.api.update_status(&pod_rt, &key.namespace, &key.name, |s| *s = status.clone());
                        if alive.is_none() || state.changed().await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    shared.pods.release(&(key.namespace.clone(), key.name.clone()));
                    let message = e.to_string();
                    shared.api.update_status(&pod_rt, &key.namespace, &key.name, |s| {
                        s["phase"] = json!("Failed");
                        s["reason"] = json!("StartError");
                        s["message"] = json!(message);
                    });
                }
            }
        });
        return;
    }
    // Simulated.
    let behaviour = behavior(pod).to_string();
    let phase = pod["status"]["phase"].as_str().unwrap_or("").to_string();
    let run_to_completion = pod["spec"]["restartPolicy"] != "Always";
    let restarts = pod["status"]["containerStatuses"][0]["restartCount"].as_i64().unwrap_or(0);
    let id_key = (key.namespace.clone(), key.name.clone());
    let delay = shared.config.pod_ready_delay;
    match (phase.as_str(), behaviour.as_str()) {
        ("", _) | ("Pending", _) if pod["status"]["conditions"].is_null() => {
            let status = simulated_status(pod, false, 0, "Running");
            shared.api.update_status(&pod_rt, &key.namespace, &key.name, |s| *s = status.clone());
            timers.pods.insert(id_key, Instant::now() + delay);
        }
        ("Running", "crash") => {
            if run_to_completion {
                let status = simulated_status(pod, false, restarts, "Failed");
                shared.api.update_status(&pod_rt, &key.namespace, &key.name, |s| *s = status.clone());
            } else if let std::collections::hash_map::Entry::Vacant(slot) = timers.pods.entry(id_key) {
                let status = simulated_status(pod, false, restarts + 1, "Running");
                shared.api.update_status(&pod_rt, &key.namespace, &key.name, |s| *s = status.clone());
                slot.insert(Instant::now() + Duration::from_secs(1).max(delay));
            }
        }
        ("Running", "never-ready") => {}
        ("Running", _) => {
            let ready_now = is_ready(pod);
            if run_to_completion {
                let status = simulated_status(pod, false, 0, "Succeeded");
                shared.api.update_status(&pod_rt, &key.namespace, &key.name, |s| *s = status.clone());
            } else if !ready_now && !timers.pods.contains_key(&id_key) {
                let status = simulated_status(pod, true, restarts, "Running");
                shared.api.update_status(&pod_rt, &key.namespace, &key.name, |s| *s = status.clone());
            }
        }
        _ => {}
    }
}

/// The pod with what a kubelet would fetch filled in: ConfigMap and Secret
/// volumes as `x-sandbox-files` (one file per key, or per `items` path), and
/// env values from `configMapKeyRef`/`secretKeyRef` as plain values.
fn with_resolved_sources(shared: &Shared, namespace: &str, pod: &Value) -> Value {
    use base64::Engine as _;
    let read = |plural: &str, name: &str| shared.api.store.get(&ObjectKey::new("", plural, namespace, name));
    let data_of = |source: &Value, plural: &str| -> Option<serde_json::Map<String, Value>> {
        let name = source["name"].as_str()?;
        let object = read(plural, name)?;
        let mut data = serde_json::Map::new();
        for (k, v) in object["data"].as_object().into_iter().flatten() {
            let text = if plural == "secrets" {
                let bytes = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).ok()?;
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                v.as_str().unwrap_or_default().to_string()
            };
            data.insert(k.clone(), json!(text));
        }
        for (k, v) in object["stringData"].as_object().into_iter().flatten() {
            data.insert(k.clone(), v.clone());
        }
        Some(data)
    };
    let mut pod = pod.clone();
    for volume in pod["spec"]["volumes"].as_array_mut().into_iter().flatten() {
        let (source, plural) = if volume["configMap"].is_object() {
            (volume["configMap"].clone(), "configmaps")
        } else if volume["secret"].is_object() {
            let mut s = volume["secret"].clone();
            s["name"] = s["secretName"].clone();
            (s, "secrets")
        } else {
            continue;
        };
        let Some(data) = data_of(&source, plural) else { continue };
        let files: serde_json::Map<String, Value> = match source["items"].as_array() {
            Some(items) => items
                .iter()
                .filter_map(|i| Some((i["path"].as_str()?.to_string(), data.get(i["key"].as_str()?)?.clone())))
                .collect(),
            None => data,
        };
        volume["x-sandbox-files"] = Value::Object(files);
    }
    for list in ["containers", "initContainers"] {
        for container in pod["spec"][list].as_array_mut().into_iter().flatten() {
            for env in container["env"].as_array_mut().into_iter().flatten() {
                let (source, plural) = if env["valueFrom"]["configMapKeyRef"].is_object() {
                    (env["valueFrom"]["configMapKeyRef"].clone(), "configmaps")
                } else if env["valueFrom"]["secretKeyRef"].is_object() {
                    (env["valueFrom"]["secretKeyRef"].clone(), "secrets")
                } else {
                    continue;
                };
                let value =
                    data_of(&source, plural).and_then(|d| d.get(source["key"].as_str().unwrap_or_default()).cloned());
                if let Some(value) = value {
                    env["value"] = value;
                    if let Some(map) = env.as_object_mut() {
                        map.remove("valueFrom");
                    }
                }
            }
        }
    }
    pod
}

fn finish_pod(shared: &Arc<Shared>, rt: &ResourceType, key: &ObjectKey) {
    // Finalizers still block removal; the pod stays Terminating until they go.
    let Some(pod) = shared.api.store.get(key) else { return };
    if pod["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty()) {
        return;
    }
    shared.api.remove_now(rt, &key.namespace, &key.name);
}

fn sync_endpoints(shared: &Arc<Shared>, ns: &str) {
    let (services, _) = shared.api.store.list("", "services", Some(ns));
    let (pods, _) = shared.api.store.list("", "pods", Some(ns));
    let Some(ep_rt) = rt(shared, "", "endpoints") else { return };
    let Some(slice_rt) = rt(shared, "discovery.k8s.io", "endpointslices") else { return };
    let opts = WriteOptions { field_manager: Some("endpoint-controller".into()), ..Default::default() };
    for svc in services {
        let selector = &svc["spec"]["selector"];
        if !selector.is_object() || selector.as_object().is_some_and(|m| m.is_empty()) {
            continue;
        }
        let name = svc["metadata"]["name"].as_str().unwrap_or_default();
        let sel = LabelSelector::from_object(selector);
        let selected: Vec<&Arc<Value>> = pods
            .iter()
            .filter(|p| {
                sel.matches(p)
                    && !p["status"]["phase"].is_null()
                    && !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
            })
            .collect();
        let address = |p: &Value| json!({"ip": crate::kubelet::POD_IP, "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]}});
        let ready: Vec<Value> = selected.iter().filter(|p| is_ready(p)).map(|p| address(p)).collect();
        let not_ready: Vec<Value> = selected.iter().filter(|p| !is_ready(p)).map(|p| address(p)).collect();
        let ports: Vec<Value> = svc["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let target = resolve_target_port(&p["targetPort"], selected.first().map(|p| p.as_ref()));
                let mut port = json!({"port": target.unwrap_or_else(|| p["port"].as_i64().unwrap_or(0)), "protocol": p["protocol"].as_str().unwrap_or("TCP")});
                if let Some(n) = p["name"].as_str() {
                    port["name"] = json!(n);
                }
                port
            })
            .collect();
        let mut subset = json!({"ports": ports});
        if !ready.is_empty() {
            subset["addresses"] = json!(ready);
        }
        if !not_ready.is_empty() {
            subset["notReadyAddresses"] = json!(not_ready);
        }
        let subsets = if ready.is_empty() && not_ready.is_empty() { json!([]) } else { json!([subset]) };
        let labels = svc["metadata"]["labels"].clone();
        let endpoints = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns, "labels": labels}, "subsets": subsets});
        upsert(shared, &ep_rt, ns, name, endpoints, &opts, |live| live["subsets"] == subsets);
        let slice_endpoints: Vec<Value> = selected
            .iter()
            .map(|p| {
                let r = is_ready(p);
                json!({"addresses": [crate::kubelet::POD_IP], "conditions": {"ready": r, "serving": r, "terminating": false}, "targetRef": address(p)["targetRef"]})
            })
            .collect();
        let slice_name = format!("{name}-sandbox");
        let mut slice_labels = if labels.is_object() { labels.clone() } else { json!({}) };
        slice_labels["kubernetes.io/service-name"] = json!(name);
        slice_labels["endpointslice.kubernetes.io/managed-by"] = json!("endpointslice-controller.k8s.io");
        let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": slice_name, "namespace": ns, "labels": slice_labels}, "addressType": "IPv4", "endpoints": slice_endpoints, "ports": ports});
        upsert(shared, &slice_rt, ns, &slice_name, slice, &opts, |live| {
            live["endpoints"] == json!(slice_endpoints) && live["ports"] == json!(ports)
        });
    }
}

/// A Service's targetPort as a number: itself, or a named container port
/// of the first selected pod.
pub fn resolve_target_port(target: &Value, pod: Option<&Value>) -> Option<i64> {
    match target {
        Value::Number(n) => n.as_i64(),
        Value::String(name) => pod?["spec"]["containers"]
            .as_array()?
            .iter()
            .flat_map(|c| c["ports"].as_array().into_iter().flatten())
            .find(|p| p["name"] == name.as_str())
            .and_then(|p| p["containerPort"].as_i64()),
        _ => None,
    }
}

fn upsert(
    shared: &Arc<Shared>,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    body: Value,
    opts: &WriteOptions,
    unchanged: impl Fn(&Value) -> bool,
) {
    match shared.api.store.get(&ObjectKey::new(&rt.group, &rt.plural, ns, name)) {
        Some(live) if unchanged(&live) => {}
        Some(_) => {
            let _ = shared.api.update(rt, ns, name, body, None, opts);
        }
        None => {
            if let Err(e) = shared.api.create(rt, ns, body, opts) {
                if e.code != 409 && e.code != 403 {
                    tracing::warn!("failed to write {} {ns}/{name}: {}", rt.plural, e.message);
                }
            }
        }
    }
}

fn terminate_namespace(shared: &Arc<Shared>, name: &str) {
    let Some(ns) = shared.api.store.get(&ObjectKey::new("", "namespaces", "", name)) else { return };
    if ns["metadata"]["deletionTimestamp"].is_null() {
        return;
    }
    let contents = shared.api.store.in_namespace(name);
    if contents.is_empty() {
        if let Some(ns_rt) = rt(shared, "", "namespaces") {
            shared.api.remove_now(&ns_rt, "", name);
        }
        return;
    }
    for (key, obj) in contents {
        if obj["metadata"]["deletionTimestamp"].is_null() {
            delete(shared, &key.group, &key.plural, &key.namespace, &key.name);
        }
    }
}

/// Background propagation: dependents of a deleted owner are deleted.
fn collect_dependents(shared: &Arc<Shared>, uid: &str, namespace: &str) {
    let candidates =
        if namespace.is_empty() { shared.api.store.all() } else { shared.api.store.in_namespace(namespace) };
    for (key, obj) in candidates {
        if owners(&obj).any(|r| r["uid"] == uid) && obj["metadata"]["deletionTimestamp"].is_null() {
            delete(shared, &key.group, &key.plural, &key.namespace, &key.name);
        }
    }
}

/// Orphan and foreground deletion, driven by their finalizers.
fn finish_deletion(shared: &Arc<Shared>, key: &ObjectKey, obj: &Value) {
    let finalizers: Vec<String> = obj["metadata"]["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(String::from))
        .collect();
    let uid = obj["metadata"]["uid"].as_str().unwrap_or_default().to_string();
    let Some(rt) = rt(shared, &key.group, &key.plural) else { return };
    let dependents: Vec<(ObjectKey, Arc<Value>)> =
        if key.namespace.is_empty() { shared.api.store.all() } else { shared.api.store.in_namespace(&key.namespace) }
            .into_iter()
            .filter(|(_, o)| owners(o).any(|r| r["uid"] == uid.as_str()))
            .collect();
    let mut remove = None;
    if finalizers.iter().any(|f| f == "orphan") {
        for (dkey, _) in &dependents {
            if let Some(drt) = self::rt(shared, &dkey.group, &dkey.plural) {
                shared.api.modify(&drt, &dkey.namespace, &dkey.name, |o| {
                    if let Some(refs) = o["metadata"]["ownerReferences"].as_array_mut() {
                        refs.retain(|r| r["uid"] != uid.as_str());
                    }
                });
            }
        }
        remove = Some("orphan");
    } else if finalizers.iter().any(|f| f == "foregroundDeletion") {
        if dependents.is_empty() {
            remove = Some("foregroundDeletion");
        } else {
            for (dkey, dobj) in &dependents {
                if dobj["metadata"]["deletionTimestamp"].is_null() {
                    if let Some(drt) = self::rt(shared, &dkey.group, &dkey.plural) {
                        let opts = DeleteOptions {
                            propagation: crate::apiserver::Propagation::Foreground,
                            ..Default::default()
                        };
                        let _ = shared.api.delete(&drt, &dkey.namespace, &dkey.name, &opts);
                    }
                }
            }
        }
    }
    if let Some(finalizer) = remove {
        let updated = shared.api.modify(&rt, &key.namespace, &key.name, |o| {
            if let Some(f) = o["metadata"]["finalizers"].as_array_mut() {
                f.retain(|x| x != finalizer);
            }
        });
        if updated.is_some_and(|o| o["metadata"]["finalizers"].as_array().is_none_or(|f| f.is_empty()))
            && key.plural != "pods"
        {
            shared.api.remove_now(&rt, &key.namespace, &key.name);
        }
    }
}
