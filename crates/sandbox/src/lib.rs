//! A Kubernetes API sandbox: a real HTTPS server on 127.0.0.1 that speaks the
//! Kubernetes REST API for the resources meshctl uses, for tests and for
//! `meshctl sandbox up`.

pub mod apply;
pub mod fieldpath;
pub mod kubelet;
pub mod patch;
