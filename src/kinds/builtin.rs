//! The built-in kinds of the compiled-in Kubernetes version (k8s-openapi,
//! feature `v1_33`): apiVersion, kind, scope, and the strict typed decoding
//! the API server applies to each. The table is generated from
//! k8s-openapi's `Resource` impls; regenerate it when the Kubernetes
//! version changes.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::pointer::escape;

/// The Kubernetes minor version whose types meshctl validates against.
pub const KUBERNETES_VERSION: &str = "1.33";

macro_rules! builtin_kinds {
    ($($api:literal $kind:literal $ty:ty;)*) => {
        /// Every built-in kind: `(apiVersion, kind, decoder)`.
        static BUILTIN_KINDS: &[BuiltinKind] = &[
            $(BuiltinKind::of::<$ty>($api, $kind),)*
        ];
    };
}

builtin_kinds! {
    "admissionregistration.k8s.io/v1" "MutatingWebhookConfiguration" k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
    "admissionregistration.k8s.io/v1" "ValidatingAdmissionPolicy" k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy;
    "admissionregistration.k8s.io/v1" "ValidatingAdmissionPolicyBinding" k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding;
    "admissionregistration.k8s.io/v1" "ValidatingWebhookConfiguration" k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
    "admissionregistration.k8s.io/v1alpha1" "MutatingAdmissionPolicy" k8s_openapi::api::admissionregistration::v1alpha1::MutatingAdmissionPolicy;
    "admissionregistration.k8s.io/v1alpha1" "MutatingAdmissionPolicyBinding" k8s_openapi::api::admissionregistration::v1alpha1::MutatingAdmissionPolicyBinding;
    "admissionregistration.k8s.io/v1beta1" "ValidatingAdmissionPolicy" k8s_openapi::api::admissionregistration::v1beta1::ValidatingAdmissionPolicy;
    "admissionregistration.k8s.io/v1beta1" "ValidatingAdmissionPolicyBinding" k8s_openapi::api::admissionregistration::v1beta1::ValidatingAdmissionPolicyBinding;
    "apiextensions.k8s.io/v1" "CustomResourceDefinition" k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    "apiregistration.k8s.io/v1" "APIService" k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
    "apps/v1" "ControllerRevision" k8s_openapi::api::apps::v1::ControllerRevision;
    "apps/v1" "DaemonSet" k8s_openapi::api::apps::v1::DaemonSet;
    "apps/v1" "Deployment" k8s_openapi::api::apps::v1::Deployment;
    "apps/v1" "ReplicaSet" k8s_openapi::api::apps::v1::ReplicaSet;
    "apps/v1" "StatefulSet" k8s_openapi::api::apps::v1::StatefulSet;
    "authentication.k8s.io/v1" "SelfSubjectReview" k8s_openapi::api::authentication::v1::SelfSubjectReview;
    "authentication.k8s.io/v1" "TokenRequest" k8s_openapi::api::authentication::v1::TokenRequest;
    "authentication.k8s.io/v1" "TokenReview" k8s_openapi::api::authentication::v1::TokenReview;
    "authorization.k8s.io/v1" "LocalSubjectAccessReview" k8s_openapi::api::authorization::v1::LocalSubjectAccessReview;
    "authorization.k8s.io/v1" "SelfSubjectAccessReview" k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
    "authorization.k8s.io/v1" "SelfSubjectRulesReview" k8s_openapi::api::authorization::v1::SelfSubjectRulesReview;
    "authorization.k8s.io/v1" "SubjectAccessReview" k8s_openapi::api::authorization::v1::SubjectAccessReview;
    "autoscaling/v1" "HorizontalPodAutoscaler" k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler;
    "autoscaling/v1" "Scale" k8s_openapi::api::autoscaling::v1::Scale;
    "autoscaling/v2" "HorizontalPodAutoscaler" k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    "batch/v1" "CronJob" k8s_openapi::api::batch::v1::CronJob;
    "batch/v1" "Job" k8s_openapi::api::batch::v1::Job;
    "certificates.k8s.io/v1" "CertificateSigningRequest" k8s_openapi::api::certificates::v1::CertificateSigningRequest;
    "certificates.k8s.io/v1alpha1" "ClusterTrustBundle" k8s_openapi::api::certificates::v1alpha1::ClusterTrustBundle;
    "certificates.k8s.io/v1beta1" "ClusterTrustBundle" k8s_openapi::api::certificates::v1beta1::ClusterTrustBundle;
    "coordination.k8s.io/v1" "Lease" k8s_openapi::api::coordination::v1::Lease;
    "coordination.k8s.io/v1alpha2" "LeaseCandidate" k8s_openapi::api::coordination::v1alpha2::LeaseCandidate;
    "coordination.k8s.io/v1beta1" "LeaseCandidate" k8s_openapi::api::coordination::v1beta1::LeaseCandidate;
    "discovery.k8s.io/v1" "EndpointSlice" k8s_openapi::api::discovery::v1::EndpointSlice;
    "events.k8s.io/v1" "Event" k8s_openapi::api::events::v1::Event;
    "flowcontrol.apiserver.k8s.io/v1" "FlowSchema" k8s_openapi::api::flowcontrol::v1::FlowSchema;
    "flowcontrol.apiserver.k8s.io/v1" "PriorityLevelConfiguration" k8s_openapi::api::flowcontrol::v1::PriorityLevelConfiguration;
    "internal.apiserver.k8s.io/v1alpha1" "StorageVersion" k8s_openapi::api::apiserverinternal::v1alpha1::StorageVersion;
    "networking.k8s.io/v1" "IPAddress" k8s_openapi::api::networking::v1::IPAddress;
    "networking.k8s.io/v1" "Ingress" k8s_openapi::api::networking::v1::Ingress;
    "networking.k8s.io/v1" "IngressClass" k8s_openapi::api::networking::v1::IngressClass;
    "networking.k8s.io/v1" "NetworkPolicy" k8s_openapi::api::networking::v1::NetworkPolicy;
    "networking.k8s.io/v1" "ServiceCIDR" k8s_openapi::api::networking::v1::ServiceCIDR;
    "networking.k8s.io/v1beta1" "IPAddress" k8s_openapi::api::networking::v1beta1::IPAddress;
    "networking.k8s.io/v1beta1" "ServiceCIDR" k8s_openapi::api::networking::v1beta1::ServiceCIDR;
    "node.k8s.io/v1" "RuntimeClass" k8s_openapi::api::node::v1::RuntimeClass;
    "policy/v1" "Eviction" k8s_openapi::api::policy::v1::Eviction;
    "policy/v1" "PodDisruptionBudget" k8s_openapi::api::policy::v1::PodDisruptionBudget;
    "rbac.authorization.k8s.io/v1" "ClusterRole" k8s_openapi::api::rbac::v1::ClusterRole;
    "rbac.authorization.k8s.io/v1" "ClusterRoleBinding" k8s_openapi::api::rbac::v1::ClusterRoleBinding;
    "rbac.authorization.k8s.io/v1" "Role" k8s_openapi::api::rbac::v1::Role;
    "rbac.authorization.k8s.io/v1" "RoleBinding" k8s_openapi::api::rbac::v1::RoleBinding;
    "resource.k8s.io/v1alpha3" "DeviceClass" k8s_openapi::api::resource::v1alpha3::DeviceClass;
    "resource.k8s.io/v1alpha3" "DeviceTaintRule" k8s_openapi::api::resource::v1alpha3::DeviceTaintRule;
    "resource.k8s.io/v1alpha3" "ResourceClaim" k8s_openapi::api::resource::v1alpha3::ResourceClaim;
    "resource.k8s.io/v1alpha3" "ResourceClaimTemplate" k8s_openapi::api::resource::v1alpha3::ResourceClaimTemplate;
    "resource.k8s.io/v1alpha3" "ResourceSlice" k8s_openapi::api::resource::v1alpha3::ResourceSlice;
    "resource.k8s.io/v1beta1" "DeviceClass" k8s_openapi::api::resource::v1beta1::DeviceClass;
    "resource.k8s.io/v1beta1" "ResourceClaim" k8s_openapi::api::resource::v1beta1::ResourceClaim;
    "resource.k8s.io/v1beta1" "ResourceClaimTemplate" k8s_openapi::api::resource::v1beta1::ResourceClaimTemplate;
    "resource.k8s.io/v1beta1" "ResourceSlice" k8s_openapi::api::resource::v1beta1::ResourceSlice;
    "resource.k8s.io/v1beta2" "DeviceClass" k8s_openapi::api::resource::v1beta2::DeviceClass;
    "resource.k8s.io/v1beta2" "ResourceClaim" k8s_openapi::api::resource::v1beta2::ResourceClaim;
    "resource.k8s.io/v1beta2" "ResourceClaimTemplate" k8s_openapi::api::resource::v1beta2::ResourceClaimTemplate;
    "resource.k8s.io/v1beta2" "ResourceSlice" k8s_openapi::api::resource::v1beta2::ResourceSlice;
    "scheduling.k8s.io/v1" "PriorityClass" k8s_openapi::api::scheduling::v1::PriorityClass;
    "storage.k8s.io/v1" "CSIDriver" k8s_openapi::api::storage::v1::CSIDriver;
    "storage.k8s.io/v1" "CSINode" k8s_openapi::api::storage::v1::CSINode;
    "storage.k8s.io/v1" "CSIStorageCapacity" k8s_openapi::api::storage::v1::CSIStorageCapacity;
    "storage.k8s.io/v1" "StorageClass" k8s_openapi::api::storage::v1::StorageClass;
    "storage.k8s.io/v1" "VolumeAttachment" k8s_openapi::api::storage::v1::VolumeAttachment;
    "storage.k8s.io/v1alpha1" "VolumeAttributesClass" k8s_openapi::api::storage::v1alpha1::VolumeAttributesClass;
    "storage.k8s.io/v1beta1" "VolumeAttributesClass" k8s_openapi::api::storage::v1beta1::VolumeAttributesClass;
    "storagemigration.k8s.io/v1alpha1" "StorageVersionMigration" k8s_openapi::api::storagemigration::v1alpha1::StorageVersionMigration;
    "v1" "Binding" k8s_openapi::api::core::v1::Binding;
    "v1" "ComponentStatus" k8s_openapi::api::core::v1::ComponentStatus;
    "v1" "ConfigMap" k8s_openapi::api::core::v1::ConfigMap;
    "v1" "Endpoints" k8s_openapi::api::core::v1::Endpoints;
    "v1" "Event" k8s_openapi::api::core::v1::Event;
    "v1" "LimitRange" k8s_openapi::api::core::v1::LimitRange;
    "v1" "Namespace" k8s_openapi::api::core::v1::Namespace;
    "v1" "Node" k8s_openapi::api::core::v1::Node;
    "v1" "PersistentVolume" k8s_openapi::api::core::v1::PersistentVolume;
    "v1" "PersistentVolumeClaim" k8s_openapi::api::core::v1::PersistentVolumeClaim;
    "v1" "Pod" k8s_openapi::api::core::v1::Pod;
    "v1" "PodTemplate" k8s_openapi::api::core::v1::PodTemplate;
    "v1" "ReplicationController" k8s_openapi::api::core::v1::ReplicationController;
    "v1" "ResourceQuota" k8s_openapi::api::core::v1::ResourceQuota;
    "v1" "Secret" k8s_openapi::api::core::v1::Secret;
    "v1" "Service" k8s_openapi::api::core::v1::Service;
    "v1" "ServiceAccount" k8s_openapi::api::core::v1::ServiceAccount;
}

/// One built-in kind: its name, scope and typed decoder.
pub struct BuiltinKind {
    /// `apps/v1`.
    pub api_version: &'static str,
    /// `Deployment`.
    pub kind: &'static str,
    namespaced: fn() -> bool,
    decode: fn(&Value) -> Decoded,
}

/// What decoding a value into its Kubernetes type found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The first type error: (JSON pointer, serde's message in Kubernetes
    /// terms), e.g. `/spec/replicas`, "invalid type: string, expected an
    /// integer (int32)".
    pub type_error: Option<(String, String)>,
    /// JSON pointers of the fields the type does not know.
    pub unknown_fields: Vec<String>,
}

impl BuiltinKind {
    const fn of<T>(api_version: &'static str, kind: &'static str) -> Self
    where
        T: k8s_openapi::Resource + DeserializeOwned + 'static,
    {
        BuiltinKind { api_version, kind, namespaced: is_namespaced::<T>, decode: decode::<T> }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(&self) -> bool {
        (self.namespaced)()
    }

    /// Decodes `value` as the API server does, recording the first type
    /// error and every unknown field.
    pub fn decode(&self, value: &Value) -> Decoded {
        (self.decode)(value)
    }
}

fn is_namespaced<T: k8s_openapi::Resource + 'static>() -> bool {
    TypeId::of::<T::Scope>() == TypeId::of::<k8s_openapi::NamespaceResourceScope>()
}

/// The built-in kind for an apiVersion and kind, if Kubernetes has it.
pub fn lookup(api_version: &str, kind: &str) -> Option<&'static BuiltinKind> {
    static INDEX: OnceLock<HashMap<(&'static str, &'static str), &'static BuiltinKind>> = OnceLock::new();
    INDEX
        .get_or_init(|| BUILTIN_KINDS.iter().map(|k| ((k.api_version, k.kind), k)).collect())
        .get(&(api_version, kind))
        .copied()
}

/// The apiVersions that serve a kind of this name, to tell "wrong
/// apiVersion" from "unknown kind" in messages.
pub fn versions_of(kind: &str) -> Vec<&'static str> {
    BUILTIN_KINDS.iter().filter(|k| k.kind == kind).map(|k| k.api_version).collect()
}

/// Whether a built-in kind of this name (in any apiVersion) is namespaced.
pub fn namespaced_by_name(kind: &str) -> Option<bool> {
    BUILTIN_KINDS.iter().find(|k| k.kind == kind).map(BuiltinKind::namespaced)
}

fn decode<T: DeserializeOwned>(value: &Value) -> Decoded {
    let mut unknown_fields: Vec<String> = Vec::new();
    let result: Result<T, _> = {
        let mut record = |path: serde_ignored::Path| unknown_fields.push(pointer_of(&path));
        let ignored = serde_ignored::Deserializer::new(value, &mut record);
        serde_path_to_error::deserialize(ignored)
    };
    let type_error = result.err().map(|e| {
        let pointer = path_pointer(e.path());
        (pointer, type_message(&e.into_inner().to_string()))
    });
    Decoded { type_error, unknown_fields }
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
