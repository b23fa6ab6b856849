//! Release records and the release lock against a real sandbox over HTTPS:
//! history round-trips, superseding, trimming, corrupt records, and the
//! lease lock's refusal, release, takeover after expiry, renewal and loss.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{Api, ObjectMeta, PostParams};
use meshctl::clock::system;
use meshctl::cluster::lock::{default_holder, ReleaseLock};
use meshctl::cluster::release::{NewRevision, ReleaseContent, ReleaseStore, Revision, Status};
use meshctl::cluster::{Cluster, ClusterError, Event};
use sandbox::{Sandbox, SandboxConfig};

use crate::util::connect_sandbox as connect;
use serde_json::json;

/// How long any poll may take before a test fails: a deadline, not a
/// measurement.
const DEADLINE: Duration = Duration::from_secs(20);

fn start() -> Sandbox {
    Sandbox::start(SandboxConfig::default()).expect("the sandbox starts")
}

/// Polls `check` every 50 ms until it returns `Some`, or fails naming `what`.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A fixed clock that ticks one second per reading, so recorded times are
/// known.
fn ticking_clock() -> Arc<dyn Fn() -> jiff::Timestamp + Send + Sync> {
    let next = Arc::new(Mutex::new(jiff::Timestamp::from_second(1_700_000_000).unwrap()));
    Arc::new(move || {
        let mut next = next.lock().unwrap();
        let now = *next;
        *next = now + jiff::SignedDuration::from_secs(1);
        now
    })
}

fn draft(description: &str, replicas: u32) -> NewRevision {
    NewRevision {
        content: ReleaseContent {
            profile: "offline".into(),
            environment: "dev".into(),
            chart_version: "0.3.1".into(),
            manifests: vec![
                // Key order, unicode, floats and nulls must come back as sent.
                json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "flows", "namespace": "default"},
                   "data": {"zeta": "ünïcödé ✓", "alpha": "1.50", "nested": "{\"a\": [1, 2]}"}}),
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "runner"},
                   "spec": {"replicas": replicas, "ratio": 0.1, "big": 12345678901234_i64, "none": null}}),
            ],
            values: json!({"runner": {"replicas": replicas, "image": {"tag": "1.2.3"}}, "a": [true, false, 2.5e-8]}),
        },
        applied_by: "alice@host".into(),
        description: description.into(),
    }
}

fn statuses(history: &[Revision]) -> Vec<(u32, Status)> {
    history.iter().map(|r| (r.number, r.status)).collect()
}

#[tokio::test]
async fn revisions_round_trip_and_a_deploy_supersedes_the_previous_one() {
    let sandbox = start();
    let cluster = connect(&sandbox).await;
    let store = ReleaseStore::new(&cluster, "default", "testmesh").with_clock(ticking_clock());
    assert!(store.history().await.unwrap().is_empty());
    assert_eq!(store.last_deployed().await.unwrap(), None);

    let first = store.begin(draft("apply", 1)).await.unwrap();
    assert_eq!((first.number, first.status, first.finished), (1, Status::Pending, None));
    store.finish(1, Status::Deployed, "apply").await.unwrap();
    let second = store.begin(draft("apply", 2)).await.unwrap();
    store.finish(2, Status::Failed, "apply: timed out waiting for Deployment/default/runner").await.unwrap();
    let third = store.begin(draft("rollback to 1", 1)).await.unwrap();
    assert_eq!(third.number, 3);
    store.finish(3, Status::Deployed, "rollback to 1").await.unwrap();

    let history = store.history().await.unwrap();
    assert_eq!(
        statuses(&history),
        [(1, Status::Superseded), (2, Status::Failed), (3, Status::Deployed)],
        "the earlier deployed revision is superseded, the failed one stays failed"
    );
    // Exactly what was recorded comes back, key order included.
    let mut expected = second.clone();
    expected.status = Status::Failed;
    expected.description = "apply: timed out waiting for Deployment/default/runner".into();
    expected.finished = Some(second.started + jiff::SignedDuration::from_secs(1));
    let read = store.get(2).await.unwrap();
    assert_eq!(read, expected);
    assert_eq!(serde_json::to_string(&read).unwrap(), serde_json::to_string(&expected).unwrap());
    assert_eq!(read.content.manifests, draft("", 2).content.manifests);
    assert_eq!(history[0].content.manifests, first.content.manifests);

    let current = store.last_deployed().await.unwrap().expect("a deployed revision");
    assert_eq!((current.number, current.description.as_str()), (3, "rollback to 1"));

    // The Secret is what kubectl users see: named, typed and labelled.
    let secrets: Api<Secret> = Api::namespaced(cluster.client().clone(), "default");
    let secret = secrets.get("meshctl.release.v1.testmesh.v3").await.unwrap();
    assert_eq!(secret.type_.as_deref(), Some("meshctl.dev/release.v1"));
    let labels = secret.metadata.labels.unwrap();
    assert_eq!(labels["meshctl.dev/release"], "testmesh");
    assert_eq!(labels["meshctl.dev/revision"], "3");
    assert_eq!(labels["meshctl.dev/status"], "deployed");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "meshctl");
    let superseded = secrets.get("meshctl.release.v1.testmesh.v1").await.unwrap();
    assert_eq!(superseded.metadata.labels.unwrap()["meshctl.dev/status"], "superseded");
    // Compressed: the gzip magic number.
    assert_eq!(&secret.data.unwrap()["release"].0[..2], &[0x1f, 0x8b]);

    let missing = store.get(9).await.unwrap_err().to_string();
    assert!(missing.contains("revision 9 not found") && missing.contains("available revisions: 1, 2, 3"), "{missing}");

    // Another release in the same namespace has its own history.
    let other = ReleaseStore::new(&cluster, "default", "other");
    assert!(other.history().await.unwrap().is_empty());
    assert_eq!(other.begin(draft("apply", 1)).await.unwrap().number, 1);
}

#[tokio::test]
async fn a_revision_left_pending_by_a_dead_operation_is_marked_failed() {
    let sandbox = start();
    let cluster = connect(&sandbox).await;
    let store = ReleaseStore::new(&cluster, "default", "testmesh");
    store.begin(draft("apply", 1)).await.unwrap();
    // The operation died here without finishing; the next one begins.
    let next = store.begin(draft("apply", 2)).await.unwrap();
    assert_eq!(next.number, 2);
    let history = store.history().await.unwrap();
    assert_eq!(statuses(&history), [(1, Status::Failed), (2, Status::Pending)]);
    assert!(history[0].description.contains("interrupted"), "{}", history[0].description);
    assert!(history[0].finished.is_some());
    assert_eq!(store.last_deployed().await.unwrap(), None);
}

#[tokio::test]
async fn history_is_trimmed_to_its_limit_keeping_the_last_deployed_revision() {
    let sandbox = start();
    let cluster = connect(&sandbox).await;
    let store = ReleaseStore::new(&cluster, "default", "testmesh").with_history_limit(3);
    let outcomes = [Status::Deployed, Status::Failed, Status::Failed, Status::Failed, Status::Failed];
    for (i, status) in outcomes.into_iter().enumerate() {
        let rev = store.begin(draft("apply", i as u32)).await.unwrap();
        store.finish(rev.number, status, "apply").await.unwrap();
    }
    // Oldest first, but revision 1 is what runs: it stays.
    assert_eq!(
        statuses(&store.history().await.unwrap()),
        [(1, Status::Deployed), (4, Status::Failed), (5, Status::Failed)]
    );
    let rev = store.begin(draft("apply", 9)).await.unwrap();
    store.finish(rev.number, Status::Deployed, "apply").await.unwrap();
    assert_eq!(
        statuses(&store.history().await.unwrap()),
        [(4, Status::Failed), (5, Status::Failed), (6, Status::Deployed)]
    );
    let gone = store.get(1).await.unwrap_err().to_string();
    assert!(gone.contains("available revisions: 4, 5, 6"), "{gone}");
}

#[tokio::test]
async fn a_corrupt_record_is_reported_by_name() {
    let sandbox = start();
    let cluster = connect(&sandbox).await;
    let store = ReleaseStore::new(&cluster, "default", "testmesh");
    let rev = store.begin(draft("apply", 1)).await.unwrap();
    store.finish(rev.number, Status::Deployed, "apply").await.unwrap();

    let secrets: Api<Secret> = Api::namespaced(cluster.client().clone(), "default");
    let corrupt = |number: u32, data: Vec<u8>| Secret {
        metadata: ObjectMeta {
            name: Some(format!("meshctl.release.v1.testmesh.v{number}")),
            labels: Some(
                [
                    ("meshctl.dev/release".to_string(), "testmesh".to_string()),
                    ("meshctl.dev/revision".to_string(), number.to_string()),
                    ("meshctl.dev/status".to_string(), "failed".to_string()),
                ]
                .into(),
            ),
            ..Default::default()
        },
        type_: Some("meshctl.dev/release.v1".into()),
        data: Some([("release".to_string(), ByteString(data))].into()),
        ..Default::default()
    };
    secrets.create(&PostParams::default(), &corrupt(2, b"not gzip at all".to_vec())).await.unwrap();
    let error = store.history().await.unwrap_err();
    assert!(matches!(error, ClusterError::Release { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("`meshctl.release.v1.testmesh.v2`") && message.contains("gzip"), "{message}");
    assert!(message.contains("kubectl delete secret meshctl.release.v1.testmesh.v2 -n default"), "{message}");
    let message = store.get(2).await.unwrap_err().to_string();
    assert!(message.contains("meshctl.release.v1.testmesh.v2"), "{message}");

    // Valid gzip around invalid JSON is reported the same way.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, b"{\"number\": 3, \"status\": ").unwrap();
    secrets.create(&PostParams::default(), &corrupt(3, gz.finish().unwrap())).await.unwrap();
    secrets.delete("meshctl.release.v1.testmesh.v2", &Default::default()).await.unwrap();
    let message = store.history().await.unwrap_err().to_string();
    assert!(message.contains("`meshctl.release.v1.testmesh.v3`") && message.contains("JSON"), "{message}");

    // The readable current revision is still found, and a new apply can
    // still be recorded after the unreadable one.
    assert_eq!(store.last_deployed().await.unwrap().unwrap().number, 1);
    assert_eq!(store.begin(draft("apply", 2)).await.unwrap().number, 4);
}

fn recorder() -> (Arc<Mutex<Vec<Event>>>, impl Fn(Event) + Send + Sync) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    (events, move |event| sink.lock().unwrap().push(event))
}

async fn lease(cluster: &Cluster, name: &str) -> Option<Lease> {
    let leases: Api<Lease> = Api::namespaced(cluster.client().clone(), "default");
    leases.get_opt(name).await.unwrap()
}

#[tokio::test]
async fn a_second_operation_is_refused_until_the_first_releases_the_lock() {
    let sandbox = start();
    let cluster = connect(&sandbox).await;
    let (events, progress) = recorder();
    let long = Duration::from_secs(60);
    let first =
        ReleaseLock::acquire(&cluster, "default", "testmesh", "alice@ws pid 1 (aaaaaa)", long, &progress, &system())
            .await
            .unwrap();
    let held = lease(&cluster, "meshctl-lock-testmesh").await.expect("the lease exists");
    let spec = held.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("alice@ws pid 1 (aaaaaa)"));
    assert_eq!((spec.lease_duration_seconds, spec.lease_transitions), (Some(60), Some(0)));
    assert!(spec.acquire_time.is_some() && spec.renew_time.is_some());

    let refused =
        ReleaseLock::acquire(&cluster, "default", "testmesh", "bob@ci pid 2 (bbbbbb)", long, &progress, &system())
            .await
            .err()
            .expect("the lock is held");
    assert!(matches!(refused, ClusterError::Locked { .. }), "{refused:?}");
    let message = refused.to_string();
    assert!(message.starts_with("operation in progress by alice@ws pid 1 (aaaaaa) since 20"), "{message}");
    assert!(
        message.contains("the lease expires at 20") && message.contains("a re-run after that takes it over"),
        "{message}"
    );

    // Another release is not affected.
    let other = ReleaseLock::acquire(&cluster, "default", "other", &default_holder(), long, &progress, &system())
        .await
        .unwrap();

    first.release().await.unwrap();
    assert!(lease(&cluster, "meshctl-lock-testmesh").await.is_none(), "release deletes the lease");
    let second =
        ReleaseLock::acquire(&cluster, "default", "testmesh", "bob@ci pid 2 (bbbbbb)", long, &progress, &system())
            .await
            .unwrap();
    assert!(!second.lost());
    second.release().await.unwrap();
    other.release().await.unwrap();
    assert!(events.lock().unwrap().is_empty(), "no takeover happened: {:?}", events.lock().unwrap());
}

#[tokio::test]
async fn a_lock_whose_holder_died_is_taken_over_after_it_expires() {
    let sandbox = start();
    let cluster = connect(&sandbox).await;
    let (events, progress) = recorder();
    let short = Duration::from_secs(1);
    let dead =
        ReleaseLock::acquire(&cluster, "default", "testmesh", "alice@ws pid 1 (aaaaaa)", short, &progress, &system())
            .await
            .unwrap();
    // Dropped without release, as a killed process would leave it.
    drop(dead);
    let taken = eventually("the abandoned lease expires and is taken over", || async {
        match ReleaseLock::acquire(
            &cluster,
            "default",
            "testmesh",
            "bob@ci pid 2 (bbbbbb)",
            short,
            &progress,
            &system(),
        )
        .await
        {
            Ok(lock) => Some(lock),
            Err(ClusterError::Locked { holder, .. }) => {
                assert_eq!(holder, "alice@ws pid 1 (aaaaaa)");
                None
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    })
    .await;
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 1, "{events:?}");
    let Event::Warning(warning) = &events[0] else { panic!("expected a warning, got {events:?}") };
    assert!(
        warning.starts_with(
            "took over the lock of release testmesh from alice@ws pid 1 (aaaaaa), whose lease expired at 20"
        ),
        "{warning}"
    );
    let spec = lease(&cluster, "meshctl-lock-testmesh").await.unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("bob@ci pid 2 (bbbbbb)"));
    assert_eq!(spec.lease_transitions, Some(1));
    taken.release().await.unwrap();
    assert!(lease(&cluster, "meshctl-lock-testmesh").await.is_none());
}

#[tokio::test]
async fn renewal_keeps_a_lock_alive_beyond_its_duration() {
    let sandbox = start();
    let cluster = connect(&sandbox).await;
    let progress = meshctl::events::Silent;
    let duration = Duration::from_secs(1);
    let lock = ReleaseLock::acquire(
        &cluster,
        "default",
        "testmesh",
        "alice@ws pid 1 (aaaaaa)",
        duration,
        &progress,
        &system(),
    )
    .await
    .unwrap();
    // Wait until the lease itself shows renewals past three durations.
    let acquired = lease(&cluster, "meshctl-lock-testmesh").await.unwrap().spec.unwrap().acquire_time.unwrap().0;
    eventually("the lease is renewed three durations after it was acquired", || async {
        let renewed = lease(&cluster, "meshctl-lock-testmesh").await?.spec?.renew_time?.0;
        (renewed >= acquired + jiff::SignedDuration::from_secs(3)).then_some(())
    })
    .await;
    let refused =
        ReleaseLock::acquire(&cluster, "default", "testmesh", "bob@ci pid 2 (bbbbbb)", duration, &progress, &system())
            .await
            .err()
            .expect("a renewed lock is still held");
    assert!(refused.to_string().contains("alice@ws pid 1 (aaaaaa)"), "{refused}");
    assert!(!lock.lost());
    lock.release().await.unwrap();
}

#[tokio::test]
async fn a_lock_taken_over_by_someone_else_is_reported_lost_and_left_to_them() {
    let sandbox = start();
    let cluster = connect(&sandbox).await;
    let progress = meshctl::events::Silent;
    let lock = ReleaseLock::acquire(
        &cluster,
        "default",
        "testmesh",
        "alice@ws pid 1 (aaaaaa)",
        Duration::from_secs(1),
        &progress,
        &system(),
    )
    .await
    .unwrap();
    let mut lost = lock.lost_signal();
    assert!(!lock.lost());

    // Someone overwrites the lease (as a takeover after a long pause of
    // ours would).
    let leases: Api<Lease> = Api::namespaced(cluster.client().clone(), "default");
    eventually("the lease is overwritten by another holder", || async {
        let mut live = leases.get("meshctl-lock-testmesh").await.unwrap();
        let spec = live.spec.as_mut().unwrap();
        spec.holder_identity = Some("mallory@elsewhere pid 9 (999999)".into());
        spec.lease_duration_seconds = Some(300);
        // A 409 means our renewal came in between: read and try again.
        leases.replace("meshctl-lock-testmesh", &PostParams::default(), &live).await.ok().map(|_| ())
    })
    .await;
    tokio::time::timeout(DEADLINE, lost.wait_for(|lost| *lost)).await.expect("the loss is noticed").unwrap();
    assert!(lock.lost());

    // Releasing a lost lock leaves the new holder's lease alone.
    lock.release().await.unwrap();
    let spec = lease(&cluster, "meshctl-lock-testmesh").await.expect("still there").spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("mallory@elsewhere pid 9 (999999)"));
}

#[tokio::test]
async fn records_and_the_lock_survive_injected_api_faults() {
    use sandbox::{FaultAction, FaultRule};
    let sandbox = start();
    let cluster = connect(&sandbox).await;
    let rule = |verb: &str, resource: &str, action: FaultAction, count: u64| FaultRule {
        verb: Some(verb.into()),
        resource: Some(resource.into()),
        action,
        rate: None,
        count: Some(count),
    };
    let unavailable = || FaultAction::Status { code: 503, retry_after: None };
    sandbox.inject(rule("create", "secrets", unavailable(), 1));
    sandbox.inject(rule("list", "secrets", FaultAction::Status { code: 429, retry_after: Some(0) }, 1));
    sandbox.inject(rule("update", "secrets", FaultAction::Conflict, 2));
    sandbox.inject(rule("create", "leases", unavailable(), 1));
    sandbox.inject(rule("update", "leases", FaultAction::Conflict, 2));
    sandbox.inject(rule("delete", "leases", unavailable(), 1));

    let progress = meshctl::events::Silent;
    let duration = Duration::from_secs(1);
    let lock = ReleaseLock::acquire(
        &cluster,
        "default",
        "testmesh",
        "alice@ws pid 1 (aaaaaa)",
        duration,
        &progress,
        &system(),
    )
    .await
    .unwrap();
    let store = ReleaseStore::new(&cluster, "default", "testmesh");
    for status in [Status::Deployed, Status::Deployed] {
        let rev = store.begin(draft("apply", 1)).await.unwrap();
        store.finish(rev.number, status, "apply").await.unwrap();
    }
    assert_eq!(statuses(&store.history().await.unwrap()), [(1, Status::Superseded), (2, Status::Deployed)]);

    // Renewals met two conflicts on a lease still ours: not a loss.
    let acquired = lease(&cluster, "meshctl-lock-testmesh").await.unwrap().spec.unwrap().acquire_time.unwrap().0;
    eventually("the lease is renewed past its duration", || async {
        let renewed = lease(&cluster, "meshctl-lock-testmesh").await?.spec?.renew_time?.0;
        (renewed >= acquired + jiff::SignedDuration::from_secs(2)).then_some(())
    })
    .await;
    assert!(!lock.lost());
    lock.release().await.unwrap();
    assert!(lease(&cluster, "meshctl-lock-testmesh").await.is_none());
    // Every injected fault was met (a rule with a count expires when used up).
    assert_eq!(sandbox.shared().faults.rules(), []);
}

#[tokio::test]
async fn of_two_operations_racing_for_an_expired_lock_exactly_one_wins() {
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    let sandbox = start();
    let cluster = connect(&sandbox).await;
    // A lease left by a holder that died an hour ago.
    let an_hour_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let leases: Api<Lease> = Api::namespaced(cluster.client().clone(), "default");
    let abandoned = Lease {
        metadata: ObjectMeta { name: Some("meshctl-lock-testmesh".into()), ..Default::default() },
        spec: Some(LeaseSpec {
            holder_identity: Some("carol@old pid 7 (777777)".into()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(MicroTime(an_hour_ago)),
            renew_time: Some(MicroTime(an_hour_ago)),
            lease_transitions: Some(4),
            ..Default::default()
        }),
    };
    leases.create(&PostParams::default(), &abandoned).await.unwrap();

    let (events, progress) = recorder();
    let duration = Duration::from_secs(30);
    let clock = system();
    let (a, b) = tokio::join!(
        ReleaseLock::acquire(&cluster, "default", "testmesh", "alice@ws pid 1 (aaaaaa)", duration, &progress, &clock),
        ReleaseLock::acquire(&cluster, "default", "testmesh", "bob@ci pid 2 (bbbbbb)", duration, &progress, &clock),
    );
    let (winner, refused) = match (a, b) {
        (Ok(lock), Err(e)) | (Err(e), Ok(lock)) => (lock, e),
        (a, b) => panic!("expected one winner: {:?} / {:?}", a.map(|l| l.holder().to_string()), b.map(|_| ())),
    };
    let ClusterError::Locked { holder, .. } = &refused else { panic!("{refused:?}") };
    assert_eq!(holder, winner.holder());
    let spec = lease(&cluster, "meshctl-lock-testmesh").await.unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(winner.holder()));
    assert_eq!(spec.lease_transitions, Some(5));
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 1, "only the winner took over: {events:?}");
    assert!(matches!(&events[0], Event::Warning(w) if w.contains("from carol@old pid 7 (777777)")), "{events:?}");
    winner.release().await.unwrap();
}
