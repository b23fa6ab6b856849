//! Embeds the chart, the Terraform modules, the profiles and the offline
//! values overlays into the binary, so `meshctl` renders from a single file
//! on an air-gapped machine. `--root DIR` reads the same layout from disk
//! instead.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const ASSET_DIRS: &[&str] = &["templates", "profiles", "offline-values"];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ASSET_DIRS {
        collect(&root, &root.join(dir), &mut files);
    }
    files.sort();

    let mut out = String::from("/// Every embedded asset: path relative to the project root, and its bytes.\npub static EMBEDDED: &[(&str, &[u8])] = &[\n");
    for rel in &files {
        let abs = root.join(rel);
        writeln!(out, "    ({rel:?}, include_bytes!({:?})),", abs.display().to_string()).unwrap();
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded_assets.rs");
    std::fs::write(dest, out).expect("write embedded_assets.rs");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    // A directory's mtime changes when an entry is added or removed, so this
    // reruns the script for new files; include_bytes! tracks edits itself.
    println!("cargo:rerun-if-changed={}", dir.display());
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.expect("read asset dir entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let rel = path.strip_prefix(root).expect("asset under root");
            let rel = rel.to_str().expect("asset paths are UTF-8").replace('\\', "/");
            files.push(rel);
        }
    }
}
