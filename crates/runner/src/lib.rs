//! The TestMesh runner: executes HTTP test flows written in YAML, confined
//! to the networks in ALLOWED_NETWORKS, and keeps golden snapshots of their
//! results that later runs are compared with.
//!
//! # Quickstart
//!
//! ```sh
//! FLOWS_DIR=crates/runner/examples/flows ALLOWED_NETWORKS=127.0.0.0/8 PORT=8080 \
//!     cargo run -p runner
//! curl -s localhost:8080/v1/health
//! curl -s -XPOST localhost:8080/v1/runs -H 'content-type: application/json' \
//!     -d '{"flow": "runner-self-check"}'
//! curl -s -XPOST localhost:8080/v1/snapshots/seed
//! curl -s -XPOST localhost:8080/v1/snapshots/compare
//! ```
//!
//! In code, [`app`] is the whole HTTP service over an [`AppState`], and
//! [`serve`] runs it on a port with graceful shutdown.

pub mod api;
pub mod config;
pub mod egress;
pub mod execute;
pub mod flows;
pub mod metrics;
pub mod reports;
pub mod service;
pub mod snapshots;

pub use api::{app, AppState, Lifecycle};
pub use config::{Config, ConfigError};
pub use service::{run_from_env, serve, serve_on, Error};
