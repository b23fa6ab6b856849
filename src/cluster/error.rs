//! Errors of cluster operations, each naming the object and what to do.

use std::time::Duration;

/// A cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No usable kubeconfig or in-cluster configuration.
    #[error("failed to configure the cluster client: {0}")]
    Config(String),
    /// The API server could not be reached or answered with an error that
    /// is not about a particular object.
    #[error("the cluster API failed: {context}")]
    Api {
        /// What was being done.
        context: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// The cluster does not serve this kind (a missing CRD, a wrong
    /// apiVersion).
    #[error("the cluster does not serve {api_version} {kind}{hint}")]
    UnknownKind {
        /// The object's apiVersion.
        api_version: String,
        /// The object's kind.
        kind: String,
        /// Why, when known.
        hint: String,
    },
    /// Another field manager owns fields this apply sets.
    #[error("{object}: server-side apply conflict with another field manager:\n{details}\nre-run with --force-conflicts to take ownership of these fields")]
    Conflict {
        /// `Kind/namespace/name`.
        object: String,
        /// The API server's list of conflicting fields and managers.
        details: String,
    },
    /// The object changes a field that cannot change.
    #[error("{object}: {message}\nthis field cannot be changed in place: delete the object (kubectl delete {object_ref}) and apply again, or restore the old value")]
    Immutable {
        /// `Kind/namespace/name`.
        object: String,
        /// `kubectl delete` argument form: `kind/name -n ns`.
        object_ref: String,
        /// The API server's message.
        message: String,
    },
    /// The API server rejected an object.
    #[error("{object}: rejected by the API server ({code} {reason}): {message}")]
    Rejected {
        /// `Kind/namespace/name`.
        object: String,
        /// HTTP status.
        code: u16,
        /// Kubernetes reason.
        reason: String,
        /// The API server's message.
        message: String,
    },
    /// Objects did not become ready in time.
    #[error("timed out after {timeout:?} waiting for {count} object(s) to become ready:\n{details}")]
    Timeout {
        /// The wait's limit.
        timeout: Duration,
        /// How many objects were not ready.
        count: usize,
        /// One line per object: what it is waiting for.
        details: String,
    },
    /// Objects can no longer become ready without a change (a rollout past
    /// its progress deadline, a failed Job); waiting longer would not help.
    #[error("{count} object(s) failed to become ready:\n{details}")]
    Failed {
        /// How many objects failed.
        count: usize,
        /// One line per object: why, and the states of a workload's pods.
        details: String,
    },
    /// Another operation holds the release lock.
    #[error("operation in progress by {holder} since {since}")]
    Locked {
        /// The lease's holderIdentity.
        holder: String,
        /// When it acquired the lease.
        since: String,
    },
    /// A release record is missing or unreadable.
    #[error("release `{release}`: {message}")]
    Release {
        /// The release name.
        release: String,
        /// What is wrong.
        message: String,
    },
    /// `--atomic`: the apply failed and the release was rolled back to
    /// `revision` (`None`: nothing was deployed before; what this apply
    /// created was removed).
    #[error("{cause}\nrolled back (--atomic) to {}", rolled_back_to(.revision))]
    RolledBack {
        /// Why the apply failed.
        cause: Box<ClusterError>,
        /// The revision re-applied, if there was one.
        revision: Option<u32>,
    },
    /// `--atomic`: the apply failed, and so did the rollback.
    #[error("{cause}\nthe rollback (--atomic) failed too: {rollback}")]
    RollbackFailed {
        /// Why the apply failed.
        cause: Box<ClusterError>,
        /// Why the rollback failed.
        rollback: Box<ClusterError>,
    },
    /// The release lock was taken over while the operation ran (its lease
    /// was not renewed in time); the operation stopped.
    #[error("the release lock was taken over by another operation while this one ran; stopped (re-run to converge)")]
    LockLost,
    /// The operation was interrupted (Ctrl-C or SIGTERM).
    #[error("interrupted; the revision is marked failed and the lock released, re-run the command to converge")]
    Interrupted,
}

impl ClusterError {
    /// Wraps a client error with what was being done.
    pub fn api(context: impl Into<String>, source: kube::Error) -> Self {
        ClusterError::Api { context: context.into(), source }
    }
}

fn rolled_back_to(revision: &Option<u32>) -> String {
    match revision {
        Some(n) => format!("revision {n}"),
        None => "the state before this release (nothing was deployed before)".to_string(),
    }
}
