//! `DELETE /containers/{id}`.

use super::state::Status;
use super::store::Container;
use super::ContainerMgr;
use crate::error::{Error, Result};
use std::sync::Arc;
use std::time::Duration;

impl ContainerMgr {
    /// Removes the container; a running one only with `force` (killed first).
    pub async fn remove(&self, reference: &str, force: bool) -> Result<()> {
        let c = self.get(reference)?;
        self.remove_container(&c, force).await
    }

    pub(super) async fn remove_container(&self, c: &Arc<Container>, force: bool) -> Result<()> {
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
                    self.rt.kill(&c.id, 9, true).await.or_else(|e| {
                        if e.is_not_found() {
                            Ok(())
                        } else {
                            Err(e)
                        }
                    })?;
                    if status == Status::Paused {
                        let _ = self.rt.resume(&c.id).await;
                    }
                } else {
                    c.update(|m| m.state.status = Status::Exited);
                }
            }
        }
        if c.meta().state.status.is_alive() {
            super::stop::wait_stopped(&mut waiter, Some(Duration::from_secs(30))).await?;
        }
        let _op = c.op.lock().await;
        c.update(|m| m.state.status = Status::Removing);
        let cleanup = async {
            self.rt.delete_task(&c.id).await?;
            self.rt.delete_container(&c.id).await?;
            self.rt.remove_snapshot(&c.meta().snapshot_key).await?;
            Ok::<(), Error>(())
        }
        .await;
        if let Err(e) = cleanup {
            c.update(|m| {
                m.state.status = Status::Dead;
                m.state.error = e.to_string();
            });
            let _ = self.save(c).await;
            return Err(e.context(format!("removing container {}", c.id)));
        }
        self.release_network(c).await;
        let _ = std::fs::remove_dir_all(self.cfg.exec_root.join(&c.id));
        self.meta.remove(&c.id)?;
        self.containers.remove(&c.id);
        self.exec_forget_container(&c.id);
        c.wait.send_modify(|w| {
            w.removed = true;
            w.running = false;
        });
        self.emit(&c.meta(), "destroy", &[]);
        tracing::info!(id = %c.id, "container removed");
        Ok(())
    }
}
