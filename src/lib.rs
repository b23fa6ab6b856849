//! meshctl takes the TestMesh test-execution platform from a cloud profile
//! to a running deployment. This crate is the library behind the `meshctl`
//! binary; every command is a function here.
//!
//! # Quickstart
//!
//! ```no_run
//! use meshctl::{assets::Assets, ops, values::UserValues};
//!
//! let assets = Assets::embedded();
//! let request = ops::RenderRequest {
//!     profile: "offline".into(),
//!     environment: "dev".into(),
//!     user_values: UserValues::default(),
//! };
//! let set = ops::render(&assets, &request)?;
//! meshctl::render::write_out_dir(&set, std::path::Path::new("out"))?;
//! # Ok::<(), meshctl::Error>(())
//! ```
//!
//! Stages, one module each: [`profile`] (profiles and the values stack),
//! [`render`] (hardened Tera, the render set, output), [`ops`] (the
//! operations), [`cli`] (arguments and output).

pub mod assets;
pub mod cli;
pub mod cluster;
pub mod error;
pub mod ops;
pub mod profile;
pub mod render;
pub mod validate;
pub mod yaml;

pub use error::{Error, Result};
pub use profile::values;
