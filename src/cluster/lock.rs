//! The release lock: one coordination.k8s.io/v1 Lease per release
//! (`meshctl-lock-<release>` in the release namespace), so two operations
//! on one release never run at once, and a dead holder never blocks the
//! release for good.
//!
//! The holder renews the lease every third of its duration from a
//! background task. A second operation fails at once while the lease is
//! fresh; once it has gone unrenewed past its duration (the holder crashed,
//! was killed with SIGKILL, or lost the network) the next operation takes
//! it over and says so. Every write carries the resourceVersion it was
//! based on, so of two operations racing for an expired lease exactly one
//! wins.
//!
//! Expiry is judged by comparing the lease's `renewTime` with the local
//! clock, so clocks skewed by more than a lease duration can take a live
//! lease over early or wait longer than needed.

use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams, Preconditions};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::client::{is_transient, with_retries, Cluster};
use super::error::ClusterError;
use super::release::{validate_release_name, RELEASE_LABEL};
use crate::clock::Clock;
use crate::events::{Event, Progress};

/// How many times acquiring or releasing re-reads a lease that changed
/// under it before giving up.
const ATTEMPTS: usize = 5;

/// A held release lock. Renewed in the background until
/// [`release`](ReleaseLock::release)d or dropped; dropping it only stops
/// the renewal (never blocking), so the lease expires and a later
/// operation takes it over.
pub struct ReleaseLock {
    api: Api<Lease>,
    name: String,
    namespace: String,
    holder: String,
    /// The lease as last written or read by us (its uid and resourceVersion
    /// make the next write conditional).
    current: Arc<Mutex<Lease>>,
    lost: watch::Receiver<bool>,
    stop: Option<oneshot::Sender<()>>,
    renewal: Option<JoinHandle<()>>,
}

impl ReleaseLock {
    /// Takes the lock of `release` in `namespace` for `holder` (see
    /// [`default_holder`]), holding it `duration` past each renewal.
    ///
    /// Fails at once with [`ClusterError::Locked`] while another holder's
    /// lease is fresh. An expired lease is taken over, with an
    /// [`Event::Warning`] naming the previous holder. Expiry is judged, and
    /// renewals stamped, with `clock`.
    pub async fn acquire(
        cluster: &Cluster,
        namespace: &str,
        release: &str,
        holder: &str,
        duration: Duration,
        progress: &dyn Progress,
        clock: &Clock,
    ) -> Result<ReleaseLock, ClusterError> {
        validate_release_name(release)?;
        let api: Api<Lease> = Api::namespaced(cluster.client().clone(), namespace);
        let name = lease_name(release);
        let seconds = i32::try_from(duration.as_secs_f64().ceil() as u64).unwrap_or(i32::MAX).max(1);
        let context = |what: &str| format!("{what} the lock lease {namespace}/{name}");
        // The holder we are taking over from, remembered in case the
        // takeover's response is lost and the next read shows it was ours.
        let mut taking_over: Option<(String, Timestamp)> = None;
        for _ in 0..ATTEMPTS {
            let now = clock();
            let fresh = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(namespace.to_string()),
                    labels: Some(
                        [
                            (RELEASE_LABEL.to_string(), release.to_string()),
                            ("app.kubernetes.io/managed-by".to_string(), "meshctl".to_string()),
                        ]
                        .into(),
                    ),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(holder.to_string()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            let params = PostParams::default();
            match with_retries(|| api.create(&params, &fresh)).await {
                Ok(lease) => return Ok(Self::start(api, name, namespace, holder, lease, duration, clock)),
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(ClusterError::api(context("creating"), e)),
            }

            let Some(live) =
                with_retries(|| api.get_opt(&name)).await.map_err(|e| ClusterError::api(context("reading"), e))?
            else {
                // Released between our create and our read: try again.
                continue;
            };
            let spec = live.spec.clone().unwrap_or_default();
            let live_holder = spec.holder_identity.clone().unwrap_or_default();
            if live_holder == holder {
                // Our own create or takeover whose response was lost.
                if let Some((previous, expired)) = taking_over.take() {
                    progress.event(takeover_warning(release, &previous, expired));
                }
                return Ok(Self::start(api, name, namespace, holder, live, duration, clock));
            }
            let expires = expiry(&live);
            if !live_holder.is_empty() && expires > now {
                return Err(ClusterError::Locked {
                    holder: live_holder,
                    since: spec.acquire_time.map_or_else(|| "an unknown time".to_string(), |t| display_time(t.0)),
                    expires: display_time(expires),
                });
            }

            // Expired (or released by clearing the holder): take it over,
            // conditional on the resourceVersion we read.
            let mut taken = live.clone();
            taken.spec = Some(LeaseSpec {
                holder_identity: Some(holder.to_string()),
                lease_duration_seconds: Some(seconds),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_transitions: Some(spec.lease_transitions.unwrap_or(0).saturating_add(1)),
                ..spec
            });
            if !live_holder.is_empty() {
                taking_over = Some((live_holder.clone(), expires));
            }
            match api.replace(&name, &PostParams::default(), &taken).await {
                Ok(lease) => {
                    if let Some((previous, expired)) = taking_over.take() {
                        progress.event(takeover_warning(release, &previous, expired));
                    }
                    return Ok(Self::start(api, name, namespace, holder, lease, duration, clock));
                }
                // Someone else took it over (409) or released it (404)
                // first, or the request failed on the way: read it again,
                // which reports the winner as the holder.
                Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {}
                Err(e) if is_transient(&e) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => return Err(ClusterError::api(context("taking over"), e)),
            }
        }
        Err(ClusterError::Release {
            release: release.to_string(),
            message: format!(
                "could not acquire the lock lease {namespace}/{name}: it changed under us {ATTEMPTS} times in a row"
            ),
        })
    }

    fn start(
        api: Api<Lease>,
        name: String,
        namespace: &str,
        holder: &str,
        lease: Lease,
        duration: Duration,
        clock: &Clock,
    ) -> ReleaseLock {
        let current = Arc::new(Mutex::new(lease));
        let (lost_tx, lost) = watch::channel(false);
        let (stop, stop_rx) = oneshot::channel();
        let renewer = Renewer {
            api: api.clone(),
            name: name.clone(),
            holder: holder.to_string(),
            current: current.clone(),
            interval: (duration / 3).max(Duration::from_millis(10)),
            clock: clock.clone(),
        };
        let renewal = tokio::spawn(renewer.run(stop_rx, lost_tx));
        ReleaseLock {
            api,
            name,
            namespace: namespace.to_string(),
            holder: holder.to_string(),
            current,
            lost,
            stop: Some(stop),
            renewal: Some(renewal),
        }
    }

    /// Stops renewing and deletes the lease, provided it is still ours (a
    /// lease taken over by another holder is left to it).
    pub async fn release(mut self) -> Result<(), ClusterError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // A renewal under way finishes first, so the resourceVersion the
        // deletion is conditional on is the latest.
        if let Some(renewal) = self.renewal.take() {
            let _ = renewal.await;
        }
        if self.lost() {
            return Ok(());
        }
        let context = || format!("releasing the lock lease {}/{}", self.namespace, self.name);
        let mut delay = Duration::from_millis(100);
        for _ in 0..ATTEMPTS {
            let (uid, resource_version) = {
                let lease = self.current.lock().unwrap_or_else(|e| e.into_inner());
                (lease.metadata.uid.clone(), lease.metadata.resource_version.clone())
            };
            let params =
                DeleteParams { preconditions: Some(Preconditions { uid, resource_version }), ..Default::default() };
            match self.api.delete(&self.name, &params).await {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
                // Changed since we last wrote it: delete only if still ours.
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    let live = with_retries(|| self.api.get_opt(&self.name))
                        .await
                        .map_err(|e| ClusterError::api(context(), e))?;
                    match live {
                        Some(live) if holder_of(&live) == self.holder => {
                            *self.current.lock().unwrap_or_else(|e| e.into_inner()) = live;
                        }
                        Some(live) => {
                            tracing::warn!(lease = %self.name, holder = %holder_of(&live), "the lock was taken over before it was released; leaving it to its holder");
                            return Ok(());
                        }
                        None => return Ok(()),
                    }
                }
                Err(e) if is_transient(&e) => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(ClusterError::api(context(), e)),
            }
        }
        Err(ClusterError::Release {
            release: self.name.trim_start_matches("meshctl-lock-").to_string(),
            message: format!(
                "could not delete the lock lease {}/{}; it expires unless renewed, or delete it with kubectl",
                self.namespace, self.name
            ),
        })
    }

    /// True once a renewal found the lease taken over by another holder or
    /// deleted: the operation no longer holds the lock and should stop.
    pub fn lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// A receiver that changes to `true` when the lock is lost, for
    /// operations that `select!` on it.
    pub fn lost_signal(&self) -> watch::Receiver<bool> {
        self.lost.clone()
    }

    /// The holder identity written in the lease.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The lease's name.
    pub fn lease_name(&self) -> &str {
        &self.name
    }
}

impl Drop for ReleaseLock {
    fn drop(&mut self) {
        // Aborting is immediate: nothing here waits. The lease is left to
        // expire, after which the next operation takes it over.
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
    }
}

/// The background renewal of one held lease.
struct Renewer {
    api: Api<Lease>,
    name: String,
    holder: String,
    current: Arc<Mutex<Lease>>,
    interval: Duration,
    clock: Clock,
}

/// What one renewal attempt found.
enum Renewal {
    Renewed,
    /// Not ours any more; says why.
    Lost(String),
    /// Try again soon; says why.
    Retry(String),
}

impl Renewer {
    async fn run(self, mut stop: oneshot::Receiver<()>, lost: watch::Sender<bool>) {
        let mut wait = self.interval;
        loop {
            tokio::select! {
                _ = &mut stop => return,
                () = tokio::time::sleep(wait) => {}
            }
            match self.renew().await {
                Renewal::Renewed => wait = self.interval,
                Renewal::Lost(why) => {
                    tracing::warn!(lease = %self.name, "release lock lost: {why}");
                    lost.send_replace(true);
                    return;
                }
                Renewal::Retry(why) => {
                    tracing::debug!(lease = %self.name, "lease renewal failed, retrying: {why}");
                    wait = (self.interval / 3).max(Duration::from_millis(10));
                }
            }
        }
    }

    async fn renew(&self) -> Renewal {
        let mut lease = self.current.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(spec) = lease.spec.as_mut() {
            spec.renew_time = Some(MicroTime((self.clock)()));
        }
        // Not through with_retries: a 409 must be looked at (was the lease
        // taken over?) rather than sent again unchanged.
        match self.api.replace(&self.name, &PostParams::default(), &lease).await {
            Ok(renewed) => {
                *self.current.lock().unwrap_or_else(|e| e.into_inner()) = renewed;
                Renewal::Renewed
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Renewal::Lost("the lease was deleted".into()),
            Err(kube::Error::Api(s)) if s.code == 409 => match self.api.get_opt(&self.name).await {
                Ok(Some(live)) if holder_of(&live) == self.holder => {
                    // Changed but still ours (e.g. our previous renewal
                    // whose response was lost): renew from the fresh copy.
                    *self.current.lock().unwrap_or_else(|e| e.into_inner()) = live;
                    Renewal::Retry("conflict on a lease still held".into())
                }
                Ok(Some(live)) => Renewal::Lost(format!("taken over by {}", holder_of(&live))),
                Ok(None) => Renewal::Lost("the lease was deleted".into()),
                Err(e) => Renewal::Retry(e.to_string()),
            },
            Err(e) => Renewal::Retry(e.to_string()),
        }
    }
}

/// The lease name of a release's lock.
pub fn lease_name(release: &str) -> String {
    format!("meshctl-lock-{release}")
}

/// A holder identity that names the operator and the process and is
/// unique per run: `user@host pid N (a1b2c3)`.
pub fn default_holder() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    format!("{} pid {} ({:06x})", user_at_host(), std::process::id(), hasher.finish() & 0xff_ffff)
}

/// `user@host` of this process, for holder identities and release records.
pub fn user_at_host() -> String {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_string());
    let host = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown-host".to_string());
    format!("{user}@{host}")
}

fn holder_of(lease: &Lease) -> String {
    lease.spec.as_ref().and_then(|s| s.holder_identity.clone()).unwrap_or_default()
}

/// When a lease expires unless renewed: its last renewal (or acquisition,
/// or creation) plus its duration. A lease that says neither has expired,
/// so no malformed lease can lock a release for good.
fn expiry(lease: &Lease) -> Timestamp {
    let spec = lease.spec.as_ref();
    let last = spec
        .and_then(|s| s.renew_time.as_ref().or(s.acquire_time.as_ref()).map(|t| t.0))
        .or_else(|| lease.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let seconds = spec.and_then(|s| s.lease_duration_seconds).unwrap_or(0).max(0);
    last.saturating_add(SignedDuration::from_secs(i64::from(seconds))).unwrap_or(last)
}

fn takeover_warning(release: &str, previous: &str, expired: Timestamp) -> Event {
    Event::Warning(format!(
        "took over the lock of release {release} from {previous}, whose lease expired at {}",
        display_time(expired)
    ))
}

/// A time as messages show it: RFC 3339 to the second.
fn display_time(time: Timestamp) -> String {
    time.round(jiff::Unit::Second).unwrap_or(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_are_unique_per_call_and_name_the_process() {
        let a = default_holder();
        let b = default_holder();
        assert_ne!(a, b);
        assert!(a.contains(&format!(" pid {} (", std::process::id())), "{a}");
        assert!(a.split(" pid ").next().unwrap().contains('@'), "{a}");
    }

    #[test]
    fn a_lease_without_times_has_expired() {
        let lease = Lease { spec: Some(LeaseSpec::default()), ..Default::default() };
        assert!(expiry(&lease) < Timestamp::now());
        let renewed: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        let lease = Lease {
            spec: Some(LeaseSpec {
                renew_time: Some(MicroTime(renewed)),
                lease_duration_seconds: Some(15),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(expiry(&lease).to_string(), "2030-01-01T00:00:15Z");
    }
}
