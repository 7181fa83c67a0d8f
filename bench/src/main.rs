//! pouch-bench: pouchd against Debian's dockerd, on the same machine, in the
//! same run. Run it with `hack/bench` (root). See BENCHMARKS.md.
//!
//! Both daemons are private: everything lives in `/tmp/pouch-bench-<pid>`,
//! which is swept (containers, daemons, their containerds and shims, mounts,
//! cgroups, the namespaces, the directory) at the end, on Ctrl-C and on
//! errors; `--cleanup-only` sweeps what a killed run left.

mod client;
mod daemons;
mod figures;
mod registry;
mod report;
mod sys;

use anyhow::{bail, Context, Result};
use clap::Parser;
use client::Conn;
use daemons::{Daemon, Holder, DOCKERD_CGROUP, POUCHD_NAMESPACE};
use figures::{Ctx, Opts, FIGURES, GROUPS};
use report::Recorder;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PREFIX: &str = "/tmp/pouch-bench-";

#[derive(Parser, Debug)]
#[command(
    name = "pouch-bench",
    about = "Benchmark pouchd against dockerd (see BENCHMARKS.md)"
)]
struct Args {
    /// Rounds per figure, each measuring pouchd then dockerd [default: 3, --quick: 2].
    #[arg(long)]
    rounds: Option<usize>,
    /// Fewer iterations per round, 1 s rate windows, 2 rounds.
    #[arg(long)]
    quick: bool,
    /// Only these groups or figures (comma-separated; see --list).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Where to write the results as JSON (daemon logs go next to it, in logs/).
    #[arg(long, default_value = "target/bench/results.json")]
    out: PathBuf,
    #[arg(long, env = "POUCHD_BIN", default_value = "target/release/pouchd")]
    pouchd: PathBuf,
    #[arg(long, default_value = "/usr/sbin/dockerd")]
    dockerd: PathBuf,
    /// The docker CLI for the `run` figure (Debian's 20.10).
    #[arg(long, default_value = "/usr/bin/docker")]
    docker: PathBuf,
    #[arg(long, default_value = "ctr")]
    ctr: PathBuf,
    /// The busybox test image (hack/build-test-image).
    #[arg(long, default_value = "target/images/busybox.tar")]
    image: PathBuf,
    /// List groups and figures and exit.
    #[arg(long)]
    list: bool,
    /// Only sweep what earlier (killed) runs left under /tmp/pouch-bench-*.
    #[arg(long)]
    cleanup_only: bool,
}

fn log(msg: impl AsRef<str>) {
    eprintln!("[bench] {}", msg.as_ref());
}

/// Groups to run, in their fixed order, from `--only`.
fn selected_groups(only: &[String]) -> Result<Vec<&'static str>> {
    if only.is_empty() {
        return Ok(GROUPS.to_vec());
    }
    let mut want = Vec::new();
    for o in only {
        let g = GROUPS
            .iter()
            .find(|g| **g == o.as_str())
            .copied()
            .or_else(|| figures::figure(o).map(|f| f.group));
        match g {
            Some(g) => want.push(g),
            None => bail!("unknown group or figure {o:?} (see --list)"),
        }
    }
    Ok(GROUPS
        .iter()
        .copied()
        .filter(|g| want.contains(g))
        .collect())
}

fn print_list() {
    for g in GROUPS {
        println!("{g}:");
        for f in FIGURES.iter().filter(|f| f.group == *g) {
            println!(
                "  {:<30} {} ({}) {}",
                f.id,
                f.title,
                f.unit,
                f.target.text(f.unit)
            );
        }
    }
}

/// Sweeps `/tmp/pouch-bench-<pid>` directories whose bench process is gone.
fn sweep_leftovers() {
    let Ok(rd) = std::fs::read_dir("/tmp") else {
        return;
    };
    for e in rd.flatten() {
        let path = e.path();
        let name = path.to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() as i32 || sys::alive(pid) {
            continue;
        }
        let s = sys::sweep(&path, &[POUCHD_NAMESPACE, DOCKERD_CGROUP]);
        log(format!("swept leftover {name}: {s:?}"));
    }
}

/// Sweeps the bench dir if dropped armed (a panic in the driver itself).
struct Guard(Option<PathBuf>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            sys::sweep(&dir, &[POUCHD_NAMESPACE, DOCKERD_CGROUP]);
        }
    }
}

fn main() {
    let args = Args::parse();
    if args.list {
        print_list();
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("pouch-bench must run as root (it starts containerd, pouchd and dockerd)");
        std::process::exit(2);
    }
    sweep_leftovers();
    if args.cleanup_only {
        return;
    }
    let groups = match selected_groups(&args.only) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{e:#}");
            std::process::exit(2);
        }
    };
    let root = PathBuf::from(format!("{PREFIX}{}", std::process::id()));
    let mut guard = Guard(Some(root.clone()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(drive(args, groups, root.clone()));
    drop(rt);
    guard.0 = None;
    std::process::exit(code);
}

async fn drive(args: Args, groups: Vec<&'static str>, root: PathBuf) -> i32 {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        eprintln!("cannot install signal handlers");
        return 1;
    };
    let out = args.out.clone();
    let task = tokio::spawn(bench(args, groups, root.clone()));
    let abort = task.abort_handle();
    let result = tokio::select! {
        r = task => Some(r),
        _ = int.recv() => None,
        _ = term.recv() => None,
        _ = hup.recv() => None,
    };
    let code = match result {
        None => {
            abort.abort();
            log("interrupted: cleaning up (Ctrl-C again skips the polite part)");
            130
        }
        Some(Err(e)) => {
            log(format!("bench task failed: {e}"));
            1
        }
        Some(Ok(Err(e))) => {
            log(format!("failed: {e:#}"));
            1
        }
        Some(Ok(Ok((rec, meta)))) => {
            print!("{}", report::table(&rec));
            let m = &meta["machine"];
            println!(
                "\nmachine: {} cores ({}), kernel {}, {}; load average at start {}, at end {}",
                m["nproc"],
                m["cpu"].as_str().unwrap_or("?"),
                m["kernel"].as_str().unwrap_or("?"),
                m["date"].as_str().unwrap_or("?"),
                m["loadavg_start"].as_str().unwrap_or("?"),
                m["loadavg_end"].as_str().unwrap_or("?"),
            );
            println!(
                "versions: pouchd {}, dockerd {}, {}, {}; {} round(s){}",
                meta["pouchd"]["Version"].as_str().unwrap_or("?"),
                meta["dockerd"]["Version"].as_str().unwrap_or("?"),
                m["containerd"].as_str().unwrap_or("?"),
                m["runc"].as_str().unwrap_or("?"),
                meta["options"]["rounds"],
                if meta["options"]["quick"] == json!(true) {
                    ", --quick"
                } else {
                    ""
                },
            );
            match write_json(&out, &report::json(&rec, meta)) {
                Ok(()) => log(format!("results written to {}", out.display())),
                Err(e) => log(format!("writing {}: {e:#}", out.display())),
            }
            if rec.errors.is_empty() {
                0
            } else {
                1
            }
        }
    };
    tokio::select! {
        _ = shutdown(&root) => {}
        _ = int.recv() => log("skipping the polite shutdown"),
    }
    save_logs(&root, &out);
    let s = sys::sweep(&root, &[POUCHD_NAMESPACE, DOCKERD_CGROUP]);
    if s.problems.is_empty() {
        log(format!(
            "cleaned up {} (killed {} leftover processes, {} mounts)",
            root.display(),
            s.killed,
            s.unmounted
        ));
    } else {
        log(format!("cleanup problems: {:?}", s.problems));
    }
    code
}

fn write_json(out: &Path, v: &Value) -> Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, serde_json::to_string_pretty(v)? + "\n")?;
    Ok(())
}

/// Copies the daemons' logs next to the results (the bench dir goes away).
fn save_logs(root: &Path, out: &Path) {
    let dir = out.parent().unwrap_or(Path::new(".")).join("logs");
    let _ = std::fs::create_dir_all(&dir);
    for (from, to) in [
        ("pouchd/pouchd.log", "pouchd.log"),
        (
            "pouchd/home/containerd/containerd.log",
            "pouchd-containerd.log",
        ),
        ("dockerd/dockerd.log", "dockerd.log"),
    ] {
        let _ = std::fs::copy(root.join(from), dir.join(to));
    }
}

/// The polite part of the cleanup: remove every container through each
/// daemon's API, then SIGTERM the daemons and pouchd's containerd (dockerd
/// stops its own). The sweep afterwards kills whatever is left.
async fn shutdown(root: &Path) {
    let polite = async {
        for sock in [
            root.join("pouchd/pouchd.sock"),
            root.join("dockerd/docker.sock"),
        ] {
            let Ok(mut c) = Conn::connect(&sock).await else {
                continue;
            };
            let Ok(all) = figures::list(&mut c, true).await else {
                continue;
            };
            let ids: Vec<String> = all
                .iter()
                .filter_map(|v| v["Id"].as_str().map(str::to_string))
                .collect();
            if !ids.is_empty() {
                log(format!(
                    "removing {} containers via {}",
                    ids.len(),
                    sock.display()
                ));
                let _ = figures::fan_out(&sock, 8, ids.len(), |mut c, i| {
                    let ids = &ids;
                    async move {
                        let _ = figures::remove(&mut c, &ids[i], true).await;
                        Ok((c, ()))
                    }
                })
                .await;
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(120), polite)
        .await
        .is_err()
    {
        log("removing containers took too long; killing instead");
    }
    let mut pids = Vec::new();
    for f in ["pouchd/pouchd.pid", "dockerd/dockerd.pid"] {
        if let Some(p) = sys::read_pidfile(&root.join(f)) {
            sys::signal(p, libc::SIGTERM);
            pids.push(p);
        }
    }
    let waited =
        tokio::task::spawn_blocking(move || sys::wait_gone(&pids, Duration::from_secs(20)));
    let _ = waited.await;
    if let Some(p) = sys::read_pidfile(&root.join("pouchd/containerd.pid")) {
        sys::signal(p, libc::SIGTERM);
        let _ = tokio::task::spawn_blocking(move || sys::wait_gone(&[p], Duration::from_secs(10)))
            .await;
    }
}

async fn load_image(d: &Daemon, tar: &[u8]) -> Result<()> {
    let mut c = d.conn().await?;
    let r = c
        .call(
            http::Method::POST,
            "/images/load?quiet=1",
            Some(bytes::Bytes::copy_from_slice(tar)),
            "application/x-tar",
        )
        .await?
        .expect(&format!("{}: image load", d.name()), &[200])?;
    let body = String::from_utf8_lossy(&r.body);
    if body.contains("errorDetail") {
        bail!("{}: image load: {}", d.name(), body.trim());
    }
    Ok(())
}

async fn version(d: &Daemon) -> Value {
    match d.conn().await {
        Ok(mut c) => match c.get("/version").await.and_then(|r| r.json()) {
            Ok(v) => v,
            Err(e) => json!(format!("{e:#}")),
        },
        Err(e) => json!(format!("{e:#}")),
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|s| s.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let cmd = |c: &str, a: &[&str]| {
        std::process::Command::new(c)
            .args(a)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "date": cmd("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "mem_total": std::fs::read_to_string("/proc/meminfo").unwrap_or_default().lines().next().unwrap_or("").to_string(),
        "containerd": cmd("containerd", &["--version"]),
        "runc": cmd("runc", &["--version"]).lines().next().unwrap_or("").to_string(),
        "loadavg_start": loadavg(),
    })
}

async fn bench(args: Args, groups: Vec<&'static str>, root: PathBuf) -> Result<(Recorder, Value)> {
    std::fs::create_dir_all(&root)?;
    if !args.pouchd.exists() {
        bail!(
            "{} not found (cargo build --release -p pouchd)",
            args.pouchd.display()
        );
    }
    let tar = std::fs::read(&args.image)
        .with_context(|| format!("{} (hack/build-test-image)", args.image.display()))?;
    log(format!("bench dir {}", root.display()));
    let holder = Holder::start(&root)?;
    let mut p = daemons::pouchd(&root, &args.pouchd)?;
    let mut d = daemons::dockerd(&root, &args.dockerd, &holder)?;
    p.spawn()?;
    d.spawn()?;
    p.wait_ready(Duration::from_secs(60)).await?;
    d.wait_ready(Duration::from_secs(60)).await?;
    for dm in [&p, &d] {
        load_image(dm, &tar).await?;
    }
    let rounds = args.rounds.unwrap_or(if args.quick { 2 } else { 3 }).max(1);
    let meta = json!({
        "machine": machine(),
        "pouchd": version(&p).await,
        "dockerd": version(&d).await,
        "options": { "rounds": rounds, "quick": args.quick, "groups": groups },
    });
    let mut ctx = Ctx {
        daemons: [p, d],
        opts: Opts {
            rounds,
            quick: args.quick,
            docker_cli: args.docker.clone(),
            ctr: args.ctr.clone(),
        },
        rec: Recorder::default(),
        root: root.clone(),
        netns_pid: holder.pid,
    };
    log(format!("{rounds} round(s); groups: {}", groups.join(", ")));
    for g in &groups {
        let t0 = Instant::now();
        log(format!("{g} ..."));
        let r = tokio::time::timeout(
            Duration::from_secs(20 * 60),
            figures::run_group(g, &mut ctx),
        )
        .await;
        let err = match r {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("{e:#}")),
            Err(_) => Some("timed out after 20 min".to_string()),
        };
        match err {
            None => log(format!("{g} done in {:.1} s", t0.elapsed().as_secs_f64())),
            Some(e) => {
                log(format!("{g} FAILED: {e}"));
                ctx.rec.errors.push(format!("{g}: {e}"));
                for dm in &ctx.daemons {
                    if let Ok(Err(e)) | Err(e) =
                        tokio::time::timeout(Duration::from_secs(120), figures::reset(dm))
                            .await
                            .map_err(anyhow::Error::from)
                    {
                        log(format!("{}: reset failed: {e:#}", dm.name()));
                    }
                }
            }
        }
    }
    drop(holder);
    let mut meta = meta;
    meta["machine"]["loadavg_end"] = json!(loadavg());
    Ok((ctx.rec, meta))
}
