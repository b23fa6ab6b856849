//! Rendering: the hardened Tera engine, the chart's objects in apply order
//! with meshctl's labels, the Terraform root module with its
//! `terraform.tfvars.json`, and writing it all out atomically.

mod engine;
pub mod error;
mod output;
mod renderset;
mod terraform;

pub use engine::{Engine, Policy, ENCODING_FILTER};
pub use error::RenderError;
pub use output::{write_out_dir, write_stream};
pub use renderset::{render_set, ChartMeta, RenderSet, RenderedObject};
pub use terraform::tfvars;
