//! Ordered server-side apply of a rendered set: tier by tier (CRDs, then
//! namespaces, identity/config/storage, services, workloads, policy, jobs),
//! objects within a tier concurrently, CRDs waited for until Established,
//! members labelled into the release's ApplySet, unchanged objects not sent
//! at all, and pruning of members that are no longer rendered.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::client::{object_id, with_retries, Cluster};
use super::error::ClusterError;
use super::inventory::{self, ApplySet};
use crate::events::{Event, Progress};
use crate::kinds::Tier;

/// Annotation holding the hash of the configuration meshctl last applied,
/// so an unchanged object needs no request.
pub const CONFIG_HASH_ANNOTATION: &str = "meshctl.dev/config-hash";

/// The field manager of every meshctl apply.
pub const FIELD_MANAGER: &str = "meshctl";

/// How to apply.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Take fields other managers own (`--force-conflicts`).
    pub force_conflicts: bool,
    /// Ask the server what would change, store nothing (`--dry-run=server`).
    pub dry_run: bool,
    /// Delete members of the set that are no longer rendered.
    pub prune: bool,
    /// Objects applied at once within a tier.
    pub concurrency: usize,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { force_conflicts: false, dry_run: false, prune: false, concurrency: 16 }
    }
}

/// What an apply did, object by object (`Kind/namespace/name`).
#[derive(Clone, Debug, Default)]
pub struct ApplyReport {
    pub created: Vec<String>,
    pub configured: Vec<String>,
    pub unchanged: Vec<String>,
    pub pruned: Vec<String>,
    /// The live objects after the apply (or as the dry run returned them).
    pub live: Vec<Value>,
}

impl ApplyReport {
    /// Whether anything changed (or would change).
    pub fn changed(&self) -> bool {
        !(self.created.is_empty() && self.configured.is_empty() && self.pruned.is_empty())
    }
}

/// The object with the hash of its configuration in
/// [`CONFIG_HASH_ANNOTATION`] (diff adds it too, so it never shows as a
/// change).
pub fn with_config_hash(mut object: Value) -> Value {
    if let Some(annotations) = object["metadata"]["annotations"].as_object_mut() {
        annotations.remove(CONFIG_HASH_ANNOTATION);
    }
    let hash = config_hash(&object);
    object["metadata"]["annotations"][CONFIG_HASH_ANNOTATION] = json!(hash);
    object
}

/// A hash of the configuration as meshctl applies it.
fn config_hash(object: &Value) -> String {
    let digest = Sha256::digest(serde_json::to_vec(object).unwrap_or_default());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Whether every field of `desired` has the same value in `live` (live may
/// hold more: defaults, other managers' fields, status).
fn contains(live: &Value, desired: &Value) -> bool {
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => d.iter().all(|(k, v)| l.get(k).is_some_and(|lv| contains(lv, v))),
        (Value::Array(l), Value::Array(d)) => l.len() == d.len() && l.iter().zip(d).all(|(lv, dv)| contains(lv, dv)),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (l, d) => l == d,
    }
}

/// Turns an API error on one object into the error a user can act on.
pub fn object_error(object: &str, namespace: &str, kind: &str, name: &str, error: kube::Error) -> ClusterError {
    match error {
        kube::Error::Api(s) if s.code == 409 && s.message.starts_with("Apply failed") => {
            ClusterError::Conflict { object: object.into(), details: s.message.clone() }
        }
        kube::Error::Api(s) if s.code == 422 && s.message.contains("field is immutable") => ClusterError::Immutable {
            object: object.into(),
            object_ref: format!("{}/{name} -n {namespace}", kind.to_lowercase()),
            message: s.message.clone(),
        },
        kube::Error::Api(s) if (400..500).contains(&s.code) && s.code != 429 => ClusterError::Rejected {
            object: object.into(),
            code: s.code,
            reason: s.reason.clone(),
            message: s.message.clone(),
        },
        other => ClusterError::api(format!("applying {object}"), other),
    }
}

/// The live objects of the set's members of one type in one namespace,
/// by name (one LIST).
async fn live_members(api: &Api<DynamicObject>, set: &ApplySet) -> Result<HashMap<String, Value>, kube::Error> {
    let selector = format!("{}={}", inventory::PART_OF_LABEL, set.id());
    let params = ListParams::default().labels(&selector);
    let list = with_retries(|| api.list(&params)).await?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|o| {
            let value = serde_json::to_value(&o).ok()?;
            Some((o.metadata.name?, value))
        })
        .collect())
}

/// Applies `objects` (in apply order) as the members of `set`.
pub async fn apply_objects(
    cluster: &Cluster,
    set: &ApplySet,
    objects: &[Value],
    options: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<ApplyReport, ClusterError> {
    let mut report = ApplyReport::default();
    let mut tiers: BTreeMap<Tier, Vec<Value>> = BTreeMap::new();
    let mut group_kinds = BTreeSet::new();
    let mut namespaces = BTreeSet::new();
    for object in objects {
        let mut object = object.clone();
        set.label(&mut object);
        group_kinds.insert(inventory::group_kind(&object));
        if let Some(ns) = object["metadata"]["namespace"].as_str() {
            namespaces.insert(ns.to_string());
        }
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        tiers.entry(Tier::of(&kind)).or_default().push(object);
    }
    let parent_api: Api<DynamicObject> = Api::namespaced_with(
        cluster.client().clone(),
        &set.namespace,
        &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
    );
    let mut parent_written = false;
    let mut previous_kinds = BTreeSet::new();
    let mut previous_namespaces = BTreeSet::new();

    for (tier, members) in &tiers {
        progress.event(Event::Tier { name: tier.name().to_string(), objects: members.len() });
        // The parent lists every kind before any member of a new kind exists,
        // so an interrupted apply never leaves members a prune cannot find.
        if !parent_written
            && *tier >= Tier::Namespaces
            && namespace_ready(cluster, &set.namespace, &tiers, options).await
        {
            let parent_name = set.parent_name();
            let current = with_retries(|| parent_api.get_opt(&parent_name))
                .await
                .map_err(|e| ClusterError::api("reading the inventory", e))?;
            if let Some(current) = current {
                let current = serde_json::to_value(&current).unwrap_or_default();
                previous_kinds = inventory::listed_group_kinds(&current);
                previous_namespaces = inventory::listed_namespaces(&current);
            }
            let union_kinds: BTreeSet<String> = previous_kinds.union(&group_kinds).cloned().collect();
            let union_ns: BTreeSet<String> = previous_namespaces.union(&namespaces).cloned().collect();
            write_parent(&parent_api, set, &union_kinds, &union_ns, options).await?;
            parent_written = true;
        }
        apply_tier(cluster, set, members, options, progress, &mut report).await?;
        if *tier == Tier::Crds && !options.dry_run {
            wait_established(cluster, members).await?;
        }
    }

    if options.prune {
        let rendered: BTreeSet<String> = tiers.values().flatten().map(object_id).collect();
        let kinds: BTreeSet<String> = previous_kinds.union(&group_kinds).cloned().collect();
        let mut search_ns: BTreeSet<String> = previous_namespaces.union(&namespaces).cloned().collect();
        search_ns.insert(set.namespace.clone());
        prune(cluster, set, &kinds, &search_ns, &rendered, objects, options, progress, &mut report).await?;
        if !options.dry_run {
            write_parent(&parent_api, set, &group_kinds, &namespaces, options).await?;
        }
    }
    Ok(report)
}

/// Whether the release namespace exists (or is about to, in this set).
async fn namespace_ready(
    cluster: &Cluster,
    namespace: &str,
    tiers: &BTreeMap<Tier, Vec<Value>>,
    options: &ApplyOptions,
) -> bool {
    if options.dry_run {
        return false;
    }
    let in_set = tiers.get(&Tier::Namespaces).is_some_and(|ns| ns.iter().any(|o| o["metadata"]["name"] == namespace));
    if in_set {
        // Tier 1 has been applied when we are asked at tier >= 2; at tier 1
        // itself the namespace may not exist yet.
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client().clone());
        return matches!(api.get_opt(namespace).await, Ok(Some(_)));
    }
    true
}

async fn write_parent(
    api: &Api<DynamicObject>,
    set: &ApplySet,
    kinds: &BTreeSet<String>,
    namespaces: &BTreeSet<String>,
    options: &ApplyOptions,
) -> Result<(), ClusterError> {
    if options.dry_run {
        return Ok(());
    }
    let parent = set.parent(kinds, namespaces);
    let parent_name = set.parent_name();
    let current =
        with_retries(|| api.get_opt(&parent_name)).await.map_err(|e| ClusterError::api("reading the inventory", e))?;
    if let Some(current) = current {
        if contains(&serde_json::to_value(&current).unwrap_or_default(), &parent) {
            return Ok(());
        }
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let patch = Patch::Apply(&parent);
    with_retries(|| api.patch(&parent_name, &params, &patch)).await.map_err(|e| {
        ClusterError::api(format!("writing the inventory Secret {}/{}", set.namespace, set.parent_name()), e)
    })?;
    Ok(())
}

/// An object as meshctl sends it, with the live member it would replace.
struct Prepared {
    api: Api<DynamicObject>,
    desired: Value,
    current: Option<Value>,
    kind: String,
    namespace: String,
}

/// Labels, namespaces and hashes `members`, and finds their live versions
/// with one LIST per (type, namespace).
async fn prepare(cluster: &Cluster, set: &ApplySet, members: &[Value]) -> Result<Vec<Prepared>, ClusterError> {
    Ok(prepare_with_extras(cluster, set, members).await?.0)
}

/// [`prepare`], plus how many live members of the listed types are not in
/// `members` (what a prune would delete).
async fn prepare_with_extras(
    cluster: &Cluster,
    set: &ApplySet,
    members: &[Value],
) -> Result<(Vec<Prepared>, usize), ClusterError> {
    let mut live: HashMap<(String, String, String), HashMap<String, Value>> = HashMap::new();
    let mut prepared = Vec::new();
    for object in members {
        let (api, resolved, namespace) = cluster.api_for(object).await?;
        let key = (resolved.resource.api_version.clone(), resolved.resource.kind.clone(), namespace.clone());
        if !live.contains_key(&key) {
            let members = live_members(&api, set)
                .await
                .map_err(|e| ClusterError::api(format!("listing {} in {namespace}", resolved.resource.plural), e))?;
            live.insert(key.clone(), members);
        }
        let mut desired = object.clone();
        set.label(&mut desired);
        if resolved.namespaced && desired["metadata"]["namespace"].is_null() {
            desired["metadata"]["namespace"] = json!(namespace);
        }
        if !resolved.namespaced {
            if let Some(meta) = desired["metadata"].as_object_mut() {
                meta.remove("namespace");
            }
        }
        let desired = with_config_hash(desired);
        let name = desired["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let current = live.get(&key).and_then(|m| m.get(&name)).cloned();
        prepared.push(Prepared { api, desired, current, kind: resolved.resource.kind.clone(), namespace });
    }
    let mut extras = 0;
    for ((_, kind, namespace), by_name) in &live {
        extras += by_name
            .keys()
            .filter(|name| {
                !prepared.iter().any(|p| {
                    &p.kind == kind && &p.namespace == namespace && p.desired["metadata"]["name"] == name.as_str()
                })
            })
            .count();
    }
    Ok((prepared, extras))
}

/// Whether applying `objects` would change nothing: every object is live
/// with the same configuration, the inventory lists exactly their kinds
/// (all of them, without `prune`), and with `prune` no other member exists.
/// Reads only.
pub async fn unchanged(
    cluster: &Cluster,
    set: &ApplySet,
    objects: &[Value],
    prune: bool,
) -> Result<bool, ClusterError> {
    let (prepared, extras) = match prepare_with_extras(cluster, set, objects).await {
        Ok(p) => p,
        // A kind the cluster does not serve yet (its CRD is in the set).
        Err(ClusterError::UnknownKind { .. }) => return Ok(false),
        Err(e) => return Err(e),
    };
    if !prepared.iter().all(|p| p.current.as_ref().is_some_and(|c| contains(c, &p.desired))) {
        return Ok(false);
    }
    let parent_api: Api<DynamicObject> = Api::namespaced_with(
        cluster.client().clone(),
        &set.namespace,
        &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
    );
    let parent_name = set.parent_name();
    let Some(parent) = with_retries(|| parent_api.get_opt(&parent_name))
        .await
        .map_err(|e| ClusterError::api("reading the inventory", e))?
    else {
        return Ok(false);
    };
    let listed = inventory::listed_group_kinds(&serde_json::to_value(&parent).unwrap_or_default());
    let kinds: BTreeSet<String> = objects.iter().map(inventory::group_kind).collect();
    if prune {
        // Members that are no longer rendered, of any kind, would be pruned.
        Ok(listed == kinds && extras == 0)
    } else {
        Ok(kinds.is_subset(&listed))
    }
}

async fn apply_tier(
    cluster: &Cluster,
    set: &ApplySet,
    members: &[Value],
    options: &ApplyOptions,
    progress: &dyn Progress,
    report: &mut ApplyReport,
) -> Result<(), ClusterError> {
    let prepared = prepare(cluster, set, members).await?;
    let results: Vec<(String, &'static str, Value)> = futures::stream::iter(prepared.into_iter().map(|p| async move {
        let Prepared { api, desired, current, kind, namespace } = p;
        let id = object_id(&desired);
        let name = desired["metadata"]["name"].as_str().unwrap_or_default().to_string();
        if let Some(current) = &current {
            if contains(current, &desired) {
                return Ok((id, "unchanged", current.clone()));
            }
        }
        let mut params = PatchParams::apply(FIELD_MANAGER);
        params.force = options.force_conflicts;
        params.dry_run = options.dry_run;
        let patch = Patch::Apply(&desired);
        let applied = with_retries(|| api.patch(&name, &params, &patch))
            .await
            .map_err(|e| object_error(&id, &namespace, &kind, &name, e))?;
        let outcome = if current.is_some() { "configured" } else { "created" };
        Ok::<_, ClusterError>((id, outcome, serde_json::to_value(&applied).unwrap_or_default()))
    }))
    .buffer_unordered(options.concurrency.max(1))
    .try_collect()
    .await?;

    // Report in the set's order, not completion order.
    let mut by_id: HashMap<String, (&'static str, Value)> =
        results.into_iter().map(|(id, o, v)| (id, (o, v))).collect();
    for object in members {
        let mut desired = object.clone();
        if desired["metadata"]["namespace"].is_null() {
            // Cluster-scoped, or defaulted above: find it either way.
            desired["metadata"]["namespace"] = json!(cluster.namespace());
        }
        let id = [object_id(object), object_id(&desired)].into_iter().find(|id| by_id.contains_key(id));
        let Some((outcome, value)) = id.as_ref().and_then(|id| by_id.remove(id)) else {
            continue;
        };
        let id = id.expect("found above");
        progress.event(Event::Applied { object: id.clone(), outcome: outcome.to_string() });
        match outcome {
            "created" => report.created.push(id),
            "configured" => report.configured.push(id),
            _ => report.unchanged.push(id),
        }
        report.live.push(value);
    }
    Ok(())
}

/// Waits until the CRDs just applied are Established, then forgets what
/// discovery said about their groups.
async fn wait_established(cluster: &Cluster, crds: &[Value]) -> Result<(), ClusterError> {
    let api: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(cluster.client().clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for crd in crds {
        let name = crd["metadata"]["name"].as_str().unwrap_or_default();
        loop {
            let live = with_retries(|| api.get(name))
                .await
                .map_err(|e| ClusterError::api(format!("reading CRD {name}"), e))?;
            let established = live
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True"));
            if established {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(ClusterError::Timeout {
                    timeout: Duration::from_secs(60),
                    count: 1,
                    details: format!("CustomResourceDefinition/{name}: not Established"),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for version in crd["spec"]["versions"].as_array().into_iter().flatten() {
            let group = crd["spec"]["group"].as_str().unwrap_or_default();
            cluster.forget(&format!("{group}/{}", version["name"].as_str().unwrap_or_default()));
        }
    }
    Ok(())
}

/// The apiVersion to list a group-kind with: from the rendered objects, or
/// the group's preferred version.
async fn api_version_of(
    cluster: &Cluster,
    group_kind: &str,
    objects: &[Value],
) -> Result<Option<(String, String)>, ClusterError> {
    let (kind, group) = group_kind.split_once('.').unwrap_or((group_kind, ""));
    if let Some(o) = objects.iter().find(|o| inventory::group_kind(o) == group_kind) {
        return Ok(Some((o["apiVersion"].as_str().unwrap_or_default().to_string(), kind.to_string())));
    }
    if group.is_empty() {
        return Ok(Some(("v1".into(), kind.into())));
    }
    let groups = with_retries(|| cluster.client().list_api_groups())
        .await
        .map_err(|e| ClusterError::api("listing API groups", e))?;
    Ok(groups
        .groups
        .iter()
        .find(|g| g.name == group)
        .and_then(|g| g.preferred_version.as_ref().map(|p| p.group_version.clone()))
        .map(|gv| (gv, kind.to_string())))
}

#[allow(clippy::too_many_arguments)]
async fn prune(
    cluster: &Cluster,
    set: &ApplySet,
    kinds: &BTreeSet<String>,
    namespaces: &BTreeSet<String>,
    rendered: &BTreeSet<String>,
    objects: &[Value],
    options: &ApplyOptions,
    progress: &dyn Progress,
    report: &mut ApplyReport,
) -> Result<(), ClusterError> {
    let selector = format!("{}={}", inventory::PART_OF_LABEL, set.id());
    let mut candidates = Vec::new();
    for gk in kinds {
        // A kind the cluster no longer serves has no members left to prune.
        let Some((api_version, kind)) = api_version_of(cluster, gk, objects).await? else { continue };
        let resolved = match cluster.resolve(&api_version, &kind).await {
            Ok(r) => r,
            Err(ClusterError::UnknownKind { .. }) => continue,
            Err(e) => return Err(e),
        };
        let scopes: Vec<Option<&String>> =
            if resolved.namespaced { namespaces.iter().map(Some).collect() } else { vec![None] };
        for ns in scopes {
            let api = cluster.api(&resolved, ns.map(String::as_str).unwrap_or(""));
            let params = ListParams::default().labels(&selector);
            let list = with_retries(|| api.list(&params))
                .await
                .map_err(|e| ClusterError::api(format!("listing {} for pruning", resolved.resource.plural), e))?;
            for item in list.items {
                let value = serde_json::to_value(&item).unwrap_or_default();
                // The label alone is not proof: only members of this set
                // (same ID) are ever deleted.
                if value["metadata"]["labels"][inventory::PART_OF_LABEL] != set.id().as_str() {
                    continue;
                }
                let id = object_id(&value);
                if !rendered.contains(&id) && value["metadata"]["deletionTimestamp"].is_null() {
                    candidates.push((api.clone(), item.metadata.name.clone().unwrap_or_default(), id));
                }
            }
        }
    }
    for (api, name, id) in candidates {
        let params = DeleteParams {
            dry_run: options.dry_run,
            propagation_policy: Some(kube::api::PropagationPolicy::Background),
            ..Default::default()
        };
        match with_retries(|| api.delete(&name, &params)).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => continue,
            Err(e) => return Err(ClusterError::api(format!("pruning {id}"), e)),
        }
        progress.event(Event::Pruned { object: id.clone() });
        report.pruned.push(id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containment_ignores_what_the_server_added() {
        let desired =
            json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}});
        let live = json!({"spec": {"replicas": 2, "strategy": {}, "template": {"spec": {"containers": [{"name": "a", "image": "x", "imagePullPolicy": "IfNotPresent"}]}}}, "status": {}});
        assert!(contains(&live, &desired));
        let drifted =
            json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}});
        assert!(!contains(&drifted, &desired));
        assert!(contains(&json!({"n": 1.0}), &json!({"n": 1})));
    }

    #[test]
    fn config_hashes_change_with_the_config() {
        assert_eq!(config_hash(&json!({"a": 1})), config_hash(&json!({"a": 1})));
        assert_ne!(config_hash(&json!({"a": 1})), config_hash(&json!({"a": 2})));
    }
}
