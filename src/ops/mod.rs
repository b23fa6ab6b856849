//! The actions: what the command line and the HTTP server both call, one
//! file each (Helm's `pkg/action`). Each takes a [`Context`] (assets,
//! cluster, clock, progress) and a request struct, and returns a typed
//! outcome; none prints.
//!
//! The deploy path is `prepare` (render or read once, place, validate)
//! then `apply`, `diff`: the set that is validated is the set that is
//! applied and recorded.

mod apply;
mod context;
mod diff;
mod prepare;
pub mod profiles;
mod quickstart;
mod release;
mod render;
mod validate;

pub use apply::{apply, ApplyOutcome, ApplyRequest, Deployed};
pub use context::Context;
pub use diff::diff;
pub use prepare::{identify, prepare, NamedText, PrepareRequest, PreparedSet, ReleaseRef, Source, DEFAULT_RELEASE};
pub use quickstart::{quickstart, Deployment, QuickstartRequest, Rehearsal, RehearsalOutcome, RunnerHealth};
pub use release::{history, rollback, status, ReleaseStatus, RollbackRequest, RolledBack};
pub use render::{render, RenderRequest};
pub use validate::{validate, ValidateTarget};
