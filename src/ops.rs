//! The operations the command line and (later) the HTTP server both call.

use crate::assets::Assets;
use crate::error::Result;
use crate::profile::load_profile;
use crate::render::{render_set, RenderSet};
use crate::values::{build_values, UserValues};

/// What to render.
#[derive(Debug, Clone)]
pub struct RenderRequest {
    /// Profile name.
    pub profile: String,
    /// Environment name.
    pub environment: String,
    /// `-f` files and `--set` expressions.
    pub user_values: UserValues,
}

/// Loads the profile, builds and checks the values stack, and renders the
/// chart and the Terraform module in memory.
pub fn render(assets: &Assets, request: &RenderRequest) -> Result<RenderSet> {
    let profile = load_profile(assets, &request.profile)?.resolve(&request.environment)?;
    tracing::debug!(profile = %profile.name, env = %profile.environment, "rendering");
    let values = build_values(assets, &profile, &request.user_values)?;
    render_set(assets, &profile, &values)
}
