//! The two private daemons under the bench dir D:
//!
//! ```text
//! D/pouchd/   home/ run/ pouchd.sock containerd.sock containerd.pid pouchd.pid pouchd.log
//! D/dockerd/  data/ exec/ docker.sock dockerd.pid dockerd.log daemon.json
//! ```
//!
//! pouchd starts its own containerd (its own process group; it outlives
//! pouchd). dockerd starts its own containerd too (exec/containerd/) and runs
//! in a network and mount namespace of its own, held open by a `sleep` loop
//! started with `unshare`, so `--bridge=none` cannot touch the host's
//! `docker0` and its mounts stay out of the host's mount table; restarting
//! dockerd re-enters the same namespaces.

use crate::client::Conn;
use crate::sys;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// containerd namespace of pouchd; its containers' cgroups are `/bench/<id>`.
pub const POUCHD_NAMESPACE: &str = "bench";
/// cgroup parent of dockerd's containers.
pub const DOCKERD_CGROUP: &str = "bench-dockerd";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pouchd,
    Dockerd,
}

pub struct Daemon {
    pub kind: Kind,
    /// D/pouchd or D/dockerd: every process of this daemon (containerd and
    /// shims included) has this path in its command line.
    pub dir: PathBuf,
    pub sock: PathBuf,
    pub containerd_sock: PathBuf,
    pub log: PathBuf,
    program: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl Daemon {
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Pouchd => "pouchd",
            Kind::Dockerd => "dockerd",
        }
    }

    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// pid of the daemon's containerd.
    pub fn containerd_pid(&self) -> Option<i32> {
        let needle = self.dir.to_string_lossy().into_owned();
        sys::find(|c| c == "containerd", &needle)
            .first()
            .map(|p| p.pid)
    }

    /// The containerd shims of this daemon's containerd.
    pub fn shims(&self) -> Vec<sys::Proc> {
        let needle = self.dir.to_string_lossy().into_owned();
        sys::find(|c| c.starts_with("containerd-shim"), &needle)
    }

    /// Starts the daemon process (not waiting for its API).
    pub fn spawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("open {}", self.log.display()))?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("start {}", self.program.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// Polls `GET /_ping` until it answers 200.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Some(st) = c.try_wait()? {
                    bail!(
                        "{} exited during start ({st}); see {}",
                        self.name(),
                        self.log.display()
                    );
                }
            }
            if let Ok(mut c) = Conn::connect(&self.sock).await {
                if let Ok(r) = c.get("/_ping").await {
                    if r.status == 200 {
                        return Ok(());
                    }
                }
            }
            if Instant::now() > end {
                bail!(
                    "{} did not answer on {} within {timeout:?}; see {}",
                    self.name(),
                    self.sock.display(),
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take() {
            sys::signal(c.id() as i32, libc::SIGKILL);
            c.wait()?;
        }
        Ok(())
    }

    /// A new keep-alive connection to the API.
    pub async fn conn(&self) -> Result<Conn> {
        Conn::connect(&self.sock).await
    }
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The bridge of the bench's pouchd.
pub const BENCH_BRIDGE: &str = "pbench0";

pub fn pouchd(root: &Path, bin: &Path) -> Result<Daemon> {
    let dir = root.join("pouchd");
    std::fs::create_dir_all(&dir)?;
    let sock = dir.join("pouchd.sock");
    let containerd_sock = dir.join("containerd.sock");
    let args = vec![
        "--home-dir".into(),
        s(&dir.join("home")),
        "--exec-root-dir".into(),
        s(&dir.join("run")),
        "-l".into(),
        format!("unix://{}", s(&sock)),
        "-c".into(),
        s(&containerd_sock),
        "--default-namespace".into(),
        POUCHD_NAMESPACE.into(),
        // Its own bridge and subnet (the figures use no network, but the
        // daemon sets up the bridge's masquerade rule at start); the sweep
        // removes that rule.
        "--bridge-name".into(),
        BENCH_BRIDGE.into(),
        "--bip".into(),
        "10.214.0.1/24".into(),
        "--pidfile".into(),
        s(&dir.join("pouchd.pid")),
    ];
    Ok(Daemon {
        kind: Kind::Pouchd,
        log: dir.join("pouchd.log"),
        dir,
        sock,
        containerd_sock,
        program: bin.to_path_buf(),
        args,
        child: None,
    })
}

pub fn dockerd(root: &Path, bin: &Path, holder: &Holder) -> Result<Daemon> {
    let dir = root.join("dockerd");
    std::fs::create_dir_all(&dir)?;
    let sock = dir.join("docker.sock");
    let exec = dir.join("exec");
    let config = dir.join("daemon.json");
    // An empty config: nothing from /etc/docker/daemon.json applies.
    std::fs::write(&config, "{}\n")?;
    let mut args = vec![
        "-t".into(),
        holder.pid.to_string(),
        "-n".into(),
        "-m".into(),
        "--".into(),
        s(bin),
    ];
    args.extend([
        format!("--config-file={}", s(&config)),
        format!("--data-root={}", s(&dir.join("data"))),
        format!("--exec-root={}", s(&exec)),
        format!("--host=unix://{}", s(&sock)),
        format!("--pidfile={}", s(&dir.join("dockerd.pid"))),
        "--bridge=none".into(),
        "--iptables=false".into(),
        "--ip-masq=false".into(),
        // Containers keep running across a daemon restart, as with pouchd.
        "--live-restore".into(),
        format!("--cgroup-parent=/{DOCKERD_CGROUP}"),
        // No negative oom_score_adj: this machine lacks CAP_SYS_RESOURCE.
        "--oom-score-adjust=0".into(),
    ]);
    Ok(Daemon {
        kind: Kind::Dockerd,
        log: dir.join("dockerd.log"),
        containerd_sock: exec.join("containerd").join("containerd.sock"),
        dir,
        sock,
        program: PathBuf::from("nsenter"),
        args,
        child: None,
    })
}

/// Holds dockerd's network and mount namespaces open across restarts.
pub struct Holder {
    pub pid: i32,
    child: Child,
}

impl Holder {
    pub fn start(root: &Path) -> Result<Holder> {
        let child = Command::new("unshare")
            .args(["--net", "--mount", "--propagation", "slave", "--"])
            .args(["sh", "-c", "while sleep 3600; do :; done"])
            .arg(root.join("netns-holder"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("start unshare (util-linux)")?;
        let pid = child.id() as i32;
        let mut h = Holder { pid, child };
        // unshare(2) happens after fork: wait until the namespaces differ,
        // or nsenter would enter the host's.
        let mine = |ns: &str| std::fs::read_link(format!("/proc/self/ns/{ns}")).ok();
        let theirs = |ns: &str| std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).ok();
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            let (n, m) = (theirs("net"), theirs("mnt"));
            if n.is_some() && m.is_some() && n != mine("net") && m != mine("mnt") {
                break;
            }
            if let Ok(Some(st)) = h.child.try_wait() {
                bail!("unshare --net --mount failed: {st}");
            }
            if Instant::now() > end {
                h.stop();
                bail!("unshare did not create its namespaces in time");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(h)
    }

    pub fn stop(&mut self) {
        sys::signal(self.pid, libc::SIGKILL);
        let _ = self.child.wait();
    }
}
