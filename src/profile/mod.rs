//! Deployment profiles (`profiles/<name>.yaml`): loading, checking against
//! the profile schema, and resolving one environment into an effective
//! target; plus the values stack that turns a profile into chart values.

pub mod error;
mod model;
pub mod set;
pub mod values;

pub use error::ProfileError;
pub use model::{
    list_profiles, load_profile, profile_violations, Cache, Cluster, Database, EffectiveProfile, Ingress,
    Observability, Profile, Provider, Registry, Secrets, Target, Tls, ENVIRONMENTS,
};
