//! Rules of the Kubernetes API server's own validation
//! (`pkg/apis/*/validation`) that reject a create or update, that the
//! OpenAPI schema cannot express, and that can be decided from the object
//! alone. [`RULES`] names the upstream function each check mirrors; the
//! pointers are the paths the API server names in its `field.Error`s.

use serde_json::Value;

use crate::validate::model::Finding;
use crate::validate::rules::pod_paths;

/// Each rule: id, the upstream validation it mirrors, what it rejects.
pub const RULES: &[(&str, &str, &str)] = &[
    (
        "container-image",
        "core validateContainers",
        "a container (init, app or ephemeral) without an image: the schema leaves `image` optional",
    ),
    (
        "restart-policy",
        "apps ValidatePodTemplateSpecForReplicaSet/…ForStatefulSet/…ForDaemonSet, batch validateJobSpec, core ValidatePodSpec",
        "a Deployment, ReplicaSet, StatefulSet, DaemonSet or ReplicationController pod template with a restartPolicy other than Always; a Job or CronJob template without OnFailure or Never; a Pod with an unknown policy",
    ),
    (
        "probe-handler",
        "core validateHandler, validateLifecycleHandler",
        "a probe with no handler or more than one of exec, httpGet, tcpSocket, grpc; a lifecycle hook with more than one of exec, httpGet, tcpSocket, sleep",
    ),
    ("volume-source", "core validateVolumeSource", "a volume with more than one source (emptyDir and configMap, ...)"),
    (
        "pdb-budget",
        "policy ValidatePodDisruptionBudgetSpec",
        "a PodDisruptionBudget setting both minAvailable and maxUnavailable",
    ),
    (
        "selector-operator",
        "metav1 validation ValidateLabelSelectorRequirement",
        "a matchExpressions operator other than In, NotIn, Exists, DoesNotExist; In/NotIn without values; Exists/DoesNotExist with values",
    ),
    (
        "ingress-path",
        "networking validateHTTPIngressPath",
        "an Ingress path without pathType or with an unknown one; an Exact or Prefix path that is not absolute",
    ),
    (
        "service-ports",
        "core ValidateService",
        "an unknown Service type; a Service (other than ExternalName or headless) without ports; an unnamed port among several; nodePort on a ClusterIP Service",
    ),
    (
        "deployment-strategy",
        "apps ValidateDeploymentStrategy",
        "an unknown strategy type; rollingUpdate given with type Recreate",
    ),
    (
        "cron-schedule",
        "batch validateScheduleFormat (robfig/cron standard parser)",
        "a CronJob schedule that is not five cron fields (or a @yearly … @hourly macro, @every DURATION)",
    ),
];

/// Every rule that applies to `kind`.
pub fn check(kind: &str, object: &Value, out: &mut Vec<Finding>) {
    restart_policy(kind, object, out);
    if let Some((spec, _)) = pod_paths(kind) {
        if let Some(pod) = object.pointer(spec) {
            handlers(spec, pod, out);
            volumes(spec, pod, out);
        }
    }
    selectors(kind, object, out);
    match kind {
        "PodDisruptionBudget" => {
            let spec = &object["spec"];
            if !spec["minAvailable"].is_null() && !spec["maxUnavailable"].is_null() {
                out.push(Finding::error(
                    "pdb-budget",
                    Some("/spec".into()),
                    "minAvailable and maxUnavailable cannot be both set",
                ));
            }
        }
        "Ingress" => ingress_paths(object, out),
        "Service" => service_ports(object, out),
        "Deployment" => deployment_strategy(object, out),
        "CronJob" => {
            if let Some(schedule) = object.pointer("/spec/schedule").and_then(Value::as_str) {
                if let Err(e) = cron_schedule(schedule) {
                    out.push(Finding::error(
                        "cron-schedule",
                        Some("/spec/schedule".into()),
                        format!("invalid schedule `{schedule}`: {e}"),
                    ));
                }
            }
        }
        _ => {}
    }
}

fn restart_policy(kind: &str, object: &Value, out: &mut Vec<Finding>) {
    let Some((spec, _)) = pod_paths(kind) else { return };
    let pointer = format!("{spec}/restartPolicy");
    let policy = object.pointer(&pointer).and_then(Value::as_str);
    let problem = match kind {
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "ReplicationController" => policy
            .filter(|p| *p != "Always")
            .map(|p| format!("unsupported value `{p}`: a {kind} runs pods that restart, supported value: \"Always\"")),
        "Job" | "CronJob" => match policy {
            Some("OnFailure" | "Never") => None,
            Some(p) => Some(format!("unsupported value `{p}`: supported values: \"OnFailure\", \"Never\"")),
            None => Some("required: a Job's pods must set restartPolicy to \"OnFailure\" or \"Never\"".to_owned()),
        },
        _ => policy
            .filter(|p| !matches!(*p, "Always" | "OnFailure" | "Never"))
            .map(|p| format!("unsupported value `{p}`: supported values: \"Always\", \"OnFailure\", \"Never\"")),
    };
    if let Some(message) = problem {
        out.push(Finding::error("restart-policy", Some(pointer), message));
    }
}

fn handlers(base: &str, pod: &Value, out: &mut Vec<Finding>) {
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in pod[list].as_array().into_iter().flatten().enumerate() {
            let at = format!("{base}/{list}/{i}");
            if c.is_object() && c["image"].as_str().is_none_or(|i| i.trim().is_empty()) {
                out.push(Finding::error(
                    "container-image",
                    Some(format!("{at}/image")),
                    "missing `image`: the API server requires an image for every container",
                ));
            }
            for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                let Some(p) = c[probe].as_object() else { continue };
                let set: Vec<&str> =
                    ["exec", "httpGet", "tcpSocket", "grpc"].into_iter().filter(|h| p.contains_key(*h)).collect();
                let message = match set.len() {
                    0 => "must specify a handler type (exec, httpGet, tcpSocket or grpc)".to_owned(),
                    1 => continue,
                    _ => format!("may not specify more than 1 handler type (found {})", set.join(", ")),
                };
                out.push(Finding::error("probe-handler", Some(format!("{at}/{probe}")), message));
            }
            for hook in ["postStart", "preStop"] {
                let Some(h) = c["lifecycle"][hook].as_object() else { continue };
                let set: Vec<&str> =
                    ["exec", "httpGet", "tcpSocket", "sleep"].into_iter().filter(|k| h.contains_key(*k)).collect();
                if set.len() > 1 {
                    out.push(Finding::error(
                        "probe-handler",
                        Some(format!("{at}/lifecycle/{hook}")),
                        format!("may not specify more than 1 handler type (found {})", set.join(", ")),
                    ));
                }
            }
        }
    }
}

fn volumes(base: &str, pod: &Value, out: &mut Vec<Finding>) {
    for (i, v) in pod["volumes"].as_array().into_iter().flatten().enumerate() {
        let Some(map) = v.as_object() else { continue };
        // A volume with no source is defaulted to emptyDir; two are refused.
        let sources: Vec<&str> = map.keys().map(String::as_str).filter(|k| *k != "name").collect();
        if sources.len() > 1 {
            out.push(Finding::error(
                "volume-source",
                Some(format!("{base}/volumes/{i}")),
                format!("may not specify more than 1 volume type (found {})", sources.join(", ")),
            ));
        }
    }
}

/// LabelSelectors (matchExpressions) of workloads, PDBs and NetworkPolicies.
fn selectors(kind: &str, object: &Value, out: &mut Vec<Finding>) {
    let pointers: &[&str] = match kind {
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" => &["/spec/selector"],
        "CronJob" => &["/spec/jobTemplate/spec/selector"],
        "PodDisruptionBudget" => &["/spec/selector"],
        "NetworkPolicy" => &["/spec/podSelector"],
        _ => &[],
    };
    for pointer in pointers {
        let Some(expressions) = object.pointer(&format!("{pointer}/matchExpressions")).and_then(Value::as_array) else {
            continue;
        };
        for (i, e) in expressions.iter().enumerate() {
            let at = format!("{pointer}/matchExpressions/{i}");
            let values = e["values"].as_array().map_or(0, Vec::len);
            let problem = match e["operator"].as_str().unwrap_or_default() {
                "In" | "NotIn" if values == 0 => {
                    Some(("values", "must be specified when `operator` is 'In' or 'NotIn'".to_owned()))
                }
                "Exists" | "DoesNotExist" if values > 0 => {
                    Some(("values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'".to_owned()))
                }
                "In" | "NotIn" | "Exists" | "DoesNotExist" => None,
                other => Some((
                    "operator",
                    format!(
                        "unsupported operator `{other}`: supported: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\""
                    ),
                )),
            };
            if let Some((field, message)) = problem {
                out.push(Finding::error("selector-operator", Some(format!("{at}/{field}")), message));
            }
        }
    }
}

fn ingress_paths(object: &Value, out: &mut Vec<Finding>) {
    for (r, rule) in object.pointer("/spec/rules").and_then(Value::as_array).into_iter().flatten().enumerate() {
        for (p, path) in rule.pointer("/http/paths").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let at = format!("/spec/rules/{r}/http/paths/{p}");
            match path["pathType"].as_str() {
                None => out.push(Finding::error(
                    "ingress-path",
                    Some(format!("{at}/pathType")),
                    "pathType must be specified (Exact, Prefix or ImplementationSpecific)",
                )),
                Some("Exact" | "Prefix") => {
                    if !path["path"].as_str().is_some_and(|p| p.starts_with('/')) {
                        out.push(Finding::error(
                            "ingress-path",
                            Some(format!("{at}/path")),
                            "must be an absolute path (starting with `/`) for pathType Exact or Prefix",
                        ));
                    }
                }
                Some("ImplementationSpecific") => {}
                Some(other) => out.push(Finding::error(
                    "ingress-path",
                    Some(format!("{at}/pathType")),
                    format!("unsupported value `{other}`: supported values: \"Exact\", \"Prefix\", \"ImplementationSpecific\""),
                )),
            }
        }
    }
}

fn service_ports(object: &Value, out: &mut Vec<Finding>) {
    let spec = &object["spec"];
    let kind = spec["type"].as_str().unwrap_or("ClusterIP");
    if !matches!(kind, "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName") {
        out.push(Finding::error(
            "service-ports",
            Some("/spec/type".into()),
            format!("unsupported value `{kind}`: supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""),
        ));
        return;
    }
    let ports = spec["ports"].as_array().map(Vec::as_slice).unwrap_or_default();
    let headless = spec["clusterIP"] == "None";
    if ports.is_empty() && kind != "ExternalName" && !headless {
        out.push(Finding::error(
            "service-ports",
            Some("/spec/ports".into()),
            "required: a Service needs at least one port",
        ));
    }
    for (i, port) in ports.iter().enumerate() {
        if ports.len() > 1 && port["name"].as_str().is_none_or(str::is_empty) {
            out.push(Finding::error(
                "service-ports",
                Some(format!("/spec/ports/{i}/name")),
                "required: every port of a Service with several ports needs a name",
            ));
        }
        if kind == "ClusterIP" && !port["nodePort"].is_null() {
            out.push(Finding::error(
                "service-ports",
                Some(format!("/spec/ports/{i}/nodePort")),
                "may not be used when `type` is 'ClusterIP'",
            ));
        }
    }
}

fn deployment_strategy(object: &Value, out: &mut Vec<Finding>) {
    let strategy = &object["spec"]["strategy"];
    match strategy["type"].as_str() {
        None | Some("RollingUpdate") => {}
        Some("Recreate") => {
            if !strategy["rollingUpdate"].is_null() {
                out.push(Finding::error(
                    "deployment-strategy",
                    Some("/spec/strategy/rollingUpdate".into()),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        Some(other) => out.push(Finding::error(
            "deployment-strategy",
            Some("/spec/strategy/type".into()),
            format!("unsupported value `{other}`: supported values: \"Recreate\", \"RollingUpdate\""),
        )),
    }
}

/// The standard cron format the CronJob controller parses: five fields
/// (minute, hour, day of month, month, day of week) of `*`, numbers,
/// names (months, weekdays), ranges, lists and steps; or a macro.
fn cron_schedule(schedule: &str) -> Result<(), String> {
    let s = schedule.trim();
    // An optional time zone prefix (`CRON_TZ=` / `TZ=`) is refused by the
    // API server in favour of spec.timeZone, so it is not accepted here.
    if s.starts_with("TZ=") || s.starts_with("CRON_TZ=") {
        return Err("time zones go in spec.timeZone, not in the schedule".into());
    }
    if let Some(rest) = s.strip_prefix('@') {
        return match rest {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => Ok(()),
            r if r.starts_with("every ") => Ok(()),
            _ => Err(format!("unknown macro `@{rest}`")),
        };
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected 5 fields (minute hour day-of-month month day-of-week), found {}", fields.len()));
    }
    const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let specs: [(&str, u32, u32, &[&str], u32); 5] = [
        ("minute", 0, 59, &[], 0),
        ("hour", 0, 23, &[], 0),
        ("day of month", 1, 31, &[], 0),
        ("month", 1, 12, MONTHS, 1),
        ("day of week", 0, 6, DAYS, 0),
    ];
    for (field, (name, min, max, names, first)) in fields.iter().zip(specs) {
        let value = |text: &str| -> Result<u32, String> {
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
                return Ok(i as u32 + first);
            }
            let n: u32 = text.parse().map_err(|_| format!("{name}: `{text}` is not a number"))?;
            if n < min || n > max {
                return Err(format!("{name}: {n} is outside {min}-{max}"));
            }
            Ok(n)
        };
        for part in field.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (part, None),
            };
            if let Some(step) = step {
                let n: u32 = step.parse().map_err(|_| format!("{name}: step `{step}` is not a number"))?;
                if n == 0 {
                    return Err(format!("{name}: a step must be positive"));
                }
            }
            match range {
                "*" | "?" => {}
                r => match r.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (value(a)?, value(b)?);
                        if a > b {
                            return Err(format!("{name}: range `{r}` runs backwards"));
                        }
                    }
                    None => {
                        value(r)?;
                    }
                },
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn findings(kind: &str, object: Value) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        check(kind, &object, &mut out);
        out.into_iter().map(|f| (f.rule, f.pointer.unwrap_or_default())).collect()
    }

    fn deployment(pod: Value) -> Value {
        json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": pod}}})
    }

    #[test]
    fn every_rule_is_in_the_table_with_its_upstream() {
        let ids: Vec<&str> = RULES.iter().map(|r| r.0).collect();
        for id in ["container-image", "restart-policy", "probe-handler", "volume-source", "pdb-budget"] {
            assert!(ids.contains(&id), "{id}");
        }
        assert!(RULES.iter().all(|(_, upstream, what)| !upstream.is_empty() && !what.is_empty()));
    }

    #[test]
    fn restart_policy_per_controller() {
        let c = json!([{"name": "a", "image": "x"}]);
        assert_eq!(
            findings("Deployment", deployment(json!({"restartPolicy": "Never", "containers": c}))),
            [("restart-policy", "/spec/template/spec/restartPolicy".to_owned())]
        );
        assert!(findings("Deployment", deployment(json!({"restartPolicy": "Always", "containers": c}))).is_empty());
        let job = |p: Value| json!({"spec": {"template": {"spec": {"restartPolicy": p, "containers": c}}}});
        assert_eq!(findings("Job", job(Value::Null)).len(), 1);
        assert_eq!(findings("Job", job(json!("Always"))).len(), 1);
        assert!(findings("Job", job(json!("OnFailure"))).is_empty());
        assert_eq!(findings("Pod", json!({"spec": {"restartPolicy": "Sometimes"}})).len(), 1);
        assert!(findings("Pod", json!({"spec": {"restartPolicy": "Never"}})).is_empty());
    }

    #[test]
    fn every_container_has_an_image() {
        let pod = |c: Value| json!({"spec": {"containers": [c]}});
        assert_eq!(
            findings("Pod", pod(json!({"name": "a"}))),
            [("container-image", "/spec/containers/0/image".to_owned())]
        );
        assert!(findings("Pod", pod(json!({"name": "a", "image": "nginx:1.27"}))).is_empty());
    }

    #[test]
    fn probes_need_exactly_one_handler() {
        let pod =
            |probe: Value| json!({"spec": {"containers": [{"name": "a", "image": "x", "readinessProbe": probe}]}});
        assert_eq!(
            findings("Pod", pod(json!({"httpGet": {"port": 80}, "tcpSocket": {"port": 80}}))),
            [("probe-handler", "/spec/containers/0/readinessProbe".to_owned())]
        );
        assert_eq!(findings("Pod", pod(json!({"periodSeconds": 5}))).len(), 1);
        assert!(findings("Pod", pod(json!({"grpc": {"port": 9000}}))).is_empty());
    }

    #[test]
    fn a_volume_has_one_source() {
        let pod = |v: Value| json!({"spec": {"volumes": [v]}});
        assert_eq!(
            findings("Pod", pod(json!({"name": "v", "emptyDir": {}, "configMap": {"name": "c"}}))),
            [("volume-source", "/spec/volumes/0".to_owned())]
        );
        assert!(findings("Pod", pod(json!({"name": "v", "configMap": {"name": "c"}}))).is_empty());
        assert!(findings("Pod", pod(json!({"name": "defaulted-to-emptydir"}))).is_empty());
    }

    #[test]
    fn a_pdb_sets_one_budget() {
        let both = json!({"spec": {"minAvailable": 1, "maxUnavailable": 1, "selector": {}}});
        assert_eq!(findings("PodDisruptionBudget", both), [("pdb-budget", "/spec".to_owned())]);
        assert!(findings("PodDisruptionBudget", json!({"spec": {"minAvailable": "50%"}})).is_empty());
    }

    #[test]
    fn selector_operators_and_values() {
        let pdb = |e: Value| json!({"spec": {"maxUnavailable": 1, "selector": {"matchExpressions": [e]}}});
        assert_eq!(
            findings("PodDisruptionBudget", pdb(json!({"key": "a", "operator": "In", "values": []}))),
            [("selector-operator", "/spec/selector/matchExpressions/0/values".to_owned())]
        );
        assert_eq!(
            findings("PodDisruptionBudget", pdb(json!({"key": "a", "operator": "Exists", "values": ["x"]}))).len(),
            1
        );
        assert_eq!(
            findings("PodDisruptionBudget", pdb(json!({"key": "a", "operator": "Equals", "values": ["x"]}))),
            [("selector-operator", "/spec/selector/matchExpressions/0/operator".to_owned())]
        );
        assert!(
            findings("PodDisruptionBudget", pdb(json!({"key": "a", "operator": "NotIn", "values": ["x"]}))).is_empty()
        );
    }

    #[test]
    fn ingress_paths_need_a_type_and_an_absolute_path() {
        let ingress = |p: Value| json!({"spec": {"rules": [{"http": {"paths": [p]}}]}});
        let backend = json!({"service": {"name": "s", "port": {"number": 80}}});
        assert_eq!(
            findings("Ingress", ingress(json!({"path": "/", "backend": backend}))),
            [("ingress-path", "/spec/rules/0/http/paths/0/pathType".to_owned())]
        );
        assert_eq!(
            findings("Ingress", ingress(json!({"path": "api", "pathType": "Prefix", "backend": backend}))),
            [("ingress-path", "/spec/rules/0/http/paths/0/path".to_owned())]
        );
        assert!(
            findings("Ingress", ingress(json!({"path": "/api", "pathType": "Prefix", "backend": backend}))).is_empty()
        );
    }

    #[test]
    fn service_types_and_ports() {
        let svc = |spec: Value| json!({"spec": spec});
        assert_eq!(findings("Service", svc(json!({"type": "Internal", "ports": [{"port": 80}]}))).len(), 1);
        assert_eq!(
            findings("Service", svc(json!({"ports": [{"name": "a", "port": 80}, {"port": 81}]}))),
            [("service-ports", "/spec/ports/1/name".to_owned())]
        );
        assert_eq!(
            findings("Service", svc(json!({"ports": [{"port": 80, "nodePort": 30080}]}))),
            [("service-ports", "/spec/ports/0/nodePort".to_owned())]
        );
        assert_eq!(findings("Service", svc(json!({"selector": {"a": "b"}}))).len(), 1);
        assert!(findings("Service", svc(json!({"clusterIP": "None"}))).is_empty());
        assert!(findings("Service", svc(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]})))
            .is_empty());
    }

    #[test]
    fn deployment_strategies() {
        let d = |s: Value| json!({"spec": {"strategy": s}});
        assert_eq!(
            findings("Deployment", d(json!({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}))),
            [("deployment-strategy", "/spec/strategy/rollingUpdate".to_owned())]
        );
        assert_eq!(findings("Deployment", d(json!({"type": "BlueGreen"}))).len(), 1);
        assert!(findings("Deployment", d(json!({"type": "Recreate"}))).is_empty());
    }

    #[test]
    fn cron_schedules() {
        for good in ["0 3 * * *", "*/15 * * * *", "0 0 1 jan,jul *", "30 2 * * mon-fri", "@hourly", "@every 1h30m"] {
            assert!(cron_schedule(good).is_ok(), "{good}");
        }
        for bad in [
            "0 3 * *",
            "61 * * * *",
            "* 24 * * *",
            "0 0 0 * *",
            "*/0 * * * *",
            "5-1 * * * *",
            "@fortnightly",
            "TZ=UTC 0 3 * * *",
        ] {
            assert!(cron_schedule(bad).is_err(), "{bad}");
        }
        let cron = json!({"spec": {"schedule": "every day", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never"}}}}}});
        assert_eq!(findings("CronJob", cron), [("cron-schedule", "/spec/schedule".to_owned())]);
    }
}
