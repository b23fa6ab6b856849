//! Release records: every apply of a release is a numbered revision stored
//! in the cluster, so `history`, `status` and `rollback` can read what was
//! applied, when, by whom and how it ended.
//!
//! A revision is a Secret `meshctl.release.v1.<release>.v<N>` of type
//! `meshctl.dev/release.v1` in the release namespace. Its labels
//! (`meshctl.dev/release`, `meshctl.dev/revision`, `meshctl.dev/status`,
//! `app.kubernetes.io/managed-by=meshctl`) let one LIST find a release's
//! history and its state without decoding it; `data.release` holds the
//! record itself as gzip-compressed JSON. The labels and the record change
//! together, in one update, so they never disagree.
//!
//! The store assumes its caller holds the release's
//! [`ReleaseLock`](super::lock::ReleaseLock): [`ReleaseStore::begin`] marks
//! revisions left `pending` by an operation that died as `failed`, which is
//! only right when no other operation can be running.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read as _, Write as _};
use std::str::FromStr;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::{with_retries, Cluster};
use super::error::ClusterError;
pub use crate::clock::Clock;

/// The Secret type of release records.
pub const RECORD_TYPE: &str = "meshctl.dev/release.v1";
/// Label naming the release a record belongs to.
pub const RELEASE_LABEL: &str = "meshctl.dev/release";
/// Label holding a record's revision number.
pub const REVISION_LABEL: &str = "meshctl.dev/revision";
/// Label holding a record's [`Status`].
pub const STATUS_LABEL: &str = "meshctl.dev/status";
/// How many revisions a release keeps unless told otherwise.
pub const DEFAULT_HISTORY_LIMIT: usize = 10;

const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
const RECORD_KEY: &str = "release";
/// The API server refuses Secrets over 1 MiB; this leaves room for the
/// metadata.
const MAX_RECORD_BYTES: usize = 1_000_000;
/// How often `begin` re-reads the history when another writer took the
/// revision number it chose.
const BEGIN_ATTEMPTS: usize = 5;

/// Where a revision stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The operation that created it is still running (or died; the next
    /// [`ReleaseStore::begin`] marks it failed).
    Pending,
    /// Applied and ready: what the cluster runs now.
    Deployed,
    /// Was deployed; a later revision replaced it.
    Superseded,
    /// The apply, the wait or the operation itself failed; the description
    /// says why.
    Failed,
}

impl Status {
    /// The form used in labels, records and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Deployed => "deployed",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Status::Pending),
            "deployed" => Ok(Status::Deployed),
            "superseded" => Ok(Status::Superseded),
            "failed" => Ok(Status::Failed),
            other => {
                Err(format!("unknown release status `{other}` (expected pending, deployed, superseded or failed)"))
            }
        }
    }
}

/// One revision of a release: what was applied and how it ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// The release name.
    pub release: String,
    /// The revision number, from 1.
    pub number: u32,
    /// Where it stands.
    pub status: Status,
    /// What was applied and where it came from.
    #[serde(flatten)]
    pub content: ReleaseContent,
    /// SHA-256 of the manifests as recorded (see
    /// [`digest::sha256_of_values`](crate::digest::sha256_of_values)); empty
    /// in records written before it was kept.
    #[serde(default)]
    pub manifests_digest: String,
    /// Who applied it (`user@host`).
    pub applied_by: String,
    /// When the operation began.
    pub started: Timestamp,
    /// When it ended; `None` while pending.
    #[serde(default)]
    pub finished: Option<Timestamp>,
    /// What the operation was (`apply`, `rollback to 3`) and, once failed,
    /// why.
    pub description: String,
}

/// What a release revision is made of: the manifests applied and where
/// they came from. Empty profile and environment mean manifest files
/// (`--from`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseContent {
    /// The profile rendered.
    pub profile: String,
    /// The profile environment rendered (`env` in records of meshctl 0.1).
    #[serde(alias = "env")]
    pub environment: String,
    /// The chart version rendered.
    pub chart_version: String,
    /// The full manifest set, in apply order.
    pub manifests: Vec<Value>,
    /// The values the manifests were rendered from.
    pub values: Value,
}

/// What a new revision records; [`ReleaseStore::begin`] adds the number,
/// status, digest and start time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewRevision {
    /// What is applied.
    pub content: ReleaseContent,
    /// Who applies it (`user@host`, see [`super::lock::user_at_host`]).
    pub applied_by: String,
    /// What the operation is: `apply`, `rollback to 3`.
    pub description: String,
}

/// Reads and writes the revisions of one release in one namespace.
pub struct ReleaseStore<'a> {
    cluster: &'a Cluster,
    api: Api<Secret>,
    namespace: String,
    release: String,
    history_limit: usize,
    clock: Clock,
}

/// A record Secret as listed, before decoding.
struct Stored {
    name: String,
    number: u32,
    /// From the status label; `None` when the label is missing or unknown.
    status: Option<Status>,
    secret: Secret,
}

impl<'a> ReleaseStore<'a> {
    /// The store of `release` in `namespace`, keeping
    /// [`DEFAULT_HISTORY_LIMIT`] revisions and using the system clock.
    pub fn new(cluster: &'a Cluster, namespace: &str, release: &str) -> Self {
        ReleaseStore {
            cluster,
            api: Api::namespaced(cluster.client().clone(), namespace),
            namespace: namespace.to_string(),
            release: release.to_string(),
            history_limit: DEFAULT_HISTORY_LIMIT,
            clock: crate::clock::system(),
        }
    }

    /// Keeps at most `limit` revisions (0: keep all). Trimming never
    /// removes the last deployed revision nor the newest one.
    pub fn with_history_limit(mut self, limit: usize) -> Self {
        self.history_limit = limit;
        self
    }

    /// Records times from `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The cluster this store talks to.
    pub fn cluster(&self) -> &'a Cluster {
        self.cluster
    }

    /// The name of the Secret holding revision `number`.
    pub fn secret_name(&self, number: u32) -> String {
        record_name(&self.release, number)
    }

    /// Every revision, oldest first, read with one LIST. A record that
    /// cannot be decoded is an error naming its Secret.
    pub async fn history(&self) -> Result<Vec<Revision>, ClusterError> {
        validate_release_name(&self.release)?;
        self.list().await?.iter().map(|s| self.decode(&s.secret)).collect()
    }

    /// Revision `number`; a missing one is an error listing the revisions
    /// there are.
    pub async fn get(&self, number: u32) -> Result<Revision, ClusterError> {
        validate_release_name(&self.release)?;
        let name = self.secret_name(number);
        let found = with_retries(|| self.api.get_opt(&name))
            .await
            .map_err(|e| ClusterError::api(format!("reading release record {}/{name}", self.namespace), e))?;
        match found {
            Some(secret) => self.decode(&secret),
            None => {
                let numbers: Vec<String> = self.list().await?.iter().map(|s| s.number.to_string()).collect();
                let message = if numbers.is_empty() {
                    format!(
                        "revision {number} not found: the release has no revisions in namespace `{}`",
                        self.namespace
                    )
                } else {
                    format!(
                        "revision {number} not found in namespace `{}`; available revisions: {}",
                        self.namespace,
                        numbers.join(", ")
                    )
                };
                Err(self.error(message))
            }
        }
    }

    /// The newest revision whose status is deployed: what the cluster
    /// should be running.
    pub async fn last_deployed(&self) -> Result<Option<Revision>, ClusterError> {
        validate_release_name(&self.release)?;
        let stored = self.list().await?;
        // The labels say which records are deployed, so only the one
        // returned is decoded: an unreadable old record does not hide the
        // current one.
        match stored.iter().rev().find(|s| s.status == Some(Status::Deployed)) {
            Some(s) => self.decode(&s.secret).map(Some),
            None => Ok(None),
        }
    }

    /// Records the start of an operation: the next revision, `pending`.
    ///
    /// Revisions still pending from an operation that died (the caller
    /// holds the release lock, so none can be running) are first marked
    /// failed. If another writer creates the same number first, the
    /// history is read again and the next free number taken.
    pub async fn begin(&self, draft: NewRevision) -> Result<Revision, ClusterError> {
        validate_release_name(&self.release)?;
        for _ in 0..BEGIN_ATTEMPTS {
            let stored = self.list().await?;
            for stale in stored.iter().filter(|s| s.status == Some(Status::Pending)) {
                let now = (self.clock)();
                self.update(stale.number, |rev| {
                    rev.status = Status::Failed;
                    rev.finished = Some(now);
                    rev.description =
                        format!("{}: interrupted, the operation ended without recording an outcome", rev.description);
                })
                .await?;
            }
            let number = stored.last().map_or(1, |s| s.number + 1);
            let revision = Revision {
                release: self.release.clone(),
                number,
                status: Status::Pending,
                manifests_digest: crate::digest::sha256_of_values(&draft.content.manifests),
                content: draft.content.clone(),
                applied_by: draft.applied_by.clone(),
                started: (self.clock)(),
                finished: None,
                description: draft.description.clone(),
            };
            let secret = self.encode(&revision)?;
            let params = PostParams::default();
            match with_retries(|| self.api.create(&params, &secret)).await {
                Ok(_) => return Ok(revision),
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    // Either our own create, retried after its response was
                    // lost, or another writer took this number: in the
                    // first case the record is ours, in the second read the
                    // history again.
                    let name = self.secret_name(number);
                    let existing = with_retries(|| self.api.get_opt(&name)).await.map_err(|e| {
                        ClusterError::api(format!("reading release record {}/{name}", self.namespace), e)
                    })?;
                    if existing.and_then(|s| self.decode(&s).ok()).is_some_and(|r| r == revision) {
                        return Ok(revision);
                    }
                }
                Err(e) => {
                    return Err(ClusterError::api(
                        format!("creating release record {}/{}", self.namespace, self.secret_name(number)),
                        e,
                    ))
                }
            }
        }
        Err(self.error(format!(
            "could not record a new revision: other writers took each revision number tried ({BEGIN_ATTEMPTS} attempts)"
        )))
    }

    /// Records how revision `number` ended. A deployed revision supersedes
    /// every other deployed one. Then the history is trimmed to its limit,
    /// oldest first, never removing the last deployed revision.
    pub async fn finish(&self, number: u32, status: Status, description: &str) -> Result<(), ClusterError> {
        validate_release_name(&self.release)?;
        if status == Status::Pending {
            return Err(self.error(format!("revision {number} cannot finish as pending")));
        }
        let now = (self.clock)();
        self.update(number, |rev| {
            rev.status = status;
            rev.finished = Some(now);
            rev.description = description.to_string();
        })
        .await?;
        let mut stored = self.list().await?;
        if status == Status::Deployed {
            // The new revision is marked deployed before the others are
            // superseded: a crash in between leaves two deployed records,
            // the newest of which is the current one, and the next finish
            // supersedes the rest.
            for other in stored.iter_mut().filter(|s| s.number != number && s.status == Some(Status::Deployed)) {
                self.update(other.number, |rev| rev.status = Status::Superseded).await?;
                other.status = Some(Status::Superseded);
            }
        }
        self.trim(&stored).await
    }

    /// Deletes the oldest revisions beyond the history limit, sparing the
    /// last deployed and the newest revision. Records are deleted by name
    /// without decoding, so an unreadable old record ages out too.
    async fn trim(&self, stored: &[Stored]) -> Result<(), ClusterError> {
        if self.history_limit == 0 || stored.len() <= self.history_limit {
            return Ok(());
        }
        let last_deployed = stored.iter().rev().find(|s| s.status == Some(Status::Deployed)).map(|s| s.number);
        let newest = stored.last().map(|s| s.number);
        let mut excess = stored.len() - self.history_limit;
        for old in stored {
            if excess == 0 {
                break;
            }
            if Some(old.number) == last_deployed || Some(old.number) == newest {
                continue;
            }
            let params = DeleteParams::default();
            match with_retries(|| self.api.delete(&old.name, &params)).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => {
                    return Err(ClusterError::api(
                        format!("deleting old release record {}/{}", self.namespace, old.name),
                        e,
                    ))
                }
            }
            tracing::debug!(release = %self.release, revision = old.number, "trimmed release history");
            excess -= 1;
        }
        Ok(())
    }

    /// Reads, changes and writes back one record, labels included. A
    /// concurrent change (409) reads it again.
    async fn update(&self, number: u32, change: impl Fn(&mut Revision)) -> Result<Revision, ClusterError> {
        let name = self.secret_name(number);
        let change = &change;
        let name_ref = &name;
        let outcome = with_retries(|| async move {
            let Some(live) = self.api.get_opt(name_ref).await? else {
                return Ok(Err(self.error(format!(
                    "revision {number} not found (Secret `{name_ref}` in namespace `{}` is gone)",
                    self.namespace
                ))));
            };
            let mut revision = match self.decode(&live) {
                Ok(revision) => revision,
                Err(e) => return Ok(Err(e)),
            };
            change(&mut revision);
            let mut secret = match self.encode(&revision) {
                Ok(secret) => secret,
                Err(e) => return Ok(Err(e)),
            };
            // The resourceVersion makes this a compare-and-swap: a
            // concurrent writer's change is never overwritten.
            secret.metadata.resource_version = live.metadata.resource_version.clone();
            self.api.replace(name_ref, &PostParams::default(), &secret).await?;
            Ok(Ok(revision))
        })
        .await
        .map_err(|e| ClusterError::api(format!("updating release record {}/{name}", self.namespace), e))?;
        outcome
    }

    /// The release's record Secrets, sorted by revision number.
    async fn list(&self) -> Result<Vec<Stored>, ClusterError> {
        let params = ListParams::default().labels(&format!("{RELEASE_LABEL}={}", self.release));
        let list = with_retries(|| self.api.list(&params)).await.map_err(|e| {
            ClusterError::api(
                format!("listing the records of release `{}` in namespace `{}`", self.release, self.namespace),
                e,
            )
        })?;
        let prefix = format!("meshctl.release.v1.{}.v", self.release);
        let mut stored: Vec<Stored> = list
            .items
            .into_iter()
            .filter(|s| s.type_.as_deref() == Some(RECORD_TYPE))
            .filter_map(|secret| {
                let name = secret.metadata.name.clone().unwrap_or_default();
                // A Secret of our type and label whose name is not one we
                // write is not a record of this release.
                let Some(number) = name.strip_prefix(&prefix).and_then(|n| n.parse::<u32>().ok()) else {
                    tracing::warn!(secret = %name, "ignoring a Secret labelled as a record of release `{}`", self.release);
                    return None;
                };
                let status = secret.metadata.labels.as_ref().and_then(|l| l.get(STATUS_LABEL)).and_then(|s| s.parse().ok());
                Some(Stored { name, number, status, secret })
            })
            .collect();
        stored.sort_by_key(|s| s.number);
        Ok(stored)
    }

    /// The Secret for a record.
    fn encode(&self, revision: &Revision) -> Result<Secret, ClusterError> {
        let json = serde_json::to_vec(revision)
            .map_err(|e| self.error(format!("cannot serialize revision {}: {e}", revision.number)))?;
        let mut encoder = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::default());
        let compressed = encoder
            .write_all(&json)
            .and_then(|()| encoder.finish())
            .map_err(|e| self.error(format!("cannot compress revision {}: {e}", revision.number)))?;
        if compressed.len() > MAX_RECORD_BYTES {
            return Err(self.error(format!(
                "revision {} is {} bytes compressed, over the {MAX_RECORD_BYTES} bytes a Secret can hold; \
                 the rendered set is too large to record",
                revision.number,
                compressed.len()
            )));
        }
        let labels = BTreeMap::from([
            (RELEASE_LABEL.to_string(), self.release.clone()),
            (REVISION_LABEL.to_string(), revision.number.to_string()),
            (STATUS_LABEL.to_string(), revision.status.to_string()),
            (MANAGED_BY_LABEL.to_string(), "meshctl".to_string()),
        ]);
        Ok(Secret {
            metadata: ObjectMeta {
                name: Some(self.secret_name(revision.number)),
                namespace: Some(self.namespace.clone()),
                labels: Some(labels),
                ..Default::default()
            },
            type_: Some(RECORD_TYPE.to_string()),
            data: Some(BTreeMap::from([(RECORD_KEY.to_string(), ByteString(compressed))])),
            ..Default::default()
        })
    }

    /// The record a Secret holds; an unreadable one is an error naming the
    /// Secret and the way out.
    fn decode(&self, secret: &Secret) -> Result<Revision, ClusterError> {
        let name = secret.metadata.name.as_deref().unwrap_or("?");
        let corrupt = |why: String| {
            self.error(format!(
                "release record Secret `{name}` in namespace `{ns}` is unreadable: {why}; \
                 delete it (kubectl delete secret {name} -n {ns}) to drop this revision from the history",
                ns = self.namespace
            ))
        };
        let data = secret
            .data
            .as_ref()
            .and_then(|d| d.get(RECORD_KEY))
            .ok_or_else(|| corrupt(format!("it has no `data.{RECORD_KEY}`")))?;
        let mut json = Vec::new();
        GzDecoder::new(&data.0[..]).read_to_end(&mut json).map_err(|e| corrupt(format!("invalid gzip data ({e})")))?;
        let revision: Revision =
            serde_json::from_slice(&json).map_err(|e| corrupt(format!("invalid record JSON ({e})")))?;
        let expected = self.secret_name(revision.number);
        if revision.release != self.release || expected != name {
            return Err(corrupt(format!(
                "it records revision {} of release `{}`, which belongs in Secret `{expected}`",
                revision.number, revision.release
            )));
        }
        Ok(revision)
    }

    fn error(&self, message: String) -> ClusterError {
        ClusterError::Release { release: self.release.clone(), message }
    }
}

/// The name of the Secret holding revision `number` of `release`.
pub fn record_name(release: &str, number: u32) -> String {
    format!("meshctl.release.v1.{release}.v{number}")
}

/// Checks that `release` can name records, labels and the lock lease: 1 to
/// 53 lowercase letters, digits and `-`, starting and ending with a letter
/// or digit (Helm's limit, which keeps the derived names valid).
pub fn validate_release_name(release: &str) -> Result<(), ClusterError> {
    let valid_chars = release.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let valid_ends = !release.starts_with('-') && !release.ends_with('-');
    if !release.is_empty() && release.len() <= 53 && valid_chars && valid_ends {
        Ok(())
    } else {
        Err(ClusterError::Release {
            release: release.to_string(),
            message: "invalid release name: expected 1 to 53 lowercase letters, digits and `-`, \
                      starting and ending with a letter or digit"
                .to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_their_own_form() {
        for status in [Status::Pending, Status::Deployed, Status::Superseded, Status::Failed] {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert!("rolled-back".parse::<Status>().unwrap_err().contains("rolled-back"));
    }

    #[test]
    fn release_names_must_fit_derived_names() {
        for good in ["testmesh", "a", "web-1", &"x".repeat(53)] {
            assert!(validate_release_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "Web", "a.b", "a_b", &"x".repeat(54)] {
            assert!(validate_release_name(bad).is_err(), "{bad}");
        }
        assert_eq!(record_name("testmesh", 12), "meshctl.release.v1.testmesh.v12");
    }
}
