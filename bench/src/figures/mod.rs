//! The figures, in groups (one file per group), and what they share: the
//! context, the container configs, API helpers and the "N at a time" runner.
//!
//! Every group measures both daemons alternately in the same run: for each
//! round, pouchd then dockerd (A B A B ...).

pub mod bulk;
pub mod cli;
pub mod exec;
pub mod http;
pub mod lifecycle;
pub mod list;
pub mod logs;
pub mod memory;
pub mod pull;
pub mod restart;

use crate::client::Conn;
use crate::daemons::Daemon;
use crate::report::{Recorder, Target};
use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One row of the result table.
pub struct Figure {
    pub id: &'static str,
    pub group: &'static str,
    pub title: &'static str,
    pub unit: &'static str,
    pub target: Target,
    /// A breakdown row (printed indented, no target).
    pub detail: bool,
}

const fn fig(
    id: &'static str,
    group: &'static str,
    title: &'static str,
    unit: &'static str,
    target: Target,
) -> Figure {
    Figure {
        id,
        group,
        title,
        unit,
        target,
        detail: false,
    }
}

const fn detail(
    id: &'static str,
    group: &'static str,
    title: &'static str,
    unit: &'static str,
) -> Figure {
    Figure {
        id,
        group,
        title,
        unit,
        target: Target::Info,
        detail: true,
    }
}

use Target::{AbsGe, AbsLe, RatioGe, RatioLe};

/// Every figure, in table order.
#[rustfmt::skip]
pub const FIGURES: &[Figure] = &[
    fig("cli_run", "cli", "docker run --rm --network none busybox true (CLI 20.10)", "ms", RatioLe(0.5)),
    detail("ctr_floor", "cli", "ctr run --rm busybox true on pouchd's containerd (floor)", "ms"),
    fig("api_lifecycle", "lifecycle", "API create+start+wait+delete, 1 connection", "ms", RatioLe(0.5)),
    detail("api_lifecycle.create", "lifecycle", "create", "ms"),
    detail("api_lifecycle.start", "lifecycle", "start", "ms"),
    detail("api_lifecycle.wait", "lifecycle", "wait", "ms"),
    detail("api_lifecycle.delete", "lifecycle", "delete", "ms"),
    fig("create_start_100", "bulk", "create+start 100 containers, 16 at a time", "s", RatioLe(0.4)),
    detail("create_start_100.cpu", "bulk", "daemon CPU time", "s"),
    detail("create_start_100.containerd_cpu", "bulk", "its containerd's CPU time", "s"),
    fig("stop_remove_100", "bulk", "stop+remove 100 containers, 16 at a time", "s", RatioLe(1.0)),
    detail("stop_remove_100.settled", "bulk", "until the last shim exited", "s"),
    fig("list_500", "list", "GET /containers/json?all=1, 500 containers", "ms", RatioLe(0.3)),
    fig("ping_rps", "http", "GET /_ping, 4 connections", "req/s", RatioGe(1.5)),
    fig("version_rps", "http", "GET /version, 4 connections", "req/s", RatioGe(20.0)),
    fig("list_rps_100", "bulk", "GET /containers/json, 100 running, 4 connections", "req/s", RatioGe(5.0)),
    fig("rss_idle", "memory", "daemon RSS, idle (image loaded, no containers)", "MiB", AbsLe(15.0)),
    detail("containerd_rss_idle", "memory", "its containerd's RSS, idle", "MiB"),
    fig("rss_per_container", "bulk", "daemon RSS, extra per running container", "MiB", AbsLe(0.1)),
    detail("containerd_rss_per_container", "bulk", "its containerd's RSS, extra per container", "MiB"),
    detail("shim_pss_per_container", "bulk", "containerd-shim-runc-v2 PSS per container", "MiB"),
    fig("exec", "exec", "exec true through the API (create, attached start, inspect)", "ms", RatioLe(0.7)),
    detail("exec.create", "exec", "exec create", "ms"),
    detail("exec.start", "exec", "exec start, stream to EOF", "ms"),
    detail("exec.inspect", "exec", "exec inspect", "ms"),
    detail("exec.ctr_floor", "exec", "ctr task exec true on pouchd's containerd, less ctr start-up", "ms"),
    detail("exec.unconfined", "exec", "pouchd exec true in a seccomp=unconfined container", "ms"),
    fig("log_write", "logs", "container writes 100 MiB to stdout, 100-byte lines (start..wait)", "s", RatioLe(0.5)),
    detail("log_write.cpu", "logs", "daemon CPU time while writing", "s"),
    fig("logs_read", "logs", "GET /containers/{id}/logs of those 100 MiB", "s", RatioLe(0.1)),
    detail("logs_read.cpu", "logs", "daemon CPU time while reading", "s"),
    detail("logs_read.client_cpu", "logs", "bench client CPU time while reading", "s"),
    detail("logs_read.peak_rss", "logs", "daemon peak RSS while reading (VmHWM)", "MiB"),
    fig("pull_120mb", "pull", "pull 5 x 24 MiB gzip layers from a local registry (image removed before)", "s", RatioLe(0.8)),
    detail("pull_120mb.cpu", "pull", "daemon CPU time", "s"),
    detail("pull_120mb.containerd_cpu", "pull", "its containerd's CPU time", "s"),
    fig("repull", "pull", "pull of that image, already present", "ms", AbsLe(50.0)),
    fig("restart_ready", "restart", "start after kill -9 -> API lists 50 running", "ms", RatioLe(0.5)),
    fig("restart_survivors", "restart", "containers running after that restart (of 50)", "count", AbsGe(50.0)),
];

/// Group order of a run: idle memory first, daemon restarts last.
pub const GROUPS: &[&str] = &[
    "memory",
    "http",
    "cli",
    "lifecycle",
    "exec",
    "bulk",
    "list",
    "logs",
    "pull",
    "restart",
];

pub fn figure(id: &str) -> Option<&'static Figure> {
    FIGURES.iter().find(|f| f.id == id)
}

/// Options every group sees.
pub struct Opts {
    pub rounds: usize,
    pub quick: bool,
    pub docker_cli: PathBuf,
    pub ctr: PathBuf,
}

impl Opts {
    /// Iterations per round: `normal`, or `quick` with `--quick`.
    pub fn iters(&self, normal: usize, quick: usize) -> usize {
        if self.quick {
            quick
        } else {
            normal
        }
    }

    /// Length of a requests/s window.
    pub fn window(&self) -> Duration {
        if self.quick {
            Duration::from_millis(1000)
        } else {
            Duration::from_millis(2000)
        }
    }
}

pub struct Ctx {
    /// [pouchd, dockerd]
    pub daemons: [Daemon; 2],
    pub opts: Opts,
    pub rec: Recorder,
    pub root: PathBuf,
    /// The process holding dockerd's network namespace.
    pub netns_pid: i32,
}

/// Runs one group by name.
pub async fn run_group(name: &str, ctx: &mut Ctx) -> Result<()> {
    match name {
        "memory" => memory::run(ctx).await,
        "http" => http::run(ctx).await,
        "cli" => cli::run(ctx).await,
        "lifecycle" => lifecycle::run(ctx).await,
        "exec" => exec::run(ctx).await,
        "bulk" => bulk::run(ctx).await,
        "list" => list::run(ctx).await,
        "logs" => logs::run(ctx).await,
        "pull" => pull::run(ctx).await,
        "restart" => restart::run(ctx).await,
        other => Err(anyhow!("unknown group {other}")),
    }
}

pub const IMAGE: &str = "busybox";
/// Every container of the bench carries this label.
pub const LABEL: &str = "pouch-bench";

/// A container that runs until stopped and exits at once on SIGTERM (a bare
/// `sleep` as pid 1 would ignore SIGTERM and make `stop` wait its timeout).
pub fn long_running() -> Value {
    oneshot(&["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"])
}

/// A container running `cmd`, without network.
pub fn oneshot(cmd: &[&str]) -> Value {
    json!({
        "Image": IMAGE,
        "Cmd": cmd,
        "Labels": { LABEL: "1" },
        "HostConfig": { "NetworkMode": "none" },
    })
}

pub async fn create(c: &mut Conn, cfg: &Value) -> Result<String> {
    create_at(c, cfg, "/containers/create").await
}

pub async fn create_named(c: &mut Conn, cfg: &Value, name: &str) -> Result<String> {
    create_at(c, cfg, &format!("/containers/create?name={name}")).await
}

async fn create_at(c: &mut Conn, cfg: &Value, path: &str) -> Result<String> {
    let r = c.post(path, Some(cfg)).await?.expect("create", &[201])?;
    r.json()?["Id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("create: no Id in answer"))
}

pub async fn start(c: &mut Conn, id: &str) -> Result<()> {
    c.post(&format!("/containers/{id}/start"), None)
        .await?
        .expect("start", &[204])?;
    Ok(())
}

pub async fn wait(c: &mut Conn, id: &str) -> Result<i64> {
    let r = c
        .post(&format!("/containers/{id}/wait"), None)
        .await?
        .expect("wait", &[200])?;
    r.json()?["StatusCode"]
        .as_i64()
        .ok_or_else(|| anyhow!("wait: no StatusCode"))
}

pub async fn stop(c: &mut Conn, id: &str) -> Result<()> {
    c.post(&format!("/containers/{id}/stop"), None)
        .await?
        .expect("stop", &[204, 304])?;
    Ok(())
}

pub async fn remove(c: &mut Conn, id: &str, force: bool) -> Result<()> {
    let q = if force { "?force=1" } else { "" };
    c.delete(&format!("/containers/{id}{q}"))
        .await?
        .expect("remove", &[204])?;
    Ok(())
}

/// The containers of `GET /containers/json` (all of them with `all`).
pub async fn list(c: &mut Conn, all: bool) -> Result<Vec<Value>> {
    let path = if all {
        "/containers/json?all=1"
    } else {
        "/containers/json"
    };
    let v = c.get(path).await?.expect("list", &[200])?.json()?;
    v.as_array()
        .cloned()
        .ok_or_else(|| anyhow!("list: not an array"))
}

/// Runs `jobs` jobs on `workers` keep-alive connections (each worker takes
/// the next job when done with one). The time counts from when every
/// connection is open until the last job is done; results in job order.
/// After a failure no new job starts, but jobs under way finish: a request
/// dropped half-way would leave the daemon's view of a container to chance.
pub async fn fan_out<T, F, Fut>(
    sock: &Path,
    workers: usize,
    jobs: usize,
    f: F,
) -> Result<(Duration, Vec<T>)>
where
    F: Fn(Conn, usize) -> Fut,
    Fut: Future<Output = Result<(Conn, T)>>,
{
    let mut conns = Vec::new();
    for _ in 0..workers.min(jobs) {
        conns.push(Conn::connect(sock).await?);
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let t0 = Instant::now();
    let work = conns.into_iter().map(|mut c| {
        let (next, failed, f) = (&next, &failed, &f);
        async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= jobs || failed.load(Ordering::Relaxed) {
                    return Ok::<_, anyhow::Error>(out);
                }
                match f(c, i).await {
                    Ok((back, t)) => {
                        c = back;
                        out.push((i, t));
                    }
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
        }
    });
    let done = futures::future::join_all(work).await;
    let elapsed = t0.elapsed();
    let mut all: Vec<(usize, T)> = Vec::new();
    for d in done {
        all.extend(d?);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok((elapsed, all.into_iter().map(|(_, t)| t).collect()))
}

/// Creates (and with `run`, starts) `n` long-running containers, 16 at a
/// time, named `<prefix>-<i>` (pouchd draws generated names from only 22x22
/// words and loops forever once they are taken, so 500 need names).
pub async fn make_containers(d: &Daemon, prefix: &str, n: usize, run: bool) -> Result<Vec<String>> {
    let cfg = long_running();
    let (_, ids) = fan_out(&d.sock, 16, n, |mut c, i| {
        let cfg = &cfg;
        async move {
            let id = create_named(&mut c, cfg, &format!("{prefix}-{i}")).await?;
            if run {
                start(&mut c, &id).await?;
            }
            Ok((c, id))
        }
    })
    .await
    .with_context(|| format!("{}: making {n} containers", d.name()))?;
    Ok(ids)
}

/// Force-removes `ids`, 16 at a time.
pub async fn remove_all(d: &Daemon, ids: &[String]) -> Result<()> {
    fan_out(&d.sock, 16, ids.len(), |mut c, i| async move {
        remove(&mut c, &ids[i], true).await?;
        Ok((c, ()))
    })
    .await
    .with_context(|| format!("{}: removing containers", d.name()))?;
    Ok(())
}

/// Removes every container the daemon has (after a failed group, and at the end).
pub async fn reset(d: &Daemon) -> Result<()> {
    let mut c = d.conn().await?;
    let ids: Vec<String> = list(&mut c, true)
        .await?
        .iter()
        .filter_map(|v| v["Id"].as_str().map(str::to_string))
        .collect();
    remove_all(d, &ids).await
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
