//! `render`: a profile environment's values, manifests and Terraform
//! module, in memory.

use serde::{Deserialize, Serialize};

use super::Context;
use crate::error::Result;
use crate::profile::load_profile;
use crate::profile::values::{build_values, UserValues};
use crate::render::{render_set, RenderSet};

/// What to render.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenderRequest {
    /// Profile name.
    pub profile: String,
    /// Environment name.
    pub environment: String,
    /// Values files (paths or inline) and `--set` expressions.
    #[serde(default)]
    pub values: UserValues,
}

/// Loads the profile, builds and checks the values stack, and renders the
/// chart and the Terraform module in memory.
pub fn render(ctx: &Context, request: &RenderRequest) -> Result<RenderSet> {
    let assets = ctx.assets();
    let profile = load_profile(assets, &request.profile)?.resolve(&request.environment)?;
    tracing::debug!(profile = %profile.name, env = %profile.environment, "rendering");
    let values = build_values(assets, &profile, &request.values)?;
    render_set(assets, &profile, &values)
}
