//! `DELETE /containers/{id}`.

use super::state::Status;
use super::store::Container;
use super::ContainerMgr;
use crate::error::{Error, Result};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

impl ContainerMgr {
    /// Removes the container; a running one only with `force` (killed
    /// first); with `volumes` its anonymous volumes too (`rm -v`).
    pub async fn remove(&self, reference: &str, force: bool, volumes: bool) -> Result<()> {
        let c = self.get(reference)?;
        self.remove_container(&c, force, volumes).await
    }

    pub(super) async fn remove_container(
        &self,
        c: &Arc<Container>,
        force: bool,
        volumes: bool,
    ) -> Result<()> {
        let mut waiter = c.subscribe_wait();
        {
            let _op = c.op.lock().await;
            let status = c.meta().state.status;
            if status == Status::Removing {
                return Err(Error::conflict(format!(
                    "removal of container {} is already in progress",
                    c.id
                )));
            }
            if status.is_alive() || status == Status::Restarting {
                if !force {
                    let what = match status {
                        Status::Paused => "paused",
                        Status::Restarting => "restarting",
                        _ => "running",
                    };
                    return Err(Error::conflict(format!(
                        "You cannot remove a {what} container {}. Stop the container before attempting removal or force remove",
                        c.id
                    )));
                }
                c.update(|m| m.manually_stopped = true);
                if status.is_alive() {
                    // The exit this kill brings leaves the task to the reclaim.
                    c.removing.store(true, Ordering::SeqCst);
                    if let Err(e) = self.rt.kill(&c.id, 9, true).await {
                        if !e.is_not_found() {
                            c.removing.store(false, Ordering::SeqCst);
                            return Err(e);
                        }
                    }
                    if status == Status::Paused {
                        let _ = self.rt.resume(&c.id).await;
                    }
                } else {
                    c.update(|m| m.state.status = Status::Exited);
                }
            }
        }
        if c.meta().state.status.is_alive() {
            if let Err(e) =
                super::stop::wait_stopped(&mut waiter, Some(Duration::from_secs(30))).await
            {
                c.removing.store(false, Ordering::SeqCst);
                return Err(e);
            }
        }
        let _op = c.op.lock().await;
        c.removing.store(true, Ordering::SeqCst);
        let previous = c.meta().state.status;
        c.update(|m| m.state.status = Status::Removing);
        // Usually released at the exit already; a container that never ran
        // or whose release failed then gets another go.
        self.release_network(c).await;
        // The metadata going is the removal: from here on a daemon restart
        // no longer knows the container, and its sweep reclaims what
        // containerd still holds.
        if let Err(e) = self.meta.remove(&c.id) {
            c.update(|m| m.state.status = previous);
            c.removing.store(false, Ordering::SeqCst);
            return Err(e.context(format!("removing container {}", c.id)));
        }
        // Volumes are no business of containerd's: released here, before
        // the removal is reported done, so a `volume rm` right after works.
        self.release_mounts(&c.id, &c.meta().mounts, volumes).await;
        self.containers.remove(&c.id);
        self.exec_forget_container(&c.id);
        self.reclaimer.reclaim(
            c.id.clone(),
            c.meta().snapshot_key.clone(),
            Some(c.reap.clone()),
        );
        c.wait.send_modify(|w| {
            w.removed = true;
            w.running = false;
        });
        self.emit(&c.meta(), "destroy", &[]);
        tracing::info!(id = %c.id, "container removed");
        Ok(())
    }
}
