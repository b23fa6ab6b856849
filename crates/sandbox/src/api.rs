//! The REST layer: routes Kubernetes URLs to the [`ApiServer`], applies
//! authentication, fault injection and counters, streams watches, and
//! answers in the formats clients ask for (objects, lists, Tables).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio_stream::wrappers::ReceiverStream;

use crate::apiserver::{DeleteOptions, FieldValidation, PatchType, Propagation, WriteOptions};
use crate::discovery;
use crate::faults::{FaultRule, Verdict};
use crate::resources::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Change, EventType};
use crate::Shared;

/// Largest request body accepted (the API server's limit is 3 MiB per
/// object; lists and applies of many objects are not sent in one request).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Every request enters here.
pub async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    if matches!(path.as_str(), "/healthz" | "/livez" | "/readyz") {
        return (StatusCode::OK, "ok").into_response();
    }
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| token.trim() == shared.token);
    if !authorized {
        return ApiError::unauthorized().into_response();
    }
    match route(&shared, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

fn query_map(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match (bytes[i], decoded) {
            (_, Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The parsed query parameters of a request.
struct Query(Vec<(String, String)>);

impl Query {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | ""))
    }
}

fn json_response(code: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn route(shared: &Arc<Shared>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let query = Query(query_map(parts.uri.query()));
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let accept = parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let method = parts.method.clone();

    // Discovery and OpenAPI.
    match segments.as_slice() {
        ["version"] => {
            return Ok(
                counted(shared, "discovery", "version", json_response(StatusCode::OK, &discovery::version())).await
            )
        }
        ["api"] => {
            let value = if wants_aggregated(&accept) {
                return Ok(aggregated(shared, true));
            } else {
                discovery::core_versions(&shared.address)
            };
            return Ok(counted(shared, "discovery", "api", json_response(StatusCode::OK, &value)).await);
        }
        ["apis"] => {
            if wants_aggregated(&accept) {
                return Ok(aggregated(shared, false));
            }
            let value = discovery::group_list(&shared.api.registry());
            return Ok(counted(shared, "discovery", "apis", json_response(StatusCode::OK, &value)).await);
        }
        ["apis", group] => {
            let value = discovery::group(&shared.api.registry(), group).ok_or_else(|| not_found_path(&path))?;
            return Ok(counted(shared, "discovery", "apis", json_response(StatusCode::OK, &value)).await);
        }
        ["api", "v1"] => {
            let value =
                discovery::resource_list(&shared.api.registry(), "", "v1").ok_or_else(|| not_found_path(&path))?;
            return Ok(counted(shared, "discovery", "api", json_response(StatusCode::OK, &value)).await);
        }
        ["apis", group, version] => {
            let value = discovery::resource_list(&shared.api.registry(), group, version)
                .ok_or_else(|| not_found_path(&path))?;
            return Ok(counted(shared, "discovery", "apis", json_response(StatusCode::OK, &value)).await);
        }
        ["openapi", "v3"] => {
            let value = discovery::openapi_v3_root(&shared.api.registry());
            return Ok(counted(shared, "openapi", "v3", json_response(StatusCode::OK, &value)).await);
        }
        ["openapi", "v3", "api", version] => {
            let value = discovery::openapi_v3_group_version(&shared.api.registry(), "", version)
                .ok_or_else(|| not_found_path(&path))?;
            return Ok(counted(shared, "openapi", "v3", json_response(StatusCode::OK, &value)).await);
        }
        ["openapi", "v3", "apis", group, version] => {
            let value = discovery::openapi_v3_group_version(&shared.api.registry(), group, version)
                .ok_or_else(|| not_found_path(&path))?;
            return Ok(counted(shared, "openapi", "v3", json_response(StatusCode::OK, &value)).await);
        }
        ["sandbox", "admin", rest @ ..] => {
            let body = read_body(body).await?;
            return admin(shared, &method, rest, &body);
        }
        _ => {}
    }

    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(not_found_path(&path)),
    };
    // /namespaces/{ns}/{resource}... for namespaced resources; everything
    // else is a cluster-scoped path (including /namespaces/{name}/status).
    let registry_has = |plural: &str| shared.api.registry().get(group, version, plural).is_some_and(|t| t.namespaced);
    let (namespace, plural, name, sub) = match rest {
        ["namespaces", ns, plural, tail @ ..] if registry_has(plural) => {
            (Some(*ns), *plural, tail.first().copied(), tail.get(1..).unwrap_or(&[]))
        }
        [plural, tail @ ..] => (None, *plural, tail.first().copied(), tail.get(1..).unwrap_or(&[])),
        [] => return Err(not_found_path(&path)),
    };
    let rt = shared.api.resource(group, version, plural)?;
    if rt.namespaced && namespace.is_none() && name.is_some() {
        return Err(not_found_path(&path));
    }
    let namespace = namespace.unwrap_or("");

    // Proxy subresources go to the proxy before anything is read.
    if let (Some(name), ["proxy", proxied @ ..]) = (name, sub) {
        if group.is_empty() && (plural == "services" || plural == "pods") {
            let verdict = shared.faults.on_request("proxy", plural);
            apply_verdict(&verdict).await?;
            let proxied = proxied.join("/");
            let query_string = parts.uri.query().map(str::to_string);
            return crate::proxy::forward(
                shared,
                plural,
                namespace,
                name,
                &proxied,
                query_string,
                method,
                parts.headers,
                body,
            )
            .await;
        }
    }
    if let (Some(name), ["log"], true) = (name, sub, group.is_empty() && plural == "pods" && method == Method::GET) {
        shared.faults.on_request("get", "pods/log");
        api_get_pod(shared, &rt, namespace, name)?;
        let text = match shared.pods.log_path(namespace, name, query.get("container")) {
            Some(path) => std::fs::read_to_string(&path).unwrap_or_default(),
            None => String::new(),
        };
        return Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], text).into_response());
    }
    let subresource = match sub {
        [] => None,
        ["status"] if rt.has_status => Some("status"),
        _ => return Err(not_found_path(&path)),
    };

    let watch = query.flag("watch");
    let verb = match (&method, name, watch) {
        (&Method::GET, _, true) => "watch",
        (&Method::GET, Some(_), false) => "get",
        (&Method::GET, None, false) => "list",
        (&Method::POST, None, _) => "create",
        (&Method::PUT, Some(_), _) => "update",
        (&Method::PATCH, Some(_), _) => "patch",
        (&Method::DELETE, Some(_), _) => "delete",
        (&Method::DELETE, None, _) => "deletecollection",
        _ => {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({method} {path})"
            )))
        }
    };
    let verdict = shared.faults.on_request(verb, plural);
    if verb != "watch" {
        apply_verdict(&verdict).await?;
    } else if let Some(delay) = verdict.delay {
        tokio::time::sleep(delay).await;
    }
    let body = read_body(body).await?;
    let opts = write_options(&query, &parts.headers)?;
    let api = &shared.api;
    let table = accept.contains("as=Table");

    match verb {
        "get" => {
            let name = name.unwrap_or_default();
            let object = api.get(&rt, namespace, name)?;
            if table {
                return Ok(json_response(
                    StatusCode::OK,
                    &crate::table::table(&rt, std::slice::from_ref(&object), None),
                ));
            }
            Ok(json_response(StatusCode::OK, &object))
        }
        "list" => {
            let (items, rv) = list(shared, &rt, namespace, &query)?;
            if table {
                return Ok(json_response(StatusCode::OK, &crate::table::table(&rt, &items, Some(rv))));
            }
            Ok(json_response(StatusCode::OK, &list_value(&rt, &items, rv)))
        }
        "watch" => watch_stream(shared, &rt, namespace, name, &query, verdict),
        "create" => {
            let body = parse_body(&body, &parts.headers)?;
            let written = api.create(&rt, namespace, body, &opts)?;
            Ok(with_warnings(json_response(StatusCode::CREATED, &written.object), &written.warnings))
        }
        "update" => {
            let body = parse_body(&body, &parts.headers)?;
            let written = api.update(&rt, namespace, name.unwrap_or_default(), body, subresource, &opts)?;
            Ok(with_warnings(json_response(StatusCode::OK, &written.object), &written.warnings))
        }
        "patch" => {
            let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            let patch_type = PatchType::from_content_type(content_type).ok_or_else(|| {
                ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"))
            })?;
            let body = parse_body(&body, &parts.headers)?;
            let written = api.patch(&rt, namespace, name.unwrap_or_default(), patch_type, &body, subresource, &opts)?;
            let code = if written.created { StatusCode::CREATED } else { StatusCode::OK };
            Ok(with_warnings(json_response(code, &written.object), &written.warnings))
        }
        "delete" => {
            let delete_opts = delete_options(&query, &body)?;
            let object = api.delete(&rt, namespace, name.unwrap_or_default(), &delete_opts)?;
            Ok(json_response(StatusCode::OK, &object))
        }
        "deletecollection" => {
            let delete_opts = delete_options(&query, &body)?;
            let (items, rv) = list(shared, &rt, namespace, &query)?;
            let mut deleted = Vec::new();
            for item in items {
                let ns = item["metadata"]["namespace"].as_str().unwrap_or_default();
                let name = item["metadata"]["name"].as_str().unwrap_or_default();
                match api.delete(&rt, ns, name, &delete_opts) {
                    Ok(o) => deleted.push(o),
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(json_response(StatusCode::OK, &list_value(&rt, &deleted, rv)))
        }
        _ => unreachable!("verbs are matched above"),
    }
}

fn api_get_pod(shared: &Arc<Shared>, rt: &ResourceType, namespace: &str, name: &str) -> Result<(), ApiError> {
    shared.api.get(rt, namespace, name).map(|_| ())
}

fn wants_aggregated(accept: &str) -> bool {
    accept.contains("g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
}

fn aggregated(shared: &Arc<Shared>, core: bool) -> Response {
    shared.faults.on_request("discovery", if core { "api" } else { "apis" });
    let value = discovery::aggregated(&shared.api.registry(), core);
    let body = serde_json::to_vec(&value).unwrap_or_default();
    (StatusCode::OK, [(header::CONTENT_TYPE, discovery::AGGREGATED_CONTENT_TYPE)], body).into_response()
}

async fn counted(shared: &Arc<Shared>, verb: &str, resource: &str, response: Response) -> Response {
    let verdict = shared.faults.on_request(verb, resource);
    match apply_verdict(&verdict).await {
        Ok(()) => response,
        Err(e) => e.into_response(),
    }
}

async fn apply_verdict(verdict: &Verdict) -> Result<(), ApiError> {
    if let Some(delay) = verdict.delay {
        tokio::time::sleep(delay).await;
    }
    match &verdict.fail {
        Some(e) => Err(e.clone()),
        None => Ok(()),
    }
}

fn not_found_path(path: &str) -> ApiError {
    ApiError::new(404, "NotFound", format!("the server could not find the requested resource ({path})"))
}

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| ApiError::new(413, "RequestEntityTooLarge", format!("request body too large or unreadable: {e}")))
}

/// JSON, or YAML for apply patches (JSON is tried first: it is what kube-rs
/// and kubectl send).
fn parse_body(body: &[u8], headers: &HeaderMap) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(json_err) => {
            let yaml =
                headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.contains("yaml"));
            if !yaml {
                return Err(ApiError::bad_request(format!("the request body is not valid JSON: {json_err}")));
            }
            let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the YAML body is not UTF-8"))?;
            serde_saphyr::from_str(text).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
        }
    }
}

fn write_options(query: &Query, headers: &HeaderMap) -> Result<WriteOptions, ApiError> {
    let dry_run = match query.get("dryRun") {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => return Err(ApiError::bad_request(format!("dryRun must be All, not {other:?}"))),
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    // Other writes default their manager to the client's user agent, as the
    // API server does; an apply must name its manager explicitly.
    let field_manager = match query.get("fieldManager") {
        Some(m) => Some(m.to_string()),
        None if content_type.starts_with("application/apply-patch") => None,
        None => {
            let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("unknown");
            Some(user_agent.split('/').next().unwrap_or("unknown").to_string())
        }
    };
    Ok(WriteOptions {
        dry_run,
        field_manager,
        field_validation: FieldValidation::parse(query.get("fieldValidation").unwrap_or(""))?,
        force: query.flag("force"),
    })
}

fn delete_options(query: &Query, body: &[u8]) -> Result<DeleteOptions, ApiError> {
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("DeleteOptions: {e}")))?
    };
    let propagation = body["propagationPolicy"].as_str().or(query.get("propagationPolicy"));
    let propagation = match propagation {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy must be Background, Foreground or Orphan, not {other:?}"
            )))
        }
    };
    let dry_run =
        body["dryRun"].as_array().is_some_and(|a| a.iter().any(|v| v == "All")) || query.get("dryRun") == Some("All");
    let grace_seconds =
        body["gracePeriodSeconds"].as_i64().or_else(|| query.get("gracePeriodSeconds").and_then(|g| g.parse().ok()));
    Ok(DeleteOptions {
        dry_run,
        propagation,
        grace_seconds,
        precondition_uid: body["preconditions"]["uid"].as_str().map(String::from),
        precondition_rv: body["preconditions"]["resourceVersion"].as_str().map(String::from),
    })
}

fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let value = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(v) = value.parse() {
            response.headers_mut().append("warning", v);
        }
    }
    response
}

type Items = Vec<Arc<Value>>;

fn list(shared: &Arc<Shared>, rt: &ResourceType, namespace: &str, query: &Query) -> Result<(Items, u64), ApiError> {
    let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or(""))?;
    let fields = FieldSelector::parse(query.get("fieldSelector").unwrap_or(""))?;
    let ns = (rt.namespaced && !namespace.is_empty()).then_some(namespace);
    let (items, rv) = shared.api.store.list(&rt.group, &rt.plural, ns);
    let api_version = rt.api_version();
    let items = items
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .map(|o| {
            if o["apiVersion"] == api_version.as_str() {
                o
            } else {
                let mut o = o.as_ref().clone();
                o["apiVersion"] = json!(api_version);
                Arc::new(o)
            }
        })
        .collect();
    Ok((items, rv))
}

fn list_value(rt: &ResourceType, items: &[Arc<Value>], rv: u64) -> Value {
    json!({
        "kind": format!("{}List", rt.kind),
        "apiVersion": rt.api_version(),
        "metadata": {"resourceVersion": rv.to_string()},
        "items": items.iter().map(|o| o.as_ref()).collect::<Vec<_>>(),
    })
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// A watch: newline-delimited events, from the requested resourceVersion
/// (or the current state as ADDED events when none is given), with
/// bookmarks when asked, until `timeoutSeconds` or the client leaves.
fn watch_stream(
    shared: &Arc<Shared>,
    rt: &ResourceType,
    namespace: &str,
    name: Option<&str>,
    query: &Query,
    verdict: Verdict,
) -> Result<Response, ApiError> {
    let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or(""))?;
    let mut fields = FieldSelector::parse(query.get("fieldSelector").unwrap_or(""))?;
    if let Some(name) = name {
        fields = FieldSelector::parse(&format!("metadata.name={name}"))?;
    }
    let requested = query.get("resourceVersion").unwrap_or("");
    let bookmarks = query.flag("allowWatchBookmarks");
    // Streaming lists (KEP-3157, what kubectl 1.35+ asks for in `wait` and
    // `get -w`): the current state as ADDED events, then a bookmark
    // annotated `k8s.io/initial-events-end`, then the changes.
    let send_initial_events = query.flag("sendInitialEvents");
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(shared.config.watch_timeout);
    let ns = (rt.namespaced && !namespace.is_empty()).then(|| namespace.to_string());
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(256);
    let response = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .map_err(|e| ApiError::internal(e.to_string()))?;

    let gone = |rv: &str| {
        let e = ApiError::new(410, "Expired", format!("too old resource version: {rv}"));
        event_line("ERROR", &e.to_status())
    };
    if verdict.gone {
        let _ = tx.try_send(Ok(gone(requested)));
        return Ok(response);
    }
    let mut initial = Vec::new();
    let start_rv = match requested.parse::<u64>() {
        Ok(rv) if rv > 0 && !send_initial_events => rv,
        _ => {
            let (items, rv) = shared.api.store.list(&rt.group, &rt.plural, ns.as_deref());
            initial = items;
            rv
        }
    };
    let (backlog, mut receiver) = match shared.api.store.follow(start_rv) {
        Ok(follow) => follow,
        Err(_) => {
            let _ = tx.try_send(Ok(gone(requested)));
            return Ok(response);
        }
    };
    let rt = rt.clone();
    let bookmark_interval = shared.config.bookmark_interval;
    let api = shared.clone();
    tokio::spawn(async move {
        let matches = |c: &Change| {
            c.key.group == rt.group
                && c.key.plural == rt.plural
                && ns.as_deref().is_none_or(|n| c.key.namespace == n)
                && labels.matches(&c.object)
                && fields.matches(&c.object)
        };
        let api_version = rt.api_version();
        let relabel = |o: &Value| {
            if o["apiVersion"] == api_version.as_str() {
                o.clone()
            } else {
                let mut o = o.clone();
                o["apiVersion"] = json!(api_version);
                o
            }
        };
        let mut sent: u64 = 0;
        let limit = verdict.drop_watch_after;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last_rv = start_rv;
        macro_rules! send {
            ($bytes:expr) => {{
                if limit.is_some_and(|l| sent >= l) {
                    return;
                }
                if tx.send(Ok($bytes)).await.is_err() {
                    return;
                }
                sent += 1;
            }};
        }
        if limit == Some(0) {
            return;
        }
        for o in initial.iter().filter(|o| labels.matches(o) && fields.matches(o)) {
            send!(event_line("ADDED", &relabel(o)));
        }
        if send_initial_events {
            let end = json!({"kind": rt.kind, "apiVersion": api_version, "metadata": {
                "resourceVersion": start_rv.to_string(),
                "annotations": {"k8s.io/initial-events-end": "true"},
            }});
            send!(event_line("BOOKMARK", &end));
        }
        for c in backlog.iter().filter(|c| matches(c)) {
            last_rv = c.rv;
            send!(event_line(c.event.as_str(), &relabel(&c.object)));
        }
        let mut ticker = tokio::time::interval(bookmark_interval);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = ticker.tick(), if bookmarks => {
                    let rv = api.api.store.resource_version().max(last_rv);
                    let bookmark = json!({"kind": rt.kind, "apiVersion": api_version, "metadata": {"resourceVersion": rv.to_string()}});
                    send!(event_line("BOOKMARK", &bookmark));
                }
                change = receiver.recv() => match change {
                    Ok(c) => {
                        if c.rv <= last_rv || !matches(&c) {
                            continue;
                        }
                        last_rv = c.rv;
                        let kind = match c.event { EventType::Added => "ADDED", EventType::Modified => "MODIFIED", EventType::Deleted => "DELETED" };
                        send!(event_line(kind, &relabel(&c.object)));
                    }
                    // The watcher fell behind the broadcast buffer: end the
                    // watch, as an API server does for a slow client; the
                    // client resumes from the last resourceVersion it saw.
                    Err(_) => return,
                },
            }
        }
    });
    Ok(response)
}

fn admin(shared: &Arc<Shared>, method: &Method, rest: &[&str], body: &[u8]) -> Result<Response, ApiError> {
    match (method, rest) {
        (&Method::GET, ["counters"]) => Ok(json_response(StatusCode::OK, &shared.faults.counters())),
        (&Method::DELETE, ["counters"]) => {
            shared.faults.reset_counters();
            Ok(json_response(StatusCode::OK, &json!({})))
        }
        (&Method::GET, ["faults"]) => Ok(json_response(StatusCode::OK, &json!(shared.faults.rules()))),
        (&Method::POST, ["faults"]) => {
            let value: Value =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("fault rule: {e}")))?;
            let rules: Vec<FaultRule> = if value.is_array() {
                serde_json::from_value(value)
            } else {
                serde_json::from_value(value).map(|r| vec![r])
            }
            .map_err(|e| ApiError::bad_request(format!("fault rule: {e}")))?;
            for rule in rules {
                shared.faults.add(rule);
            }
            Ok(json_response(StatusCode::OK, &json!(shared.faults.rules())))
        }
        (&Method::DELETE, ["faults"]) => {
            shared.faults.clear();
            Ok(json_response(StatusCode::OK, &json!([])))
        }
        (&Method::POST, ["compact"]) => {
            shared.api.store.compact();
            Ok(json_response(
                StatusCode::OK,
                &json!({"resourceVersion": shared.api.store.resource_version().to_string()}),
            ))
        }
        _ => {
            Err(ApiError::new(404, "NotFound", format!("no admin endpoint {method} /sandbox/admin/{}", rest.join("/"))))
        }
    }
}
