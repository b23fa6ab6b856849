//! API semantics through kube-rs: CRUD, resourceVersion, generation,
//! selectors, server-side apply, watch, finalizers, deletion, validation,
//! dry runs, faults and persistence.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

use crate::{client, eventually, start, start_with};

fn config_map(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"key": "value"},
    }))
    .unwrap()
}

fn deployment(name: &str, replicas: i32, image: &str) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    })
}

fn rv(o: &impl kube::Resource) -> u64 {
    o.meta().resource_version.as_deref().unwrap().parse().unwrap()
}

#[tokio::test]
async fn crud_with_resource_versions_selectors_and_stale_update_conflicts() {
    let sandbox = start();
    let cms: Api<ConfigMap> = Api::namespaced(client(&sandbox).await, "default");
    let a = cms.create(&PostParams::default(), &config_map("a", json!({"tier": "web"}))).await.unwrap();
    let b = cms.create(&PostParams::default(), &config_map("b", json!({"tier": "db"}))).await.unwrap();
    assert!(rv(&b) > rv(&a), "resourceVersions grow");
    assert!(a.metadata.uid.is_some() && a.metadata.creation_timestamp.is_some());

    let err = cms.create(&PostParams::default(), &config_map("a", json!({}))).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists"), "{err}");

    let web = cms.list(&ListParams::default().labels("tier=web")).await.unwrap();
    assert_eq!(web.items.iter().map(|c| c.metadata.name.clone().unwrap()).collect::<Vec<_>>(), ["a"]);
    let by_name = cms.list(&ListParams::default().fields("metadata.name=b")).await.unwrap();
    assert_eq!(by_name.items.len(), 1);
    assert_eq!(by_name.items[0].metadata.name.as_deref(), Some("b"));

    // Replace with the current version works; with the old one conflicts.
    let mut changed = a.clone();
    changed.data = Some([("key".to_string(), "new".to_string())].into());
    let replaced = cms.replace("a", &PostParams::default(), &changed).await.unwrap();
    assert!(rv(&replaced) > rv(&a));
    let err = cms.replace("a", &PostParams::default(), &changed).await.unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409 && s.message.contains("the object has been modified")),
        "{err}"
    );

    cms.delete("a", &DeleteParams::default()).await.unwrap();
    let err = cms.get("a").await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 404), "{err}");
}

#[tokio::test]
async fn generation_counts_spec_changes_only() {
    let sandbox = start();
    let deploys: Api<Deployment> = Api::namespaced(client(&sandbox).await, "default");
    let pp = PatchParams::apply("test");
    let d = deploys.patch("g", &pp, &Patch::Apply(deployment("g", 1, "nginx:1"))).await.unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    let mut labelled = deployment("g", 1, "nginx:1");
    labelled["metadata"]["labels"] = json!({"x": "y"});
    let d = deploys.patch("g", &pp, &Patch::Apply(labelled.clone())).await.unwrap();
    assert_eq!(d.metadata.generation, Some(1), "a label change is not a spec change");
    labelled["spec"]["replicas"] = json!(3);
    let d = deploys.patch("g", &pp, &Patch::Apply(labelled.clone())).await.unwrap();
    assert_eq!(d.metadata.generation, Some(2));
    // The same apply again is a no-op: nothing is written.
    let again = deploys.patch("g", &pp, &Patch::Apply(labelled)).await.unwrap();
    assert_eq!(again.metadata.generation, Some(2));
}

#[tokio::test]
async fn server_side_apply_tracks_managers_reports_conflicts_and_forces() {
    let sandbox = start();
    let deploys: Api<Deployment> = Api::namespaced(client(&sandbox).await, "default");
    let d = deploys
        .patch("ssa", &PatchParams::apply("alice"), &Patch::Apply(deployment("ssa", 2, "nginx:1")))
        .await
        .unwrap();
    let managers: Vec<_> = d
        .metadata
        .managed_fields
        .unwrap()
        .iter()
        .map(|m| (m.manager.clone().unwrap(), m.operation.clone().unwrap()))
        .collect();
    assert_eq!(managers, [("alice".to_string(), "Apply".to_string())]);

    // Bob applies a different replica count: a conflict naming the field and Alice.
    let err = deploys
        .patch("ssa", &PatchParams::apply("bob"), &Patch::Apply(deployment("ssa", 5, "nginx:1")))
        .await
        .unwrap_err();
    let kube::Error::Api(status) = &err else { panic!("{err}") };
    assert_eq!(status.code, 409);
    assert!(
        status.message.contains("conflict with \"alice\"") && status.message.contains(".spec.replicas"),
        "{}",
        status.message
    );

    // The same values are shared without conflict.
    deploys.patch("ssa", &PatchParams::apply("bob"), &Patch::Apply(deployment("ssa", 2, "nginx:1"))).await.unwrap();

    // With force, Bob takes the field; Alice no longer owns it.
    let d = deploys
        .patch("ssa", &PatchParams::apply("bob").force(), &Patch::Apply(deployment("ssa", 5, "nginx:1")))
        .await
        .unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(5));
    let fields = d.metadata.managed_fields.unwrap();
    let alice = fields.iter().find(|m| m.manager.as_deref() == Some("alice")).unwrap();
    assert!(!alice.fields_v1.as_ref().unwrap().0.to_string().contains("f:replicas"), "alice lost .spec.replicas");
    // Now Alice conflicts with Bob.
    let err = deploys
        .patch("ssa", &PatchParams::apply("alice"), &Patch::Apply(deployment("ssa", 2, "nginx:1")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("conflict with \"bob\""), "{err}");

    // A merge patch makes its manager the owner with operation Update.
    let patched = deploys
        .patch(
            "ssa",
            &PatchParams { field_manager: Some("carol".into()), ..Default::default() },
            &Patch::Merge(json!({"spec": {"replicas": 7}})),
        )
        .await
        .unwrap();
    let carol =
        patched.metadata.managed_fields.unwrap().into_iter().find(|m| m.manager.as_deref() == Some("carol")).unwrap();
    assert_eq!(carol.operation.as_deref(), Some("Update"));
}

#[tokio::test]
async fn immutable_fields_are_rejected_with_422() {
    let sandbox = start();
    let deploys: Api<Deployment> = Api::namespaced(client(&sandbox).await, "default");
    deploys.patch("imm", &PatchParams::apply("t"), &Patch::Apply(deployment("imm", 1, "nginx:1"))).await.unwrap();
    let mut changed = deployment("imm", 1, "nginx:1");
    changed["spec"]["selector"]["matchLabels"]["app"] = json!("other");
    changed["spec"]["template"]["metadata"]["labels"]["app"] = json!("other");
    let err = deploys.patch("imm", &PatchParams::apply("t"), &Patch::Apply(changed)).await.unwrap_err();
    let kube::Error::Api(status) = &err else { panic!("{err}") };
    assert_eq!(status.code, 422);
    assert!(
        status.message.contains("spec.selector") && status.message.contains("field is immutable"),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn finalizers_keep_an_object_terminating_until_cleared() {
    let sandbox = start();
    let cms: Api<ConfigMap> = Api::namespaced(client(&sandbox).await, "default");
    let mut cm = config_map("fin", json!({}));
    cm.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &cm).await.unwrap();
    cms.delete("fin", &DeleteParams::default()).await.unwrap();
    let held = cms.get("fin").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some(), "terminating");
    cms.patch("fin", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}}))).await.unwrap();
    let err = cms.get("fin").await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 404), "{err}");
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_contents_first() {
    let sandbox = start();
    let client = client(&sandbox).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "doomed"}})).unwrap())
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    cms.create(&PostParams::default(), &config_map("inside", json!({}))).await.unwrap();
    namespaces.delete("doomed", &DeleteParams::default()).await.unwrap();
    let ns = namespaces.get("doomed").await;
    if let Ok(ns) = ns {
        assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Terminating"));
        // No new content in a terminating namespace.
        let err = cms.create(&PostParams::default(), &config_map("late", json!({}))).await.unwrap_err();
        assert!(matches!(&err, kube::Error::Api(s) if s.code == 403 || s.code == 404), "{err}");
    }
    eventually("the namespace and its config map are gone", || async {
        (namespaces.get_opt("doomed").await.unwrap().is_none() && cms.get_opt("inside").await.unwrap().is_none())
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn watch_streams_changes_resumes_and_answers_410_when_too_old() {
    let sandbox = start();
    let cms: Api<ConfigMap> = Api::namespaced(client(&sandbox).await, "default");
    let first = cms.create(&PostParams::default(), &config_map("w1", json!({}))).await.unwrap();
    let start_rv = first.metadata.resource_version.clone().unwrap();
    cms.create(&PostParams::default(), &config_map("w2", json!({}))).await.unwrap();
    cms.delete("w1", &DeleteParams::default()).await.unwrap();

    // Resuming from the first version replays what came after it, in order.
    let stream = cms.watch(&WatchParams::default().timeout(5), &start_rv).await.unwrap();
    let events: Vec<String> = stream
        .take(2)
        .map_ok(|e| match e {
            WatchEvent::Added(o) => format!("ADDED {}", o.metadata.name.unwrap()),
            WatchEvent::Modified(o) => format!("MODIFIED {}", o.metadata.name.unwrap()),
            WatchEvent::Deleted(o) => format!("DELETED {}", o.metadata.name.unwrap()),
            WatchEvent::Bookmark(_) => "BOOKMARK".into(),
            WatchEvent::Error(e) => format!("ERROR {}", e.code),
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events, ["ADDED w2", "DELETED w1"]);

    // Live events arrive as they happen.
    let current = cms.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let mut live = cms.watch(&WatchParams::default().timeout(10).disable_bookmarks(), &current).await.unwrap().boxed();
    cms.create(&PostParams::default(), &config_map("w3", json!({}))).await.unwrap();
    match live.try_next().await.unwrap().unwrap() {
        WatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("w3")),
        other => panic!("expected ADDED w3, got {other:?}"),
    }

    // After a compaction the old version is gone: 410.
    sandbox.shared().api.store.compact();
    let mut old = cms.watch(&WatchParams::default().timeout(5), &start_rv).await.unwrap().boxed();
    match old.try_next().await.unwrap().unwrap() {
        WatchEvent::Error(e) => assert_eq!(e.code, 410),
        other => panic!("expected a 410 error event, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_bookmarks_arrive_when_allowed() {
    let sandbox = start_with(sandbox::SandboxConfig {
        bookmark_interval: std::time::Duration::from_millis(100),
        ..Default::default()
    });
    let cms: Api<ConfigMap> = Api::namespaced(client(&sandbox).await, "default");
    let current = cms.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let mut stream = cms.watch(&WatchParams::default().timeout(10), &current).await.unwrap().boxed();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Bookmark(b) => assert!(!b.metadata.resource_version.is_empty()),
        other => panic!("expected a bookmark, got {other:?}"),
    }
}

#[tokio::test]
async fn dry_run_and_strict_field_validation() {
    let sandbox = start();
    let cms: Api<ConfigMap> = Api::namespaced(client(&sandbox).await, "default");
    let pp = PostParams { dry_run: true, ..Default::default() };
    cms.create(&pp, &config_map("dry", json!({}))).await.unwrap();
    assert!(cms.get_opt("dry").await.unwrap().is_none(), "a dry run stores nothing");

    let deploys: Api<Deployment> = Api::namespaced(cms.clone().into_client(), "default");
    let mut bad = deployment("strict", 1, "nginx:1");
    bad["spec"]["replica"] = json!(2);
    let strict =
        PatchParams { field_validation: Some(kube::api::ValidationDirective::Strict), ..PatchParams::apply("t") };
    let err = deploys.patch("strict", &strict, &Patch::Apply(bad)).await.unwrap_err();
    let kube::Error::Api(status) = &err else { panic!("{err}") };
    assert_eq!(status.code, 400);
    assert!(status.message.contains("unknown field \"spec.replica\""), "{}", status.message);
}

#[tokio::test]
async fn owner_references_propagate_deletion() {
    let sandbox = start();
    let client = client(&sandbox).await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deploys.patch("own", &PatchParams::apply("t"), &Patch::Apply(deployment("own", 2, "nginx:1"))).await.unwrap();
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "default");
    eventually("two pods exist", || async {
        (pods.list(&ListParams::default().labels("app=own")).await.unwrap().items.len() == 2).then_some(())
    })
    .await;
    deploys.delete("own", &DeleteParams::default()).await.unwrap();
    let sets: Api<k8s_openapi::api::apps::v1::ReplicaSet> = Api::namespaced(client, "default");
    eventually("the replica set and pods are collected", || async {
        let rs = sets.list(&ListParams::default().labels("app=own")).await.unwrap().items.len();
        let p = pods.list(&ListParams::default().labels("app=own")).await.unwrap().items.len();
        (rs == 0 && p == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn injected_faults_answer_as_configured_and_counters_count() {
    let sandbox = start();
    let cms: Api<ConfigMap> = Api::namespaced(client(&sandbox).await, "default");
    // A 429 with Retry-After: kube-rs waits and retries, so the create
    // succeeds on the second request.
    sandbox.inject(serde_json::from_value(json!({"verb": "create", "resource": "configmaps", "action": "status", "code": 429, "retryAfter": 1, "count": 1})).unwrap());
    cms.create(&PostParams::default(), &config_map("f", json!({}))).await.unwrap();
    assert_eq!(sandbox.counters()["requests"]["create configmaps"], 2);

    // A 500 is not retried by clients: the caller sees it.
    sandbox
        .inject(serde_json::from_value(json!({"verb": "get", "action": "status", "code": 500, "count": 1})).unwrap());
    let err = cms.get("f").await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 500 && s.message.contains("injected")), "{err}");
    cms.get("f").await.unwrap();

    // An injected update conflict looks like a stale resourceVersion.
    sandbox.inject(
        serde_json::from_value(json!({"verb": "update", "resource": "configmaps", "action": "conflict", "count": 1}))
            .unwrap(),
    );
    let current = cms.get("f").await.unwrap();
    let err = cms.replace("f", &PostParams::default(), &current).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409), "{err}");
    cms.replace("f", &PostParams::default(), &current).await.unwrap();

    // A dropped watch ends after the given number of events.
    sandbox.inject(
        serde_json::from_value(json!({"verb": "watch", "action": "dropWatch", "afterEvents": 1, "count": 1})).unwrap(),
    );
    cms.create(&PostParams::default(), &config_map("g", json!({}))).await.unwrap();
    let events: Vec<_> =
        cms.watch(&WatchParams::default().timeout(30).disable_bookmarks(), "0").await.unwrap().collect().await;
    assert_eq!(events.len(), 1, "the watch was cut after one event");

    // And 410 on demand.
    sandbox.inject(serde_json::from_value(json!({"verb": "watch", "action": "gone", "count": 1})).unwrap());
    let mut gone = cms.watch(&WatchParams::default(), "1").await.unwrap().boxed();
    assert!(matches!(gone.try_next().await.unwrap().unwrap(), WatchEvent::Error(e) if e.code == 410));

    let counters = sandbox.counters();
    assert_eq!(counters["requests"]["get configmaps"], 3);
    assert!(counters["mutating"].as_u64().unwrap() >= 5, "{counters}");
}

#[tokio::test]
async fn a_state_directory_keeps_objects_and_credentials_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = || sandbox::SandboxConfig { state_dir: Some(dir.path().to_path_buf()), ..Default::default() };
    let first = start_with(config());
    let kubeconfig = first.kubeconfig().to_string();
    let cms: Api<ConfigMap> = Api::namespaced(client(&first).await, "default");
    cms.create(&PostParams::default(), &config_map("kept", json!({}))).await.unwrap();
    let before = cms.get("kept").await.unwrap();
    drop(first);

    let second = start_with(config());
    let cms: Api<ConfigMap> = Api::namespaced(client(&second).await, "default");
    let after = cms.get("kept").await.unwrap();
    assert_eq!(after.metadata.uid, before.metadata.uid);
    assert_eq!(second.token(), token_of(&kubeconfig), "the old token still works");
    let next = cms.create(&PostParams::default(), &config_map("next", json!({}))).await.unwrap();
    assert!(rv(&next) > rv(&after), "resourceVersions continue from the stored ones");
}

#[tokio::test]
async fn the_state_directory_and_its_credentials_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state");
    // Even with a permissive umask's worth of existing access: an existing
    // directory is tightened too.
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sandbox = start_with(sandbox::SandboxConfig { state_dir: Some(dir.clone()), ..Default::default() });
    let cms: Api<ConfigMap> = Api::namespaced(client(&sandbox).await, "default");
    cms.create(&PostParams::default(), &config_map("c", json!({}))).await.unwrap();
    drop(sandbox);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "the state directory");
    for file in ["ca.key", "ca.crt", "token", "objects.jsonl"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
}

fn token_of(kubeconfig: &str) -> &str {
    kubeconfig.lines().find_map(|l| l.trim().strip_prefix("token: ")).unwrap()
}

#[tokio::test]
async fn secret_string_data_is_folded_into_data_as_the_api_server_does() {
    let sandbox = start();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client(&sandbox).await, "default");
    let secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "data": {"kept": "YQ==", "both": "b2xk"},
        "stringData": {"password": "hunter2", "both": "new"}
    }))
    .unwrap();
    secrets.create(&PostParams::default(), &secret).await.unwrap();
    let stored = serde_json::to_value(secrets.get("s").await.unwrap()).unwrap();
    assert!(stored.get("stringData").is_none(), "{stored}");
    assert_eq!(stored["data"], json!({"kept": "YQ==", "both": "bmV3", "password": "aHVudGVyMg=="}));
}
