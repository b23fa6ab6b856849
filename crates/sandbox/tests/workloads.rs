//! Controllers and process-backed pods seen through the API: rollouts,
//! never-ready workloads, Jobs, StatefulSets, PVCs, and real processes
//! reached through the service proxy.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{json, Value};

use crate::{client, eventually, start, start_with};

fn deployment(name: &str, replicas: i32, image: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    })
}

fn condition(d: &Deployment, kind: &str) -> Option<(String, String)> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
}

#[tokio::test]
async fn a_deployment_rolls_out_and_a_new_template_replaces_its_pods() {
    let sandbox = start();
    let client = client(&sandbox).await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pp = PatchParams::apply("t");
    deploys.patch("roll", &pp, &Patch::Apply(deployment("roll", 3, "nginx:1", json!({})))).await.unwrap();
    let d = eventually("3 available replicas", || async {
        let d = deploys.get("roll").await.unwrap();
        (d.status.as_ref()?.available_replicas == Some(3)).then_some(d)
    })
    .await;
    assert_eq!(d.status.as_ref().unwrap().observed_generation, Some(1));
    assert_eq!(condition(&d, "Available").unwrap().0, "True");

    deploys.patch("roll", &pp, &Patch::Apply(deployment("roll", 3, "nginx:2", json!({})))).await.unwrap();
    eventually("the rollout completes on the new image", || async {
        let d = deploys.get("roll").await.unwrap();
        let s = d.status.as_ref()?;
        let complete = s.observed_generation == Some(2)
            && s.updated_replicas == Some(3)
            && s.available_replicas == Some(3)
            && s.replicas == Some(3);
        let images: Vec<String> = pods
            .list(&ListParams::default().labels("app=roll"))
            .await
            .unwrap()
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(|p| p.spec.as_ref().unwrap().containers[0].image.clone().unwrap())
            .collect();
        (complete
            && images == ["nginx:2", "nginx:2", "nginx:2"]
            && condition(&d, "Progressing")?.1 == "NewReplicaSetAvailable")
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_never_ready_workload_misses_its_progress_deadline() {
    let sandbox = start();
    let deploys: Api<Deployment> = Api::namespaced(client(&sandbox).await, "default");
    let mut d = deployment("stuck", 1, "nginx:1", json!({"sandbox.meshctl.dev/behavior": "never-ready"}));
    d["spec"]["progressDeadlineSeconds"] = json!(1);
    deploys.patch("stuck", &PatchParams::apply("t"), &Patch::Apply(d)).await.unwrap();
    let d = eventually("ProgressDeadlineExceeded", || async {
        let d = deploys.get("stuck").await.unwrap();
        (condition(&d, "Progressing")?.1 == "ProgressDeadlineExceeded").then_some(d)
    })
    .await;
    let status = d.status.unwrap();
    assert_eq!(status.available_replicas.unwrap_or(0), 0);
    assert_eq!(status.unavailable_replicas, Some(1));
}

#[tokio::test]
async fn jobs_complete_statefulsets_start_in_order_and_claims_bind() {
    let sandbox = start();
    let client = client(&sandbox).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "busybox:1"}]}}}});
    jobs.patch("migrate", &PatchParams::apply("t"), &Patch::Apply(job)).await.unwrap();
    eventually("the job completes", || async {
        let j = jobs.get("migrate").await.unwrap();
        let s = j.status?;
        (s.succeeded == Some(1) && s.conditions?.iter().any(|c| c.type_ == "Complete" && c.status == "True"))
            .then_some(())
    })
    .await;

    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}});
    sets.patch("db", &PatchParams::apply("t"), &Patch::Apply(sts)).await.unwrap();
    eventually("both replicas ready", || async {
        (sets.get("db").await.unwrap().status?.ready_replicas == Some(2)).then_some(())
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut names: Vec<String> = pods
        .list(&ListParams::default().labels("app=db"))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| p.metadata.name.unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["db-0", "db-1"]);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client, "default");
    for name in ["data-db-0", "data-db-1"] {
        let claim = eventually("the claim is bound", || async {
            let c = claims.get_opt(name).await.unwrap()?;
            (c.status.as_ref()?.phase.as_deref() == Some("Bound")).then_some(c)
        })
        .await;
        assert!(claim.spec.unwrap().volume_name.unwrap().starts_with("pvc-"));
    }
}

#[tokio::test]
async fn process_backed_pods_are_probed_reached_through_the_service_proxy_and_stopped_gracefully() {
    let mut images = sandbox::ImageMap::default();
    images.insert("example.test/echo", env!("CARGO_BIN_EXE_sandbox-echo"));
    let sandbox = start_with(sandbox::SandboxConfig {
        images,
        probe_period_cap: Some(Duration::from_millis(100)),
        ..Default::default()
    });
    let client = client(&sandbox).await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut d = deployment("echo", 2, "example.test/echo:1", json!({}));
    d["spec"]["template"]["spec"]["containers"][0]["ports"] = json!([{"name": "http", "containerPort": 8080}]);
    d["spec"]["template"]["spec"]["containers"][0]["env"] = json!([
        {"name": "ECHO_MESSAGE", "valueFrom": {"configMapKeyRef": {"name": "echo-config", "key": "message"}}},
        {"name": "SHUTDOWN_DELAY_MS", "value": "200"},
        {"name": "FILE_PATH", "value": "/etc/echo/greeting.txt"},
    ]);
    d["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
        json!([{"name": "config", "mountPath": "/etc/echo"}]);
    d["spec"]["template"]["spec"]["volumes"] = json!([{"name": "config", "configMap": {"name": "echo-config", "items": [{"key": "greeting", "path": "greeting.txt"}]}}]);
    let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "echo-config"},
        "data": {"message": "hi", "greeting": "hello from a volume"}});
    config_maps.patch("echo-config", &PatchParams::apply("t"), &Patch::Apply(cm)).await.unwrap();
    d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] =
        json!({"httpGet": {"path": "/ready", "port": "http"}});
    d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = json!(10);
    deploys.patch("echo", &PatchParams::apply("t"), &Patch::Apply(d)).await.unwrap();
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo"},
        "spec": {"selector": {"app": "echo"}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}});
    let services: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(client.clone(), "default");
    services.patch("echo", &PatchParams::apply("t"), &Patch::Apply(service)).await.unwrap();
    eventually("both echo pods are ready", || async {
        (deploys.get("echo").await.unwrap().status?.ready_replicas == Some(2)).then_some(())
    })
    .await;

    // Through the API server's service proxy, round-robin over both pods.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let body: Value = eventually("the proxy answers", || {
            let client = client.clone();
            let request = http::Request::get("/api/v1/namespaces/default/services/echo:web/proxy/")
                .body(Vec::<u8>::new())
                .unwrap();
            async move { client.request_text(request).await.ok().and_then(|t| serde_json::from_str(&t).ok()) }
        })
        .await;
        assert_eq!(body["message"], "hi");
        seen.insert(body["pod"].as_str().unwrap().to_string());
    }
    assert_eq!(seen.len(), 2, "both pods served: {seen:?}");

    // ConfigMap volumes hold the ConfigMap's keys, as a kubelet mounts them.
    let request =
        http::Request::get("/api/v1/namespaces/default/services/echo:web/proxy/file").body(Vec::<u8>::new()).unwrap();
    assert_eq!(client.request_text(request).await.unwrap(), "hello from a volume");

    // The process's output is the pod's log.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let first = seen.iter().next().unwrap();
    let log = pods.logs(first, &kube::api::LogParams::default()).await.unwrap();
    assert!(log.contains("listening on 127.0.0.1"), "{log}");

    // Deleting a pod terminates its process gracefully (SIGTERM, then it
    // exits 0 after its shutdown delay) and the pod object goes away.
    let victim = seen.iter().next().unwrap().clone();
    pods.delete(&victim, &DeleteParams::default()).await.unwrap();
    let terminating = pods.get_opt(&victim).await.unwrap();
    if let Some(p) = terminating {
        assert!(p.metadata.deletion_timestamp.is_some());
    }
    eventually("the pod is gone", || async { pods.get_opt(&victim).await.unwrap().is_none().then_some(()) }).await;
    // The replica set replaces it and the service keeps answering.
    eventually("two ready pods again", || async {
        (deploys.get("echo").await.unwrap().status?.ready_replicas == Some(2)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_selector_switch_reaches_the_proxy_only_after_endpoint_propagation() {
    let mut images = sandbox::ImageMap::default();
    images.insert("example.test/echo", env!("CARGO_BIN_EXE_sandbox-echo"));
    let sandbox = start_with(sandbox::SandboxConfig {
        images,
        probe_period_cap: Some(Duration::from_millis(100)),
        // Long enough that the first request after the switch surely
        // precedes the endpoint update, as in a real cluster.
        endpoint_delay: Duration::from_secs(3),
        ..Default::default()
    });
    let client = client(&sandbox).await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    for (name, colour) in [("blue", "blue"), ("green", "green")] {
        let mut d = deployment(name, 1, "example.test/echo:1", json!({}));
        let c = &mut d["spec"]["template"]["spec"]["containers"][0];
        c["ports"] = json!([{"name": "http", "containerPort": 8080}]);
        c["env"] = json!([{"name": "ECHO_MESSAGE", "value": colour}]);
        deploys.patch(name, &PatchParams::apply("t"), &Patch::Apply(d)).await.unwrap();
    }
    let services: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(client.clone(), "default");
    let service = |target: &str| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "live"},
            "spec": {"selector": {"app": target}, "ports": [{"port": 80, "targetPort": "http"}]}})
    };
    services.patch("live", &PatchParams::apply("t"), &Patch::Apply(service("blue"))).await.unwrap();
    let ask = || {
        let client = client.clone();
        async move {
            let request =
                http::Request::get("/api/v1/namespaces/default/services/live/proxy/").body(Vec::<u8>::new()).unwrap();
            let text = client.request_text(request).await.ok()?;
            serde_json::from_str::<Value>(&text).ok()?["message"].as_str().map(String::from)
        }
    };
    let first = eventually("blue answers", || async { ask().await.filter(|m| m == "blue") }).await;
    assert_eq!(first, "blue");
    eventually("green is ready", || async {
        (deploys.get("green").await.unwrap().status?.ready_replicas == Some(1)).then_some(())
    })
    .await;

    services.patch("live", &PatchParams::apply("t"), &Patch::Apply(service("green"))).await.unwrap();
    assert_eq!(ask().await.as_deref(), Some("blue"), "the old endpoints serve until propagation");
    eventually("green answers after propagation", || async { ask().await.filter(|m| m == "green") }).await;
}
