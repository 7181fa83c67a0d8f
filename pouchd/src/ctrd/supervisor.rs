//! Starts and supervises a private containerd when none answers on the socket.
//!
//! The containerd we start gets its own config (root and state under pouchd's
//! home, its socket, the CRI plugin disabled because pouchd is the CRI server)
//! and its own process group, so it and the shims it starts outlive pouchd.

use crate::error::{Error, Result};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// The config pouchd writes for its containerd, under its root.
const CONFIG_FILE: &str = "pouchd-containerd.toml";

/// How to reach or start containerd.
#[derive(Debug, Clone)]
pub struct ContainerdOptions {
    pub socket: PathBuf,
    /// The containerd binary to start when nothing answers on `socket`.
    pub binary: PathBuf,
    /// Where its root (content, snapshots) lives.
    pub root: PathBuf,
    /// Where its state (sockets, shim bundles) lives.
    pub state: PathBuf,
}

async fn answers(socket: &Path) -> bool {
    if !socket.exists() {
        return false;
    }
    let Ok(ch) = containerd_client::connect(socket).await else {
        return false;
    };
    let mut v = containerd_client::services::v1::version_client::VersionClient::new(ch);
    matches!(
        tokio::time::timeout(Duration::from_secs(2), v.version(())).await,
        Ok(Ok(_))
    )
}

fn config_toml(opts: &ContainerdOptions) -> String {
    // Paths are written as TOML basic strings; they come from our own flags.
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    format!(
        "version = 2\nroot = {root}\nstate = {state}\noom_score = 0\n\
         disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\n\
         [grpc]\n  address = {sock}\n\n[debug]\n  level = \"info\"\n",
        root = q(&opts.root),
        state = q(&opts.state),
        sock = q(&opts.socket),
    )
}

async fn spawn(opts: &ContainerdOptions) -> Result<tokio::process::Child> {
    std::fs::create_dir_all(&opts.root)?;
    std::fs::create_dir_all(&opts.state)?;
    if let Some(dir) = opts.socket.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let config = opts.root.join(CONFIG_FILE);
    std::fs::write(&config, config_toml(opts))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(opts.root.join("containerd.log"))?;
    let log2 = log.try_clone()?;
    let child = Command::new(&opts.binary)
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0)
        .kill_on_drop(false)
        .spawn()
        .map_err(|e| Error::Unavailable(format!("start {}: {e}", opts.binary.display())))?;
    // For tools that stop it (hack/stop, test cleanup): it outlives pouchd.
    if let Some(pid) = child.id() {
        let _ = std::fs::write(opts.socket.with_extension("pid"), format!("{pid}\n"));
    }
    Ok(child)
}

async fn wait_ready(socket: &Path, limit: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if answers(socket).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(Error::Unavailable(format!(
        "containerd did not answer on {} within {:?}",
        socket.display(),
        limit
    )))
}

/// A containerd process being supervised: one we started, or one a previous
/// pouchd started (found through the pid file) and we took over.
enum Watched {
    Child(tokio::process::Child),
    Adopted(tokio::io::unix::AsyncFd<OwnedFd>),
}

impl Watched {
    async fn exited(&mut self) {
        match self {
            Watched::Child(c) => {
                let status = c.wait().await;
                tracing::warn!(?status, "containerd exited; restarting");
            }
            // A pidfd becomes readable when its process exits.
            Watched::Adopted(fd) => {
                let _ = fd.readable().await;
                tracing::warn!("containerd (started by an earlier pouchd) exited; restarting");
            }
        }
    }
}

/// The containerd a previous pouchd started for these options, if it still
/// runs: the pid file names it and its command line carries our config.
fn adopt(opts: &ContainerdOptions) -> Option<Watched> {
    let pid: i32 = std::fs::read_to_string(opts.socket.with_extension("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let config = opts.root.join(CONFIG_FILE);
    let ours = cmdline
        .split(|b| *b == 0)
        .any(|a| a == config.as_os_str().as_encoded_bytes());
    if !ours {
        return None;
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd (or -1);
    // no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the fd was just returned by the kernel and is owned by no one else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: the OwnedFd moves into the AsyncFd and stays open, the same
    // fd, until the AsyncFd is dropped.
    unsafe { tokio::io::unix::AsyncFd::register(fd) }
        .ok()
        .map(Watched::Adopted)
}

/// Uses the containerd answering on the socket, or starts one and keeps it
/// running (restarting it with back-off if it dies). A containerd that an
/// earlier pouchd started is supervised the same way; one started by anyone
/// else is used but left to whoever runs it.
pub async fn ensure_containerd(opts: ContainerdOptions) -> Result<()> {
    let watched = if answers(&opts.socket).await {
        match adopt(&opts) {
            Some(w) => {
                tracing::info!(socket = %opts.socket.display(), "supervising the containerd an earlier pouchd started");
                w
            }
            None => {
                tracing::info!(socket = %opts.socket.display(), "using running containerd");
                return Ok(());
            }
        }
    } else {
        // A stale socket file from a dead containerd would make it fail to listen.
        let _ = std::fs::remove_file(&opts.socket);
        let child = spawn(&opts).await?;
        tracing::info!(pid = child.id(), socket = %opts.socket.display(), "started containerd");
        wait_ready(&opts.socket, Duration::from_secs(30)).await?;
        Watched::Child(child)
    };
    tokio::spawn(supervise(opts, watched));
    Ok(())
}

async fn supervise(opts: ContainerdOptions, mut watched: Watched) {
    let mut backoff = Duration::from_millis(200);
    loop {
        watched.exited().await;
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
        if answers(&opts.socket).await {
            // Someone else serves the socket now; stop supervising.
            return;
        }
        let _ = std::fs::remove_file(&opts.socket);
        match spawn(&opts).await {
            Ok(c) => {
                watched = Watched::Child(c);
                if wait_ready(&opts.socket, Duration::from_secs(30))
                    .await
                    .is_ok()
                {
                    backoff = Duration::from_millis(200);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot restart containerd");
                return;
            }
        }
    }
}
