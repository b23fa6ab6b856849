//! Writing a [`RenderSet`]: to a directory, all or nothing (render into a
//! sibling temporary directory, then swap it into place), or as one YAML
//! stream for `kubectl apply -f -`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::render::RenderSet;

/// Writes `set` to `out`: `values.yaml`, `manifests/`, `terraform/` and
/// `render.json`. `out` must not exist, be empty, or hold an earlier render
/// (it has `render.json`); it is replaced only once the new tree is
/// complete, so an interrupted run leaves the old output intact.
pub fn write_out_dir(set: &RenderSet, out: &Path) -> Result<()> {
    if out.exists() {
        if !out.is_dir() {
            return Err(Error::OutputRefused {
                path: out.to_owned(),
                reason: "it exists and is not a directory".into(),
            });
        }
        let empty = std::fs::read_dir(out).map_err(|e| Error::io(out, e))?.next().is_none();
        if !empty && !out.join("render.json").is_file() {
            return Err(Error::OutputRefused {
                path: out.to_owned(),
                reason: "it is a non-empty directory that is not a meshctl render output (no render.json); choose another --out".into(),
            });
        }
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let base = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    remove_stale(&parent, &base);

    let staging = parent.join(format!(".{base}.meshctl-tmp-{}", std::process::id()));
    let result = write_tree(set, &staging).and_then(|()| swap_into_place(&staging, out, &parent, &base));
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

fn write_tree(set: &RenderSet, dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let manifests = dir.join("manifests");
    let terraform = dir.join("terraform");
    for d in [&manifests, &terraform] {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    write_file(&dir.join("values.yaml"), set.values_yaml.as_bytes())?;
    for object in &set.objects {
        write_file(&manifests.join(&object.file_name), object.yaml.as_bytes())?;
    }
    for (name, text) in &set.terraform {
        write_file(&terraform.join(name), text.as_bytes())?;
    }
    let record = format!("{}\n", serde_json::to_string_pretty(&set.record).expect("JSON"));
    write_file(&dir.join("render.json"), record.as_bytes())
}

fn swap_into_place(staging: &Path, out: &Path, parent: &Path, base: &str) -> Result<()> {
    if !out.exists() {
        return std::fs::rename(staging, out).map_err(|e| Error::io(out, e));
    }
    let old = parent.join(format!(".{base}.meshctl-old-{}", std::process::id()));
    std::fs::rename(out, &old).map_err(|e| Error::io(out, e))?;
    if let Err(e) = std::fs::rename(staging, out) {
        // Put the previous output back: never leave the user with neither.
        let _ = std::fs::rename(&old, out);
        return Err(Error::io(out, e));
    }
    std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))
}

/// Removes staging and backup directories an interrupted run left behind.
fn remove_stale(parent: &Path, base: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    let prefixes = [format!(".{base}.meshctl-tmp-"), format!(".{base}.meshctl-old-")];
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if prefixes.iter().any(|p| name.starts_with(p.as_str())) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Writes the manifests as one multi-document YAML stream in apply order,
/// each preceded by a `# Source:` comment naming its file.
pub fn write_stream(set: &RenderSet, w: &mut dyn Write) -> std::io::Result<()> {
    for object in &set.objects {
        writeln!(w, "---")?;
        writeln!(w, "# Source: manifests/{}", object.file_name)?;
        w.write_all(object.yaml.as_bytes())?;
    }
    Ok(())
}
