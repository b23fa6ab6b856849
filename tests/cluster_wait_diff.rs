//! Waiting for readiness and diffing against a real sandbox, through the
//! library as `meshctl apply`, `status` and `diff` call it: rollouts that
//! finish, never-ready and crash-looping workloads explained on timeout, a
//! progress deadline failing fast, and diffs that show what a user changed
//! — never server defaults, never a secret.

use std::sync::Mutex;
use std::time::Duration;

use kube::api::{DynamicObject, Patch, PatchParams};
use meshctl::cluster::diff::{diff_objects, Change};
use meshctl::cluster::wait::{readiness_of, wait_ready, Readiness, WaitOptions};
use meshctl::cluster::{Cluster, ClusterError, Event};
use sandbox::{Sandbox, SandboxConfig};

use crate::util::connect_sandbox as cluster;
use serde_json::{json, Value};

/// How long a wait that should succeed may take: a deadline, not a
/// measurement (waits return as soon as everything is ready).
const DEADLINE: Duration = Duration::from_secs(60);

fn start() -> Sandbox {
    Sandbox::start(SandboxConfig { pod_ready_delay: Duration::from_millis(50), ..Default::default() })
        .expect("the sandbox starts")
}

/// Server-side applies objects as meshctl does (field manager `meshctl`).
async fn apply(cluster: &Cluster, objects: &[Value]) {
    for object in objects {
        let (api, _, _) = cluster.api_for(object).await.expect("the kind is served");
        let name = object["metadata"]["name"].as_str().unwrap();
        let _: DynamicObject = api
            .patch(name, &PatchParams::apply("meshctl").force(), &Patch::Apply(object))
            .await
            .unwrap_or_else(|e| panic!("applying {name}: {e}"));
    }
}

fn deployment(name: &str, replicas: i64, behavior: Option<&str>) -> Value {
    let mut d = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            },
        },
    });
    if let Some(b) = behavior {
        d["spec"]["template"]["metadata"]["annotations"] = json!({"sandbox.meshctl.dev/behavior": b});
    }
    d
}

fn config_map(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": data})
}

fn secret(name: &str, password: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "default"},
           "type": "Opaque", "stringData": {"password": password, "user": "app"}})
}

fn service(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
           "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}})
}

/// Records every event.
#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl meshctl::cluster::Progress for Recorder {
    fn event(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

impl Recorder {
    fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }
}

fn requests(sandbox: &Sandbox, key: &str) -> u64 {
    sandbox.counters()["requests"][key].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_mixed_set_becomes_ready_with_one_list_per_type_per_round() {
    let sandbox = start();
    let cluster = cluster(&sandbox).await;
    let objects = vec![
        config_map("settings", json!({"mode": "fast"})),
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "default"},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
        service("web"),
        deployment("web", 2, None),
        deployment("api", 1, None),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "default"},
               "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                        "template": {"metadata": {"labels": {"app": "db"}},
                                     "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}}}),
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "default"},
               "spec": {"template": {"spec": {"restartPolicy": "Never",
                        "containers": [{"name": "migrate", "image": "migrate:1"}]}}}}),
    ];
    apply(&cluster, &objects).await;
    let recorder = Recorder::default();
    let options = WaitOptions { timeout: DEADLINE, poll: Duration::from_millis(100) };
    wait_ready(&cluster, &objects, &options, &recorder).await.expect("everything becomes ready");

    let events = recorder.events();
    for id in [
        "ConfigMap/default/settings",
        "PersistentVolumeClaim/default/data",
        "Service/default/web",
        "Deployment/default/web",
        "Deployment/default/api",
        "StatefulSet/default/db",
        "Job/default/migrate",
    ] {
        let ready = events.iter().filter(|e| matches!(e, Event::Ready { object } if object == id)).count();
        assert_eq!(ready, 1, "{id} is reported ready once: {events:?}");
    }
    // Waiting is reported when the reason changes, never twice in a row
    // with the same reason.
    for pair in events.windows(2) {
        if let [Event::Waiting { object: a, reason: r }, Event::Waiting { object: b, reason: s }] = pair {
            assert!(!(a == b && r == s), "repeated {pair:?}");
        }
    }
    // Two Deployments cost one LIST a round, and nothing is read one by one.
    assert!(requests(&sandbox, "list deployments") >= 1);
    assert_eq!(requests(&sandbox, "get deployments"), 0);
    assert_eq!(requests(&sandbox, "get configmaps"), 0);

    let states = readiness_of(&cluster, &[objects[3].clone(), deployment("absent", 1, None)]).await.unwrap();
    assert_eq!(
        states,
        vec![
            ("Deployment/default/web".to_string(), Readiness::Ready),
            ("Deployment/default/absent".to_string(), Readiness::InProgress("not found".into())),
        ]
    );
}

#[tokio::test]
async fn a_timeout_names_each_unready_object_and_its_pods() {
    let sandbox = start();
    let cluster = cluster(&sandbox).await;
    let objects = vec![
        deployment("ok", 1, None),
        deployment("stuck", 2, Some("never-ready")),
        deployment("loop", 1, Some("crash")),
    ];
    apply(&cluster, &objects).await;
    // Until the pods exist and show their state, a report has less to say;
    // wait for the crash loop to be visible first.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let states = readiness_of(&cluster, &objects).await.unwrap();
        if states[2].1 == Readiness::InProgress("0/1 replicas available".into())
            && states[1].1 == Readiness::InProgress("0/2 replicas available".into())
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the rollouts never started: {states:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recorder = Recorder::default();
    let options = WaitOptions { timeout: Duration::from_secs(2), poll: Duration::from_millis(100) };
    let error = wait_ready(&cluster, &objects, &options, &recorder).await.unwrap_err();
    let ClusterError::Timeout { count, details, .. } = &error else { panic!("expected a timeout, got {error}") };
    assert_eq!(*count, 2, "{details}");
    let lines: Vec<&str> = details.lines().collect();
    assert!(lines.contains(&"Deployment/default/stuck: 0/2 replicas available"), "{details}");
    assert!(lines.contains(&"Deployment/default/loop: 0/1 replicas available"), "{details}");
    assert!(!details.contains("Deployment/default/ok"), "{details}");
    let stuck_pods = lines.iter().filter(|l| l.starts_with("  pod stuck-") && l.contains(": not ready (")).count();
    assert_eq!(stuck_pods, 2, "{details}");
    assert!(
        lines.iter().any(|l| l.starts_with("  pod loop-") && l.contains(": CrashLoopBackOff (container app")),
        "{details}"
    );
    let message = error.to_string();
    assert!(message.starts_with("timed out after 2s waiting for 2 object(s) to become ready:"), "{message}");
    assert!(recorder.events().contains(&Event::Ready { object: "Deployment/default/ok".into() }));
}

#[tokio::test]
async fn a_rollout_past_its_progress_deadline_fails_before_the_timeout() {
    let sandbox = start();
    let cluster = cluster(&sandbox).await;
    let mut stalled = deployment("stalled", 1, Some("never-ready"));
    stalled["spec"]["progressDeadlineSeconds"] = json!(1);
    apply(&cluster, std::slice::from_ref(&stalled)).await;
    let options = WaitOptions { timeout: Duration::from_secs(600), poll: Duration::from_millis(100) };
    let started = std::time::Instant::now();
    let error = wait_ready(&cluster, &[stalled], &options, &meshctl::events::Silent).await.unwrap_err();
    let ClusterError::Failed { count, details } = &error else { panic!("expected a failure, got {error}") };
    assert_eq!(*count, 1);
    assert!(details.starts_with("Deployment/default/stalled: progress deadline exceeded: "), "{details}");
    assert!(details.contains("\n  pod stalled-"), "{details}");
    // Failing fast means not waiting out the ten-minute limit.
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[tokio::test]
async fn a_failed_job_fails_the_wait_with_its_pods() {
    let sandbox = start();
    let cluster = cluster(&sandbox).await;
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "seed", "namespace": "default"},
        "spec": {"backoffLimit": 0, "template": {
            "metadata": {"annotations": {"sandbox.meshctl.dev/behavior": "crash"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "seed", "image": "seed:1"}]}}}});
    apply(&cluster, std::slice::from_ref(&job)).await;
    let options = WaitOptions { timeout: DEADLINE, poll: Duration::from_millis(100) };
    let error = wait_ready(&cluster, &[job], &options, &meshctl::events::Silent).await.unwrap_err();
    let ClusterError::Failed { details, .. } = &error else { panic!("expected a failure, got {error}") };
    assert!(details.starts_with("Job/default/seed: job failed: BackoffLimitExceeded"), "{details}");
    assert!(details.contains("\n  pod seed-") && details.contains(": failed ("), "{details}");
}

#[tokio::test]
async fn a_crd_and_its_custom_resource_become_ready() {
    let sandbox = start();
    let cluster = cluster(&sandbox).await;
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.dev"},
        "spec": {"group": "example.dev", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let widget = json!({"apiVersion": "example.dev/v1", "kind": "Widget",
                        "metadata": {"name": "w", "namespace": "default"}, "spec": {"size": 1}});
    // Waited for before the custom resource exists: not found, not an error.
    let states = readiness_of(&cluster, std::slice::from_ref(&widget)).await.unwrap();
    assert!(matches!(&states[0].1, Readiness::InProgress(r) if r.starts_with("not found")), "{states:?}");
    apply(&cluster, std::slice::from_ref(&crd)).await;
    apply(&cluster, std::slice::from_ref(&widget)).await;
    let recorder = Recorder::default();
    let options = WaitOptions { timeout: DEADLINE, poll: Duration::from_millis(100) };
    wait_ready(&cluster, &[crd, widget], &options, &recorder).await.unwrap();
    let ready: Vec<Event> = recorder.events().into_iter().filter(|e| matches!(e, Event::Ready { .. })).collect();
    assert_eq!(
        ready,
        [
            Event::Ready { object: "CustomResourceDefinition/widgets.example.dev".into() },
            Event::Ready { object: "Widget/default/w".into() },
        ]
    );
}

#[tokio::test]
async fn diff_shows_only_what_the_user_changed() {
    let sandbox = start();
    let cluster = cluster(&sandbox).await;
    let set = vec![
        config_map("settings", json!({"mode": "fast"})),
        secret("db", "hunter2-old-value"),
        service("web"),
        deployment("web", 2, None),
    ];
    apply(&cluster, &set).await;
    wait_ready(
        &cluster,
        &set,
        &WaitOptions { timeout: DEADLINE, poll: Duration::from_millis(100) },
        &Recorder::default(),
    )
    .await
    .unwrap();

    // Unchanged: server defaults (strategy, protocol, clusterIP,
    // terminationGracePeriodSeconds ...) and status are no difference.
    let diffs = diff_objects(&cluster, &set, "meshctl", false).await.unwrap();
    assert!(diffs.is_empty(), "{}", diffs.iter().map(|d| d.text.as_str()).collect::<String>());

    // A changed replica count is a one-line change.
    let (api, _, _) = cluster.api_for(&set[3]).await.unwrap();
    let version_before = api.get("web").await.unwrap().metadata.resource_version;
    let mut changed = set.clone();
    changed[3]["spec"]["replicas"] = json!(3);
    let diffs = diff_objects(&cluster, &changed, "meshctl", false).await.unwrap();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!(diffs[0].object, "Deployment/default/web");
    assert_eq!(diffs[0].change, Change::Update);
    let text = &diffs[0].text;
    assert!(text.starts_with("--- live Deployment/default/web\n+++ rendered Deployment/default/web\n@@"), "{text}");
    let changes: Vec<&str> = text.lines().skip(2).filter(|l| l.starts_with('-') || l.starts_with('+')).collect();
    assert_eq!(changes, ["-  replicas: 2", "+  replicas: 3"], "{text}");
    // A dry run changes nothing.
    assert_eq!(api.get("web").await.unwrap().metadata.resource_version, version_before);

    // A new object is created, in full.
    changed.push(config_map("extra", json!({"k": "v"})));
    let diffs = diff_objects(&cluster, &changed, "meshctl", false).await.unwrap();
    assert_eq!(diffs.len(), 2);
    assert_eq!((diffs[1].object.as_str(), diffs[1].change), ("ConfigMap/default/extra", Change::Create));
    assert!(diffs[1].text.contains("\n+  k: v\n"), "{}", diffs[1].text);
    assert!(diffs[1].text.lines().skip(3).all(|l| l.starts_with('+')), "{}", diffs[1].text);
}

#[tokio::test]
async fn a_secret_change_shows_masked_lines_only() {
    let sandbox = start();
    let cluster = cluster(&sandbox).await;
    let before = secret("db", "hunter2-old-value");
    apply(&cluster, std::slice::from_ref(&before)).await;
    let mut after = secret("db", "hunter2-new-value");
    after["metadata"]["annotations"] = json!({"meshctl.dev/api-token": "tok-e1e1e1"});
    let diffs = diff_objects(&cluster, &[after.clone()], "meshctl", false).await.unwrap();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    let text = &diffs[0].text;
    for plain in ["hunter2", "aHVudGVyMi", "tok-e1e1e1", "YXBw"] {
        // The values, their base64 forms (`aHVudGVyMi` is "hunter2"), and
        // even the unchanged `user` ("YXBw" is "app").
        assert!(!text.contains(plain), "{plain} leaked:\n{text}");
    }
    let changes: Vec<&str> = text.lines().skip(2).filter(|l| l.starts_with('-') || l.starts_with('+')).collect();
    assert!(changes.contains(&"-  password: \"*** (before)\""), "{text}");
    assert!(changes.contains(&"+  password: \"*** (after)\""), "{text}");
    assert!(changes.contains(&"+    meshctl.dev/api-token: \"***\""), "{text}");
    assert!(!changes.iter().any(|l| l.contains("user")), "an unchanged value shows no change:\n{text}");

    // With --show-secrets, the values appear as the API server holds them.
    let shown = diff_objects(&cluster, &[after], "meshctl", true).await.unwrap();
    assert!(shown[0].text.contains("tok-e1e1e1"), "{}", shown[0].text);
}
