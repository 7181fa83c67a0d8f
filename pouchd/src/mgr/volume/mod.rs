//! Volume manager: the `local` driver. Each volume is a directory
//! `<home>/volumes/<name>/_data` with its metadata beside it, recovered at
//! start. The manager also counts which containers use which volume, so that
//! a volume in use is never removed or pruned.
//!
//! Knows nothing of HTTP or containerd: the bridge and the container manager
//! call it. Its methods touch the disk and are synchronous; async callers run
//! the slow ones (remove, prune) on the blocking pool.

mod copyup;
mod create;
mod list;
mod name;
mod prune;
mod remove;
mod store;

pub use copyup::copy_up;
pub use create::CreateOptions;
pub use list::VolumeFilters;
pub use name::{anonymous_name, validate_name};
pub use prune::PruneReport;

use crate::error::{Error, Result};
use crate::mgr::events::EventBus;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use store::VolumeMeta;

/// The only driver there is.
pub const LOCAL_DRIVER: &str = "local";

/// A volume as the manager reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub name: String,
    pub driver: String,
    pub labels: HashMap<String, String>,
    pub options: HashMap<String, String>,
    pub created_at: DateTime<Utc>,
    /// The `_data` directory containers mount.
    pub mountpoint: PathBuf,
    /// IDs of the containers that use it, sorted.
    pub refs: Vec<String>,
}

struct Entry {
    meta: VolumeMeta,
    refs: BTreeSet<String>,
}

/// The volume manager.
pub struct VolumeMgr {
    root: PathBuf,
    // std lock: map changes plus the few small file operations that must be
    // atomic with them (a create's mkdir and metadata write, a removal's
    // rename to trash); never held across an await or a recursive delete.
    inner: Mutex<BTreeMap<String, Entry>>,
    events: Arc<EventBus>,
}

impl VolumeMgr {
    /// Opens `root` (`<home>/volumes`), recovering every volume in it;
    /// creations and removals are published on `events`.
    pub fn new(root: impl Into<PathBuf>, events: Arc<EventBus>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        let mut map = BTreeMap::new();
        for meta in store::load_all(&root)? {
            map.insert(
                meta.name.clone(),
                Entry {
                    meta,
                    refs: BTreeSet::new(),
                },
            );
        }
        tracing::info!(count = map.len(), "volumes recovered");
        Ok(VolumeMgr {
            root,
            inner: Mutex::new(map),
            events,
        })
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Docker's volume event (`create`, `destroy`); called without the lock.
    fn emit(&self, action: &str, name: &str) {
        let attrs = HashMap::from([("driver".to_string(), LOCAL_DRIVER.to_string())]);
        self.events.publish("volume", action, name, attrs);
    }

    fn data_dir(&self, name: &str) -> PathBuf {
        store::data_dir(&self.root, name)
    }

    fn view(&self, e: &Entry) -> Volume {
        Volume {
            name: e.meta.name.clone(),
            driver: e.meta.driver.clone(),
            labels: e.meta.labels.clone(),
            options: e.meta.options.clone(),
            created_at: e.meta.created_at,
            mountpoint: self.data_dir(&e.meta.name),
            refs: e.refs.iter().cloned().collect(),
        }
    }

    /// The volume called `name`.
    /// Bytes of the regular files in volume `name` (blocking: walks it).
    pub fn disk_usage(&self, name: &str) -> Result<u64> {
        let v = self.get(name)?;
        Ok(store::disk_usage(&v.mountpoint))
    }

    pub fn get(&self, name: &str) -> Result<Volume> {
        let map = self.lock();
        map.get(name)
            .map(|e| self.view(e))
            .ok_or_else(|| not_found(name))
    }

    /// Records that container `id` uses volume `name` (at daemon start, for
    /// containers recovered from disk). False when there is no such volume.
    pub fn add_ref(&self, name: &str, id: &str) -> bool {
        match self.lock().get_mut(name) {
            Some(e) => {
                e.refs.insert(id.to_string());
                true
            }
            None => false,
        }
    }

    /// Container `id` no longer uses volume `name`.
    pub fn release(&self, name: &str, id: &str) {
        if let Some(e) = self.lock().get_mut(name) {
            e.refs.remove(id);
        }
    }

    /// Root of the volumes, for tests and `docker info`.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

pub(crate) fn not_found(name: &str) -> Error {
    Error::not_found(format!("get {name}: no such volume"))
}

#[cfg(test)]
mod tests;
