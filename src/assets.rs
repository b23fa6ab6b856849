//! The project files meshctl renders from: the chart, the Terraform modules,
//! the profiles and the offline values overlays — embedded in the binary, or
//! read from a directory with the same layout (`--root`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_assets.rs"));
}

/// The chart's directory among the assets.
pub const CHART_DIR: &str = "templates/helm/testmesh";

/// Where the assets came from; used to name files in messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into this binary.
    Embedded,
    /// Read from this directory.
    Dir(PathBuf),
    /// Given in memory (tests, fuzzing, a request).
    Memory,
}

/// An in-memory tree of asset files keyed by their path relative to the
/// project root (`profiles/aws.yaml`, `templates/helm/testmesh/values.yaml`).
#[derive(Debug, Clone)]
pub struct Assets {
    origin: Origin,
    files: BTreeMap<String, Vec<u8>>,
}

impl Assets {
    /// The assets compiled into this binary.
    pub fn embedded() -> Self {
        let files = embedded::EMBEDDED.iter().map(|(path, bytes)| ((*path).to_owned(), bytes.to_vec())).collect();
        Assets { origin: Origin::Embedded, files }
    }

    /// Assets given in memory: project path → content.
    pub fn from_files<P: Into<String>, B: Into<Vec<u8>>>(files: impl IntoIterator<Item = (P, B)>) -> Self {
        Assets { origin: Origin::Memory, files: files.into_iter().map(|(p, b)| (p.into(), b.into())).collect() }
    }

    /// Reads `templates/`, `profiles/` and `offline-values/` under `root`.
    pub fn from_dir(root: &Path) -> Result<Self> {
        let mut files = BTreeMap::new();
        let mut found_any = false;
        for dir in ["templates", "profiles", "offline-values"] {
            let path = root.join(dir);
            if path.is_dir() {
                found_any = true;
                read_tree(root, &path, &mut files)?;
            }
        }
        if !found_any {
            return Err(Error::asset(
                root.display().to_string(),
                "has none of templates/, profiles/, offline-values/ (expected a meshctl project root)",
            ));
        }
        Ok(Assets { origin: Origin::Dir(root.to_owned()), files })
    }

    /// Where these assets came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The bytes of one file, if present.
    pub fn get(&self, rel: &str) -> Option<&[u8]> {
        self.files.get(rel).map(Vec::as_slice)
    }

    /// The text of one file, or an error naming it.
    pub fn text(&self, rel: &str) -> Result<&str> {
        let bytes = self.get(rel).ok_or_else(|| Error::asset(self.display_path(rel), "missing file"))?;
        std::str::from_utf8(bytes).map_err(|e| Error::asset(self.display_path(rel), format!("not UTF-8: {e}")))
    }

    /// A JSON schema file, compiled.
    pub fn json_schema(&self, rel: &str) -> Result<jsonschema::Validator> {
        let schema: serde_json::Value = serde_json::from_str(self.text(rel)?)
            .map_err(|e| Error::asset(self.display_path(rel), format!("not JSON: {e}")))?;
        jsonschema::validator_for(&schema)
            .map_err(|e| Error::asset(self.display_path(rel), format!("not a valid JSON schema: {e}")))
    }

    /// Files directly or indirectly under `dir/`, in sorted order.
    pub fn list(&self, dir: &str) -> impl Iterator<Item = (&str, &[u8])> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        self.files
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// How to name a file in messages: the path on disk, or the project
    /// path for embedded assets.
    pub fn display_path(&self, rel: &str) -> String {
        match &self.origin {
            Origin::Embedded | Origin::Memory => rel.to_owned(),
            Origin::Dir(root) => root.join(rel).display().to_string(),
        }
    }
}

fn read_tree(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            read_tree(root, &path, files)?;
        } else {
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let rel = path.strip_prefix(root).unwrap_or(&path);
            files.insert(rel.to_string_lossy().replace('\\', "/"), bytes);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_assets_hold_profiles_and_chart() {
        let assets = Assets::embedded();
        assert!(assets.get("profiles/aws.yaml").is_some());
        assert!(assets.get("templates/helm/testmesh/values.yaml").is_some());
        let profiles: Vec<_> = assets.list("profiles").map(|(p, _)| p).collect();
        assert!(profiles.contains(&"profiles/offline.yaml"), "{profiles:?}");
    }
}
