//! The API server's proxy subresources: `services/{name}[:port]/proxy/...`
//! routes to a ready endpoint of the Service (round-robin, from the
//! Endpoints object, so endpoint propagation delays apply) and
//! `pods/{name}[:port]/proxy/...` to one pod; both reach the pod's process
//! on its mapped loopback port.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::kubelet::PortRef;
use crate::status::ApiError;
use crate::store::ObjectKey;
use crate::Shared;

fn unavailable(message: String) -> ApiError {
    ApiError::new(503, "ServiceUnavailable", message)
}

/// Round-robin positions per service.
fn cursor(namespace: &str, name: &str) -> usize {
    static CURSORS: OnceLock<Mutex<HashMap<String, Arc<AtomicUsize>>>> = OnceLock::new();
    let map = CURSORS.get_or_init(Default::default);
    let counter =
        map.lock().unwrap_or_else(|e| e.into_inner()).entry(format!("{namespace}/{name}")).or_default().clone();
    counter.fetch_add(1, Ordering::Relaxed)
}

/// `name`, `name:port` or `scheme:name:port` → (name, port).
fn split_name(spec: &str) -> (&str, Option<&str>) {
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        [name] => (*name, None),
        [name, port] => (*name, Some(*port)),
        [_, name, port] => (*name, Some(*port)),
        _ => (spec, None),
    }
}

/// Forwards one request through the proxy subresource.
#[allow(clippy::too_many_arguments)]
pub async fn forward(
    shared: &Arc<Shared>,
    plural: &str,
    namespace: &str,
    name_spec: &str,
    path: &str,
    query: Option<String>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (name, port) = split_name(name_spec);
    let (pod_name, container_port) = if plural == "services" {
        pick_endpoint(shared, namespace, name, port)?
    } else {
        let pod = shared
            .api
            .store
            .get(&ObjectKey::new("", "pods", namespace, name))
            .ok_or_else(|| ApiError::new(404, "NotFound", format!("pods \"{name}\" not found")))?;
        let port = match port {
            Some(p) => p.parse::<u16>().map(PortRef::Number).unwrap_or_else(|_| PortRef::Name(p.to_string())),
            None => pod["spec"]["containers"][0]["ports"][0]["containerPort"]
                .as_u64()
                .map(|p| PortRef::Number(p as u16))
                .ok_or_else(|| unavailable(format!("pod {namespace}/{name} declares no container port")))?,
        };
        (name.to_string(), port)
    };
    let host_port = shared.pods.host_port(namespace, &pod_name, &container_port).ok_or_else(|| {
        unavailable(format!(
            "pod {namespace}/{pod_name} has no process listening on port {container_port:?} (its image is simulated, not mapped to a binary, or it is not running)"
        ))
    })?;
    let target = match &query {
        Some(q) => format!("/{path}?{q}"),
        None => format!("/{path}"),
    };
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", host_port)).await.map_err(|e| {
        unavailable(format!("error trying to reach {namespace}/{pod_name} on 127.0.0.1:{host_port}: {e}"))
    })?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unavailable(format!("error trying to reach {namespace}/{pod_name}: {e}")))?;
    tokio::spawn(connection);
    let mut request = Request::builder().method(method).uri(target);
    for (k, v) in headers.iter() {
        if k == "authorization" || k == "host" {
            continue;
        }
        request = request.header(k, v);
    }
    let request = request
        .header("host", format!("127.0.0.1:{host_port}"))
        .body(body)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| unavailable(format!("error trying to reach {namespace}/{pod_name}: {e}")))?;
    let (parts, body) = response.into_parts();
    Ok(Response::from_parts(parts, Body::new(body)).into_response())
}

/// A ready endpoint of the Service's port: (pod name, container port).
fn pick_endpoint(
    shared: &Arc<Shared>,
    namespace: &str,
    name: &str,
    port: Option<&str>,
) -> Result<(String, PortRef), ApiError> {
    let svc = shared
        .api
        .store
        .get(&ObjectKey::new("", "services", namespace, name))
        .ok_or_else(|| ApiError::new(404, "NotFound", format!("services \"{name}\" not found")))?;
    let ports: Vec<&Value> = svc["spec"]["ports"].as_array().into_iter().flatten().collect();
    let svc_port = match port {
        None => ports.first().copied(),
        Some(p) => ports
            .iter()
            .copied()
            .find(|sp| sp["name"] == p || sp["port"].as_i64().map(|n| n.to_string()).as_deref() == Some(p)),
    }
    .ok_or_else(|| unavailable(format!("service {namespace}/{name} has no port {}", port.unwrap_or("(any)"))))?;
    let endpoints = shared
        .api
        .store
        .get(&ObjectKey::new("", "endpoints", namespace, name))
        .ok_or_else(|| unavailable(format!("no endpoints available for service \"{name}\"")))?;
    let ready: Vec<String> = endpoints["subsets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["addresses"].as_array().into_iter().flatten())
        .filter_map(|a| a["targetRef"]["name"].as_str().map(String::from))
        .collect();
    if ready.is_empty() {
        return Err(unavailable(format!("no endpoints available for service \"{name}\"")));
    }
    let pod_name = ready[cursor(namespace, name) % ready.len()].clone();
    let target = match &svc_port["targetPort"] {
        Value::Number(n) => PortRef::Number(n.as_u64().unwrap_or(0) as u16),
        Value::String(s) => PortRef::Name(s.clone()),
        _ => PortRef::Number(svc_port["port"].as_u64().unwrap_or(0) as u16),
    };
    Ok((pod_name, target))
}
