//! The object store: every object by (group, resource, namespace, name), one
//! monotonic resourceVersion counter, and a bounded history of changes that
//! watches replay from (older than the history gives 410 Gone, as etcd
//! compaction does).

use std::collections::{BTreeMap, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::Error;

/// Where an object lives. `namespace` is empty for cluster-scoped objects.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub group: String,
    pub plural: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(group: &str, plural: &str, namespace: &str, name: &str) -> Self {
        ObjectKey { group: group.into(), plural: plural.into(), namespace: namespace.into(), name: name.into() }
    }
}

/// The type of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change to the store.
#[derive(Clone, Debug)]
pub struct Change {
    pub rv: u64,
    pub event: EventType,
    pub key: ObjectKey,
    pub object: Arc<Value>,
}

struct Inner {
    objects: BTreeMap<ObjectKey, Arc<Value>>,
    rv: u64,
    history: VecDeque<Arc<Change>>,
    /// The newest resourceVersion no longer in `history`.
    compacted: u64,
    log: Option<std::fs::File>,
}

/// The sandbox's etcd.
pub struct Store {
    inner: Mutex<Inner>,
    history_limit: usize,
    changes: broadcast::Sender<Arc<Change>>,
    log_path: Option<PathBuf>,
}

/// The changes after a resourceVersion: the backlog, then a receiver.
pub type Following = (Vec<Arc<Change>>, broadcast::Receiver<Arc<Change>>);

/// Why a watch cannot start at the requested resourceVersion.
#[derive(Debug)]
pub struct TooOld {
    pub oldest: u64,
}

impl Store {
    /// An empty store, or the one persisted in `state_dir`.
    pub fn open(state_dir: Option<&Path>, history_limit: usize) -> Result<Self, Error> {
        let (changes, _) = broadcast::channel(4096);
        let mut inner = Inner { objects: BTreeMap::new(), rv: 0, history: VecDeque::new(), compacted: 0, log: None };
        let log_path = state_dir.map(|d| d.join("objects.jsonl"));
        if let Some(path) = &log_path {
            load_log(path, &mut inner)?;
            inner.compacted = inner.rv;
            // Rewrite the log compacted: one line per live object.
            let tmp = path.with_extension("jsonl.tmp");
            // Secrets are stored in clear: owner-only, as the directory.
            let mut file = crate::create_private(&tmp).map_err(|e| Error::io(&tmp, e))?;
            writeln!(file, "{}", json!({"rv": inner.rv})).map_err(|e| Error::io(&tmp, e))?;
            for (key, object) in &inner.objects {
                let line = json!({"put": key_json(key), "object": object.as_ref()});
                writeln!(file, "{line}").map_err(|e| Error::io(&tmp, e))?;
            }
            file.sync_all().map_err(|e| Error::io(&tmp, e))?;
            std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
            inner.log = Some(std::fs::OpenOptions::new().append(true).open(path).map_err(|e| Error::io(path, e))?);
        }
        Ok(Store { inner: Mutex::new(inner), history_limit: history_limit.max(1), changes, log_path })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// Allocates the next resourceVersion without storing anything (used for
    /// bookmarks and list responses).
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<Value>> {
        self.lock().objects.get(key).cloned()
    }

    /// Objects of one resource, in one namespace or all (`None`), sorted by
    /// namespace and name, with the resourceVersion they were read at.
    pub fn list(&self, group: &str, plural: &str, namespace: Option<&str>) -> (Vec<Arc<Value>>, u64) {
        let inner = self.lock();
        let start = ObjectKey::new(group, plural, namespace.unwrap_or(""), "");
        let items = inner
            .objects
            .range(start..)
            .take_while(|(k, _)| k.group == group && k.plural == plural && namespace.is_none_or(|ns| k.namespace == ns))
            .map(|(_, v)| v.clone())
            .collect();
        (items, inner.rv)
    }

    /// Every object in a namespace, of every resource (namespace deletion,
    /// garbage collection).
    pub fn in_namespace(&self, namespace: &str) -> Vec<(ObjectKey, Arc<Value>)> {
        self.lock()
            .objects
            .iter()
            .filter(|(k, _)| k.namespace == namespace)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Every object (garbage collection of cluster-scoped owners).
    pub fn all(&self) -> Vec<(ObjectKey, Arc<Value>)> {
        self.lock().objects.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Stores `object` under `key` after `check` approves the current value
    /// (run under the store's lock, so check-and-write is atomic). The
    /// object's `metadata.resourceVersion` is set to the new version.
    pub fn write<E>(
        &self,
        key: &ObjectKey,
        mut object: Value,
        check: impl FnOnce(Option<&Value>) -> Result<(), E>,
    ) -> Result<Arc<Value>, E> {
        let mut inner = self.lock();
        let current = inner.objects.get(key).cloned();
        check(current.as_deref())?;
        inner.rv += 1;
        let rv = inner.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let object = Arc::new(object);
        let event = if current.is_some() { EventType::Modified } else { EventType::Added };
        inner.objects.insert(key.clone(), object.clone());
        self.record(&mut inner, rv, event, key, object.clone());
        Ok(object)
    }

    /// Removes the object under `key` after `check` approves it; returns the
    /// removed object with its final resourceVersion.
    pub fn remove<E>(
        &self,
        key: &ObjectKey,
        check: impl FnOnce(Option<&Value>) -> Result<(), E>,
    ) -> Result<Option<Arc<Value>>, E> {
        let mut inner = self.lock();
        let current = inner.objects.get(key).cloned();
        check(current.as_deref())?;
        let Some(current) = current else {
            return Ok(None);
        };
        inner.objects.remove(key);
        inner.rv += 1;
        let rv = inner.rv;
        let mut object = current.as_ref().clone();
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let object = Arc::new(object);
        self.record(&mut inner, rv, EventType::Deleted, key, object.clone());
        Ok(Some(object))
    }

    fn record(&self, inner: &mut Inner, rv: u64, event: EventType, key: &ObjectKey, object: Arc<Value>) {
        if let Some(log) = inner.log.as_mut() {
            let line = match event {
                EventType::Deleted => json!({"rv": rv, "delete": key_json(key)}),
                _ => json!({"rv": rv, "put": key_json(key), "object": object.as_ref()}),
            };
            if let Err(e) = writeln!(log, "{line}") {
                tracing::error!(path = ?self.log_path, "failed to persist a change: {e}");
            }
        }
        let change = Arc::new(Change { rv, event, key: key.clone(), object });
        inner.history.push_back(change.clone());
        while inner.history.len() > self.history_limit {
            if let Some(old) = inner.history.pop_front() {
                inner.compacted = old.rv;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = self.changes.send(change);
    }

    /// Starts following changes after `rv`: the history since then plus a
    /// receiver for what comes next, taken atomically so nothing is missed
    /// or repeated.
    pub fn follow(&self, rv: u64) -> Result<Following, TooOld> {
        let inner = self.lock();
        if rv < inner.compacted {
            return Err(TooOld { oldest: inner.compacted });
        }
        let backlog = inner.history.iter().filter(|c| c.rv > rv).cloned().collect();
        Ok((backlog, self.changes.subscribe()))
    }

    /// Forgets the change history, as an etcd compaction does: watches from
    /// any earlier resourceVersion then get 410 Gone.
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.history.clear();
        inner.compacted = inner.rv;
    }
}

fn key_json(key: &ObjectKey) -> Value {
    json!([key.group, key.plural, key.namespace, key.name])
}

fn load_log(path: &Path, inner: &mut Inner) -> Result<(), Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(path, e)),
    };
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // A line cut short by a crash is the last one; anything else that does
        // not parse is corruption, reported with its place.
        let entry: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) if index + 1 == text.lines().count() => break,
            Err(e) => return Err(Error::State(format!("{}:{}: not a store entry: {e}", path.display(), index + 1))),
        };
        if let Some(rv) = entry["rv"].as_u64() {
            inner.rv = inner.rv.max(rv);
        }
        let key = |v: &Value| -> Option<ObjectKey> {
            let a = v.as_array()?;
            Some(ObjectKey::new(a.first()?.as_str()?, a.get(1)?.as_str()?, a.get(2)?.as_str()?, a.get(3)?.as_str()?))
        };
        if let Some(k) = key(&entry["put"]) {
            inner.objects.insert(k, Arc::new(entry["object"].clone()));
        } else if let Some(k) = key(&entry["delete"]) {
            inner.objects.remove(&k);
        }
    }
    Ok(())
}
