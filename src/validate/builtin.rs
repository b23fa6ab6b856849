//! Strict decoding of built-in kinds against the compiled-in Kubernetes
//! types (k8s-openapi): wrong types and missing required fields with the
//! JSON pointer where they are, and every field the type does not know —
//! what `kubectl apply --validate=strict` rejects.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::validate::kinds::BUILTIN_KINDS;
use crate::validate::model::Finding;
use crate::validate::pointer::escape;

/// One built-in kind and how to check it.
pub(crate) struct BuiltinKind {
    /// `apps/v1`.
    pub api_version: &'static str,
    /// `Deployment`.
    pub kind: &'static str,
    namespaced: fn() -> bool,
    decode: fn(&Value, bool) -> Vec<Finding>,
}

impl BuiltinKind {
    pub(crate) const fn of<T>(api_version: &'static str, kind: &'static str) -> Self
    where
        T: k8s_openapi::Resource + DeserializeOwned + 'static,
    {
        BuiltinKind { api_version, kind, namespaced: is_namespaced::<T>, decode: decode::<T> }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(&self) -> bool {
        (self.namespaced)()
    }

    /// Decodes `value`; with `strict`, fields the type does not know are
    /// errors too.
    pub fn check(&self, value: &Value, strict: bool) -> Vec<Finding> {
        let mut findings = (self.decode)(value, strict);
        // A type error already says what is wrong; required fields are
        // only meaningful on an object that decodes.
        if findings.iter().all(|f| f.rule != "schema") {
            findings.extend(crate::validate::required::missing_required(self.api_version, self.kind, value));
        }
        findings
    }
}

fn is_namespaced<T: k8s_openapi::Resource + 'static>() -> bool {
    TypeId::of::<T::Scope>() == TypeId::of::<k8s_openapi::NamespaceResourceScope>()
}

/// The built-in kind for an apiVersion and kind, if Kubernetes has it.
pub(crate) fn lookup(api_version: &str, kind: &str) -> Option<&'static BuiltinKind> {
    static INDEX: OnceLock<HashMap<(&'static str, &'static str), &'static BuiltinKind>> = OnceLock::new();
    INDEX
        .get_or_init(|| BUILTIN_KINDS.iter().map(|k| ((k.api_version, k.kind), k)).collect())
        .get(&(api_version, kind))
        .copied()
}

/// True when any built-in kind has this name (whatever its apiVersion), to
/// tell "wrong apiVersion" from "unknown kind" in messages.
pub(crate) fn versions_of(kind: &str) -> Vec<&'static str> {
    BUILTIN_KINDS.iter().filter(|k| k.kind == kind).map(|k| k.api_version).collect()
}

fn decode<T: DeserializeOwned>(value: &Value, strict: bool) -> Vec<Finding> {
    let mut unknown: Vec<String> = Vec::new();
    let result: Result<T, _> = {
        let mut record = |path: serde_ignored::Path| unknown.push(pointer_of(&path));
        let ignored = serde_ignored::Deserializer::new(value, &mut record);
        serde_path_to_error::deserialize(ignored)
    };
    let mut findings = Vec::new();
    if let Err(e) = result {
        let pointer = path_pointer(e.path());
        let message = e.into_inner().to_string();
        findings.push(Finding::error("schema", Some(pointer), type_message(&message)));
    }
    if strict {
        for pointer in unknown {
            let field = pointer.rsplit('/').next().unwrap_or_default().replace("~1", "/").replace("~0", "~");
            findings.push(Finding::error("unknown-field", Some(pointer), format!("unknown field `{field}`")));
        }
    }
    findings
}

/// serde's messages name Rust types ("expected i32"); say it in
/// Kubernetes terms.
fn type_message(message: &str) -> String {
    message
        .replace("expected i32", "expected an integer (int32)")
        .replace("expected i64", "expected an integer (int64)")
        .replace("expected f64", "expected a number")
        .replace("expected a sequence", "expected a list")
        .replace("expected a map", "expected an object")
}

fn path_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => {
                out.push('/');
                out.push_str(&escape(key));
            }
            Segment::Enum { variant } => {
                out.push('/');
                out.push_str(&escape(variant));
            }
            Segment::Unknown => {}
        }
    }
    out
}

fn pointer_of(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}/{index}", pointer_of(parent)),
        Path::Map { parent, key } => format!("{}/{}", pointer_of(parent), escape(key)),
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => pointer_of(parent),
    }
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
