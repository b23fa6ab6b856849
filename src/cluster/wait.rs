//! Readiness of applied objects, in the spirit of kstatus: what "ready"
//! means per kind, waiting until a set of objects is ready (reporting
//! progress), and explaining on timeout why the rest is not.
//!
//! Waiting polls with LIST — one request per resource type and namespace
//! per round, however many objects of that type are waited for — rather
//! than a GET per object or a watch per type: a few hundred objects cost a
//! handful of requests a round, and a dropped connection costs nothing but
//! the next round.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use kube::api::ListParams;
use serde_json::Value;

use super::client::{object_id, with_retries, Cluster};
use super::error::ClusterError;
use crate::events::{Event, Progress};

/// How ready one live object is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Rolled out, complete, bound or established: nothing left to wait for.
    Ready,
    /// Not yet; the text says what it waits for (`1/2 replicas available`).
    InProgress(String),
    /// It will not become ready without a change (a rollout past its
    /// progress deadline, a failed Job); the text says why.
    Failed(String),
}

impl Readiness {
    /// Whether the object is ready.
    pub fn is_ready(&self) -> bool {
        matches!(self, Readiness::Ready)
    }
}

/// How long to wait and how often to look.
#[derive(Clone, Debug)]
pub struct WaitOptions {
    /// The limit for the whole set.
    pub timeout: Duration,
    /// Pause between polling rounds.
    pub poll: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions { timeout: Duration::from_secs(300), poll: Duration::from_millis(250) }
    }
}

/// kstatus-like readiness of one live object (as the API server returns
/// it, status included). Kinds without a notion of rollout are ready once
/// they exist, provided a controller that reports `status.observedGeneration`
/// has seen the current generation.
pub fn readiness(object: &Value) -> Readiness {
    if object["metadata"]["deletionTimestamp"].is_string() {
        return Readiness::InProgress("being deleted".into());
    }
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    match (group, object["kind"].as_str().unwrap_or_default()) {
        ("apps", "Deployment") => deployment(object),
        ("apps", "StatefulSet") => statefulset(object),
        ("apps", "DaemonSet") => daemonset(object),
        ("batch", "Job") => job(object),
        ("", "PersistentVolumeClaim") => pvc(object),
        ("", "Pod") => pod(object),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(object),
        _ => observed(object).unwrap_or(Readiness::Ready),
    }
}

fn int(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind)
}

fn condition_is(object: &Value, kind: &str, status: &str) -> bool {
    condition(object, kind).is_some_and(|c| c["status"] == status)
}

/// `reason: message`, or whichever of them is set.
fn condition_text(c: &Value) -> String {
    match (c["reason"].as_str(), c["message"].as_str()) {
        (Some(r), Some(m)) if !m.is_empty() => format!("{r}: {m}"),
        (Some(r), _) => r.to_string(),
        (None, Some(m)) => m.to_string(),
        (None, None) => "no reason given".into(),
    }
}

/// In progress while the controller has not seen the current generation;
/// `None` when it has (or reports no observedGeneration at all).
fn observed(object: &Value) -> Option<Readiness> {
    let seen = object["status"]["observedGeneration"].as_i64()?;
    let generation = object["metadata"]["generation"].as_i64()?;
    (seen < generation)
        .then(|| Readiness::InProgress(format!("waiting for the controller to observe generation {generation}")))
}

/// Like [`observed`], but a workload whose controller reported nothing yet
/// is in progress too.
fn observed_workload(object: &Value) -> Option<Readiness> {
    if object["status"]["observedGeneration"].is_null() {
        let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
        return Some(Readiness::InProgress(format!("waiting for the controller to observe generation {generation}")));
    }
    observed(object)
}

fn deployment(d: &Value) -> Readiness {
    if let Some(r) = observed_workload(d) {
        return r;
    }
    if let Some(c) = condition(d, "Progressing").filter(|c| c["reason"] == "ProgressDeadlineExceeded") {
        let message = c["message"].as_str().unwrap_or("the rollout made no progress");
        return Readiness::Failed(format!("progress deadline exceeded: {message}"));
    }
    let desired = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let status = &d["status"];
    let updated = int(&status["updatedReplicas"]);
    let replicas = int(&status["replicas"]);
    let available = int(&status["availableReplicas"]);
    if updated < desired {
        Readiness::InProgress(format!("{updated}/{desired} replicas updated"))
    } else if replicas > updated {
        Readiness::InProgress(format!("{} old replica(s) pending termination", replicas - updated))
    } else if available < desired {
        Readiness::InProgress(format!("{available}/{desired} replicas available"))
    } else {
        Readiness::Ready
    }
}

fn statefulset(s: &Value) -> Readiness {
    if let Some(r) = observed_workload(s) {
        return r;
    }
    let desired = s["spec"]["replicas"].as_i64().unwrap_or(1);
    let status = &s["status"];
    let ready = int(&status["readyReplicas"]);
    let updated = int(&status["updatedReplicas"]);
    let strategy = &s["spec"]["updateStrategy"];
    let on_delete = strategy["type"] == "OnDelete";
    let partition = int(&strategy["rollingUpdate"]["partition"]).clamp(0, desired);
    if !on_delete && updated < desired - partition {
        return Readiness::InProgress(format!("{updated}/{} replicas updated", desired - partition));
    }
    if ready < desired {
        return Readiness::InProgress(format!("{ready}/{desired} replicas ready"));
    }
    if !on_delete && partition == 0 {
        if let (Some(current), Some(update)) = (status["currentRevision"].as_str(), status["updateRevision"].as_str()) {
            if current != update {
                return Readiness::InProgress(format!("rolling update to revision {update} in progress"));
            }
        }
    }
    Readiness::Ready
}

fn daemonset(d: &Value) -> Readiness {
    if let Some(r) = observed_workload(d) {
        return r;
    }
    let status = &d["status"];
    let Some(desired) = status["desiredNumberScheduled"].as_i64() else {
        return Readiness::InProgress("waiting for the controller to schedule pods".into());
    };
    let updated = status["updatedNumberScheduled"].as_i64().unwrap_or(desired);
    let ready = int(&status["numberReady"]);
    if d["spec"]["updateStrategy"]["type"] != "OnDelete" && updated < desired {
        Readiness::InProgress(format!("{updated}/{desired} pods updated"))
    } else if ready < desired {
        Readiness::InProgress(format!("{ready}/{desired} pods ready"))
    } else {
        Readiness::Ready
    }
}

fn job(j: &Value) -> Readiness {
    if condition_is(j, "Complete", "True") {
        return Readiness::Ready;
    }
    if let Some(c) = condition(j, "Failed").filter(|c| c["status"] == "True") {
        return Readiness::Failed(format!("job failed: {}", condition_text(c)));
    }
    if j["spec"]["suspend"] == true {
        return Readiness::InProgress("suspended".into());
    }
    let completions = j["spec"]["completions"].as_i64().unwrap_or(1);
    let succeeded = int(&j["status"]["succeeded"]);
    let failed = int(&j["status"]["failed"]);
    let mut reason = format!("{succeeded}/{completions} completions");
    if failed > 0 {
        reason.push_str(&format!(", {failed} failed pod(s)"));
    }
    Readiness::InProgress(reason)
}

fn pvc(p: &Value) -> Readiness {
    match p["status"]["phase"].as_str() {
        Some("Bound") => Readiness::Ready,
        Some("Lost") => Readiness::Failed("the claim lost its volume".into()),
        _ => Readiness::InProgress("waiting for claim to bind".into()),
    }
}

fn crd(c: &Value) -> Readiness {
    if condition_is(c, "Established", "True") {
        return Readiness::Ready;
    }
    if let Some(names) = condition(c, "NamesAccepted").filter(|n| n["status"] == "False") {
        return Readiness::Failed(format!("names not accepted: {}", condition_text(names)));
    }
    Readiness::InProgress("waiting to be established".into())
}

fn pod(p: &Value) -> Readiness {
    match p["status"]["phase"].as_str() {
        Some("Succeeded") => return Readiness::Ready,
        Some("Failed") => {
            let why =
                p["status"]["message"].as_str().or(p["status"]["reason"].as_str()).unwrap_or("a container failed");
            return Readiness::Failed(format!("pod failed: {why}"));
        }
        _ => {}
    }
    if condition_is(p, "Ready", "True") {
        return Readiness::Ready;
    }
    // A container stuck waiting (CrashLoopBackOff, ImagePullBackOff) is the
    // most useful thing to say; kstatus keeps such pods in progress, since
    // the kubelet keeps trying.
    if let Some(reason) = containers(p).find_map(|c| waiting_reason(c).map(str::to_string)) {
        return Readiness::InProgress(reason);
    }
    if condition_is(p, "PodScheduled", "False") {
        return Readiness::InProgress("not scheduled".into());
    }
    Readiness::InProgress("not ready".into())
}

fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    let status = &pod["status"];
    ["initContainerStatuses", "containerStatuses"]
        .into_iter()
        .flat_map(move |k| status[k].as_array().into_iter().flatten())
}

/// The reason a container waits, unless it is the ordinary wait of a
/// starting container.
fn waiting_reason(container: &Value) -> Option<&str> {
    container["state"]["waiting"]["reason"].as_str().filter(|r| !matches!(*r, "ContainerCreating" | "PodInitializing"))
}

/// What is wrong with a pod, or `None` when it is ready or done.
fn pod_problem(pod: &Value) -> Option<String> {
    if pod["metadata"]["deletionTimestamp"].is_string() {
        return Some("terminating".into());
    }
    match pod["status"]["phase"].as_str() {
        Some("Succeeded") => return None,
        Some("Failed") => {
            let why = pod["status"]["message"].as_str().or(pod["status"]["reason"].as_str());
            let exits: Vec<String> = containers(pod)
                .filter_map(|c| {
                    let t = &c["state"]["terminated"];
                    let code = t["exitCode"].as_i64().filter(|code| *code != 0)?;
                    Some(format!("container {} exited with {code}", c["name"].as_str().unwrap_or("?")))
                })
                .collect();
            let detail = why.map(String::from).into_iter().chain(exits).collect::<Vec<_>>().join("; ");
            return Some(if detail.is_empty() { "failed".into() } else { format!("failed ({detail})") });
        }
        _ => {}
    }
    for c in containers(pod) {
        let name = c["name"].as_str().unwrap_or("?");
        let restarts = int(&c["restartCount"]);
        if let Some(reason) = waiting_reason(c) {
            let mut detail = format!("container {name}");
            if restarts > 0 {
                detail.push_str(&format!(", {restarts} restart(s)"));
            }
            if let Some(message) = c["state"]["waiting"]["message"].as_str().filter(|m| !m.is_empty()) {
                detail.push_str(&format!(": {message}"));
            }
            return Some(format!("{reason} ({detail})"));
        }
        if let Some(code) = c["state"]["terminated"]["exitCode"].as_i64().filter(|code| *code != 0) {
            let reason = c["state"]["terminated"]["reason"].as_str().unwrap_or("Error");
            return Some(format!("container {name} terminated: {reason} (exit code {code})"));
        }
    }
    if let Some(c) = condition(pod, "PodScheduled").filter(|c| c["status"] == "False") {
        return Some(format!("not scheduled ({})", condition_text(c)));
    }
    if condition_is(pod, "Ready", "True") {
        return None;
    }
    let unready: Vec<&str> =
        containers(pod).filter(|c| c["ready"] == false).filter_map(|c| c["name"].as_str()).collect();
    let why = match condition(pod, "Ready") {
        Some(c) if c["message"].as_str().is_some_and(|m| !m.is_empty()) => {
            c["message"].as_str().unwrap_or_default().to_string()
        }
        _ if !unready.is_empty() => format!("containers not ready: {}", unready.join(", ")),
        Some(c) => condition_text(c),
        None => "no Ready condition yet".into(),
    };
    Some(format!("not ready ({why})"))
}

/// Whether `labels` satisfy a LabelSelector (matchLabels and
/// matchExpressions).
fn selector_matches(selector: &Value, labels: &Value) -> bool {
    let label = |k: &str| labels[k].as_str();
    if let Some(map) = selector["matchLabels"].as_object() {
        if map.iter().any(|(k, v)| label(k) != v.as_str()) {
            return false;
        }
    }
    for e in selector["matchExpressions"].as_array().into_iter().flatten() {
        let key = e["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let ok = match e["operator"].as_str().unwrap_or_default() {
            "In" => label(key).is_some_and(|v| values.contains(&v)),
            "NotIn" => label(key).is_none_or(|v| !values.contains(&v)),
            "Exists" => label(key).is_some(),
            "DoesNotExist" => label(key).is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// The pods of a workload: those its selector matches, or that it owns.
fn pods_of<'a>(workload: &Value, pods: &'a [Value]) -> Vec<&'a Value> {
    let selector = &workload["spec"]["selector"];
    let has_selector = selector["matchLabels"].as_object().is_some_and(|m| !m.is_empty())
        || selector["matchExpressions"].as_array().is_some_and(|e| !e.is_empty());
    let uid = workload["metadata"]["uid"].as_str();
    pods.iter()
        .filter(|p| {
            let owned = uid.is_some()
                && p["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"].as_str() == uid));
            owned || (has_selector && selector_matches(selector, &p["metadata"]["labels"]))
        })
        .collect()
}

fn is_workload(object: &Value) -> bool {
    matches!(object["kind"].as_str(), Some("Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job"))
}

/// How many unhealthy pods a report names per workload before summing up.
const PODS_PER_WORKLOAD: usize = 5;

/// One object as waited for: its id, where it is listed, and what was
/// last seen of it.
struct Watched<'a> {
    object: &'a Value,
    id: String,
    name: String,
    /// Index into the list groups.
    group: usize,
    live: Option<Value>,
    state: Readiness,
}

/// A resource type in one namespace, listed once per round.
struct ListGroup {
    api: kube::Api<kube::api::DynamicObject>,
    label: String,
}

/// Groups objects by resource type and namespace. A kind the cluster does
/// not serve (yet) gets no group: a CRD applied moments ago may not be in
/// discovery yet, so its objects count as not found and the type is looked
/// up again next round.
async fn plan<'a>(cluster: &Cluster, objects: &'a [Value]) -> Result<(Vec<Watched<'a>>, Vec<ListGroup>), ClusterError> {
    let mut groups: Vec<ListGroup> = Vec::new();
    let mut index: HashMap<(String, String, String), usize> = HashMap::new();
    let mut watched = Vec::with_capacity(objects.len());
    for object in objects {
        let id = object_id(object);
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let group = match cluster.api_for(object).await {
            Ok((api, resolved, namespace)) => {
                let namespace = resolved.namespaced.then_some(namespace);
                let key = (
                    resolved.resource.api_version.clone(),
                    resolved.resource.plural.clone(),
                    namespace.clone().unwrap_or_default(),
                );
                *index.entry(key).or_insert_with(|| {
                    let label = match &namespace {
                        Some(ns) => format!("{} in namespace {ns}", resolved.resource.plural),
                        None => resolved.resource.plural.clone(),
                    };
                    groups.push(ListGroup { api, label });
                    groups.len() - 1
                })
            }
            Err(ClusterError::UnknownKind { .. }) => usize::MAX,
            Err(e) => return Err(e),
        };
        watched.push(Watched { object, id, name, group, live: None, state: Readiness::InProgress("not found".into()) });
    }
    Ok((watched, groups))
}

/// Lists the groups still needed and refreshes each pending object's state.
async fn refresh(cluster: &Cluster, watched: &mut [Watched<'_>], groups: &[ListGroup]) -> Result<(), ClusterError> {
    let needed: HashSet<usize> = watched.iter().filter(|w| !w.state.is_ready()).map(|w| w.group).collect();
    let everything = ListParams::default();
    let everything = &everything;
    let lists = futures::future::try_join_all(groups.iter().enumerate().filter(|(i, _)| needed.contains(i)).map(
        |(i, group)| async move {
            let list = with_retries(|| group.api.list(everything))
                .await
                .map_err(|e| ClusterError::api(format!("listing {}", group.label), e))?;
            let by_name: HashMap<String, Value> = list
                .items
                .into_iter()
                .filter_map(|item| {
                    let name = item.metadata.name.clone()?;
                    Some((name, serde_json::to_value(item).ok()?))
                })
                .collect();
            Ok::<_, ClusterError>((i, by_name))
        },
    ))
    .await?;
    let lists: HashMap<usize, HashMap<String, Value>> = lists.into_iter().collect();
    for w in watched.iter_mut().filter(|w| !w.state.is_ready()) {
        if w.group == usize::MAX {
            let api_version = w.object["apiVersion"].as_str().unwrap_or_default();
            cluster.forget(api_version);
            w.state = Readiness::InProgress(format!("not found (the cluster does not serve {api_version} yet)"));
            continue;
        }
        w.live = lists.get(&w.group).and_then(|l| l.get(&w.name)).cloned().map(|mut live| {
            // List items may omit apiVersion and kind; readiness needs them.
            live["apiVersion"] = w.object["apiVersion"].clone();
            live["kind"] = w.object["kind"].clone();
            live
        });
        w.state = match &w.live {
            Some(live) => readiness(live),
            None => Readiness::InProgress("not found".into()),
        };
    }
    Ok(())
}

/// Re-resolves objects whose kind was not served at planning time.
async fn replan<'a>(
    cluster: &Cluster,
    watched: &mut [Watched<'a>],
    groups: &mut Vec<ListGroup>,
) -> Result<(), ClusterError> {
    if watched.iter().all(|w| w.group != usize::MAX) {
        return Ok(());
    }
    let missing: Vec<Value> = watched.iter().filter(|w| w.group == usize::MAX).map(|w| w.object.clone()).collect();
    let (again, new_groups) = plan(cluster, &missing).await?;
    let offset = groups.len();
    groups.extend(new_groups);
    let mut again = again.into_iter();
    for w in watched.iter_mut().filter(|w| w.group == usize::MAX) {
        if let Some(found) = again.next() {
            if found.group != usize::MAX {
                w.group = found.group + offset;
            }
        }
    }
    Ok(())
}

/// One line per object that is not ready, with the states of a workload's
/// unhealthy pods under it (one extra LIST of pods per namespace).
async fn explain(cluster: &Cluster, watched: &[&Watched<'_>]) -> String {
    let namespaces: BTreeSet<String> = watched
        .iter()
        .filter(|w| w.live.as_ref().is_some_and(is_workload))
        .filter_map(|w| w.live.as_ref()?["metadata"]["namespace"].as_str().map(str::to_string))
        .collect();
    let mut pods: HashMap<String, Vec<Value>> = HashMap::new();
    let everything = ListParams::default();
    for namespace in &namespaces {
        let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
            cluster.client().clone(),
            namespace,
            &kube::api::ApiResource {
                group: String::new(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: "Pod".into(),
                plural: "pods".into(),
            },
        );
        // The report is best effort: without pods it still names the objects.
        match with_retries(|| api.list(&everything)).await {
            Ok(list) => {
                let items = list.items.into_iter().filter_map(|p| serde_json::to_value(p).ok()).collect();
                pods.insert(namespace.clone(), items);
            }
            Err(e) => tracing::debug!("cannot list pods in {namespace} for the report: {e}"),
        }
    }
    let mut out = String::new();
    for w in watched {
        let reason = match &w.state {
            Readiness::Ready => continue,
            Readiness::InProgress(r) | Readiness::Failed(r) => r,
        };
        out.push_str(&format!("{}: {reason}\n", w.id));
        let Some(live) = w.live.as_ref().filter(|l| is_workload(l)) else {
            continue;
        };
        let namespace = live["metadata"]["namespace"].as_str().unwrap_or_default();
        let Some(candidates) = pods.get(namespace) else {
            continue;
        };
        let mut mine = pods_of(live, candidates);
        mine.sort_by_key(|p| p["metadata"]["name"].as_str().unwrap_or_default().to_string());
        let problems: Vec<String> = mine
            .iter()
            .filter_map(|p| Some(format!("pod {}: {}", p["metadata"]["name"].as_str()?, pod_problem(p)?)))
            .collect();
        if mine.is_empty() {
            out.push_str("  no pods\n");
        }
        for line in problems.iter().take(PODS_PER_WORKLOAD) {
            out.push_str(&format!("  {line}\n"));
        }
        if problems.len() > PODS_PER_WORKLOAD {
            out.push_str(&format!("  ... and {} more pod(s) not ready\n", problems.len() - PODS_PER_WORKLOAD));
        }
    }
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

/// Waits until every object is ready. Reports [`Event::Waiting`] whenever
/// an object's reason changes and [`Event::Ready`] once per object. Fails
/// at once with [`ClusterError::Failed`] when an object can no longer
/// become ready, and with [`ClusterError::Timeout`] when the time is up;
/// both name each object that is not ready, why, and for workloads the
/// states of their pods.
pub async fn wait_ready(
    cluster: &Cluster,
    objects: &[Value],
    options: &WaitOptions,
    progress: &dyn Progress,
) -> Result<(), ClusterError> {
    let deadline = tokio::time::Instant::now() + options.timeout;
    let (mut watched, mut groups) = plan(cluster, objects).await?;
    let mut reported: Vec<Option<String>> = vec![None; watched.len()];
    let mut done: Vec<bool> = vec![false; watched.len()];
    loop {
        replan(cluster, &mut watched, &mut groups).await?;
        refresh(cluster, &mut watched, &groups).await?;
        let mut failed = Vec::new();
        for (i, w) in watched.iter().enumerate() {
            match &w.state {
                Readiness::Ready if !done[i] => {
                    done[i] = true;
                    progress.event(Event::Ready { object: w.id.clone() });
                }
                Readiness::Ready => {}
                Readiness::InProgress(reason) => {
                    if reported[i].as_deref() != Some(reason) {
                        reported[i] = Some(reason.clone());
                        progress.event(Event::Waiting { object: w.id.clone(), reason: reason.clone() });
                    }
                }
                Readiness::Failed(_) => failed.push(w),
            }
        }
        if !failed.is_empty() {
            return Err(ClusterError::Failed { count: failed.len(), details: explain(cluster, &failed).await });
        }
        let pending: Vec<&Watched> = watched.iter().filter(|w| !w.state.is_ready()).collect();
        if pending.is_empty() {
            return Ok(());
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(ClusterError::Timeout {
                timeout: options.timeout,
                count: pending.len(),
                details: explain(cluster, &pending).await,
            });
        }
        tokio::time::sleep(options.poll.min(deadline - now)).await;
    }
}

/// The current readiness of each object, in order, for `meshctl status`:
/// `(Kind/namespace/name, readiness)`; a missing object is in progress,
/// "not found".
pub async fn readiness_of(cluster: &Cluster, objects: &[Value]) -> Result<Vec<(String, Readiness)>, ClusterError> {
    let (mut watched, groups) = plan(cluster, objects).await?;
    refresh(cluster, &mut watched, &groups).await?;
    Ok(watched.into_iter().map(|w| (w.id, w.state)).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deploy(status: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "generation": 2},
               "spec": {"replicas": 2}, "status": status})
    }

    #[test]
    fn a_deployment_is_ready_once_rolled_out_at_its_generation() {
        let r = |s| readiness(&deploy(s));
        assert_eq!(r(json!({})), Readiness::InProgress("waiting for the controller to observe generation 2".into()));
        assert_eq!(
            r(json!({"observedGeneration": 1, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 2})),
            Readiness::InProgress("waiting for the controller to observe generation 2".into())
        );
        assert_eq!(
            r(json!({"observedGeneration": 2, "updatedReplicas": 1, "replicas": 3, "availableReplicas": 2})),
            Readiness::InProgress("1/2 replicas updated".into())
        );
        assert_eq!(
            r(json!({"observedGeneration": 2, "updatedReplicas": 2, "replicas": 3, "availableReplicas": 2})),
            Readiness::InProgress("1 old replica(s) pending termination".into())
        );
        assert_eq!(
            r(json!({"observedGeneration": 2, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 1})),
            Readiness::InProgress("1/2 replicas available".into())
        );
        assert_eq!(
            r(json!({"observedGeneration": 2, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 2})),
            Readiness::Ready
        );
        let stuck = r(json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-1\" has timed out progressing."}]}));
        assert!(matches!(stuck, Readiness::Failed(m) if m.contains("progress deadline exceeded")));
    }

    #[test]
    fn jobs_pvcs_crds_and_statefulsets() {
        let job = |conditions: Value| {
            readiness(&json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                              "status": {"conditions": conditions, "succeeded": 0}}))
        };
        assert_eq!(job(json!([{"type": "Complete", "status": "True"}])), Readiness::Ready);
        assert!(matches!(job(json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}])),
            Readiness::Failed(m) if m.contains("BackoffLimitExceeded")));
        assert_eq!(job(json!([])), Readiness::InProgress("0/1 completions".into()));

        let pvc = |phase: &str| {
            readiness(&json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": phase}}))
        };
        assert_eq!(pvc("Bound"), Readiness::Ready);
        assert_eq!(pvc("Pending"), Readiness::InProgress("waiting for claim to bind".into()));

        let crd = |status: &str| {
            readiness(&json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                              "status": {"conditions": [{"type": "Established", "status": status}]}}))
        };
        assert_eq!(crd("True"), Readiness::Ready);
        assert_eq!(crd("False"), Readiness::InProgress("waiting to be established".into()));

        let sts = |ready: i64, updated: i64| {
            readiness(&json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"generation": 1},
                "spec": {"replicas": 3},
                "status": {"observedGeneration": 1, "readyReplicas": ready, "updatedReplicas": updated}}))
        };
        assert_eq!(sts(3, 3), Readiness::Ready);
        assert_eq!(sts(2, 3), Readiness::InProgress("2/3 replicas ready".into()));
        assert_eq!(sts(3, 1), Readiness::InProgress("1/3 replicas updated".into()));
    }

    #[test]
    fn other_kinds_are_ready_when_present_unless_their_controller_lags() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}});
        assert_eq!(readiness(&svc), Readiness::Ready);
        let lagging = json!({"apiVersion": "x.dev/v1", "kind": "Thing", "metadata": {"generation": 3},
                             "status": {"observedGeneration": 2}});
        assert!(matches!(readiness(&lagging), Readiness::InProgress(_)));
    }

    #[test]
    fn pods_explain_themselves() {
        let crashing = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-abc12"},
            "status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                "containerStatuses": [{"name": "app", "ready": false, "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off restarting failed container app"}}}]}});
        assert_eq!(readiness(&crashing), Readiness::InProgress("CrashLoopBackOff".into()));
        assert_eq!(
            pod_problem(&crashing).unwrap(),
            "CrashLoopBackOff (container app, 3 restart(s): back-off restarting failed container app)"
        );
        let unready = json!({"metadata": {"name": "p"}, "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "False", "message": "Readiness probe failing"}],
            "containerStatuses": [{"name": "app", "ready": false, "state": {"running": {}}}]}});
        assert_eq!(pod_problem(&unready).unwrap(), "not ready (Readiness probe failing)");
        let ready = json!({"metadata": {"name": "p"}, "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(pod_problem(&ready), None);
    }

    #[test]
    fn selectors_match_labels_and_expressions() {
        let labels = json!({"app": "web", "tier": "front"});
        assert!(selector_matches(&json!({"matchLabels": {"app": "web"}}), &labels));
        assert!(!selector_matches(&json!({"matchLabels": {"app": "db"}}), &labels));
        assert!(selector_matches(
            &json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]},
                                         {"key": "canary", "operator": "DoesNotExist"}]}),
            &labels
        ));
        assert!(!selector_matches(
            &json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}),
            &labels
        ));
    }
}
