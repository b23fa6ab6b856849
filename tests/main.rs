//! Integration tests: one binary, driving the real `meshctl` executable.

mod util;

mod apply;
mod cli;
mod cluster_release;
mod cluster_wait_diff;
mod errors;
mod golden;
mod hostile;
mod injection;
mod kube_types;
mod ops;
mod quickstart;
mod sandbox;
mod terraform;
mod validate;
