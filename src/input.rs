//! Inputs named on the command line (or in a request): files, directories
//! (recursive; .yaml, .yml, .json, .tf) and stdin, opened for streaming.
//! Validation streams them document by document; `ops::prepare` reads a
//! manifest set from them once. Splitting into documents lives in
//! [`crate::yaml`].

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where a file's bytes come from.
#[derive(Debug, Clone)]
pub enum InputSource {
    /// A file on disk.
    File(PathBuf),
    /// Standard input (`-`).
    Stdin,
}

/// One input file.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// How it is named in reports (the path as found, or `-`).
    pub name: String,
    /// Where to read it.
    pub source: InputSource,
}

/// Expands the command-line paths: files as given, directories recursively
/// (`.yaml`, `.yml`, `.json`, and `.tf` for Terraform modules; sorted), `-`
/// for stdin. A path that does not
/// exist is an error naming it.
pub fn discover(paths: &[String]) -> Result<Vec<InputFile>> {
    let mut out = Vec::new();
    for p in paths {
        if p == "-" {
            out.push(InputFile { name: "-".into(), source: InputSource::Stdin });
            continue;
        }
        let path = Path::new(p);
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            found.sort();
            out.extend(
                found.into_iter().map(|f| InputFile { name: f.display().to_string(), source: InputSource::File(f) }),
            );
        } else {
            out.push(InputFile { name: p.clone(), source: InputSource::File(path.to_owned()) });
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    // A render output holds values.yaml and render.json beside its
    // manifests: they describe the render, they are not resources.
    let render_output = dir.join("render.json").is_file();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if render_output && path.file_name().is_some_and(|n| n == "values.yaml" || n == "render.json") {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json" | "tf"))
            // JSON schemas that sit beside what they describe are not resources.
            && !path.to_string_lossy().ends_with(".schema.json")
        {
            out.push(path);
        }
    }
    Ok(())
}

impl InputFile {
    /// Opens the file for streaming.
    pub fn open(&self) -> std::io::Result<Box<dyn BufRead + Send>> {
        Ok(match &self.source {
            InputSource::File(path) => Box::new(BufReader::with_capacity(256 * 1024, std::fs::File::open(path)?)),
            InputSource::Stdin => Box::new(BufReader::new(std::io::stdin())),
        })
    }
}
