//! The profile stage's errors: unknown or invalid profiles, and values
//! layers that cannot be built or break the values schema.

use crate::violation::{violation_lines, Violation};

/// A profile that is unknown or does not describe a valid target.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// No `profiles/<name>.yaml`.
    #[error("unknown profile `{name}` (known profiles: {})", .known.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The profiles that exist.
        known: Vec<String>,
    },
    /// The profile has no such environment.
    #[error("profile `{profile}` has no environment `{env}` (known environments: {})", .known.join(", "))]
    UnknownEnvironment {
        /// The profile.
        profile: String,
        /// The environment asked for.
        env: String,
        /// The environments it defines.
        known: Vec<String>,
    },
    /// The profile breaks the profile schema or a rule the schema cannot say.
    #[error("invalid profile `{file}`:{}", violation_lines(.violations))]
    Invalid {
        /// The profile file.
        file: String,
        /// Where and what.
        violations: Vec<Violation>,
    },
}

/// A values layer that could not be built, or merged values that break the
/// values schema.
#[derive(Debug, thiserror::Error)]
pub enum ValuesError {
    /// A `--set` or `--set-string` expression is not Helm's syntax.
    #[error("invalid {flag} expression `{expr}`: {message}")]
    Set {
        /// `--set` or `--set-string`.
        flag: &'static str,
        /// The expression.
        expr: String,
        /// What is wrong.
        message: String,
    },
    /// A values file is not a map at its top level.
    #[error("values file `{file}` must hold a map at the top level, found {found}")]
    NotAMap {
        /// The file.
        file: String,
        /// The JSON type found.
        found: &'static str,
    },
    /// An offline overlay the profile names does not exist.
    #[error("profile `{profile}` names offline values `{name}` at /spec/offlineValues, but `{path}` does not exist")]
    MissingOverlay {
        /// The profile.
        profile: String,
        /// The overlay name.
        name: String,
        /// Where it was looked for.
        path: String,
    },
    /// The merged values break `values.schema.json`.
    #[error("values do not match `{schema}`:{}", violation_lines(.violations))]
    Schema {
        /// The schema file.
        schema: String,
        /// Each violation, with the layer that set the value where known.
        violations: Vec<Violation>,
    },
}
