//! `POST /containers/{id}/attach`: the live output of the container and its
//! stdin. The HTTP upgrade itself is the server's business.

use super::io::{ContainerIo, OutputChunk};
use super::ContainerMgr;
use crate::error::Result;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::broadcast;

/// What an attached client is connected to.
pub struct AttachStreams {
    pub id: String,
    pub tty: bool,
    /// Live output; ends with [`OutputChunk::End`] when the process is gone.
    pub output: broadcast::Receiver<OutputChunk>,
    pub(super) io: Arc<ContainerIo>,
    pub(super) stdin_once: bool,
    pub(super) open_stdin: bool,
    /// Set when attached to an exec process rather than the container's init.
    pub(super) exec_id: String,
    /// For exec: becomes true when the process has exited and its exit code
    /// is recorded; the stream ends only then, so that a client inspecting
    /// the exec right after reads the code.
    pub exited: Option<tokio::sync::watch::Receiver<bool>>,
}

impl ContainerMgr {
    /// Subscribes to the container's output from now on.
    pub fn attach(&self, reference: &str) -> Result<AttachStreams> {
        let c = self.get(reference)?;
        let m = c.meta();
        self.emit(&m, "attach", &[]);
        Ok(AttachStreams {
            id: c.id.clone(),
            tty: m.config.tty,
            output: c.io.output.subscribe(),
            io: c.io.clone(),
            stdin_once: m.config.stdin_once,
            open_stdin: m.config.open_stdin,
            exec_id: String::new(),
            exited: None,
        })
    }
}

impl ContainerMgr {
    /// Copies the client's input into the container's stdin until the client
    /// closes it; then closes stdin if the container wants it closed once.
    /// Waits for the run's stdin to exist (attach comes before start in `run -i`).
    pub async fn feed_stdin<R: AsyncRead + Unpin>(&self, streams: &AttachStreams, mut input: R) {
        if !streams.open_stdin {
            return;
        }
        let io = &streams.io;
        let mut gen = io.stdin_gen.subscribe();
        if !io.has_stdin().await && gen.changed().await.is_err() {
            return;
        }
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match input.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => match io.write_stdin(&buf[..n]).await {
                    Ok(true) => {}
                    _ => return,
                },
            }
        }
        if streams.stdin_once {
            io.close_stdin().await;
            if let Err(e) = self.rt.close_stdin(&streams.id, &streams.exec_id).await {
                if !e.is_not_found() {
                    tracing::warn!(id = %streams.id, error = %e, "closing stdin");
                }
            }
        }
    }
}
