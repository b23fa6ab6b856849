//! The inventory of a release, as an ApplySet (KEP-3659): a parent Secret
//! `applyset-<release>` in the release namespace whose labels and
//! annotations name the set and the group-kinds in it, and the label
//! `applyset.kubernetes.io/part-of` on every member — the same markers
//! `kubectl apply --prune --applyset` reads, so kubectl and meshctl see
//! one set.

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Label on the parent naming the set.
pub const ID_LABEL: &str = "applyset.kubernetes.io/id";
/// Label on every member.
pub const PART_OF_LABEL: &str = "applyset.kubernetes.io/part-of";
/// Annotation on the parent: the tool that manages the set.
pub const TOOLING_ANNOTATION: &str = "applyset.kubernetes.io/tooling";
/// Annotation on the parent: every group-kind with members.
pub const GROUP_KINDS_ANNOTATION: &str = "applyset.kubernetes.io/contains-group-kinds";
/// Annotation on the parent: namespaces other than its own with members.
pub const NAMESPACES_ANNOTATION: &str = "applyset.kubernetes.io/additional-namespaces";

/// A release's ApplySet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplySet {
    /// The release name.
    pub release: String,
    /// The namespace of the parent (the release namespace).
    pub namespace: String,
}

impl ApplySet {
    pub fn new(release: &str, namespace: &str) -> Self {
        ApplySet { release: release.into(), namespace: namespace.into() }
    }

    /// The parent Secret's name.
    pub fn parent_name(&self) -> String {
        format!("applyset-{}", self.release)
    }

    /// The set's ID as KEP-3659 defines it:
    /// `applyset-<base64url(sha256(<name>.<namespace>.<kind>.<group>))>-v1`.
    pub fn id(&self) -> String {
        let digest = Sha256::digest(format!("{}.{}.Secret.", self.parent_name(), self.namespace).as_bytes());
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        format!("applyset-{encoded}-v1")
    }

    /// The parent Secret, listing `group_kinds` and `namespaces` (members
    /// outside the parent's namespace).
    pub fn parent(&self, group_kinds: &BTreeSet<String>, namespaces: &BTreeSet<String>) -> Value {
        let mut annotations = json!({
            TOOLING_ANNOTATION: format!("meshctl/v{}", env!("CARGO_PKG_VERSION")),
            GROUP_KINDS_ANNOTATION: group_kinds.iter().cloned().collect::<Vec<_>>().join(","),
        });
        let others: Vec<&String> = namespaces.iter().filter(|n| **n != self.namespace).collect();
        if !others.is_empty() {
            annotations[NAMESPACES_ANNOTATION] = json!(others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","));
        }
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.parent_name(),
                "namespace": self.namespace,
                "labels": {ID_LABEL: self.id(), "app.kubernetes.io/managed-by": "meshctl", "meshctl.dev/release": self.release},
                "annotations": annotations,
            },
            "type": "meshctl.dev/applyset",
        })
    }

    /// Marks an object as a member.
    pub fn label(&self, object: &mut Value) {
        object["metadata"]["labels"][PART_OF_LABEL] = json!(self.id());
    }
}

/// `Kind.group` (`Kind` for the core group), as the annotation lists them.
pub fn group_kind(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or_default();
    match object["apiVersion"].as_str().unwrap_or_default().split_once('/') {
        Some((group, _)) => format!("{kind}.{group}"),
        None => kind.to_string(),
    }
}

/// The group-kinds a parent lists.
pub fn listed_group_kinds(parent: &Value) -> BTreeSet<String> {
    listed(parent, GROUP_KINDS_ANNOTATION)
}

/// The namespaces a parent lists besides its own.
pub fn listed_namespaces(parent: &Value) -> BTreeSet<String> {
    listed(parent, NAMESPACES_ANNOTATION)
}

/// The comma-separated entries of one of the parent's annotations.
fn listed(parent: &Value, annotation: &str) -> BTreeSet<String> {
    parent["metadata"]["annotations"][annotation]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_follows_kep_3659() {
        let set = ApplySet::new("testmesh", "testmesh");
        let id = set.id();
        assert!(id.starts_with("applyset-") && id.ends_with("-v1"));
        // base64url of a 32-byte digest, unpadded: 43 characters.
        assert_eq!(id.len(), "applyset-".len() + 43 + "-v1".len());
        assert_ne!(id, ApplySet::new("testmesh", "other").id());
    }

    #[test]
    fn group_kinds_name_the_core_group_without_a_suffix() {
        assert_eq!(group_kind(&json!({"apiVersion": "v1", "kind": "Service"})), "Service");
        assert_eq!(group_kind(&json!({"apiVersion": "apps/v1", "kind": "Deployment"})), "Deployment.apps");
        let set = ApplySet::new("r", "ns");
        let kinds: BTreeSet<String> = ["Service".to_string(), "Deployment.apps".to_string()].into();
        let parent = set.parent(&kinds, &["ns".to_string(), "other".to_string()].into());
        assert_eq!(parent["metadata"]["annotations"][GROUP_KINDS_ANNOTATION], "Deployment.apps,Service");
        assert_eq!(parent["metadata"]["annotations"][NAMESPACES_ANNOTATION], "other");
        assert_eq!(listed_group_kinds(&parent), kinds);
    }
}
