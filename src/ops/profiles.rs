//! `profiles list` and `profiles show`: the profiles as data.

use serde_json::{json, Value};

use super::Context;
use crate::error::Result;
use crate::profile::{list_profiles, load_profile};

/// One line of `profiles list`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ProfileSummary {
    /// Profile name.
    pub name: String,
    /// `aws`, `gcp`, `azure`, `offline`.
    pub provider: String,
    /// Region, where the profile has one.
    pub region: String,
    /// What it is for.
    pub description: String,
}

/// Every profile, sorted by name.
pub fn list(ctx: &Context) -> Result<Vec<ProfileSummary>> {
    let assets = ctx.assets();
    list_profiles(assets)
        .into_iter()
        .map(|name| {
            let profile = load_profile(assets, &name)?;
            let spec = &profile.document["spec"];
            Ok(ProfileSummary {
                provider: spec["provider"].as_str().unwrap_or_default().to_string(),
                region: spec["region"].as_str().unwrap_or_default().to_string(),
                description: profile.description.clone(),
                name,
            })
        })
        .collect()
}

/// A profile document; with an environment, the effective profile of that
/// environment (its overrides merged in).
pub fn show(ctx: &Context, name: &str, environment: Option<&str>) -> Result<Value> {
    let profile = load_profile(ctx.assets(), name)?;
    let Some(environment) = environment else {
        return Ok(profile.document.clone());
    };
    let effective = profile.resolve(environment)?;
    Ok(json!({
        "apiVersion": profile.document["apiVersion"],
        "kind": profile.document["kind"],
        "metadata": {
            "name": profile.name,
            "description": profile.description,
            "environment": environment,
        },
        "spec": effective.spec,
    }))
}
