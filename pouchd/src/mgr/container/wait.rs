//! `POST /containers/{id}/wait`.

use super::ContainerMgr;
use crate::error::{Error, Result};

/// Docker's wait conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(Error::invalid(format!("invalid condition: {other:?}"))),
        }
    }
}

impl ContainerMgr {
    /// Registers a waiter for `cond` now and returns the future of the exit
    /// code. Registering before returning matters: clients (the docker CLI's
    /// `run`) start the container as soon as the wait request is answered
    /// with its headers, and a fast container must not exit unseen.
    pub fn wait(
        &self,
        reference: &str,
        cond: WaitCondition,
    ) -> Result<impl std::future::Future<Output = Result<i64>> + Send + 'static> {
        let c = self.get(reference)?;
        let mut rx = c.subscribe_wait();
        let start = *rx.borrow_and_update();
        Ok(async move {
            let done = rx
                .wait_for(|w| match cond {
                    WaitCondition::NotRunning => !w.running || w.removed,
                    WaitCondition::NextExit => w.exits > start.exits || w.removed,
                    WaitCondition::Removed => w.removed,
                })
                .await
                .map(|w| *w)
                .map_err(|_| Error::system("container went away"))?;
            Ok(done.exit_code)
        })
    }
}
