//! meshctl takes the TestMesh test-execution platform from a cloud profile
//! to a running deployment. This crate is the library behind the `meshctl`
//! binary; every command is a function here.
//!
//! # Quickstart
//!
//! ```no_run
//! use meshctl::{assets::Assets, ops, profile::values::UserValues};
//!
//! let ctx = ops::Context::new(Assets::embedded());
//! let request = ops::RenderRequest {
//!     profile: "offline".into(),
//!     environment: "dev".into(),
//!     values: UserValues::default(),
//! };
//! let set = ops::render(&ctx, &request)?;
//! meshctl::render::write_out_dir(&set, std::path::Path::new("out"))?;
//! # Ok::<(), meshctl::Error>(())
//! ```
//!
//! Layers, each importing only those below it:
//! - ground floor: [`yaml`] (the one YAML reader and writer), [`kinds`]
//!   (what meshctl knows about Kubernetes kinds), [`input`] (files,
//!   directories, stdin), [`assets`], [`digest`], [`clock`], [`events`],
//!   [`violation`], [`sensitive`], [`error`] (which gathers each stage's error type);
//! - stages: [`profile`] (profiles and the values stack), [`render`]
//!   (hardened Tera, the render set, output), [`validate`] (offline
//!   validation), [`cluster`] (everything that talks to a cluster);
//! - [`ops`]: the actions, each with a request and a [`ops::Context`];
//! - doors: [`cli`] (arguments and output), later the HTTP server.

pub mod assets;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod digest;
pub mod error;
pub mod events;
pub mod input;
pub mod kinds;
pub mod ops;
pub mod profile;
pub mod render;
pub mod sensitive;
pub mod validate;
pub mod violation;
pub mod yaml;

pub use error::{Error, Result};
