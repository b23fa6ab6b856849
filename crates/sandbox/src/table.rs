//! Server-side printing: the `meta.k8s.io/v1 Table` that `kubectl get` asks
//! for, with the columns kubectl users expect for the common kinds.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::resources::ResourceType;

fn age(object: &Value) -> String {
    let Some(created) = object["metadata"]["creationTimestamp"].as_str() else {
        return "<unknown>".into();
    };
    let Ok(created) = created.parse::<jiff::Timestamp>() else {
        return "<unknown>".into();
    };
    let seconds = (jiff::Timestamp::now().as_second() - created.as_second()).max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// Columns after NAME and before AGE, and each row's cells for them.
fn kind_columns(rt: &ResourceType) -> Vec<(&'static str, &'static str)> {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => vec![("Status", "string")],
        ("", "Pod") => vec![("Ready", "string"), ("Status", "string"), ("Restarts", "string")],
        ("", "Service") => vec![("Type", "string"), ("Cluster-IP", "string"), ("Ports", "string")],
        ("", "PersistentVolumeClaim") => vec![("Status", "string")],
        ("", "ConfigMap") | ("", "Secret") => vec![("Data", "integer")],
        ("apps", "Deployment") => vec![("Ready", "string"), ("Up-to-date", "integer"), ("Available", "integer")],
        ("apps", "StatefulSet") => vec![("Ready", "string")],
        ("apps", "ReplicaSet") => vec![("Desired", "integer"), ("Current", "integer"), ("Ready", "integer")],
        ("batch", "Job") => vec![("Status", "string"), ("Completions", "string")],
        _ => vec![],
    }
}

fn kind_cells(rt: &ResourceType, o: &Value) -> Vec<Value> {
    let status = &o["status"];
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => vec![status["phase"].clone()],
        ("", "Pod") => {
            let containers = o["spec"]["containers"].as_array().map_or(0, Vec::len);
            let statuses = status["containerStatuses"].as_array().cloned().unwrap_or_default();
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses.iter().map(|c| int(&c["restartCount"])).sum();
            let waiting = statuses.iter().find_map(|c| c["state"]["waiting"]["reason"].as_str());
            let phase = if !o["metadata"]["deletionTimestamp"].is_null() {
                "Terminating"
            } else {
                waiting.or(status["phase"].as_str()).unwrap_or("Pending")
            };
            vec![json!(format!("{ready}/{containers}")), json!(phase), json!(restarts.to_string())]
        }
        ("", "Service") => {
            let ports: Vec<String> = o["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP")))
                .collect();
            vec![o["spec"]["type"].clone(), o["spec"]["clusterIP"].clone(), json!(ports.join(","))]
        }
        ("", "PersistentVolumeClaim") => vec![status["phase"].clone()],
        ("", "ConfigMap") | ("", "Secret") => {
            let n = ["data", "binaryData", "stringData"]
                .iter()
                .map(|k| o[k].as_object().map_or(0, |m| m.len()))
                .sum::<usize>();
            vec![json!(n)]
        }
        ("apps", "Deployment") => vec![
            json!(format!("{}/{}", int(&status["readyReplicas"]), int(&o["spec"]["replicas"]))),
            json!(int(&status["updatedReplicas"])),
            json!(int(&status["availableReplicas"])),
        ],
        ("apps", "StatefulSet") => {
            vec![json!(format!("{}/{}", int(&status["readyReplicas"]), int(&o["spec"]["replicas"])))]
        }
        ("apps", "ReplicaSet") => vec![
            json!(int(&o["spec"]["replicas"])),
            json!(int(&status["replicas"])),
            json!(int(&status["readyReplicas"])),
        ],
        ("batch", "Job") => {
            let complete = status["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Complete" && c["status"] == "True");
            let failed = status["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Failed" && c["status"] == "True");
            let state = if complete {
                "Complete"
            } else if failed {
                "Failed"
            } else {
                "Running"
            };
            vec![
                json!(state),
                json!(format!("{}/{}", int(&status["succeeded"]), int(&o["spec"]["completions"]).max(1))),
            ]
        }
        _ => vec![],
    }
}

/// A Table of `objects`; `rv` is set for lists.
pub fn table(rt: &ResourceType, objects: &[Arc<Value>], rv: Option<u64>) -> Value {
    let mut columns = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    for (name, ty) in kind_columns(rt) {
        columns.push(json!({"name": name, "type": ty, "format": "", "description": "", "priority": 0}));
    }
    columns.push(json!({"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp is the time the object was created.", "priority": 0}));
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut cells = vec![o["metadata"]["name"].clone()];
            cells.extend(kind_cells(rt, o));
            cells.push(json!(age(o)));
            let metadata = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": o["metadata"],
            });
            json!({"cells": cells, "object": metadata})
        })
        .collect();
    let mut t = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": columns, "rows": rows});
    if let Some(rv) = rv {
        t["metadata"]["resourceVersion"] = json!(rv.to_string());
    }
    t
}
