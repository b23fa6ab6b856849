//! The runner's integration tests: one binary, a module per concern.

mod api;
mod egress;
mod flows;
mod process;
mod snapshots;
mod util;
