//! Streaming an attached container (`run`, `start -a`): output to the
//! local stdout/stderr, local stdin to the container (half-closed at EOF),
//! detach keys, TTY resizing and signal forwarding.

use std::io::Write as _;

use futures::StreamExt;
use pouch_client::{AttachStdin, Attached, Client, StreamKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::term;

/// How an attached session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// The container's output ended.
    Done,
    /// The user typed the detach keys.
    Detached,
}

/// Default detach sequence: ctrl-p, ctrl-q.
pub const DEFAULT_DETACH_KEYS: [u8; 2] = [0x10, 0x11];

/// Parse `--detach-keys` (`ctrl-p,ctrl-q`, `ctrl-a,x`): `ctrl-X` for
/// `X` in `a-z @ [ \ ] ^ _`, or a single character.
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>, String> {
    let invalid = || format!("Invalid detach keys ({s}) provided");
    let mut out = Vec::new();
    for key in s.split(',') {
        let b = match key.strip_prefix("ctrl-") {
            Some(k) if k.len() == 1 => {
                let c = k.as_bytes()[0].to_ascii_lowercase();
                match c {
                    b'a'..=b'z' => c - b'a' + 1,
                    b'@' => 0,
                    b'[' | b'\\' | b']' | b'^' | b'_' => c - b'@',
                    _ => return Err(invalid()),
                }
            }
            None if key.len() == 1 => key.as_bytes()[0],
            _ => return Err(invalid()),
        };
        out.push(b);
    }
    Ok(out)
}

/// Recognizes a detach sequence in a byte stream, passing other bytes on
/// (Docker's escape proxy: a partial match is held back until it fails).
#[derive(Debug)]
pub struct EscapeProxy {
    keys: Vec<u8>,
    matched: usize,
}

impl EscapeProxy {
    pub fn new(keys: Vec<u8>) -> Self {
        Self { keys, matched: 0 }
    }

    /// Filter `input`: the bytes to forward, and whether the full
    /// sequence was seen (bytes after it are dropped).
    pub fn filter(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return (out, false);
        }
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
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
        (out, false)
    }
}

/// Copy local stdin into the container until EOF, then half-close.
async fn copy_stdin(
    mut input: AttachStdin,
    mut escape: Option<EscapeProxy>,
    detached: oneshot::Sender<()>,
) {
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let (data, detach) = match escape.as_mut() {
            Some(p) => p.filter(&buf[..n]),
            None => (buf[..n].to_vec(), false),
        };
        if !data.is_empty()
            && (input.write_all(&data).await.is_err() || input.flush().await.is_err())
        {
            return;
        }
        if detach {
            let _ = detached.send(());
            return;
        }
    }
    let _ = input.close_write().await;
}

/// Stream an attached container until its output ends (or the user
/// detaches). With `stdin`, local stdin is copied to the container; with
/// `tty` the detach keys are recognized in it.
pub async fn stream(
    attached: Attached,
    stdin: bool,
    tty: bool,
    detach_keys: Vec<u8>,
) -> Result<StreamEnd, pouch_client::Error> {
    let Attached { mut output, input } = attached;
    let (detach_tx, mut detach_rx) = oneshot::channel();
    // Keep the write half alive while output flows, even without stdin.
    let _input_holder = if stdin {
        let escape = tty.then(|| EscapeProxy::new(detach_keys));
        tokio::spawn(copy_stdin(input, escape, detach_tx));
        None
    } else {
        Some((input, detach_tx))
    };
    let mut stdin_done = false;
    loop {
        let chunk = tokio::select! {
            c = output.next() => c,
            r = &mut detach_rx, if !stdin_done => {
                if r.is_ok() {
                    return Ok(StreamEnd::Detached);
                }
                // The stdin copier finished: keep streaming output.
                stdin_done = true;
                continue;
            }
        };
        let Some(chunk) = chunk else {
            return Ok(StreamEnd::Done);
        };
        let chunk = chunk?;
        let res = match chunk.stream {
            StreamKind::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(&chunk.data).and_then(|()| out.flush())
            }
            StreamKind::Stderr => {
                let mut err = std::io::stderr().lock();
                err.write_all(&chunk.data).and_then(|()| err.flush())
            }
        };
        res?;
    }
}

/// What a TTY size applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TtyTarget {
    Container(String),
    Exec(String),
}

async fn resize(client: &Client, target: &TtyTarget, h: u16, w: u16) -> pouch_client::Result<()> {
    match target {
        TtyTarget::Container(id) => client.containers().resize(id, h, w).await,
        TtyTarget::Exec(id) => client.exec().exec_resize(id, h, w).await,
    }
}

/// Send the local terminal size to the container now and on every
/// SIGWINCH. Errors are ignored (the daemon may not support resize).
pub async fn monitor_tty_size(client: &Client, id: &str) {
    monitor_size(client, TtyTarget::Container(id.to_string()), false).await;
}

/// Send the local terminal size to `target` now (before returning, so the
/// process sees it as early as possible) and on every SIGWINCH. A failed
/// first resize is retried a few times in the background (an exec's
/// process may not exist yet), as docker's `initTtySize`. With `bump`,
/// the size is first set one larger, so that a program redraws on
/// re-attach (docker's `attach` does it).
pub async fn monitor_size(client: &Client, target: TtyTarget, bump: bool) {
    let size = term::size();
    let mut ok = true;
    if let Some((h, w)) = size {
        if bump {
            let _ = resize(client, &target, h.saturating_add(1), w.saturating_add(1)).await;
        }
        ok = resize(client, &target, h, w).await.is_ok();
    }
    let client = client.clone();
    tokio::spawn(async move {
        if let (false, Some((h, w))) = (ok, size) {
            for retry in 0..10u64 {
                tokio::time::sleep(std::time::Duration::from_millis((retry + 1) * 10)).await;
                ok = resize(&client, &target, h, w).await.is_ok();
                if ok {
                    break;
                }
            }
            if !ok {
                eprint!("failed to resize tty, using default size\r\n");
            }
        }
        let Ok(mut winch) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        else {
            return;
        };
        while winch.recv().await.is_some() {
            if let Some((h, w)) = term::size() {
                let _ = resize(&client, &target, h, w).await;
            }
        }
    });
}

/// Forward the signals a user sends to `pouch` (Ctrl-C, `kill`) to the
/// container, as docker's `--sig-proxy`.
pub fn forward_signals(client: &Client, id: &str) {
    use tokio::signal::unix::{signal, SignalKind};
    let kinds = [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::quit(), "SIGQUIT"),
        (SignalKind::user_defined1(), "SIGUSR1"),
        (SignalKind::user_defined2(), "SIGUSR2"),
    ];
    for (kind, name) in kinds {
        let Ok(mut sig) = signal(kind) else { continue };
        let client = client.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            while sig.recv().await.is_some() {
                if let Err(e) = client.containers().kill(&id, Some(name)).await {
                    eprintln!("error forwarding {name} to the container: {e}");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys() {
        assert_eq!(
            parse_detach_keys("ctrl-p,ctrl-q").unwrap(),
            DEFAULT_DETACH_KEYS
        );
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), [1, b'x']);
        assert_eq!(parse_detach_keys("ctrl-@,ctrl-_").unwrap(), [0, 31]);
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("ab").is_err());
    }

    #[test]
    fn escape_proxy() {
        let mut p = EscapeProxy::new(DEFAULT_DETACH_KEYS.to_vec());
        assert_eq!(p.filter(b"ls\r"), (b"ls\r".to_vec(), false));
        // A lone ctrl-p is held back, then passed on with what follows.
        assert_eq!(p.filter(&[0x10]), (vec![], false));
        assert_eq!(p.filter(b"a"), (vec![0x10, b'a'], false));
        assert_eq!(p.filter(&[0x10, 0x10]), (vec![0x10], false));
        assert_eq!(p.filter(&[0x11, b'z']), (vec![], true));
        let mut p = EscapeProxy::new(DEFAULT_DETACH_KEYS.to_vec());
        assert_eq!(p.filter(&[b'x', 0x10, 0x11]), (vec![b'x'], true));
    }
}
