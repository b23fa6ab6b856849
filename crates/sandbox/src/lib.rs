//! A Kubernetes API sandbox.
