//! Golden snapshot sets: normalising run results, writing sets atomically
//! (temp file, fsync, rename, fsync the directory), verifying them by content
//! hash when read, and diffing a fresh run against the current set.
//!
//! Layout of SNAPSHOT_DIR: one `set-<sequence>.json` per seed. The current
//! golden set is the verified set with the highest sequence; a file that
//! fails verification is listed as corrupt and never served. Temporary files
//! (`.set-*.tmp`) are what a crash mid-write leaves; they are never read and
//! are removed at start.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::execute::RunReport;
use crate::flows::Flow;

/// What replaces an ignored value, so that its presence is still compared.
pub const IGNORED: &str = "<ignored>";

/// A failure of the snapshot store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SNAPSHOT_DIR could not be created or read.
    #[error("cannot use SNAPSHOT_DIR `{}`", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Writing a new set failed; the previous set is untouched.
    #[error("cannot write snapshot set `{}`", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// A stored golden snapshot set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SnapshotSet {
    /// `set-<sequence>`.
    pub id: String,
    /// Increases with every seed.
    pub sequence: u64,
    /// When it was seeded (RFC 3339).
    pub created_at: String,
    /// `sha256:<hex>` of the canonical JSON of `flows`.
    pub hash: String,
    /// The Idempotency-Key of the seed request that made it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Normalised result of each golden flow, by flow name.
    pub flows: BTreeMap<String, Value>,
}

/// A set as listed (without its content).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SetSummary {
    /// Id.
    pub id: String,
    /// Sequence.
    pub sequence: u64,
    /// Creation time.
    pub created_at: String,
    /// Content hash.
    pub hash: String,
    /// Flows in the set.
    pub flows: usize,
    /// Idempotency-Key, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// A file that failed verification.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CorruptFile {
    /// File name in SNAPSHOT_DIR.
    pub file: String,
    /// What is wrong with it.
    pub reason: String,
}

/// What GET /v1/snapshots shows.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    /// Id of the current golden set.
    pub current: Option<String>,
    /// Verified sets, oldest first.
    pub sets: Vec<SetSummary>,
    /// Files that failed verification.
    pub corrupt: Vec<CorruptFile>,
}

#[derive(Debug, Default)]
struct Index {
    sets: Vec<SetSummary>,
    corrupt: Vec<CorruptFile>,
    current: Option<Arc<SnapshotSet>>,
    highest_sequence: u64,
}

/// The snapshot sets in SNAPSHOT_DIR.
#[derive(Debug)]
pub struct SnapshotStore {
    dir: PathBuf,
    index: RwLock<Index>,
}

impl SnapshotStore {
    /// Opens (creating) `dir`, removes leftovers of interrupted writes and
    /// reads every set.
    pub fn open(dir: &Path) -> Result<SnapshotStore, StoreError> {
        let dir_err = |source| StoreError::Dir { path: dir.to_owned(), source };
        fs::create_dir_all(dir).map_err(dir_err)?;
        for entry in fs::read_dir(dir).map_err(dir_err)? {
            let entry = entry.map_err(dir_err)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".set-") && name.ends_with(".tmp") {
                tracing::info!(file = %name, "removing an interrupted snapshot write");
                let _ = fs::remove_file(entry.path());
            }
        }
        let store = SnapshotStore { dir: dir.to_owned(), index: RwLock::new(Index::default()) };
        store.rescan()?;
        Ok(store)
    }

    /// Re-reads the directory, verifying every set, so a file damaged since
    /// the last read is reported and no longer served.
    pub fn rescan(&self) -> Result<(), StoreError> {
        let dir_err = |source| StoreError::Dir { path: self.dir.clone(), source };
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(dir_err)? {
            let name = entry.map_err(dir_err)?.file_name().to_string_lossy().into_owned();
            if parse_file_name(&name).is_some() {
                names.push(name);
            }
        }
        names.sort();
        let mut index = Index::default();
        for name in names {
            let sequence = parse_file_name(&name).expect("filtered above");
            index.highest_sequence = index.highest_sequence.max(sequence);
            match read_set(&self.dir.join(&name), sequence) {
                Ok(set) => {
                    index.sets.push(summary(&set));
                    if index.current.as_ref().is_none_or(|c| c.sequence < set.sequence) {
                        index.current = Some(Arc::new(set));
                    }
                }
                Err(reason) => {
                    tracing::error!(file = %name, %reason, "snapshot set failed verification; not served");
                    index.corrupt.push(CorruptFile { file: name, reason });
                }
            }
        }
        *self.index.write().expect("index lock") = index;
        Ok(())
    }

    /// The current golden set.
    pub fn current(&self) -> Option<Arc<SnapshotSet>> {
        self.index.read().expect("index lock").current.clone()
    }

    /// The set a seed with this Idempotency-Key made, if any.
    pub fn by_idempotency_key(&self, key: &str) -> Option<SetSummary> {
        self.index.read().expect("index lock").sets.iter().find(|s| s.idempotency_key.as_deref() == Some(key)).cloned()
    }

    /// A corrupt file newer than the current set: the set that should be
    /// the reference and cannot be.
    pub fn corrupt_newer_than_current(&self) -> Option<CorruptFile> {
        let index = self.index.read().expect("index lock");
        let current = index.current.as_ref().map_or(0, |c| c.sequence);
        index.corrupt.iter().rev().find(|c| parse_file_name(&c.file).is_some_and(|seq| seq > current)).cloned()
    }

    /// The verified set `id` (`set-00000001`), read and verified again.
    pub fn get(&self, id: &str) -> Result<Arc<SnapshotSet>, String> {
        let name = format!("{id}.json");
        let sequence =
            parse_file_name(&name).ok_or_else(|| format!("`{id}` is not a snapshot set id (set-NNNNNNNN)"))?;
        let path = self.dir.join(&name);
        if !path.exists() {
            return Err(format!("there is no snapshot set `{id}`"));
        }
        read_set(&path, sequence).map(Arc::new).map_err(|reason| format!("snapshot set `{id}` is corrupt: {reason}"))
    }

    /// Sets, corrupt files and the current set.
    pub fn listing(&self) -> Listing {
        let index = self.index.read().expect("index lock");
        Listing {
            current: index.current.as_ref().map(|c| c.id.clone()),
            sets: index.sets.clone(),
            corrupt: index.corrupt.clone(),
        }
    }

    /// (verified sets, corrupt files).
    pub fn counts(&self) -> (usize, usize) {
        let index = self.index.read().expect("index lock");
        (index.sets.len(), index.corrupt.len())
    }

    /// Stores `flows` as a new set and makes it current. Either the whole
    /// set is on disk under its final name, or nothing changed.
    pub fn save(
        &self,
        flows: BTreeMap<String, Value>,
        idempotency_key: Option<String>,
        created_at: String,
    ) -> Result<Arc<SnapshotSet>, StoreError> {
        let flows: BTreeMap<String, Value> = flows.into_iter().map(|(k, v)| (k, canonical_json(&v))).collect();
        let hash = content_hash(&flows);
        let mut sequence = self.index.read().expect("index lock").highest_sequence + 1;
        // Replicas sharing a ReadWriteMany volume may pick the same sequence;
        // publishing never overwrites, so the loser takes the next number.
        let (set, path) = loop {
            let set = SnapshotSet {
                id: format!("set-{sequence:08}"),
                sequence,
                created_at: created_at.clone(),
                hash: hash.clone(),
                idempotency_key: idempotency_key.clone(),
                flows: flows.clone(),
            };
            let name = format!("{}.json", set.id);
            let path = self.dir.join(&name);
            let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
            let text = serde_json::to_vec_pretty(&set).expect("snapshot sets serialize");
            match write_atomically(&self.dir, &tmp, &path, &text) {
                Ok(()) => break (set, path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && sequence < u64::from(u32::MAX) => sequence += 1,
                Err(source) => return Err(StoreError::Write { path, source }),
            }
        };
        tracing::info!(set = %set.id, hash = %set.hash, flows = set.flows.len(), file = %path.display(), "snapshot set stored");
        let set = Arc::new(set);
        let mut index = self.index.write().expect("index lock");
        index.highest_sequence = index.highest_sequence.max(sequence);
        index.sets.push(summary(&set));
        index.current = Some(set.clone());
        Ok(set)
    }

    /// Whether SNAPSHOT_DIR accepts new files (creates and removes a probe).
    pub fn check_writable(&self) -> io::Result<()> {
        let probe = self.dir.join(format!(".probe-{}.tmp", std::process::id()));
        File::create(&probe)?.write_all(b"ok")?;
        fs::remove_file(&probe)
    }
}

/// Writes `bytes` to `tmp`, flushes it to disk, publishes it as `path` and
/// flushes the directory, so a crash leaves either the old state or the
/// complete new file. Never replaces an existing `path` (AlreadyExists):
/// the file is published with a hard link, which fails if the name is
/// taken, falling back to a checked rename on filesystems without links.
pub fn write_atomically(dir: &Path, tmp: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let result = (|| {
        let mut file = File::create(tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        match fs::hard_link(tmp, path) {
            Ok(()) => fs::remove_file(tmp)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
            Err(_) if path.exists() => return Err(io::ErrorKind::AlreadyExists.into()),
            Err(_) => fs::rename(tmp, path)?,
        }
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("set-")?.strip_suffix(".json")?;
    (digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
}

fn read_set(path: &Path, sequence: u64) -> Result<SnapshotSet, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let set: SnapshotSet = serde_json::from_slice(&bytes).map_err(|e| format!("not a snapshot set: {e}"))?;
    if set.sequence != sequence || set.id != format!("set-{sequence:08}") {
        return Err(format!("names set `{}` (sequence {}), not its file name", set.id, set.sequence));
    }
    let actual = content_hash(&set.flows);
    if actual != set.hash {
        return Err(format!("content hash mismatch: recorded {}, content is {actual}", set.hash));
    }
    Ok(set)
}

fn summary(set: &SnapshotSet) -> SetSummary {
    SetSummary {
        id: set.id.clone(),
        sequence: set.sequence,
        created_at: set.created_at.clone(),
        hash: set.hash.clone(),
        flows: set.flows.len(),
        idempotency_key: set.idempotency_key.clone(),
    }
}

/// `sha256:<hex>` of the canonical JSON of `flows`.
pub fn content_hash(flows: &BTreeMap<String, Value>) -> String {
    let canonical: BTreeMap<&String, Value> = flows.iter().map(|(k, v)| (k, canonical_json(v))).collect();
    let digest = Sha256::digest(serde_json::to_vec(&canonical).expect("JSON values serialize"));
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256:");
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// The value with object keys sorted at every level, so that key order in
/// an upstream response is not a difference.
pub fn canonical_json(value: &Value) -> Value {
    match value {
        Value::Object(m) => {
            let mut entries: Vec<_> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), canonical_json(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical_json).collect()),
        other => other.clone(),
    }
}

/// The part of a run that a snapshot records: per step its status, HTTP
/// status and body (ignored paths blanked), or the error; never timings.
pub fn normalise(flow: &Flow, report: &RunReport) -> Value {
    let steps: Vec<Value> = report
        .steps
        .iter()
        .map(|s| {
            let mut step = serde_json::Map::new();
            step.insert("id".into(), Value::from(s.id.clone()));
            step.insert("status".into(), serde_json::to_value(s.status).expect("serializes"));
            if let Some(code) = s.http_status {
                step.insert("http_status".into(), Value::from(code));
            }
            if let Some(body) = &s.body {
                let mut body = body.clone();
                for path in &flow.ignore {
                    path.replace_all(&mut body, &Value::from(IGNORED));
                }
                step.insert("body".into(), body);
            }
            if let Some(e) = &s.error {
                step.insert("error".into(), Value::from(e.clone()));
            }
            Value::Object(step)
        })
        .collect();
    canonical_json(&serde_json::json!({ "outcome": report.outcome, "steps": steps }))
}

/// How one flow compares with the golden set.
#[derive(Debug, Clone, Serialize)]
pub struct FlowComparison {
    /// Flow name.
    pub flow: String,
    /// `match`, `mismatch`, `new` (not in the golden set) or `removed`
    /// (in the golden set, no longer a golden flow).
    pub result: &'static str,
    /// A unified diff, golden → current, when they differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// Compares fresh normalised results with `golden`, flow by flow.
pub fn compare(golden: &SnapshotSet, current: &BTreeMap<String, Value>) -> Vec<FlowComparison> {
    let mut out = Vec::new();
    for (name, now) in current {
        let now_text = pretty(now);
        match golden.flows.get(name) {
            None => out.push(FlowComparison { flow: name.clone(), result: "new", diff: None }),
            Some(then) => {
                let then_text = pretty(then);
                if then_text == now_text {
                    out.push(FlowComparison { flow: name.clone(), result: "match", diff: None });
                } else {
                    let diff = similar::TextDiff::from_lines(&then_text, &now_text)
                        .unified_diff()
                        .context_radius(3)
                        .header(&format!("golden/{name} ({})", golden.id), &format!("current/{name}"))
                        .to_string();
                    out.push(FlowComparison { flow: name.clone(), result: "mismatch", diff: Some(diff) });
                }
            }
        }
    }
    for name in golden.flows.keys().filter(|n| !current.contains_key(*n)) {
        out.push(FlowComparison { flow: name.clone(), result: "removed", diff: None });
    }
    out
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(&canonical_json(v)).expect("JSON values serialize");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flows(v: Value) -> BTreeMap<String, Value> {
        [("users".to_owned(), v)].into()
    }

    #[test]
    fn save_then_reopen_serves_the_newest_verified_set() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        assert!(store.current().is_none());
        let a = store.save(flows(json!({"b": 1, "a": 2})), Some("k1".into()), "t1".into()).unwrap();
        let b = store.save(flows(json!({"a": 3})), None, "t2".into()).unwrap();
        assert_eq!((a.sequence, b.sequence), (1, 2));
        // Crash leftovers are not sets.
        fs::write(dir.path().join(".set-00000003.json.77.tmp"), b"{partial").unwrap();
        let reopened = SnapshotStore::open(dir.path()).unwrap();
        assert_eq!(reopened.current().unwrap().id, "set-00000002");
        assert_eq!(reopened.by_idempotency_key("k1").unwrap().id, "set-00000001");
        assert!(!dir.path().join(".set-00000003.json.77.tmp").exists());
        assert_eq!(reopened.current().unwrap().hash, b.hash);
    }

    #[test]
    fn a_corrupt_newest_file_is_reported_and_the_previous_set_served() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        store.save(flows(json!({"v": 1})), None, "t1".into()).unwrap();
        store.save(flows(json!({"v": 2})), None, "t2".into()).unwrap();
        let newest = dir.path().join("set-00000002.json");
        let tampered = fs::read_to_string(&newest).unwrap().replace("\"v\": 2", "\"v\": 3");
        fs::write(&newest, tampered).unwrap();
        fs::write(dir.path().join("set-00000003.json"), b"{\"id\": ").unwrap();
        store.rescan().unwrap();
        assert_eq!(store.current().unwrap().id, "set-00000001");
        let listing = store.listing();
        assert_eq!(listing.corrupt.len(), 2, "{listing:?}");
        assert!(listing.corrupt[0].reason.contains("content hash mismatch"), "{listing:?}");
        // The next seed never reuses a corrupt file's sequence.
        let next = store.save(flows(json!({"v": 4})), None, "t3".into()).unwrap();
        assert_eq!(next.sequence, 4);
    }

    #[test]
    fn a_sequence_taken_by_another_writer_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        // Another replica on the same volume publishes set 1 after we scanned.
        let theirs = b"{\"written\": \"by another replica\"}";
        fs::write(dir.path().join("set-00000001.json"), theirs).unwrap();
        let ours = store.save(flows(json!({"v": 1})), None, "t".into()).unwrap();
        assert_eq!(ours.id, "set-00000002");
        assert_eq!(fs::read(dir.path().join("set-00000001.json")).unwrap(), theirs);
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "no temporary file is left: {names:?}");
    }

    #[test]
    fn key_order_is_not_a_difference_but_values_are() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        let set = store.save(flows(json!({"a": 1, "b": [1, 2]})), None, "t".into()).unwrap();
        let same = compare(&set, &flows(json!({"b": [1, 2], "a": 1})));
        assert_eq!(same[0].result, "match");
        let changed = compare(&set, &flows(json!({"b": [1, 3], "a": 1})));
        assert_eq!(changed[0].result, "mismatch");
        let diff = changed[0].diff.as_deref().unwrap();
        assert!(diff.contains("-    2\n") && diff.contains("+    3\n"), "{diff}");
    }
}
