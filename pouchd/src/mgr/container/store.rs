//! The in-memory container store: ID index with unique-prefix lookup and the
//! name registrar, plus each container's live handles.

use super::io::ContainerIo;
use super::state::ContainerMeta;
use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::watch;

/// What waiters see change: exits and removal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitState {
    /// Number of exits since the container was loaded.
    pub exits: u64,
    pub exit_code: i64,
    pub running: bool,
    pub removed: bool,
}

/// A container: persisted metadata behind a short-held std lock (never held
/// across an await), and a tokio lock that serialises lifecycle operations.
pub struct Container {
    pub id: String,
    meta: Mutex<ContainerMeta>,
    pub(super) op: tokio::sync::Mutex<()>,
    pub(super) wait: watch::Sender<WaitState>,
    pub(super) io: Arc<ContainerIo>,
    // Held while the metadata is written, so that of two saves racing on the
    // blocking pool the later write carries the later state.
    pub(super) save_lock: Mutex<()>,
    /// Set when a removal begins: the exit handler then leaves reaping the
    /// task to the removal's reclaim instead of making the removal wait.
    pub(super) removing: std::sync::atomic::AtomicBool,
    /// Held while the exited task is reaped: a new task cannot be created
    /// before the old one is deleted.
    pub(super) reap: Arc<tokio::sync::Mutex<()>>,
}

impl Container {
    pub(super) fn new(meta: ContainerMeta) -> Self {
        let running = meta.state.status.is_alive();
        let (wait, _) = watch::channel(WaitState {
            exits: 0,
            exit_code: meta.state.exit_code,
            running,
            removed: false,
        });
        Container {
            id: meta.id.clone(),
            io: Arc::new(ContainerIo::new()),
            meta: Mutex::new(meta),
            op: tokio::sync::Mutex::new(()),
            removing: Default::default(),
            reap: Default::default(),
            wait,
            save_lock: Mutex::new(()),
        }
    }

    /// A snapshot of the metadata.
    pub fn meta(&self) -> ContainerMeta {
        match self.meta.lock() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Changes the metadata in one place.
    pub(super) fn update<R>(&self, f: impl FnOnce(&mut ContainerMeta) -> R) -> R {
        match self.meta.lock() {
            Ok(mut m) => f(&mut m),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    pub fn name(&self) -> String {
        self.update(|m| m.name.clone())
    }

    pub(super) fn subscribe_wait(&self) -> watch::Receiver<WaitState> {
        self.wait.subscribe()
    }
}

#[derive(Default)]
struct Index {
    by_id: BTreeMap<String, Arc<Container>>,
    names: HashMap<String, String>,
}

/// ID index and name registrar.
#[derive(Default)]
pub struct ContainerStore {
    // std lock: lookups and inserts only, never held across an await.
    inner: RwLock<Index>,
}

impl ContainerStore {
    /// Adds a container, reserving its name; a taken name is a conflict.
    pub fn insert(&self, c: Arc<Container>) -> Result<()> {
        let name = c.name();
        let mut idx = self.write();
        if let Some(other) = idx.names.get(&name) {
            return Err(Error::conflict(format!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        idx.names.insert(name, c.id.clone());
        idx.by_id.insert(c.id.clone(), c);
        Ok(())
    }

    pub fn remove(&self, id: &str) {
        let mut idx = self.write();
        if let Some(c) = idx.by_id.remove(id) {
            let name = c.name();
            if idx.names.get(&name).map(String::as_str) == Some(id) {
                idx.names.remove(&name);
            }
        }
    }

    /// Moves `id` from `old` to `new` name atomically.
    pub fn rename(&self, id: &str, old: &str, new: &str) -> Result<()> {
        let mut idx = self.write();
        if let Some(other) = idx.names.get(new) {
            return Err(Error::conflict(format!(
                "Conflict. The container name \"/{new}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        idx.names.remove(old);
        idx.names.insert(new.to_string(), id.to_string());
        Ok(())
    }

    pub fn name_taken(&self, name: &str) -> bool {
        self.read().names.contains_key(name)
    }

    pub fn get(&self, reference: &str) -> Result<Arc<Container>> {
        let idx = self.read();
        let not_found = || Error::not_found(format!("No such container: {reference}"));
        if reference.is_empty() {
            return Err(not_found());
        }
        if let Some(c) = idx.by_id.get(reference) {
            return Ok(c.clone());
        }
        let name = reference.strip_prefix('/').unwrap_or(reference);
        if let Some(id) = idx.names.get(name) {
            if let Some(c) = idx.by_id.get(id) {
                return Ok(c.clone());
            }
        }
        let mut hits = idx
            .by_id
            .range(reference.to_string()..)
            .take_while(|(k, _)| k.starts_with(reference));
        match (hits.next(), hits.next()) {
            (Some((_, c)), None) => Ok(c.clone()),
            (Some(_), Some(_)) => Err(Error::invalid(format!(
                "multiple IDs found with provided prefix: {reference}"
            ))),
            _ => Err(not_found()),
        }
    }

    pub fn all(&self) -> Vec<Arc<Container>> {
        self.read().by_id.values().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }
}
