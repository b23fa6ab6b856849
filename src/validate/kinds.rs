//! The built-in kinds of the compiled-in Kubernetes version (k8s-openapi,
//! feature `v1_33`): apiVersion, kind and the Rust type each decodes as.
//! Generated from k8s-openapi's `Resource` impls; regenerate when the
//! Kubernetes version changes.

/// The Kubernetes minor version whose types meshctl validates against.
pub const KUBERNETES_VERSION: &str = "1.33";

macro_rules! builtin_kinds {
    ($($api:literal $kind:literal $ty:ty;)*) => {
        /// Every built-in kind: `(apiVersion, kind, decoder)`.
        pub(crate) static BUILTIN_KINDS: &[super::builtin::BuiltinKind] = &[
            $(super::builtin::BuiltinKind::of::<$ty>($api, $kind),)*
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
