//! Integration tests: one binary, driving the real `meshctl` executable.

mod util;

mod apply;
mod cli;
mod cluster_wait_diff;
mod cluster_release;
mod errors;
mod golden;
mod injection;
mod kube_types;
mod quickstart;
mod sandbox;
mod terraform;
mod validate;
