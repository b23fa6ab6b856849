//! `diff`: a prepared set against the live objects, through a server-side
//! dry-run apply (so defaults and other managers' fields count).

use super::prepare::PreparedSet;
use super::Context;
use crate::cluster::apply::{with_config_hash, FIELD_MANAGER};
use crate::cluster::diff::{diff_objects, ObjectDiff};
use crate::cluster::inventory::ApplySet;
use crate::error::Result;

/// The objects of `set` that would change, each as a unified diff; Secret
/// data and sensitive values masked unless `show_secrets`.
pub async fn diff(ctx: &Context, set: &PreparedSet, show_secrets: bool) -> Result<Vec<ObjectDiff>> {
    let cluster = ctx.cluster().await?;
    let applyset = ApplySet::new(&set.release.name, &set.release.namespace);
    // Labelled and hashed as apply sends them, so neither shows as a change.
    let objects: Vec<_> = set
        .objects()
        .iter()
        .cloned()
        .map(|mut o| {
            applyset.label(&mut o);
            with_config_hash(o)
        })
        .collect();
    Ok(diff_objects(cluster, &objects, FIELD_MANAGER, show_secrets).await?)
}
