//! `POST /containers/{id}/attach`: the live output of the container and its
//! stdin. The HTTP upgrade itself is the server's business.

use super::fanout::Subscription;
use super::io::ContainerIo;
use super::ContainerMgr;
use crate::error::Result;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt};

/// What an attached client is connected to.
pub struct AttachStreams {
    pub id: String,
    pub tty: bool,
    /// Live output; ends with [`OutputChunk::End`](super::io::OutputChunk::End)
    /// when the process is gone.
    pub output: Subscription,
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

/// How a client's stdin ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinEnd {
    /// The client closed its input.
    Eof,
    /// The client typed the detach keys: the process keeps running.
    Detached,
}

/// Parses Docker's detach keys (`ctrl-p,ctrl-q`, `a,ctrl-@`); empty means the default.
pub fn parse_detach_keys(s: &str) -> crate::error::Result<Vec<u8>> {
    let s = if s.is_empty() { "ctrl-p,ctrl-q" } else { s };
    let bad = || crate::error::Error::invalid(format!("Invalid detach keys ({s}) provided"));
    s.split(',')
        .map(|k| {
            if let Some(c) = k.strip_prefix("ctrl-") {
                let b = *c.as_bytes().first().ok_or_else(bad)?;
                if c.len() != 1 {
                    return Err(bad());
                }
                match b {
                    b'a'..=b'z' => Ok(b - b'a' + 1),
                    b'@' => Ok(0),
                    b'[' => Ok(27),
                    b'\\' => Ok(28),
                    b']' => Ok(29),
                    b'^' => Ok(30),
                    b'_' => Ok(31),
                    _ => Err(bad()),
                }
            } else if k.len() == 1 {
                Ok(k.as_bytes()[0])
            } else {
                Err(bad())
            }
        })
        .collect()
}

/// Scans input for the detach sequence, holding back a partial match.
struct DetachScanner<'a> {
    keys: &'a [u8],
    matched: usize,
}

impl DetachScanner<'_> {
    /// Bytes to forward from `buf`, and whether the sequence completed.
    fn feed(&mut self, buf: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        for &b in buf {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return true;
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
            } else {
                out.push(b);
            }
        }
        false
    }
}

impl ContainerMgr {
    /// Copies the client's input into stdin until the client closes it or
    /// types `detach_keys`. At EOF, stdin is closed when the container asked
    /// for that (StdinOnce) and has no TTY, as Docker does; a detach never
    /// closes it. Waits for the run's stdin to exist (attach precedes start).
    pub async fn feed_stdin<R: AsyncRead + Unpin>(
        &self,
        streams: &AttachStreams,
        mut input: R,
        detach_keys: &[u8],
    ) -> StdinEnd {
        if !streams.open_stdin {
            return StdinEnd::Eof;
        }
        let io = &streams.io;
        let mut gen = io.stdin_gen.subscribe();
        if !io.has_stdin().await && gen.changed().await.is_err() {
            return StdinEnd::Eof;
        }
        let mut scanner = DetachScanner {
            keys: detach_keys,
            matched: 0,
        };
        let mut buf = vec![0u8; 32 * 1024];
        let mut fwd = Vec::with_capacity(buf.len());
        loop {
            match input.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let detached = scanner.feed(&buf[..n], &mut fwd);
                    if !fwd.is_empty() && !matches!(io.write_stdin(&fwd).await, Ok(true)) {
                        return StdinEnd::Eof;
                    }
                    if detached {
                        if let Ok(c) = self.get(&streams.id) {
                            self.emit(&c.meta(), "detach", &[]);
                        }
                        return StdinEnd::Detached;
                    }
                }
            }
        }
        if streams.stdin_once && !streams.tty {
            io.close_stdin().await;
            if let Err(e) = self.rt.close_stdin(&streams.id, &streams.exec_id).await {
                if !e.is_not_found() {
                    tracing::warn!(id = %streams.id, error = %e, "closing stdin");
                }
            }
        }
        StdinEnd::Eof
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse() {
        assert_eq!(parse_detach_keys("").unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), vec![1, b'x']);
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("abc").is_err());
    }

    #[test]
    fn scanner_holds_partial_matches() {
        let keys = [16u8, 17];
        let mut s = DetachScanner {
            keys: &keys,
            matched: 0,
        };
        let mut out = Vec::new();
        assert!(!s.feed(b"ab\x10", &mut out));
        assert_eq!(out, b"ab");
        assert!(!s.feed(b"c", &mut out));
        assert_eq!(out, b"\x10c");
        assert!(!s.feed(b"\x10", &mut out));
        assert!(s.feed(b"\x11rest", &mut out));
    }
}
