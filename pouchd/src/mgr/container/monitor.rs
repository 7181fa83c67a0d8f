//! Consumes ctrd's runtime events: exits become state changes, restart
//! policies and auto-removal act on them.

use super::state::Status;
use super::store::Container;
use super::ContainerMgr;
use crate::ctrd::{ExitInfo, RuntimeEvent, TaskStatus};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

/// Exit code when a task vanished without a recorded status.
const LOST_EXIT_CODE: i64 = 255;

/// How long an exit waits for the container's output to be copied.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) async fn run(mgr: Weak<ContainerMgr>, mut events: mpsc::Receiver<RuntimeEvent>) {
    while let Some(ev) = events.recv().await {
        let Some(mgr) = mgr.upgrade() else { return };
        match ev {
            RuntimeEvent::TaskExit { id, pid, exit } => {
                if let Ok(c) = mgr.containers.get(&id) {
                    if c.id == id {
                        // Exits of different containers are independent; one
                        // container's lock must not hold up the others.
                        tokio::spawn(async move { mgr.handle_exit(&c, Some(pid), exit).await });
                    }
                }
            }
            RuntimeEvent::ExecExit { id, exec_id, exit } => {
                tokio::spawn(async move { mgr.handle_exec_exit(&id, &exec_id, exit).await });
            }
            RuntimeEvent::TaskOom { id } => {
                if let Ok(c) = mgr.containers.get(&id) {
                    if c.id == id {
                        c.update(|m| m.state.oom_killed = true);
                        mgr.emit(&c.meta(), "oom", &[]);
                    }
                }
            }
            RuntimeEvent::Resync => {
                tokio::spawn(async move { mgr.reconcile().await });
            }
        }
    }
}

impl ContainerMgr {
    /// Records an exit of `c`'s task (pid `pid` when known) and applies the
    /// restart policy or auto-removal.
    pub(super) async fn handle_exit(
        self: &Arc<Self>,
        c: &Arc<Container>,
        pid: Option<u32>,
        exit: ExitInfo,
    ) {
        let op = c.op.lock().await;
        let m = c.meta();
        if !m.state.status.is_alive() {
            return;
        }
        if let Some(pid) = pid {
            if m.state.pid != 0 && pid != 0 && pid != m.state.pid {
                // A late event from an earlier run.
                return;
            }
        }
        // With the exit event's status in hand, waiters are woken before the
        // task is reaped (the shim unmounting the rootfs and exiting is most
        // of an exit's latency); without it (a resync), the reap tells it.
        let reaped_first = match pid {
            None => Some(self.rt.delete_task(&c.id).await),
            Some(_) => None,
        };
        let code = match &reaped_first {
            Some(Ok(Some(e))) => e.exit_status as i64,
            _ => exit.exit_status as i64,
        };
        // As Docker does: the output copiers finish (the shim closes the
        // FIFOs as the process's pipes end) before the exit is visible, so a
        // `wait` followed by `logs` sees the last lines. Bounded, because a
        // process the container left behind may hold the pipes open.
        let mut log = c.io.log.subscribe();
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, log.wait_for(|s| !s.open)).await;
        // As Docker: the network is gone by the time anyone sees the exit.
        self.release_network(c).await;
        let finished = exit.exited_at.unwrap_or_else(chrono::Utc::now);
        let (restart, delay) = c.update(|m| {
            m.state.status = Status::Exited;
            m.state.pid = 0;
            m.state.exit_code = code;
            m.state.finished_at = Some(finished);
            let restart = !m.manually_stopped
                && match m.host_config.restart_policy.name.as_str() {
                    "always" | "unless-stopped" => true,
                    "on-failure" => {
                        code != 0
                            && (m.host_config.restart_policy.maximum_retry_count == 0
                                || (m.restart_count as i64)
                                    < m.host_config.restart_policy.maximum_retry_count)
                    }
                    _ => false,
                };
            // Back-off doubles from 100 ms up to a minute; a run of 10 s or
            // more resets it, as Docker does.
            let ran = m.state.started_at.map(|s| finished - s).unwrap_or_default();
            let steps = if ran >= chrono::Duration::seconds(10) {
                0
            } else {
                m.restart_count.min(10)
            };
            let delay = Duration::from_millis(100 << steps).min(Duration::from_secs(60));
            if restart {
                m.state.status = Status::Restarting;
            }
            (restart, delay)
        });
        // Persisted before anyone waiting hears of it: an exit a client saw
        // through `wait` is still there after a daemon restart.
        if let Err(e) = self.save(c).await {
            tracing::error!(id = %c.id, error = %e, "cannot persist exit");
        }
        c.wait.send_modify(|w| {
            w.exits += 1;
            w.exit_code = code;
            w.running = false;
        });
        self.emit(&c.meta(), "die", &[("exitCode", code.to_string())]);
        // A container on its way out is reaped by its removal's reclaim, so
        // that the removal need not wait for the reap.
        let removal_reaps = !restart
            && (m.host_config.auto_remove || c.removing.load(std::sync::atomic::Ordering::SeqCst));
        if reaped_first.is_none() && !removal_reaps {
            // Off the container's lock, so that a `rm` right after `wait`
            // need not wait for it; a start waits for it (`reap`).
            let reaping = c.reap.clone().lock_owned().await;
            let (rt, id) = (self.rt.clone(), c.id.clone());
            tokio::spawn(async move {
                if let Err(e) = rt.delete_task(&id).await {
                    tracing::warn!(id = %id, error = %e, "cannot delete exited task");
                }
                drop(reaping);
            });
        }
        tracing::info!(id = %c.id, code, restart, "container exited");
        drop(op);
        if restart {
            let mgr = self.clone();
            let c = c.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                mgr.restart_by_policy(&c).await;
            });
        } else if m.host_config.auto_remove {
            if let Err(e) = self.remove_container(c, true, true).await {
                tracing::warn!(id = %c.id, error = %e, "auto-remove failed");
            }
        }
    }

    async fn restart_by_policy(self: &Arc<Self>, c: &Arc<Container>) {
        let _op = c.op.lock().await;
        let m = c.meta();
        if m.state.status != Status::Restarting || m.manually_stopped {
            return;
        }
        c.update(|m| m.restart_count += 1);
        if let Err(e) = self.start_locked(c).await {
            tracing::warn!(id = %c.id, error = %e, "restart by policy failed");
            c.update(|m| m.state.status = Status::Exited);
            let _ = self.save(c).await;
        }
    }

    /// Repairs the cache after events may have been lost: every container we
    /// think alive whose task is gone or stopped gets its exit recorded.
    pub(super) async fn reconcile(self: &Arc<Self>) {
        let tasks = match self.rt.list_tasks().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list tasks to resync");
                return;
            }
        };
        for c in self.all() {
            if !c.meta().state.status.is_alive() {
                continue;
            }
            let exit = match tasks.iter().find(|t| t.id == c.id) {
                Some(t) if t.status == TaskStatus::Stopped => ExitInfo {
                    exit_status: t.exit_status,
                    exited_at: t.exited_at,
                },
                Some(_) => continue,
                None => ExitInfo {
                    exit_status: LOST_EXIT_CODE as u32,
                    exited_at: None,
                },
            };
            self.handle_exit(&c, None, exit).await;
        }
    }
}
