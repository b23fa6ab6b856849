//! The crate's error type: one variant per stage, each naming the input, the
//! place in it and what was expected.

use std::path::{Path, PathBuf};

// Each stage's error type from its own file, so this module (which every
// stage uses) imports no stage's logic.
use crate::cluster::error::ClusterError;
use crate::profile::error::{ProfileError, ValuesError};
use crate::render::error::RenderError;
use crate::yaml::YamlError;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop a meshctl command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A project asset (chart, profile schema, Terraform module) is missing
    /// or unusable.
    #[error("{path}: {message}")]
    Asset {
        /// The asset, as [`Assets::display_path`](crate::assets::Assets::display_path) names it.
        path: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A command-line argument or request field is unusable.
    #[error("{argument}: {message}")]
    Argument {
        /// The flag or field, with its value (`--image "x"`).
        argument: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A CustomResourceDefinition given to validation cannot be used.
    #[error("CRD in `{file}` (document {document}) cannot be used: {message}")]
    Crd {
        /// The file (or asset) it came from.
        file: String,
        /// 1-based document index.
        document: usize,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("failed to access `{path}`")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// An input is not well-formed YAML.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// A profile is unknown or invalid.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The values stack could not be built, or violates the values schema.
    #[error(transparent)]
    Values(#[from] ValuesError),
    /// A template failed, or produced something that is not a manifest.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A cluster operation failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The Kubernetes API sandbox could not start.
    #[error("failed to start the sandbox")]
    Sandbox(#[from] sandbox::Error),
    /// The render output directory could not be replaced.
    #[error("refusing to write `{path}`: {reason}")]
    OutputRefused {
        /// The `--out` directory.
        path: PathBuf,
        /// Why it was not written.
        reason: String,
    },
}

/// What kind of failure an [`Error`] is, for exit codes and HTTP statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// The arguments or the request are unusable.
    Usage,
    /// An input (file, profile, values, template, asset) is unreadable or
    /// malformed.
    Input,
    /// The cluster could not be reached, or refused to work (locked,
    /// unauthorised, interrupted).
    Cluster,
    /// The thing checked or deployed is bad: the cluster rejected an
    /// object, a rollout failed, a conflict needs a decision.
    Rejected,
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_owned(), source }
    }

    /// An unusable asset.
    pub fn asset(path: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Asset { path: path.into(), message: message.into() }
    }

    /// An unusable argument.
    pub fn argument(argument: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Argument { argument: argument.into(), message: message.into() }
    }

    /// What kind of failure this is.
    pub fn category(&self) -> Category {
        use ClusterError as C;
        match self {
            Error::Argument { .. } | Error::OutputRefused { .. } => Category::Usage,
            Error::Cluster(
                C::Timeout { .. }
                | C::Failed { .. }
                | C::Conflict { .. }
                | C::Immutable { .. }
                | C::Rejected { .. }
                | C::RolledBack { .. }
                | C::RollbackFailed { .. },
            ) => Category::Rejected,
            Error::Cluster(_) | Error::Sandbox(_) => Category::Cluster,
            Error::Asset { .. }
            | Error::Io { .. }
            | Error::Yaml(_)
            | Error::Profile(_)
            | Error::Values(_)
            | Error::Render(_)
            | Error::Crd { .. } => Category::Input,
        }
    }
}
