//! Starts and supervises a private containerd when none answers on the socket.
//!
//! The containerd we start gets its own config (root and state under pouchd's
//! home, its socket, the CRI plugin disabled because pouchd is the CRI server)
//! and its own process group, so it and the shims it starts outlive pouchd.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

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
    let config = opts.root.join("pouchd-containerd.toml");
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

/// Uses the containerd answering on the socket, or starts one and keeps it
/// running (restarting it with back-off if it dies).
pub async fn ensure_containerd(opts: ContainerdOptions) -> Result<()> {
    if answers(&opts.socket).await {
        tracing::info!(socket = %opts.socket.display(), "using running containerd");
        return Ok(());
    }
    // A stale socket file from a dead containerd would make it fail to listen.
    let _ = std::fs::remove_file(&opts.socket);
    let mut child = spawn(&opts).await?;
    tracing::info!(pid = child.id(), socket = %opts.socket.display(), "started containerd");
    wait_ready(&opts.socket, Duration::from_secs(30)).await?;
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            let status = child.wait().await;
            tracing::warn!(?status, "containerd exited; restarting");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
            if answers(&opts.socket).await {
                // Someone else serves the socket now; stop supervising.
                return;
            }
            let _ = std::fs::remove_file(&opts.socket);
            match spawn(&opts).await {
                Ok(c) => {
                    child = c;
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
    });
    Ok(())
}
