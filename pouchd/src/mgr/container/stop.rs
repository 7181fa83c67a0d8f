//! `POST /containers/{id}/stop` and `/restart`: the stop signal, then SIGKILL
//! after the timeout.

use super::state::Status;
use super::store::Container;
use super::ContainerMgr;
use crate::error::{Error, Result};
use std::sync::Arc;
use std::time::Duration;

const SIGKILL: u32 = 9;
const SIGTERM: u32 = 15;
const DEFAULT_STOP_TIMEOUT: i64 = 10;

impl ContainerMgr {
    /// Stops the container: its stop signal, then SIGKILL after `timeout`
    /// seconds (the container's StopTimeout, else 10; negative waits forever).
    pub async fn stop(&self, reference: &str, timeout: Option<i64>) -> Result<()> {
        let c = self.get(reference)?;
        self.stop_container(&c, timeout).await?;
        self.emit(&c.meta(), "stop", &[]);
        Ok(())
    }

    pub(super) async fn stop_container(
        &self,
        c: &Arc<Container>,
        timeout: Option<i64>,
    ) -> Result<()> {
        let mut waiter = c.subscribe_wait();
        let (signal, timeout) = {
            let _op = c.op.lock().await;
            let m = c.meta();
            match m.state.status {
                Status::Restarting => {
                    // Cancels the pending restart.
                    c.update(|m| {
                        m.manually_stopped = true;
                        m.state.status = Status::Exited;
                    });
                    self.save(c).await?;
                    return Ok(());
                }
                s if !s.is_alive() => {
                    return Err(Error::NotModified(format!(
                        "container {} is already stopped",
                        c.id
                    )))
                }
                _ => {}
            }
            c.update(|m| m.manually_stopped = true);
            self.save(c).await?;
            let paused = m.state.status == Status::Paused;
            let signal = if paused {
                SIGKILL
            } else if m.config.stop_signal.is_empty() {
                SIGTERM
            } else {
                super::kill::parse_signal(&m.config.stop_signal)?
            };
            self.rt.kill(&c.id, signal, paused).await?;
            if paused {
                // A frozen process cannot die until thawed.
                let _ = self.rt.resume(&c.id).await;
            }
            let t = timeout
                .or(m.config.stop_timeout)
                .unwrap_or(DEFAULT_STOP_TIMEOUT);
            (signal, t)
        };
        if signal == SIGKILL {
            return wait_stopped(&mut waiter, None).await;
        }
        let limit = (timeout >= 0).then(|| Duration::from_secs(timeout as u64));
        if wait_stopped(&mut waiter, limit).await.is_ok() {
            return Ok(());
        }
        tracing::info!(id = %c.id, timeout, "container did not stop in time; killing");
        match self.rt.kill(&c.id, SIGKILL, true).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        wait_stopped(&mut waiter, Some(Duration::from_secs(30))).await
    }

    /// Stops (if running) and starts the container again.
    pub async fn restart(&self, reference: &str, timeout: Option<i64>) -> Result<()> {
        let c = self.get(reference)?;
        match self.stop_container(&c, timeout).await {
            Ok(()) | Err(Error::NotModified(_)) => {}
            Err(e) => return Err(e),
        }
        let _op = c.op.lock().await;
        if c.meta().state.status.is_alive() {
            return Ok(());
        }
        c.update(|m| m.manually_stopped = false);
        self.start_locked(&c).await?;
        self.emit(&c.meta(), "restart", &[]);
        Ok(())
    }
}

/// Waits until the container is no longer running.
pub(super) async fn wait_stopped(
    rx: &mut tokio::sync::watch::Receiver<super::store::WaitState>,
    limit: Option<Duration>,
) -> Result<()> {
    let fut = rx.wait_for(|w| !w.running || w.removed);
    let res = match limit {
        Some(d) => tokio::time::timeout(d, fut)
            .await
            .map_err(|_| Error::system("timed out waiting for the container to stop"))?,
        None => fut.await,
    };
    res.map(|_| ())
        .map_err(|_| Error::system("container went away"))
}
