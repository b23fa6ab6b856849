//! The action layer driven as the HTTP server will drive it: one
//! `ops::Context` with an injected cluster and clock, requests built in
//! code (and from JSON), against the sandbox.

use std::sync::Arc;
use std::time::Duration;

use meshctl::assets::Assets;
use meshctl::cluster::lock::lease_name;
use meshctl::cluster::release::{ReleaseStore, Status};
use meshctl::ops::{self, ApplyOutcome, ApplyRequest, Context, NamedText, PrepareRequest, RenderRequest, Source};
use meshctl::profile::values::{SetValue, UserValues};
use sandbox::{Sandbox, SandboxConfig};

use crate::util::connect_sandbox as connect;

fn start() -> Sandbox {
    Sandbox::start(SandboxConfig { pod_ready_delay: Duration::from_millis(20), ..Default::default() })
        .expect("the sandbox starts")
}

/// A clock stopped at 2026-01-02T03:04:05Z.
fn fixed_clock() -> meshctl::clock::Clock {
    let at: jiff::Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
    Arc::new(move || at)
}

fn offline_dev(values: UserValues) -> PrepareRequest {
    PrepareRequest {
        source: Source::Render(RenderRequest { profile: "offline".into(), environment: "dev".into(), values }),
        release: None,
        namespace: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_set_applied_and_recorded_is_the_set_validated() {
    let sandbox = start();
    let ctx = Context::new(Assets::embedded()).with_cluster(connect(&sandbox).await).with_clock(fixed_clock());
    let values = UserValues { files: vec![], sets: vec![SetValue::Typed("runner.replicas=2".into())] };
    let set = ops::prepare(&ctx, &offline_dev(values)).unwrap();
    assert!(set.is_valid(), "{:?}", set.report);
    assert_eq!(set.digest, meshctl::digest::sha256_of_values(set.objects()));

    let request = ApplyRequest { timeout: Duration::from_secs(30), ..Default::default() };
    let outcome = ops::apply(&ctx, &set, &request, std::future::pending()).await.unwrap();
    let ApplyOutcome::Applied(deployed) = outcome else { panic!("the valid set was not applied") };
    assert_eq!(deployed.revision, Some(1));

    let cluster = ctx.cluster().await.unwrap();
    let record = ReleaseStore::new(cluster, "testmesh", "testmesh").get(1).await.unwrap();
    assert_eq!(record.status, Status::Deployed);
    // The record holds exactly what was validated: same digest, computed
    // by the store from what it wrote, and the same objects.
    assert_eq!(record.manifests_digest, set.digest);
    assert_eq!(record.content.manifests, set.objects());
    assert_eq!(record.content.values["runner"]["replicas"], 2);
    // Times come from the injected clock, in the record and the lease.
    assert_eq!(record.started.to_string(), "2026-01-02T03:04:05Z");

    // The runner Deployment that runs is the one that was validated.
    let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(cluster.client().clone(), "testmesh");
    let runner = api.get("testmesh-runner").await.unwrap();
    assert_eq!(runner.spec.unwrap().replicas, Some(2));
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(cluster.client().clone(), "testmesh");
    assert!(leases.get_opt(&lease_name("testmesh")).await.unwrap().is_none(), "the lock is released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_set_is_never_sent() {
    let sandbox = start();
    let ctx = Context::new(Assets::embedded()).with_cluster(connect(&sandbox).await);
    let before = sandbox.counters()["mutating"].as_u64().unwrap();
    let request = PrepareRequest {
        source: Source::Documents(vec![NamedText {
            name: "bad.yaml".into(),
            text: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: three}\n".into(),
        }]),
        release: Some("web".into()),
        namespace: Some("team".into()),
    };
    let set = ops::prepare(&ctx, &request).unwrap();
    assert!(!set.is_valid());
    // Placed in the namespace it was given, as kubectl would.
    assert_eq!(set.objects()[0]["metadata"]["namespace"], "team");
    let outcome = ops::apply(&ctx, &set, &ApplyRequest::default(), std::future::pending()).await.unwrap();
    let ApplyOutcome::Invalid(report) = outcome else { panic!("an invalid set was applied") };
    let text = serde_json::to_string(&report).unwrap();
    assert!(text.contains("/spec/replicas"), "{text}");
    assert_eq!(sandbox.counters()["mutating"].as_u64().unwrap(), before, "nothing was sent");
}

#[test]
fn requests_decode_from_json_with_values_inline() {
    // What the HTTP server will receive: a profile, inline values and sets.
    let request: PrepareRequest = serde_json::from_value(serde_json::json!({
        "source": {"render": {
            "profile": "offline",
            "environment": "dev",
            "values": {
                "files": [{"inline": {"name": "ci.yaml", "text": "runner:\n  replicas: 3\n"}}],
                "sets": [{"setString": "commonLabels.team=qa"}]
            }
        }},
        "release": "preview-42"
    }))
    .unwrap();
    let ctx = Context::new(Assets::embedded());
    let set = ops::prepare(&ctx, &request).unwrap();
    assert!(set.is_valid(), "{:?}", set.report);
    assert_eq!(set.release.name, "preview-42");
    assert_eq!(set.content.values["runner"]["replicas"], 3);
    let runner = set.objects().iter().find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "testmesh-runner");
    assert_eq!(runner.unwrap()["metadata"]["labels"]["team"], "qa");

    let unknown = serde_json::from_value::<PrepareRequest>(serde_json::json!({"source": {"paths": []}, "relase": "x"}));
    assert!(unknown.unwrap_err().to_string().contains("unknown field `relase`"));
}
