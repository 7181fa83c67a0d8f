//! `POST /containers/{id}/pause` and `/unpause`.

use super::state::Status;
use super::ContainerMgr;
use crate::error::{Error, Result};

impl ContainerMgr {
    pub async fn pause(&self, reference: &str) -> Result<()> {
        let c = self.get(reference)?;
        let _op = c.op.lock().await;
        match c.meta().state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(Error::conflict(format!(
                    "Container {} is already paused",
                    c.id
                )))
            }
            _ => return Err(Self::not_running(&c.id)),
        }
        self.rt.pause(&c.id).await?;
        c.update(|m| m.state.status = Status::Paused);
        self.emit(&c.meta(), "pause", &[]);
        self.save(&c).await
    }

    /// Resizes the container's terminal (only containers with a TTY have one).
    pub async fn resize(&self, reference: &str, width: u32, height: u32) -> Result<()> {
        let c = self.get(reference)?;
        let m = c.meta();
        if !m.state.status.is_alive() {
            return Err(Self::not_running(&c.id));
        }
        if !m.config.tty {
            return Ok(());
        }
        self.rt.resize(&c.id, "", width, height).await
    }

    pub async fn unpause(&self, reference: &str) -> Result<()> {
        let c = self.get(reference)?;
        let _op = c.op.lock().await;
        if c.meta().state.status != Status::Paused {
            return Err(Error::conflict(format!("Container {} is not paused", c.id)));
        }
        self.rt.resume(&c.id).await?;
        c.update(|m| m.state.status = Status::Running);
        self.emit(&c.meta(), "unpause", &[]);
        self.save(&c).await
    }
}
