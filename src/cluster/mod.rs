//! Everything that talks to a cluster: the client and discovery cache,
//! ordered server-side apply with pruning and ApplySet inventory, waiting
//! for readiness, release records, the release lock, and diffs.
//!
//! Every operation goes through the `kube` crate, the same against EKS,
//! GKE, AKS or the sandbox.

pub mod apply;
pub mod client;
pub mod diff;
pub mod error;
pub mod inventory;
pub mod lock;
pub mod release;
pub mod wait;

pub use crate::events::{Event, Progress};
pub use client::{Cluster, ClusterOptions};
pub use error::ClusterError;
