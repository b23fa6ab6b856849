//! Inputs named on the command line (or in a request): files, directories
//! (recursive; .yaml, .yml, .json, .tf) and stdin, opened for streaming.
//! Validation streams them document by document; `ops::prepare` reads a
//! manifest set from them once. Splitting into documents lives in
//! [`crate::yaml`].
//!
//! Every input is read through one bounded reader that stops at a limit
//! and names the input, so an input that never ends (`/dev/zero`, an
//! endless pipe) cannot exhaust memory or time. Only stdin may be a
//! stream: a named device, FIFO or socket is refused. Directory walks
//! follow symlinks but never loop, visit each file once, and report an
//! unreadable directory as a problem of that input while the others are
//! still read.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The most bytes read from one manifest input (a file or stdin).
pub const MAX_INPUT_BYTES: u64 = 1 << 30;

/// Where a file's bytes come from.
#[derive(Debug, Clone)]
pub enum InputSource {
    /// A file on disk.
    File(PathBuf),
    /// Standard input (`-`).
    Stdin,
    /// A path that cannot be read (an unreadable directory, a device): why.
    Unreadable(String),
    /// A path deliberately not read (a symlink loop, a file already read
    /// through another path): why.
    Skipped(String),
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
/// for stdin. A path that does not exist is an error naming it; one that
/// exists but cannot be read, or must not be (a device, a loop), is an
/// entry saying why, so the other inputs are still read.
pub fn discover(paths: &[String]) -> Result<Vec<InputFile>> {
    let mut out = Vec::new();
    let mut seen_files = HashMap::new();
    for p in paths {
        if p == "-" {
            out.push(InputFile { name: "-".into(), source: InputSource::Stdin });
            continue;
        }
        let path = Path::new(p);
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut vec![(meta.dev(), meta.ino(), path.to_owned())], &mut seen_files, &mut found);
            found.sort_by(|a, b| a.name.cmp(&b.name));
            out.extend(found);
        } else {
            out.push(InputFile { name: p.clone(), source: classify_file(path, &meta) });
        }
    }
    Ok(out)
}

/// A named file: readable when it is a regular file, refused otherwise.
fn classify_file(path: &Path, meta: &std::fs::Metadata) -> InputSource {
    if meta.is_file() {
        return InputSource::File(path.to_owned());
    }
    let t = meta.file_type();
    let what = if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    InputSource::Unreadable(format!("{what}: only `-` (stdin) may be a stream; give a regular file"))
}

/// Walks `dir`, whose directory identities (device, inode) and paths from
/// the top are in `ancestors`.
fn walk(
    dir: &Path,
    ancestors: &mut Vec<(u64, u64, PathBuf)>,
    seen_files: &mut HashMap<(u64, u64), String>,
    out: &mut Vec<InputFile>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            let name = dir.display().to_string();
            out.push(InputFile { name, source: InputSource::Unreadable(format!("cannot read directory: {e}")) });
            return;
        }
    };
    // A render output holds values.yaml and render.json beside its
    // manifests: they describe the render, they are not resources.
    let render_output = dir.join("render.json").is_file();
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    let mut visited = HashSet::new();
    for path in paths {
        let name = path.display().to_string();
        if render_output && path.file_name().is_some_and(|n| n == "values.yaml" || n == "render.json") {
            continue;
        }
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            // A dangling symlink or an entry that vanished: nothing to read.
            Err(_) if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) => continue,
            Err(e) => {
                out.push(InputFile { name, source: InputSource::Unreadable(format!("cannot read: {e}")) });
                continue;
            }
        };
        let id = (meta.dev(), meta.ino());
        if meta.is_dir() {
            if let Some((_, _, first)) = ancestors.iter().find(|(d, i, _)| (*d, *i) == id) {
                let why = format!("symlink loop: leads back to `{}`, not followed", first.display());
                out.push(InputFile { name, source: InputSource::Skipped(why) });
                continue;
            }
            if !visited.insert(id) {
                continue;
            }
            ancestors.push((id.0, id.1, path.clone()));
            walk(&path, ancestors, seen_files, out);
            ancestors.pop();
        } else if meta.is_file()
            && matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json" | "tf"))
            // JSON schemas that sit beside what they describe are not resources.
            && !name.ends_with(".schema.json")
        {
            match seen_files.get(&id) {
                Some(first) => {
                    let why = format!("the same file as `{first}` (reached through a symlink), read once");
                    out.push(InputFile { name, source: InputSource::Skipped(why) });
                }
                None => {
                    seen_files.insert(id, name.clone());
                    out.push(InputFile { name, source: InputSource::File(path) });
                }
            }
        }
    }
}

impl InputFile {
    /// Opens the input for streaming, bounded by [`MAX_INPUT_BYTES`].
    pub fn open(&self) -> std::io::Result<Box<dyn BufRead + Send>> {
        let name = self.name.clone();
        Ok(match &self.source {
            InputSource::File(path) => Box::new(Bounded::new(
                BufReader::with_capacity(256 * 1024, std::fs::File::open(path)?),
                MAX_INPUT_BYTES,
                name,
            )),
            InputSource::Stdin => Box::new(Bounded::new(BufReader::new(std::io::stdin()), MAX_INPUT_BYTES, name)),
            InputSource::Unreadable(why) | InputSource::Skipped(why) => {
                return Err(std::io::Error::other(why.clone()));
            }
        })
    }

    /// Whether this input was deliberately not read (see [`InputSource::Skipped`]).
    pub fn skipped(&self) -> Option<&str> {
        match &self.source {
            InputSource::Skipped(why) => Some(why),
            _ => None,
        }
    }
}

/// Reads a whole regular file of at most `limit` bytes (a values file): a
/// device or FIFO, or a larger file, is an error naming the file.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if let InputSource::Unreadable(why) = classify_file(path, &meta) {
        return Err(Error::io(path, std::io::Error::other(why)));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    Bounded::new(BufReader::new(file), limit, path.display().to_string())
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok(bytes)
}

/// A reader that fails, naming its input, once more than `limit` bytes
/// would be read (where `Read::take` would silently stop).
pub struct Bounded<R> {
    inner: R,
    remaining: u64,
    limit: u64,
    name: String,
}

impl<R: BufRead> Bounded<R> {
    /// Reads at most `limit` bytes of `inner`, which messages call `name`.
    pub fn new(inner: R, limit: u64, name: String) -> Self {
        Bounded { inner, remaining: limit, limit, name }
    }

    fn too_large(&self) -> std::io::Error {
        let limit =
            if self.limit >= 1 << 20 { format!("{} MiB", self.limit >> 20) } else { format!("{} byte", self.limit) };
        std::io::Error::other(format!("`{}` is larger than the {limit} input limit", self.name))
    }
}

impl<R: BufRead> Read for Bounded<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Bounded<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.remaining == 0 {
            // At the limit: fine if the input ends here, an error if not.
            return if self.inner.fill_buf()?.is_empty() { Ok(&[]) } else { Err(self.too_large()) };
        }
        let remaining = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        let chunk = self.inner.fill_buf()?;
        Ok(&chunk[..chunk.len().min(remaining)])
    }

    fn consume(&mut self, n: usize) {
        self.remaining = self.remaining.saturating_sub(n as u64);
        self.inner.consume(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_reader_fails_past_its_limit_and_names_the_input() {
        let mut text = String::new();
        let mut ok = Bounded::new(&b"12345"[..], 5, "five".into());
        ok.read_to_string(&mut text).unwrap();
        assert_eq!(text, "12345");
        let mut over = Bounded::new(BufReader::new(std::io::repeat(b'x')), 1 << 20, "/dev/zero".into());
        let err = std::io::copy(&mut over, &mut std::io::sink()).unwrap_err();
        assert!(err.to_string().contains("`/dev/zero` is larger than the 1 MiB input limit"), "{err}");
    }

    #[test]
    fn devices_are_refused_unless_stdin() {
        let files = discover(&["/dev/zero".into(), "-".into()]).unwrap();
        assert!(matches!(&files[0].source, InputSource::Unreadable(why) if why.contains("a character device")));
        assert!(matches!(files[1].source, InputSource::Stdin));
        let err = read_bytes(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(format!("{:?}", err).contains("character device"), "{err:?}");
    }

    #[test]
    fn symlink_loops_are_skipped_and_each_file_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("m");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.yaml"), "a: 1\n").unwrap();
        std::fs::write(root.join("sub/b.yaml"), "b: 1\n").unwrap();
        std::os::unix::fs::symlink("..", root.join("sub/up")).unwrap();
        std::os::unix::fs::symlink("..", root.join("sub/up2")).unwrap();
        std::os::unix::fs::symlink("a.yaml", root.join("again.yaml")).unwrap();
        let files = discover(&[root.display().to_string()]).unwrap();
        let read: Vec<&str> = files
            .iter()
            .filter(|f| matches!(f.source, InputSource::File(_)))
            .map(|f| f.name.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(read, ["a.yaml", "b.yaml"], "{files:?}");
        let skipped: Vec<&str> = files.iter().filter_map(InputFile::skipped).collect();
        assert_eq!(skipped.len(), 3, "{files:?}");
        assert!(skipped.iter().filter(|s| s.contains("symlink loop")).count() == 2, "{skipped:?}");
        assert!(skipped.iter().any(|s| s.contains("read once")), "{skipped:?}");
    }
}
