//! Start-up: every persisted container comes back, matched against the
//! tasks containerd still has. Running ones get their FIFOs reopened at once
//! (a FIFO nobody reads blocks the container once its buffer fills).

use super::io;
use super::state::Status;
use super::store::Container;
use super::ContainerMgr;
use crate::ctrd::TaskStatus;
use crate::error::Result;
use std::sync::Arc;

impl ContainerMgr {
    /// Docker's rule for a daemon start: stopped containers with restart
    /// policy `always` start again (even if stopped by hand), `unless-stopped`
    /// ones unless they were stopped by hand. Never-started ones stay.
    fn restart_on_daemon_start(self: &Arc<Self>) {
        for c in self.all() {
            let m = c.meta();
            let wanted = m.state.status == Status::Exited
                && m.state.started_at.is_some()
                && match m.host_config.restart_policy.name.as_str() {
                    "always" => true,
                    "unless-stopped" => !m.manually_stopped,
                    _ => false,
                };
            if !wanted {
                continue;
            }
            let mgr = self.clone();
            tokio::spawn(async move {
                let _op = c.op.lock().await;
                if c.meta().state.status != Status::Exited {
                    return;
                }
                c.update(|m| m.manually_stopped = false);
                if let Err(e) = mgr.start_locked(&c).await {
                    tracing::warn!(id = %c.id, error = %e, "restart at daemon start failed");
                }
            });
        }
    }

    pub(super) async fn recover(self: &Arc<Self>) -> Result<()> {
        let metas: Vec<super::ContainerMeta> = self.meta.load_all()?;
        let tasks = self.rt.list_tasks().await?;
        let mut stale = Vec::new();
        for mut meta in metas {
            meta.upgrade();
            let c = Arc::new(Container::new(meta));
            if let Err(e) = self.containers.insert(c.clone()) {
                tracing::error!(id = %c.id, error = %e, "cannot restore container");
                continue;
            }
            let m = c.meta();
            for r in m.mounts.iter().filter(|r| r.is_volume()) {
                if !self.volumes.add_ref(&r.name, &m.id) {
                    tracing::warn!(id = %m.id, volume = r.name, "volume of container is gone");
                }
            }
            if m.state.status == Status::Removing {
                c.update(|m| m.state.status = Status::Dead);
                continue;
            }
            if m.state.status == Status::Restarting {
                // The pending restart died with the old daemon.
                c.update(|m| m.state.status = Status::Running);
                stale.push(c.clone());
                continue;
            }
            if !m.state.status.is_alive() {
                continue;
            }
            match tasks.iter().find(|t| t.id == m.id) {
                Some(t)
                    if matches!(
                        t.status,
                        TaskStatus::Running | TaskStatus::Paused | TaskStatus::Stopped
                    ) =>
                {
                    let stdio = io::stdio_paths(
                        &self.cfg.exec_root.join(&m.id),
                        m.config.tty,
                        m.config.open_stdin,
                    );
                    match io::open_fifos(&stdio) {
                        Ok(run) => {
                            if let Err(e) =
                                c.io.start_copying(run, Self::open_log(&m).ok().flatten())
                                    .await
                            {
                                tracing::warn!(id = %m.id, error = %e, "cannot reattach output");
                            }
                        }
                        Err(e) => tracing::warn!(id = %m.id, error = %e, "cannot reopen FIFOs"),
                    }
                    c.update(|m| {
                        m.state.pid = t.pid;
                        m.state.status = if t.status == TaskStatus::Paused {
                            Status::Paused
                        } else {
                            Status::Running
                        };
                    });
                    if t.status == TaskStatus::Stopped {
                        stale.push(c.clone());
                    }
                }
                _ => stale.push(c.clone()),
            }
        }
        tracing::info!(
            containers = self.containers.all().len(),
            "containers restored"
        );
        self.release_stale_networks().await;
        self.restart_on_daemon_start();
        // Exits that happened while pouchd was down (and restarts they call for).
        if !stale.is_empty() {
            let mgr = self.clone();
            tokio::spawn(async move { mgr.reconcile().await });
        }
        Ok(())
    }
}
