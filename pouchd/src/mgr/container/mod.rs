//! Container manager: the container store (ID index and name registrar), and
//! one file per lifecycle operation.
//!
//! Calls down into [`crate::ctrd::Runtime`] and across to the image manager;
//! learns about exits from ctrd's event channel (`monitor`).

mod attach;
mod caps;
mod changes;
mod connect;
mod cp;
mod create;
mod exec;
mod fanout;
mod io;
mod kill;
mod list;
mod logfile;
mod logs;
mod monitor;
mod network;
mod networks;
mod pause;
mod prune;
mod reclaim;
mod recover;
mod remove;
mod rename;
mod seccomp;
mod security;
mod spec;
mod start;
mod state;
mod stats;
mod stop;
mod store;
mod top;
mod update;
mod user;
mod volumes;
mod wait;

pub use attach::{parse_detach_keys, AttachStreams, StdinEnd};
pub use changes::{Change, ChangeKind};
pub use create::CreateResult;
pub use io::{OutputChunk, StreamKind};
pub use list::ListOptions;
pub use logs::{LogEntry, LogsOptions};
pub use network::configured as configured_networks;
pub use prune::PruneOptions;
pub use spec::{parse_bind, Bind};
pub use state::{ContainerMeta, NetworkAttachment, State, Status};
pub use top::Top;
pub use volumes::MountRecord;
pub use wait::WaitCondition;

/// Checks a log driver and its options (for the daemon-wide default).
pub fn validate_log_config(cfg: &pouch_api::container::LogConfig) -> Result<()> {
    logfile::parse(cfg).map(|_| ())
}

use crate::ctrd::{Runtime, RuntimeEvent};
use crate::error::{Error, Result};
use crate::mgr::events::EventBus;
use crate::mgr::image::ImageMgr;
use crate::mgr::network::Network;
use crate::store::MetaStore;
use std::path::PathBuf;
use std::sync::Arc;
use store::ContainerStore;

/// Daemon-wide settings the container manager needs.
#[derive(Debug, Clone)]
pub struct ContainerMgrConfig {
    /// `<home>/containers`: metadata, logs, hosts files.
    pub root: PathBuf,
    /// `<exec-root>`: FIFOs of running containers.
    pub exec_root: PathBuf,
    /// containerd namespace, also the cgroup parent.
    pub namespace: String,
    /// Log driver and options of containers that set none.
    pub log_config: pouch_api::container::LogConfig,
}

/// The container manager.
pub struct ContainerMgr {
    rt: Arc<dyn Runtime>,
    images: Arc<ImageMgr>,
    volumes: Arc<crate::mgr::volume::VolumeMgr>,
    meta: MetaStore,
    containers: ContainerStore,
    // std lock: map operations only.
    execs: Arc<exec::ExecStore>,
    cfg: ContainerMgrConfig,
    events: Arc<EventBus>,
    reclaimer: reclaim::Reclaimer,
    net: Arc<dyn Network>,
    /// Serialises choosing host ports (tokio: held across the CNI calls).
    net_lock: tokio::sync::Mutex<()>,
    /// Serialises rewriting /etc/hosts files, so the last write carries the
    /// latest membership.
    hosts_lock: std::sync::Mutex<()>,
}

impl ContainerMgr {
    /// Builds the manager, recovers persisted containers against containerd's
    /// tasks, and starts the monitor that consumes `events`.
    pub async fn new(
        rt: Arc<dyn Runtime>,
        images: Arc<ImageMgr>,
        net: Arc<dyn Network>,
        cfg: ContainerMgrConfig,
        events: tokio::sync::mpsc::Receiver<RuntimeEvent>,
        bus: Arc<EventBus>,
        volumes: Arc<crate::mgr::volume::VolumeMgr>,
    ) -> Result<Arc<Self>> {
        std::fs::create_dir_all(&cfg.exec_root)?;
        let mgr = Arc::new(ContainerMgr {
            reclaimer: reclaim::Reclaimer::new(rt.clone(), cfg.exec_root.clone()),
            rt,
            images,
            volumes,
            meta: MetaStore::new(&cfg.root, "config.v1.json")?,
            containers: ContainerStore::default(),
            execs: Default::default(),
            cfg,
            events: bus,
            net,
            net_lock: Default::default(),
            hosts_lock: Default::default(),
        });
        mgr.recover().await?;
        mgr.sweep_orphans().await;
        tokio::spawn(monitor::run(Arc::downgrade(&mgr), events));
        Ok(mgr)
    }

    /// Finds a container by full ID, name, or unique ID prefix.
    pub fn get(&self, reference: &str) -> Result<Arc<store::Container>> {
        self.containers.get(reference)
    }

    /// Every container.
    pub fn all(&self) -> Vec<Arc<store::Container>> {
        self.containers.all()
    }

    pub fn image_mgr(&self) -> &ImageMgr {
        &self.images
    }

    pub fn network(&self) -> &dyn Network {
        self.net.as_ref()
    }

    /// Bytes in the container's writable layer, and with the image's.
    pub async fn sizes(&self, m: &ContainerMeta) -> (Option<i64>, Option<i64>) {
        let rw = self
            .rt
            .snapshot_usage(&m.snapshot_key)
            .await
            .ok()
            .map(|s| s as i64);
        let image = self.images.get(&m.image_id).ok().map(|i| i.size);
        (rw, rw.zip(image).map(|(a, b)| a + b))
    }

    /// Publishes a container event with Docker's attributes (image, name, labels).
    fn emit(&self, m: &ContainerMeta, action: &str, extra: &[(&str, String)]) {
        let mut attrs = m.config.labels.clone();
        attrs.insert("image".to_string(), m.config.image.clone());
        attrs.insert("name".to_string(), m.name.clone());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events.publish("container", action, &m.id, attrs);
    }

    /// The log file of a new run, or `None` with the `none` driver.
    fn open_log(m: &ContainerMeta) -> Result<Option<logfile::LogFile>> {
        match logfile::parse(&m.host_config.log_config)? {
            Some(opts) => Ok(Some(logfile::LogFile::open(
                std::path::Path::new(&m.log_path),
                opts,
            )?)),
            None => Ok(None),
        }
    }

    /// Persists `c`'s metadata on the blocking pool: the write fsyncs twice,
    /// which on a runtime worker would stall every other request.
    async fn save(&self, c: &Arc<store::Container>) -> Result<()> {
        let (c, meta) = (c.clone(), self.meta.clone());
        tokio::task::spawn_blocking(move || {
            let _guard = c.save_lock.lock().unwrap_or_else(|p| p.into_inner());
            let snapshot = c.meta();
            meta.save(&snapshot.id, &snapshot)
        })
        .await
        .map_err(|e| Error::system(format!("saving metadata: {e}")))?
    }

    fn not_running(id: &str) -> Error {
        Error::conflict(format!("Container {id} is not running"))
    }
}

pub use store::Container;

#[cfg(test)]
mod network_tests;
#[cfg(test)]
mod tests;
