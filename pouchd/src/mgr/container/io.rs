//! A container's standard I/O: FIFOs shared with containerd's shim, copiers
//! that write the json-file log and fan output out to attached clients, and
//! the stdin writer.
//!
//! The shim keeps its own read end of each output FIFO open, so while pouchd
//! is down output waits in the pipe (up to its buffer) instead of failing; a
//! restarted pouchd reopens the FIFOs of every running container at once.

use super::fanout::Fanout;
use super::logfile::LogFile;
use crate::ctrd::Stdio;
use crate::error::Result;
use bytes::Bytes;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::sync::watch;

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

impl StreamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Stdout => "stdout",
            StreamKind::Stderr => "stderr",
        }
    }
}

/// What attached clients receive.
#[derive(Debug, Clone)]
pub enum OutputChunk {
    Data(StreamKind, Bytes),
    /// The run's output streams are closed: the process is gone.
    End,
}

/// Progress of the log file, for followers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogState {
    /// Bumped after every write.
    pub writes: u64,
    /// Whether copiers are still running (the container may write more).
    pub open: bool,
}

/// Live I/O handles of one container, kept across its runs.
pub struct ContainerIo {
    pub output: Fanout,
    pub log: watch::Sender<LogState>,
    /// The json-file writer of the current run. Rotation happens under its
    /// lock, so a reader that holds it sees a consistent set of files.
    log_writer: Mutex<Option<Arc<Mutex<LogFile>>>>,
    stdin: tokio::sync::Mutex<Option<pipe::Sender>>,
    /// Bumped when a run with stdin starts, so a waiting attach can pick it up.
    pub stdin_gen: watch::Sender<u64>,
}

/// The FIFOs of one run, opened for reading before the task starts so that
/// no early output is lost.
pub struct RunIo {
    stdout: Option<pipe::Receiver>,
    stderr: Option<pipe::Receiver>,
    stdin: Option<PathBuf>,
}

fn fifo(dir: &Path, name: &str) -> Result<PathBuf> {
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| crate::error::Error::system(format!("mkfifo {}: {e}", p.display())))?;
    Ok(p)
}

/// Creates the FIFOs of a run in `dir`.
pub fn create_fifos(dir: &Path, tty: bool, stdin: bool) -> Result<Stdio> {
    std::fs::create_dir_all(dir)?;
    let path = |p: PathBuf| p.to_string_lossy().into_owned();
    Ok(Stdio {
        stdin: if stdin {
            path(fifo(dir, "stdin")?)
        } else {
            String::new()
        },
        stdout: path(fifo(dir, "stdout")?),
        stderr: if tty {
            String::new()
        } else {
            path(fifo(dir, "stderr")?)
        },
        terminal: tty,
    })
}

/// Opens the read ends of existing FIFOs (new run or recovery).
pub fn open_fifos(stdio: &Stdio) -> Result<RunIo> {
    let open = |p: &str| -> Result<Option<pipe::Receiver>> {
        if p.is_empty() || !Path::new(p).exists() {
            return Ok(None);
        }
        Ok(Some(pipe::OpenOptions::new().open_receiver(p)?))
    };
    Ok(RunIo {
        stdout: open(&stdio.stdout)?,
        stderr: open(&stdio.stderr)?,
        stdin: (!stdio.stdin.is_empty()).then(|| PathBuf::from(&stdio.stdin)),
    })
}

/// The FIFO paths a container's runs use.
pub fn stdio_paths(dir: &Path, tty: bool, stdin: bool) -> Stdio {
    let path = |n: &str| dir.join(n).to_string_lossy().into_owned();
    Stdio {
        stdin: if stdin { path("stdin") } else { String::new() },
        stdout: path("stdout"),
        stderr: if tty { String::new() } else { path("stderr") },
        terminal: tty,
    }
}

impl ContainerIo {
    pub fn new() -> Self {
        let (log, _) = watch::channel(LogState::default());
        let (stdin_gen, _) = watch::channel(0);
        ContainerIo {
            output: Fanout::default(),
            log,
            log_writer: Mutex::new(None),
            stdin: tokio::sync::Mutex::new(None),
            stdin_gen,
        }
    }

    /// Runs `f` with log rotation held off (opening the log files, or
    /// checking for a rotation, must not interleave with one).
    pub fn without_rotation<T>(&self, f: impl FnOnce() -> T) -> T {
        let writer = lock(&self.log_writer).clone();
        match writer {
            Some(w) => {
                let _held = lock(&w);
                f()
            }
            None => f(),
        }
    }

    /// Starts copying a run's output to attached clients and into `log`
    /// (none for exec output, or with the `none` log driver).
    pub async fn start_copying(self: &Arc<Self>, run: RunIo, log: Option<LogFile>) -> Result<()> {
        let writer = log.map(|l| Arc::new(Mutex::new(l)));
        if writer.is_some() {
            *lock(&self.log_writer) = writer.clone();
        }
        let streams: Vec<(StreamKind, pipe::Receiver)> = [
            run.stdout.map(|r| (StreamKind::Stdout, r)),
            run.stderr.map(|r| (StreamKind::Stderr, r)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let active = Arc::new(AtomicUsize::new(streams.len()));
        self.log.send_modify(|s| s.open = !streams.is_empty());
        for (kind, rx) in streams {
            let io = self.clone();
            let writer = writer.clone();
            let active = active.clone();
            tokio::spawn(async move {
                io.copy(kind, rx, writer).await;
                if active.fetch_sub(1, Ordering::AcqRel) == 1 {
                    io.log.send_modify(|s| s.open = false);
                    io.output.send(OutputChunk::End).await;
                }
            });
        }
        if let Some(path) = run.stdin {
            // Read-write so the open never blocks and never fails for want of
            // a reader; EOF reaches the process when this end is dropped.
            let tx = pipe::OpenOptions::new()
                .read_write(true)
                .open_sender(&path)?;
            *self.stdin.lock().await = Some(tx);
            self.stdin_gen.send_modify(|g| *g += 1);
        }
        Ok(())
    }

    async fn copy(
        &self,
        kind: StreamKind,
        mut rx: pipe::Receiver,
        log: Option<Arc<Mutex<LogFile>>>,
    ) {
        let mut buf = vec![0u8; 32 * 1024];
        let mut partial: Vec<u8> = Vec::new();
        loop {
            let n = match rx.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "reading container output");
                    break;
                }
            };
            let data = &buf[..n];
            self.output
                .send(OutputChunk::Data(kind, Bytes::copy_from_slice(data)))
                .await;
            let Some(log) = &log else { continue };
            partial.extend_from_slice(data);
            let mut lines = Vec::new();
            let mut start = 0;
            while let Some(pos) = partial[start..].iter().position(|b| *b == b'\n') {
                lines.push(&partial[start..start + pos + 1]);
                start += pos + 1;
            }
            // Very long lines are split like Docker's 16 KiB log buffer does.
            if partial.len() - start >= 16 * 1024 {
                lines.push(&partial[start..]);
                start = partial.len();
            }
            if !lines.is_empty() {
                self.write_log(log, kind, &lines);
            }
            partial.drain(..start);
        }
        if let (Some(log), false) = (&log, partial.is_empty()) {
            self.write_log(log, kind, &[&partial[..]]);
        }
    }

    fn write_log(&self, log: &Mutex<LogFile>, kind: StreamKind, lines: &[&[u8]]) {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let mut out = Vec::with_capacity(lines.len());
        let format = lock(log).format();
        for line in lines {
            if format == super::logfile::LogFormat::Cri {
                out.push(cri_line(&now, kind, line));
                continue;
            }
            let entry = JsonLogLine {
                log: String::from_utf8_lossy(line),
                stream: kind.as_str().into(),
                time: now.as_str().into(),
            };
            if let Ok(mut v) = serde_json::to_vec(&entry) {
                v.push(b'\n');
                out.push(v);
            }
        }
        let res = match log.lock() {
            Ok(mut f) => f.write_lines(&out),
            Err(p) => p.into_inner().write_lines(&out),
        };
        if let Err(e) = res {
            tracing::warn!(error = %e, "writing container log");
        }
        self.log.send_modify(|s| s.writes += 1);
    }

    /// Reopens the log file at its path (kubelet rotated it).
    pub fn reopen_log(&self) -> std::io::Result<()> {
        let writer = lock(&self.log_writer).clone();
        match writer {
            Some(w) => lock(&w).reopen(),
            None => Ok(()),
        }
    }

    /// Writes client input to the container's stdin.
    pub async fn write_stdin(&self, data: &[u8]) -> std::io::Result<bool> {
        use tokio::io::AsyncWriteExt;
        let mut guard = self.stdin.lock().await;
        match guard.as_mut() {
            Some(tx) => {
                tx.write_all(data).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Closes stdin: the process reads EOF.
    pub async fn close_stdin(&self) {
        self.stdin.lock().await.take();
    }

    pub async fn has_stdin(&self) -> bool {
        self.stdin.lock().await.is_some()
    }
}

/// One line of Docker's json-file log driver.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct JsonLogLine<'a> {
    // Cow: a line with escapes (every "\n") cannot borrow from the input.
    #[serde(borrow)]
    pub log: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub stream: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub time: std::borrow::Cow<'a, str>,
}

/// Locks a std mutex; a panic elsewhere while it was held does not make
/// the log unusable.
/// One CRI log line: `<time> <stream> F <text>` for a whole line, `P` for
/// part of a longer one.
fn cri_line(time: &str, kind: StreamKind, line: &[u8]) -> Vec<u8> {
    let (text, tag) = match line.strip_suffix(b"\n") {
        Some(t) => (t, "F"),
        None => (line, "P"),
    };
    let mut v = Vec::with_capacity(text.len() + time.len() + 12);
    v.extend_from_slice(format!("{time} {} {tag} ", kind.as_str()).as_bytes());
    v.extend_from_slice(text);
    v.push(b'\n');
    v
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
