//! What operations report while they run (cluster steps, and the actions
//! of `ops` built on them). The library never prints: the CLI renders these
//! as a progress display on a terminal, one plain line per event otherwise;
//! the HTTP server can stream them.

/// One thing that happened during an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A tier of the apply order starts.
    Tier {
        /// Tier name (`crds`, `namespaces`, `config`, `services`, `workloads`, `policy`, `jobs`).
        name: String,
        /// Objects in it.
        objects: usize,
    },
    /// An object was applied (or would be, in a dry run).
    Applied {
        /// `Kind/namespace/name`.
        object: String,
        /// `created`, `configured`, `unchanged`.
        outcome: String,
    },
    /// An object of the set that is no longer rendered was deleted.
    Pruned {
        /// `Kind/namespace/name`.
        object: String,
    },
    /// An object is not ready yet; `reason` says why.
    Waiting {
        /// `Kind/namespace/name`.
        object: String,
        /// What it waits for, e.g. `1/2 replicas available`.
        reason: String,
    },
    /// An object became ready.
    Ready {
        /// `Kind/namespace/name`.
        object: String,
    },
    /// Anything else worth a line (lock taken over, rollback started).
    Note(String),
    /// A warning (a lease taken over from a dead holder, an API warning).
    Warning(String),
}

/// Receives events. Implemented by the CLI's reporters and by tests.
pub trait Progress: Send + Sync {
    /// Called for every event, in order.
    fn event(&self, event: Event);
}

/// Discards events.
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _event: Event) {}
}

impl<F: Fn(Event) + Send + Sync> Progress for F {
    fn event(&self, event: Event) {
        self(event)
    }
}
