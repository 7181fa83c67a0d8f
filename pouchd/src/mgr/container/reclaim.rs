//! Giving back what containerd holds for a removed container: its task, its
//! container record and its writable snapshot.
//!
//! For clients a removal is done once the metadata is gone: the name is free,
//! `wait?condition=removed` returns and `destroy` is sent. Reaping the task
//! (runc deleting its state, the shim unmounting the rootfs and exiting) is
//! most of a removal's latency and nothing a client waits on, so it runs
//! after, in the background, retried a few times. What a stopped or killed
//! daemon did not get to (records and snapshots with no metadata) the sweep
//! at the next start reclaims.

use super::ContainerMgr;
use crate::ctrd::Runtime;
use crate::error::Result;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::task::TaskTracker;

/// Tries per container before it is left to the next start-up sweep.
const ATTEMPTS: u32 = 4;
/// The first retry's delay; each next one waits four times longer.
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// The reclaims under way.
pub(super) struct Reclaimer {
    rt: Arc<dyn Runtime>,
    fifo_root: PathBuf,
    running: TaskTracker,
}

impl Reclaimer {
    pub(super) fn new(rt: Arc<dyn Runtime>, fifo_root: PathBuf) -> Self {
        Reclaimer {
            rt,
            fifo_root,
            running: TaskTracker::new(),
        }
    }

    /// Releases, in the background, container `id`'s task and record and the
    /// snapshot `snapshot_key`; after the reap under way, if `reap` is held
    /// (two concurrent deletes of one task make the shim's connection close
    /// under one of them, and containerd loses track of the shim).
    pub(super) fn reclaim(
        &self,
        id: String,
        snapshot_key: String,
        reap: Option<Arc<tokio::sync::Mutex<()>>>,
    ) {
        let rt = self.rt.clone();
        let fifo_dir = self.fifo_root.join(&id);
        self.running.spawn(async move {
            if let Some(reap) = reap {
                drop(reap.lock().await);
            }
            let mut delay = FIRST_RETRY;
            for attempt in 1..=ATTEMPTS {
                match release(&*rt, &id, &snapshot_key).await {
                    Ok(()) => {
                        let _ = std::fs::remove_dir_all(&fifo_dir);
                        tracing::debug!(id = %id, "containerd resources released");
                        return;
                    }
                    Err(e) if attempt == ATTEMPTS => {
                        tracing::warn!(id = %id, error = %e,
                            "cannot release the removed container's containerd resources; the next daemon start retries");
                    }
                    Err(e) => {
                        tracing::debug!(id = %id, error = %e, attempt, "releasing a removed container");
                        tokio::time::sleep(delay).await;
                        delay *= 4;
                    }
                }
            }
        });
    }

    /// Waits for the reclaims under way (and lets new ones start after).
    #[cfg(test)]
    pub(super) async fn settled(&self) {
        self.running.close();
        self.running.wait().await;
        self.running.reopen();
    }

    /// Waits, at most `within`, for the reclaims under way; false when some
    /// are still running then.
    pub(super) async fn drain(&self, within: Duration) -> bool {
        self.running.close();
        tokio::time::timeout(within, self.running.wait())
            .await
            .is_ok()
    }
}

async fn release(rt: &dyn Runtime, id: &str, snapshot_key: &str) -> Result<()> {
    if let Err(e) = rt.delete_task(id).await {
        // Only an orphan found at start-up can still be running: it belongs
        // to no container any more. The retry deletes it once it is dead.
        let _ = rt.kill(id, 9, true).await;
        return Err(e);
    }
    rt.delete_container(id).await?;
    rt.remove_snapshot(snapshot_key).await
}

impl ContainerMgr {
    /// At start-up: reclaims the container records and snapshots pouchd made
    /// for containers whose metadata is gone.
    pub(super) async fn sweep_orphans(&self) {
        let known: HashSet<String> = self.all().iter().map(|c| c.id.clone()).collect();
        let used: HashSet<String> = self
            .all()
            .iter()
            .map(|c| c.meta().snapshot_key.clone())
            .collect();
        let mut claimed = HashSet::new();
        match self.rt.list_containers().await {
            Ok(records) => {
                for r in records.into_iter().filter(|r| !known.contains(&r.id)) {
                    tracing::info!(id = %r.id, "reclaiming a container removed while the daemon was down");
                    claimed.insert(r.snapshot_key.clone());
                    self.reclaimer.reclaim(r.id, r.snapshot_key, None);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list containerd's containers to sweep"),
        }
        match self.rt.list_container_snapshots().await {
            Ok(keys) => {
                for key in keys
                    .into_iter()
                    .filter(|k| !used.contains(k) && !claimed.contains(k))
                {
                    tracing::info!(snapshot = %key, "reclaiming the snapshot of a removed container");
                    // Container snapshots are keyed by their container's ID.
                    self.reclaimer.reclaim(key.clone(), key, None);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list container snapshots to sweep"),
        }
    }

    /// Waits (at most `within`) for the containerd clean-up of removed
    /// containers, before the daemon exits.
    pub async fn shutdown(&self, within: Duration) {
        if !self.reclaimer.drain(within).await {
            tracing::warn!(
                "daemon stopping with container clean-ups unfinished; the next start finishes them"
            );
        }
    }
}
