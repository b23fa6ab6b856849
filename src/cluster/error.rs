//! Errors of cluster operations, each naming the object and what to do.

use std::time::Duration;

/// A cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No usable kubeconfig or in-cluster configuration.
    #[error("failed to configure the cluster client: {0}")]
    Config(String),
    /// The API server answered with an error that is not about a
    /// particular object.
    #[error("the cluster API refused {context}: {code} {reason}: {message}{}", status_hint(*.code))]
    Api {
        /// What was being done.
        context: String,
        /// HTTP status.
        code: u16,
        /// Kubernetes reason (`Unauthorized`, `Forbidden`, ...).
        reason: String,
        /// The API server's message.
        message: String,
    },
    /// The API server could not be reached (connection refused, TLS, DNS,
    /// a timeout): the request never got an answer.
    #[error("cannot reach the cluster API{server} while {context}")]
    Unreachable {
        /// What was being done.
        context: String,
        /// ` at https://host:port (context NAME)` once known (see
        /// [`ClusterError::at`]), else empty.
        server: String,
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
    #[error("operation in progress by {holder} since {since}; unless it renews the lock, the lease expires at {expires}, and a re-run after that takes it over")]
    Locked {
        /// The lease's holderIdentity.
        holder: String,
        /// When it acquired the lease.
        since: String,
        /// When the lease expires unless renewed.
        expires: String,
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
        let context = context.into();
        match source {
            // A sentence, not the client's debug dump of the Status.
            kube::Error::Api(status) => ClusterError::Api {
                context,
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            },
            source => ClusterError::Unreachable { context, server: String::new(), source },
        }
    }

    /// Names the cluster an unreachable-cluster error was about.
    pub fn at(self, endpoint: &str) -> Self {
        match self {
            ClusterError::Unreachable { context, source, .. } if !endpoint.is_empty() => {
                ClusterError::Unreachable { context, server: format!(" at {endpoint}"), source }
            }
            other => other,
        }
    }
}

fn rolled_back_to(revision: &Option<u32>) -> String {
    match revision {
        Some(n) => format!("revision {n}"),
        None => "the state before this release (nothing was deployed before)".to_string(),
    }
}

/// What a user can do about an API status that is not about one object.
fn status_hint(code: u16) -> &'static str {
    match code {
        401 => "\nthe cluster did not accept the credentials: the token or client certificate in the kubeconfig is wrong or expired (refresh it, e.g. with your provider's login or `aws eks update-kubeconfig`)",
        403 => "\nthe credentials are valid but not allowed to do this: ask for a Role granting it in the release namespace",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unauthorised_answer_is_a_sentence_with_the_way_out() {
        let mut status = kube::core::Status::failure("Unauthorized", "Unauthorized");
        status.code = 401;
        let message = ClusterError::api("reading namespace testmesh", kube::Error::Api(status.boxed())).to_string();
        assert!(
            message.starts_with("the cluster API refused reading namespace testmesh: 401 Unauthorized"),
            "{message}"
        );
        assert!(message.contains("did not accept the credentials"), "{message}");
        assert!(!message.contains("Status {") && !message.contains("ErrorResponse"), "no debug dump: {message}");
    }
}
