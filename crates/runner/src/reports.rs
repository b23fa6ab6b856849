//! The run reports kept in REPORTS_DIR: one JSON line per run, appended to
//! a file per hour (UTC), `runs-2025-01-31T14.jsonl`, by one writer thread.
//!
//! A file per run cost about a fifth of the runner's CPU under load (ext4
//! allocating an inode and a directory entry twice, for the temporary file
//! and the rename), more than the steps themselves. Appending costs one
//! `write` per batch: runs that finish while a batch is being written go
//! together into the next one. [`ReportLog::append`] returns once the line
//! is in the file, so a run's response is sent only after its report is
//! kept, as before. Reports are not golden data: there is no fsync, and a
//! line cut short by a crash is set apart by a newline before the next
//! batch is appended, so every complete line stays parseable.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

/// Why a report was not kept.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// REPORTS_DIR could not be created.
    #[error("cannot use REPORTS_DIR `{}`", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The report file could not be opened or appended to.
    #[error("cannot append to `{}`: {reason}", path.display())]
    Append {
        /// The hour's file.
        path: PathBuf,
        /// Why (shared by every report of the batch).
        reason: String,
    },
    /// The writer thread is gone.
    #[error("the report writer has stopped")]
    Stopped,
}

struct Pending {
    line: Bytes,
    done: oneshot::Sender<Result<(), ReportError>>,
}

/// Appends run reports to REPORTS_DIR; cheap to clone.
#[derive(Clone, Debug)]
pub struct ReportLog {
    tx: mpsc::UnboundedSender<Pending>,
}

impl ReportLog {
    /// Creates `dir` if needed and starts the writer thread, which stops
    /// when the last clone of the log is dropped.
    pub fn open(dir: &Path) -> Result<ReportLog, ReportError> {
        Self::open_with_clock(dir, jiff::Timestamp::now)
    }

    /// [`ReportLog::open`], naming files by the hour `clock` says.
    pub fn open_with_clock(dir: &Path, clock: fn() -> jiff::Timestamp) -> Result<ReportLog, ReportError> {
        let dir_err = |source| ReportError::Dir { path: dir.to_owned(), source };
        std::fs::create_dir_all(dir).map_err(dir_err)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let owned = dir.to_owned();
        std::thread::Builder::new()
            .name("report-writer".into())
            .spawn(move || write_loop(&owned, clock, rx))
            .map_err(dir_err)?;
        Ok(ReportLog { tx })
    }

    /// Appends `report` (one JSON document without newlines, such as
    /// `serde_json::to_vec` writes) as a line, and waits until it is written.
    pub async fn append(&self, report: Bytes) -> Result<(), ReportError> {
        let (done, written) = oneshot::channel();
        self.tx.send(Pending { line: report, done }).map_err(|_| ReportError::Stopped)?;
        written.await.map_err(|_| ReportError::Stopped)?
    }
}

/// The file of the hour `at` falls in.
pub fn file_name(at: jiff::Timestamp) -> String {
    format!("runs-{}.jsonl", at.strftime("%Y-%m-%dT%H"))
}

/// Batches are capped so that one slow disk does not hold a huge buffer.
const MAX_BATCH: usize = 1024;

fn write_loop(dir: &Path, clock: fn() -> jiff::Timestamp, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut open: Option<(String, File)> = None;
    let mut buf = Vec::new();
    let mut batch = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        buf.clear();
        for p in &batch {
            buf.extend_from_slice(&p.line);
            buf.push(b'\n');
        }
        let name = file_name(clock());
        let result = append_batch(dir, &name, &mut open, &buf);
        if result.is_err() {
            // Reopen next time: the file may have been removed or the
            // volume remounted.
            open = None;
        }
        for p in batch.drain(..) {
            let outcome = result
                .as_ref()
                .map(|_| ())
                .map_err(|e| ReportError::Append { path: dir.join(&name), reason: e.to_string() });
            let _ = p.done.send(outcome);
        }
    }
}

fn append_batch(dir: &Path, name: &str, open: &mut Option<(String, File)>, buf: &[u8]) -> io::Result<()> {
    if open.as_ref().is_none_or(|(current, _)| current != name) {
        *open = Some((name.to_owned(), open_for_append(&dir.join(name))?));
    }
    let (_, file) = open.as_mut().expect("opened above");
    // One write call per batch: with O_APPEND it lands whole at the end of
    // the file, even if another replica appends to the same file.
    file.write_all(buf)
}

fn open_for_append(path: &Path) -> io::Result<File> {
    let mut file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
    // A crash may have cut the last line short: start on a fresh line so
    // the next report is not glued to it.
    if file.metadata()?.len() > 0 {
        file.seek(SeekFrom::End(-1))?;
        let mut last = [0u8];
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            file.write_all(b"\n")?;
        }
    }
    Ok(file)
}

/// Every report in `dir`, oldest file first; lines that are not complete
/// JSON documents (cut short by a crash) are skipped.
pub fn read_all(dir: &Path) -> io::Result<Vec<serde_json::Value>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("runs-") && n.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    let mut reports = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path)?;
        reports.extend(text.lines().filter_map(|line| serde_json::from_str(line).ok()));
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noon() -> jiff::Timestamp {
        "2025-01-31T12:34:56Z".parse().unwrap()
    }

    #[tokio::test]
    async fn appends_lines_and_repairs_a_cut_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs-2025-01-31T12.jsonl");
        assert_eq!(path.file_name().unwrap().to_str().unwrap(), file_name(noon()));
        // What a crash mid-write leaves behind.
        std::fs::write(&path, b"{\"id\":\"run-0\",\"outco").unwrap();
        let log = ReportLog::open_with_clock(dir.path(), noon).unwrap();
        let writes: Vec<_> = (1..=50)
            .map(|i| {
                let log = log.clone();
                tokio::spawn(async move { log.append(Bytes::from(format!("{{\"id\":\"run-{i}\"}}"))).await })
            })
            .collect();
        for w in writes {
            w.await.unwrap().unwrap();
        }
        let reports = read_all(dir.path()).unwrap();
        let mut ids: Vec<_> = reports.iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
        ids.sort();
        let mut expected: Vec<_> = (1..=50).map(|i| format!("run-{i}")).collect();
        expected.sort();
        assert_eq!(ids, expected);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\"id\":\"run-0\",\"outco\n{\"id\":\"run-"), "{text}");
    }

    #[tokio::test]
    async fn a_failed_append_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let log = ReportLog::open_with_clock(dir.path(), noon).unwrap();
        // A directory where the hour's file should be.
        std::fs::create_dir(dir.path().join(file_name(noon()))).unwrap();
        let err = log.append(Bytes::from_static(b"{}")).await.unwrap_err();
        assert!(matches!(err, ReportError::Append { .. }), "{err}");
    }
}
