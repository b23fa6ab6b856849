//! The API server's semantics, independent of HTTP: create, update, patch
//! (merge, strategic, JSON, server-side apply), delete with finalizers and
//! propagation, and the bookkeeping every write does (uid, resourceVersion,
//! generation, managedFields, defaults, validation, immutable fields).
//! The REST layer and the controllers both write through here.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::{json, Value};

use crate::apply::{self, ApplyError, ApplyOptions};
use crate::fields;
use crate::patch;
use crate::resources::{Registry, ResourceType};
use crate::rules;
use crate::status::{ApiError, FieldCause};
use crate::store::{ObjectKey, Store};

/// How unknown fields are treated (`?fieldValidation=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        match text {
            "Ignore" => Ok(Self::Ignore),
            "Warn" | "" => Ok(Self::Warn),
            "Strict" => Ok(Self::Strict),
            other => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of Ignore, Warn, Strict, not {other:?}"
            ))),
        }
    }
}

/// Options shared by the writing verbs.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    /// `?fieldManager=`; defaults to the client's user agent.
    pub field_manager: Option<String>,
    pub field_validation: FieldValidation,
    /// `?force=true` for server-side apply.
    pub force: bool,
}

/// The kinds of PATCH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Strategic,
    Json,
    Apply,
}

impl PatchType {
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let base = content_type.split(';').next().unwrap_or_default().trim();
        match base {
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/json-patch+json" => Some(Self::Json),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// `?propagationPolicy=` / DeleteOptions.propagationPolicy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    #[default]
    Background,
    Foreground,
    Orphan,
}

/// Options of a DELETE.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    pub propagation: Propagation,
    pub grace_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
}

/// The result of a write: the object as stored (or as it would be, for a
/// dry run), whether it was created, and warnings for the client.
#[derive(Clone, Debug)]
pub struct Written {
    pub object: Arc<Value>,
    pub created: bool,
    pub warnings: Vec<String>,
}

/// Kubernetes API semantics over the [`Store`].
pub struct ApiServer {
    pub registry: RwLock<Registry>,
    pub store: Store,
    next_ip: AtomicU32,
}

/// Current time as Kubernetes writes it (RFC 3339, seconds).
pub fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl ApiServer {
    pub fn new(store: Store) -> Self {
        let server = ApiServer { registry: RwLock::new(Registry::default()), store, next_ip: AtomicU32::new(10) };
        // CRDs persisted in a state directory serve their resources again.
        let (crds, _) = server.store.list("apiextensions.k8s.io", "customresourcedefinitions", None);
        for crd in crds {
            if let Err(e) = server.registry_mut().install_crd(&crd) {
                tracing::warn!("stored CRD not served: {e}");
            }
        }
        server
    }

    pub fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    fn registry_mut(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.registry.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A resource type by URL parts, or 404 as Kubernetes words it.
    pub fn resource(&self, group: &str, version: &str, plural: &str) -> Result<ResourceType, ApiError> {
        self.registry().get(group, version, plural).cloned().ok_or_else(|| {
            ApiError::new(
                404,
                "NotFound",
                format!(
                    "the server could not find the requested resource ({plural}{}{group})",
                    if group.is_empty() { "" } else { "." }
                ),
            )
        })
    }

    fn key(rt: &ResourceType, namespace: &str, name: &str) -> ObjectKey {
        ObjectKey::new(&rt.group, &rt.plural, if rt.namespaced { namespace } else { "" }, name)
    }

    /// Reads one object.
    pub fn get(&self, rt: &ResourceType, namespace: &str, name: &str) -> Result<Arc<Value>, ApiError> {
        self.store
            .get(&Self::key(rt, namespace, name))
            .map(|o| with_api_version(rt, o))
            .ok_or_else(|| ApiError::not_found(rt, name))
    }

    /// Creates an object (POST).
    pub fn create(
        &self,
        rt: &ResourceType,
        namespace: &str,
        mut body: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        check_type(rt, &body)?;
        if body["metadata"]["name"].as_str().unwrap_or_default().is_empty() {
            match body["metadata"]["generateName"].as_str() {
                Some(prefix) if !prefix.is_empty() => {
                    let suffix: String = uuid::Uuid::new_v4().simple().to_string().chars().take(5).collect();
                    body["metadata"]["name"] = json!(format!("{prefix}{suffix}"));
                }
                _ => {
                    return Err(ApiError::invalid(rt, "", vec![FieldCause::required("metadata.name")]));
                }
            }
        }
        if body["metadata"]["resourceVersion"].as_str().is_some_and(|rv| !rv.is_empty()) {
            return Err(ApiError::bad_request("resourceVersion should not be set on objects to be created"));
        }
        let warnings = self.check_fields(rt, &body, opts.field_validation)?;
        let name = body["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let manager = opts.field_manager.clone().unwrap_or_else(|| "unknown".into());
        let mut obj = body;
        if rt.has_status && rt.kind != "Namespace" {
            if let Some(map) = obj.as_object_mut() {
                map.remove("status");
            }
        }
        apply::record_update(None, &mut obj, &manager, None, &now());
        let written = self.insert(rt, namespace, obj, opts.dry_run)?;
        let _ = name;
        Ok(Written { warnings, ..written })
    }

    /// Stores a new object: namespace checks, server-set metadata, defaults,
    /// validation, then an atomic create.
    fn insert(&self, rt: &ResourceType, namespace: &str, mut obj: Value, dry_run: bool) -> Result<Written, ApiError> {
        let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
        self.check_namespace(rt, namespace, &mut obj)?;
        let meta = &mut obj["metadata"];
        meta["uid"] = json!(uuid::Uuid::new_v4().to_string());
        meta["creationTimestamp"] = json!(now());
        if let Some(map) = meta.as_object_mut() {
            for field in ["deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
                map.remove(field);
            }
        }
        if has_generation(rt) {
            obj["metadata"]["generation"] = json!(1);
        }
        rules::apply_defaults(rt, &mut obj, None, || self.allocate_ip());
        let causes = rules::validate(rt, &obj);
        if !causes.is_empty() {
            return Err(ApiError::invalid(rt, &name, causes));
        }
        if rt.kind == "CustomResourceDefinition" {
            self.check_crd(rt, &name, &obj)?;
            establish_crd(&mut obj);
        }
        let key = Self::key(rt, namespace, &name);
        let object = if dry_run {
            if self.store.get(&key).is_some() {
                return Err(ApiError::already_exists(rt, &name));
            }
            Arc::new(obj)
        } else {
            let object = self.store.write(&key, obj, |current| match current {
                Some(_) => Err(ApiError::already_exists(rt, &name)),
                None => Ok(()),
            })?;
            if rt.kind == "CustomResourceDefinition" {
                let _ = self.registry_mut().install_crd(&object);
            }
            object
        };
        Ok(Written { object: with_api_version(rt, object), created: true, warnings: Vec::new() })
    }

    fn check_namespace(&self, rt: &ResourceType, namespace: &str, obj: &mut Value) -> Result<(), ApiError> {
        if !rt.namespaced {
            if let Some(map) = obj["metadata"].as_object_mut() {
                map.remove("namespace");
            }
            return Ok(());
        }
        match obj["metadata"]["namespace"].as_str() {
            Some(ns) if !ns.is_empty() && ns != namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ))
            }
            _ => obj["metadata"]["namespace"] = json!(namespace),
        }
        let ns_key = ObjectKey::new("", "namespaces", "", namespace);
        match self.store.get(&ns_key) {
            None => {
                let registry = self.registry();
                let ns_rt = registry.get("", "v1", "namespaces").expect("namespaces are built in");
                Err(ApiError::not_found(ns_rt, namespace))
            }
            Some(ns) if !ns["metadata"]["deletionTimestamp"].is_null() => Err(ApiError::new(
                403,
                "Forbidden",
                format!(
                    "{} \"{}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                    crate::status::qualified(rt),
                    obj["metadata"]["name"].as_str().unwrap_or_default()
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    fn check_crd(&self, rt: &ResourceType, name: &str, obj: &Value) -> Result<(), ApiError> {
        let spec = &obj["spec"];
        let expected = format!(
            "{}.{}",
            spec["names"]["plural"].as_str().unwrap_or_default(),
            spec["group"].as_str().unwrap_or_default()
        );
        if name != expected {
            return Err(ApiError::invalid(
                rt,
                name,
                vec![FieldCause::invalid(
                    "metadata.name",
                    format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
                )],
            ));
        }
        let mut probe = self.registry().clone();
        probe.install_crd(obj).map_err(|e| ApiError::invalid(rt, name, vec![FieldCause::invalid("spec", e)]))
    }

    fn allocate_ip(&self) -> String {
        let n = self.next_ip.fetch_add(1, Ordering::Relaxed);
        format!("10.96.{}.{}", (n >> 8) & 0xff, n & 0xff)
    }

    fn check_fields(&self, rt: &ResourceType, obj: &Value, mode: FieldValidation) -> Result<Vec<String>, ApiError> {
        let report = fields::check(rt, obj);
        if let Some(e) = report.type_error {
            return Err(ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: {e}",
                rt.kind, rt.version, rt.kind
            )));
        }
        if report.unknown.is_empty() || mode == FieldValidation::Ignore {
            return Ok(Vec::new());
        }
        let messages: Vec<String> =
            report.unknown.iter().map(|f| format!("unknown field \"{}\"", f.trim_start_matches('.'))).collect();
        if mode == FieldValidation::Strict {
            return Err(ApiError::bad_request(format!("strict decoding error: {}", messages.join(", "))));
        }
        Ok(messages)
    }

    /// Replaces an object (PUT), or its status (`subresource` "status").
    pub fn update(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        body: Value,
        subresource: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        check_type(rt, &body)?;
        if body["metadata"]["name"].as_str().is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                body["metadata"]["name"].as_str().unwrap_or_default()
            )));
        }
        let warnings = self.check_fields(rt, &body, opts.field_validation)?;
        let live = self.get(rt, namespace, name)?;
        let sent_rv = body["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
        if !sent_rv.is_empty() && sent_rv != live["metadata"]["resourceVersion"] {
            return Err(ApiError::conflict(rt, name));
        }
        let new = merge_for_update(rt, &live, body, subresource);
        let manager = opts.field_manager.clone().unwrap_or_else(|| "unknown".into());
        let written =
            self.finish_update(rt, namespace, name, &live, new, Some((&manager, subresource)), opts.dry_run, &sent_rv)?;
        Ok(Written { warnings, ..written })
    }

    /// Patches an object (PATCH); server-side apply creates it when missing.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        patch_type: PatchType,
        body: &Value,
        subresource: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let live = self.store.get(&Self::key(rt, namespace, name));
        if patch_type == PatchType::Apply {
            return self.apply(rt, namespace, name, live, body, subresource, opts);
        }
        let live = live.ok_or_else(|| ApiError::not_found(rt, name))?;
        let patched = match patch_type {
            PatchType::Merge => {
                let mut target = live.as_ref().clone();
                patch::json_merge_patch(&mut target, body);
                target
            }
            PatchType::Strategic => {
                if rt.custom {
                    return Err(ApiError::new(
                        415,
                        "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                    ));
                }
                patch::strategic_merge_patch(&live, body, &rt.api_version(), &rt.kind)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?
            }
            PatchType::Json => {
                patch::json_patch(&live, body).map_err(|e| ApiError::new(422, "Invalid", e.to_string()))?
            }
            PatchType::Apply => unreachable!("handled above"),
        };
        let warnings = self.check_fields(rt, &patched, opts.field_validation)?;
        let sent_rv = patched["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
        if !sent_rv.is_empty() && sent_rv != live["metadata"]["resourceVersion"] {
            return Err(ApiError::conflict(rt, name));
        }
        if patched["metadata"]["name"] != live["metadata"]["name"] {
            return Err(ApiError::bad_request("metadata.name cannot be changed by a patch"));
        }
        let new = merge_for_update(rt, &live, patched, subresource);
        let manager = opts.field_manager.clone().unwrap_or_else(|| "unknown".into());
        let written =
            self.finish_update(rt, namespace, name, &live, new, Some((&manager, subresource)), opts.dry_run, &sent_rv)?;
        Ok(Written { warnings, ..written })
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        live: Option<Arc<Value>>,
        body: &Value,
        subresource: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let Some(manager) = opts.field_manager.as_deref().filter(|m| !m.is_empty()) else {
            return Err(ApiError::new(
                422,
                "Invalid",
                "PATCH request with apply content type must provide a fieldManager: fieldManager: Required value: is required for apply patch",
            ));
        };
        check_type(rt, body)?;
        if body["metadata"]["name"].as_str() != Some(name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                body["metadata"]["name"].as_str().unwrap_or_default()
            )));
        }
        if rt.namespaced && body["metadata"]["namespace"].as_str().is_some_and(|ns| ns != namespace) {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let warnings = self.check_fields(rt, body, opts.field_validation)?;
        let time = now();
        let apply_opts = ApplyOptions { manager, force: opts.force, subresource, now: &time };
        let merged =
            apply::server_side_apply(live.as_deref(), body, &apply_opts).map_err(|e| apply_error(rt, name, e))?;
        let written = match live {
            None => {
                if subresource.is_some() {
                    return Err(ApiError::not_found(rt, name));
                }
                self.insert(rt, namespace, merged, opts.dry_run)?
            }
            Some(live) => {
                let sent_rv = body["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
                if !sent_rv.is_empty() && sent_rv != live["metadata"]["resourceVersion"] {
                    return Err(ApiError::conflict(rt, name));
                }
                let new = merge_for_update(rt, &live, merged, subresource);
                self.finish_update(rt, namespace, name, &live, new, None, opts.dry_run, &sent_rv)?
            }
        };
        Ok(Written { warnings, ..written })
    }

    /// The common tail of update and patch: server-owned metadata, defaults,
    /// validation, immutable fields, generation, managedFields, completion
    /// of a pending deletion, and an atomic compare-and-write.
    #[allow(clippy::too_many_arguments)]
    fn finish_update(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        live: &Value,
        mut new: Value,
        record: Option<(&str, Option<&str>)>,
        dry_run: bool,
        sent_rv: &str,
    ) -> Result<Written, ApiError> {
        for field in
            ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name"]
        {
            let value = live["metadata"][field].clone();
            if value.is_null() {
                if let Some(map) = new["metadata"].as_object_mut() {
                    map.remove(field);
                }
            } else {
                new["metadata"][field] = value;
            }
        }
        // A terminating object may lose finalizers but not gain them.
        if !live["metadata"]["deletionTimestamp"].is_null() {
            let before: Vec<Value> = live["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
            let added = new["metadata"]["finalizers"].as_array().into_iter().flatten().any(|f| !before.contains(f));
            if added {
                return Err(ApiError::invalid(
                    rt,
                    name,
                    vec![FieldCause::invalid(
                        "metadata.finalizers",
                        "Forbidden: no new finalizers can be added if the object is being deleted",
                    )],
                ));
            }
        }
        new["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"].clone();
        rules::apply_defaults(rt, &mut new, Some(live), || self.allocate_ip());
        let mut causes = rules::validate(rt, &new);
        causes.extend(rules::immutable_changes(rt, live, &new));
        if !causes.is_empty() {
            return Err(ApiError::invalid(rt, name, causes));
        }
        if rt.kind == "CustomResourceDefinition" {
            self.check_crd(rt, name, &new)?;
            establish_crd(&mut new);
        }
        if has_generation(rt) {
            let generation = live["metadata"]["generation"].as_i64().unwrap_or(1);
            let bumped = if spec_of(&new) != spec_of(live) { generation + 1 } else { generation };
            new["metadata"]["generation"] = json!(bumped);
        }
        if let Some((manager, subresource)) = record {
            apply::record_update(Some(live), &mut new, manager, subresource, &now());
        }
        let finished = !new["metadata"]["deletionTimestamp"].is_null()
            && new["metadata"]["finalizers"].as_array().is_none_or(|f| f.is_empty());
        let key = Self::key(rt, namespace, name);
        let expected_rv = live["metadata"]["resourceVersion"].clone();
        let guard = |current: Option<&Value>| match current {
            None => Err(ApiError::not_found(rt, name)),
            // Another write landed after we read: the client's update was
            // made against the older version.
            Some(c) if c["metadata"]["resourceVersion"] != expected_rv => Err(ApiError::conflict(rt, name)),
            Some(_) => Ok(()),
        };
        if finished {
            if dry_run {
                return Ok(Written { object: Arc::new(new), created: false, warnings: Vec::new() });
            }
            let removed = self.store.remove(&key, guard)?.unwrap_or_else(|| Arc::new(new));
            self.after_remove(rt, &removed);
            return Ok(Written { object: with_api_version(rt, removed), created: false, warnings: Vec::new() });
        }
        if &new == live {
            // Kubernetes does not write (or bump resourceVersion) for a no-op.
            return Ok(Written { object: with_api_version(rt, Arc::new(new)), created: false, warnings: Vec::new() });
        }
        if dry_run {
            return Ok(Written { object: with_api_version(rt, Arc::new(new)), created: false, warnings: Vec::new() });
        }
        let _ = sent_rv;
        let object = self.store.write(&key, new, guard)?;
        if rt.kind == "CustomResourceDefinition" {
            let _ = self.registry_mut().install_crd(&object);
        }
        Ok(Written { object: with_api_version(rt, object), created: false, warnings: Vec::new() })
    }

    /// Deletes an object: at once, or marked Terminating while finalizers
    /// (or a pod's grace period, or a namespace's contents) remain.
    pub fn delete(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Arc<Value>, ApiError> {
        let live = self.get(rt, namespace, name)?;
        if opts.precondition_uid.as_deref().is_some_and(|uid| live["metadata"]["uid"] != uid)
            || opts.precondition_rv.as_deref().is_some_and(|rv| live["metadata"]["resourceVersion"] != rv)
        {
            return Err(ApiError::conflict(rt, name));
        }
        if !live["metadata"]["deletionTimestamp"].is_null() {
            return Ok(live);
        }
        let mut finalizers: Vec<Value> = live["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
        match opts.propagation {
            Propagation::Foreground => finalizers.push(json!("foregroundDeletion")),
            Propagation::Orphan => finalizers.push(json!("orphan")),
            Propagation::Background => {}
        }
        let is_pod = rt.group.is_empty() && rt.kind == "Pod";
        let graceful_pod = is_pod && opts.grace_seconds != Some(0) && live["status"]["phase"] != "Pending";
        let is_namespace = rt.group.is_empty() && rt.kind == "Namespace";
        if opts.dry_run {
            return Ok(live);
        }
        let key = Self::key(rt, namespace, name);
        if finalizers.is_empty() && !graceful_pod && !is_namespace {
            let removed = self
                .store
                .remove(&key, |c| if c.is_some() { Ok(()) } else { Err(ApiError::not_found(rt, name)) })?
                .unwrap_or(live);
            self.after_remove(rt, &removed);
            return Ok(with_api_version(rt, removed));
        }
        let mut marked = live.as_ref().clone();
        marked["metadata"]["deletionTimestamp"] = json!(now());
        let grace = opts.grace_seconds.unwrap_or_else(|| {
            if is_pod {
                live["spec"]["terminationGracePeriodSeconds"].as_i64().unwrap_or(30)
            } else {
                0
            }
        });
        marked["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        if !finalizers.is_empty() {
            marked["metadata"]["finalizers"] = json!(finalizers);
        }
        if is_namespace {
            marked["status"]["phase"] = json!("Terminating");
        }
        let object =
            self.store.write(
                &key,
                marked,
                |c| if c.is_some() { Ok(()) } else { Err(ApiError::not_found(rt, name)) },
            )?;
        Ok(with_api_version(rt, object))
    }

    /// Removes an object for good (controllers finishing a deletion).
    pub fn remove_now(&self, rt: &ResourceType, namespace: &str, name: &str) {
        if let Ok(Some(removed)) = self.store.remove(&Self::key(rt, namespace, name), |_| Ok::<(), ()>(())) {
            self.after_remove(rt, &removed);
        }
    }

    fn after_remove(&self, rt: &ResourceType, removed: &Value) {
        if rt.kind == "CustomResourceDefinition" {
            self.registry_mut().remove_crd(removed);
        }
    }

    /// Changes an object's status in place (controllers). Retries on
    /// conflict; does nothing when `change` leaves the object as it was.
    pub fn update_status(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        change: impl Fn(&mut Value),
    ) -> Option<Arc<Value>> {
        self.modify(rt, namespace, name, |obj| change(&mut obj["status"]))
    }

    /// Changes an object in place (controllers), with the same guarantees as
    /// [`ApiServer::update_status`]. Generation and ownership are not tracked
    /// for controller writes.
    pub fn modify(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        change: impl Fn(&mut Value),
    ) -> Option<Arc<Value>> {
        let key = Self::key(rt, namespace, name);
        loop {
            let live = self.store.get(&key)?;
            let mut new = live.as_ref().clone();
            change(&mut new);
            if new == *live {
                return Some(live);
            }
            let expected = live["metadata"]["resourceVersion"].clone();
            match self.store.write(&key, new, |c| match c {
                Some(c) if c["metadata"]["resourceVersion"] == expected => Ok(()),
                Some(_) => Err(true),
                None => Err(false),
            }) {
                Ok(object) => return Some(object),
                Err(true) => continue,
                Err(false) => return None,
            }
        }
    }
}

fn apply_error(rt: &ResourceType, name: &str, e: ApplyError) -> ApiError {
    match e {
        ApplyError::Conflict(conflicts) => {
            let n = conflicts.len();
            let lines: Vec<String> =
                conflicts.iter().map(|c| format!("conflict with \"{}\": {}", c.manager, c.field)).collect();
            let mut err = ApiError::new(
                409,
                "Conflict",
                format!("Apply failed with {n} conflict{}: {}", if n == 1 { "" } else { "s" }, lines.join("\n")),
            );
            let mut details = json!({"name": name, "kind": rt.plural});
            if !rt.group.is_empty() {
                details["group"] = json!(rt.group);
            }
            details["causes"] = conflicts
                .iter()
                .map(|c| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{}\"", c.manager), "field": c.field}))
                .collect();
            err.details = Some(Box::new(details));
            err
        }
        ApplyError::Invalid(message) => ApiError::invalid(rt, name, vec![FieldCause::invalid("", message)]),
    }
}

/// The body of an update, with what the client may not change put back:
/// status on the main resource, everything but status on `/status`.
fn merge_for_update(rt: &ResourceType, live: &Value, mut body: Value, subresource: Option<&str>) -> Value {
    match subresource {
        Some("status") => {
            let mut new = live.clone();
            new["status"] = body["status"].take();
            new
        }
        _ => {
            if rt.has_status && !(rt.group.is_empty() && rt.kind == "Namespace") {
                match live.get("status") {
                    Some(status) => body["status"] = status.clone(),
                    None => {
                        if let Some(map) = body.as_object_mut() {
                            map.remove("status");
                        }
                    }
                }
            }
            if body["metadata"]["managedFields"].is_null() {
                body["metadata"]["managedFields"] = live["metadata"]["managedFields"].clone();
                if body["metadata"]["managedFields"].is_null() {
                    if let Some(map) = body["metadata"].as_object_mut() {
                        map.remove("managedFields");
                    }
                }
            }
            body
        }
    }
}

/// The desired state, whose changes bump `metadata.generation`.
fn spec_of(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    v
}

fn has_generation(rt: &ResourceType) -> bool {
    rt.custom
        || matches!(
            rt.kind.as_str(),
            "Deployment"
                | "ReplicaSet"
                | "StatefulSet"
                | "DaemonSet"
                | "Job"
                | "CronJob"
                | "Ingress"
                | "NetworkPolicy"
                | "HorizontalPodAutoscaler"
                | "PodDisruptionBudget"
                | "CustomResourceDefinition"
        )
}

fn check_type(rt: &ResourceType, body: &Value) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request("the request body must be a JSON or YAML object"));
    }
    let api_version = body["apiVersion"].as_str().unwrap_or_default();
    let kind = body["kind"].as_str().unwrap_or_default();
    if kind.is_empty() || api_version.is_empty() {
        return Err(ApiError::bad_request("Object 'Kind' is missing in the request body"));
    }
    let expected = rt.api_version();
    if api_version != expected || kind != rt.kind {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({expected}), or kind {kind} is not {}",
            rt.kind
        )));
    }
    Ok(())
}

/// A stored object as served at the requested version (custom resources
/// are not converted between versions; their apiVersion is relabelled).
fn with_api_version(rt: &ResourceType, object: Arc<Value>) -> Arc<Value> {
    let api_version = rt.api_version();
    if object["apiVersion"] == api_version.as_str() && object["kind"] == rt.kind.as_str() {
        return object;
    }
    let mut o = object.as_ref().clone();
    o["apiVersion"] = json!(api_version);
    o["kind"] = json!(rt.kind);
    Arc::new(o)
}

/// A CRD is accepted and established as soon as it is stored: there is no
/// controller delay to model, and clients wait for Established anyway.
fn establish_crd(crd: &mut Value) {
    let established = crd["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Established" && c["status"] == "True");
    if established && crd["status"]["acceptedNames"] == crd["spec"]["names"] {
        return;
    }
    let time = now();
    crd["status"]["acceptedNames"] = crd["spec"]["names"].clone();
    crd["status"]["storedVersions"] = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["storage"] == true)
        .map(|v| v["name"].clone())
        .collect();
    crd["status"]["conditions"] = json!([
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": time},
        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": time},
    ]);
}
