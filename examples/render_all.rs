//! Renders all 12 profile environments (aws, gcp, azure, offline × dev,
//! staging, prod) in one process through the library, printing each as
//! `meshctl render -p P -e E` would: the "one process" side of
//! bench/render.sh's 12-render figure.
//!
//! `cargo run --release --example render_all > all.yaml`

use std::io::Write as _;

use meshctl::assets::Assets;
use meshctl::ops::{self, Context, RenderRequest};
use meshctl::profile::values::UserValues;

fn main() {
    let ctx = Context::new(Assets::embedded());
    let mut out = Vec::new();
    for profile in ["aws", "gcp", "azure", "offline"] {
        for environment in ["dev", "staging", "prod"] {
            let request = RenderRequest {
                profile: profile.into(),
                environment: environment.into(),
                values: UserValues::default(),
            };
            let set = ops::render(&ctx, &request).unwrap_or_else(|e| {
                eprintln!("render_all: {profile}/{environment}: {e}");
                std::process::exit(2);
            });
            meshctl::render::write_stream(&set, &mut out).expect("writing to memory");
        }
    }
    std::io::stdout().lock().write_all(&out).expect("writing to stdout");
}
