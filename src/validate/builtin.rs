//! Strict decoding of built-in kinds against the compiled-in Kubernetes
//! types (k8s-openapi): wrong types and missing required fields with the
//! JSON pointer where they are, and every field the type does not know —
//! what `kubectl apply --validate=strict` rejects.

use serde_json::Value;

pub(crate) use crate::kinds::builtin::versions_of;
use crate::kinds::builtin::{self as kinds, BuiltinKind};
use crate::validate::model::Finding;

/// A built-in kind, checked the way the API server decodes it.
#[derive(Clone, Copy)]
pub(crate) struct Checker(&'static BuiltinKind);

impl Checker {
    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(&self) -> bool {
        self.0.namespaced()
    }

    /// Decodes `value`; with `strict`, fields the type does not know are
    /// errors too.
    pub fn check(&self, value: &Value, strict: bool) -> Vec<Finding> {
        let decoded = self.0.decode(value);
        let mut findings = Vec::new();
        if let Some((pointer, message)) = decoded.type_error {
            findings.push(Finding::error("schema", Some(pointer), message));
        }
        if strict {
            for pointer in decoded.unknown_fields {
                let field = pointer.rsplit('/').next().unwrap_or_default().replace("~1", "/").replace("~0", "~");
                findings.push(Finding::error("unknown-field", Some(pointer), format!("unknown field `{field}`")));
            }
        }
        // A type error already says what is wrong; required fields are
        // only meaningful on an object that decodes.
        if findings.iter().all(|f| f.rule != "schema") {
            findings.extend(crate::validate::required::missing_required(self.0.api_version, self.0.kind, value));
        }
        findings
    }
}

/// The built-in kind for an apiVersion and kind, if Kubernetes has it.
pub(crate) fn lookup(api_version: &str, kind: &str) -> Option<Checker> {
    kinds::lookup(api_version, kind).map(Checker)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_and_wrong_types_have_pointers() {
        let kind = lookup("apps/v1", "Deployment").unwrap();
        assert!(kind.namespaced());
        let v = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": "three", "selector": {}, "template": {}}
        });
        let f = kind.check(&v, true);
        assert_eq!(f[0].pointer.as_deref(), Some("/spec/replicas"), "{f:?}");
        assert!(f[0].message.contains("expected an integer"), "{f:?}");

        let v = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labelz": {}},
            "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "a", "imagePullPolicyy": "x"}]}}}
        });
        let pointers: Vec<_> = kind.check(&v, true).into_iter().map(|f| f.pointer.unwrap()).collect();
        assert_eq!(pointers, ["/metadata/labelz", "/spec/template/spec/containers/0/imagePullPolicyy"]);
        assert!(kind.check(&v, false).is_empty());
    }

    #[test]
    fn missing_required_fields_are_errors() {
        let kind = lookup("v1", "Pod").unwrap();
        let v = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"image": "x"}]}});
        let f = kind.check(&v, true);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].pointer.as_deref(), Some("/spec/containers/0"));
        assert!(f[0].message.contains("missing required field `name`"), "{f:?}");
        assert!(!lookup("v1", "Namespace").unwrap().namespaced());
        assert!(lookup("example.com/v1", "Widget").is_none());
    }
}
