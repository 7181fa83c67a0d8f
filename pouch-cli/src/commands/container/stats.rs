//! `pouch stats`: a live table of containers' resource usage (CPU %,
//! memory, network and block I/O, PIDs), as `docker stats` computes and
//! prints it.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use clap::Args;
use futures::StreamExt;
use pouch_api::stats::{BlkioStats, CpuStats, MemoryStats, NetworkStats, Stats};
use pouch_api::Filters;
use pouch_client::Client;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::format::human::{bytes_size, human_size, short_id};
use crate::format::ListFormat;

const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// How long without a sample before a container's figures are blanked.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Pretty-print stats using a Go template
    #[arg(long)]
    pub format: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// The figures of one container, as docker's `StatsEntry`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsEntry {
    /// The name or ID the container was asked by.
    pub container: String,
    pub name: String,
    pub id: String,
    pub cpu_percentage: f64,
    pub memory: f64,
    pub memory_limit: f64,
    pub memory_percentage: f64,
    pub network_rx: f64,
    pub network_tx: f64,
    pub block_read: f64,
    pub block_write: f64,
    pub pids_current: u64,
    /// No valid sample (error, timeout, stopped): figures print as `--`.
    pub is_invalid: bool,
}

/// CPU usage in percent of one CPU: the container's share of the
/// system's CPU time between two samples, times the number of CPUs.
pub fn cpu_percent(pre: &CpuStats, cur: &CpuStats) -> f64 {
    let cpu_delta = cur.cpu_usage.total_usage as f64 - pre.cpu_usage.total_usage as f64;
    let system_delta = cur.system_cpu_usage as f64 - pre.system_cpu_usage as f64;
    let mut online = f64::from(cur.online_cpus);
    if online == 0.0 {
        online = cur.cpu_usage.percpu_usage.len() as f64;
    }
    if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * online * 100.0
    } else {
        0.0
    }
}

/// Memory used without the page cache that can be reclaimed: usage minus
/// `total_inactive_file` (cgroup v1) or `inactive_file` (v2).
pub fn mem_usage_no_cache(m: &MemoryStats) -> f64 {
    if let Some(&v) = m.stats.get("total_inactive_file") {
        if v < m.usage {
            return (m.usage - v) as f64;
        }
    }
    let v = m.stats.get("inactive_file").copied().unwrap_or(0);
    if v < m.usage {
        (m.usage - v) as f64
    } else {
        m.usage as f64
    }
}

pub fn mem_percent(limit: f64, used: f64) -> f64 {
    if limit != 0.0 {
        used / limit * 100.0
    } else {
        0.0
    }
}

/// Received and transmitted bytes over all interfaces.
pub fn network_io(n: Option<&HashMap<String, NetworkStats>>) -> (f64, f64) {
    n.into_iter()
        .flat_map(HashMap::values)
        .fold((0.0, 0.0), |(rx, tx), s| {
            (rx + s.rx_bytes as f64, tx + s.tx_bytes as f64)
        })
}

/// Bytes read and written (`io_service_bytes_recursive`).
pub fn block_io(b: &BlkioStats) -> (u64, u64) {
    let mut read = 0u64;
    let mut write = 0u64;
    for e in b.io_service_bytes_recursive.iter().flatten() {
        match e.op.as_bytes().first() {
            Some(b'r' | b'R') => read = read.saturating_add(e.value),
            Some(b'w' | b'W') => write = write.saturating_add(e.value),
            _ => {}
        }
    }
    (read, write)
}

/// The figures of a sample.
pub fn entry_from(container: &str, s: &Stats) -> StatsEntry {
    let memory = mem_usage_no_cache(&s.memory_stats);
    let limit = s.memory_stats.limit as f64;
    let (network_rx, network_tx) = network_io(s.networks.as_ref());
    let (block_read, block_write) = block_io(&s.blkio_stats);
    StatsEntry {
        container: container.to_string(),
        name: s.name.clone(),
        id: s.id.clone(),
        cpu_percentage: cpu_percent(&s.precpu_stats, &s.cpu_stats),
        memory,
        memory_limit: limit,
        memory_percentage: mem_percent(limit, memory),
        network_rx,
        network_tx,
        block_read: block_read as f64,
        block_write: block_write as f64,
        pids_current: s.pids_stats.current,
        is_invalid: false,
    }
}

fn percentage(v: f64) -> String {
    format!("{v:.2}%")
}

/// The template data of an entry (docker's `statsContext`).
pub fn row(e: &StatsEntry, trunc: bool) -> Value {
    const NONE: &str = "--";
    let name = e.name.strip_prefix('/').unwrap_or(&e.name);
    let id = if trunc { short_id(&e.id) } else { e.id.clone() };
    let (cpu, mem, mem_perc, net, block, pids) = if e.is_invalid {
        (
            NONE.to_string(),
            "-- / --".to_string(),
            NONE.to_string(),
            NONE.to_string(),
            NONE.to_string(),
            NONE.to_string(),
        )
    } else {
        (
            percentage(e.cpu_percentage),
            format!("{} / {}", bytes_size(e.memory), bytes_size(e.memory_limit)),
            percentage(e.memory_percentage),
            format!(
                "{} / {}",
                human_size(e.network_rx),
                human_size(e.network_tx)
            ),
            format!(
                "{} / {}",
                human_size(e.block_read),
                human_size(e.block_write)
            ),
            e.pids_current.to_string(),
        )
    };
    json!({
        "Container": e.container,
        "Name": if name.is_empty() { NONE } else { name },
        "ID": id,
        "CPUPerc": cpu,
        "MemUsage": mem,
        "MemPerc": mem_perc,
        "NetIO": net,
        "BlockIO": block,
        "PIDs": pids,
    })
}

pub fn headers() -> Value {
    json!({
        "Container": "CONTAINER",
        "Name": "NAME",
        "ID": "CONTAINER ID",
        "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT",
        "MemPerc": "MEM %",
        "NetIO": "NET I/O",
        "BlockIO": "BLOCK I/O",
        "PIDs": "PIDS",
    })
}

/// The effective format: `table` (or nothing) is the default table.
pub fn format_string(format: Option<&str>) -> String {
    match format {
        None | Some("") | Some("table") => DEFAULT_TABLE.to_string(),
        Some(f) => f.to_string(),
    }
}

pub fn render(entries: &[StatsEntry], format: &ListFormat, trunc: bool) -> Result<String, String> {
    let rows: Vec<Value> = entries.iter().map(|e| row(e, trunc)).collect();
    format
        .render(&rows, &headers())
        .map_err(|e| format!("template parsing error: {e}"))
}

/// One frame of the live view: from the top left, each line cleared to
/// its end, the rest of the screen cleared (no flicker).
pub fn frame(text: &str) -> String {
    let mut out = String::from("\x1b[H");
    for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        out.push_str(line);
        out.push_str("\x1b[K\n");
    }
    out.push_str("\x1b[J");
    out
}

struct Tracked {
    entry: StatsEntry,
    error: Option<String>,
}

/// The containers being watched, in the order they were added.
#[derive(Clone, Default)]
struct Board(Arc<Mutex<Vec<Tracked>>>);

impl Board {
    fn with<T>(&self, f: impl FnOnce(&mut Vec<Tracked>) -> T) -> T {
        let mut v = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut v)
    }

    /// Add a container; false if it is there already.
    fn add(&self, container: &str) -> bool {
        self.with(|v| {
            if v.iter().any(|t| t.entry.container == container) {
                return false;
            }
            v.push(Tracked {
                entry: StatsEntry {
                    container: container.to_string(),
                    ..Default::default()
                },
                error: None,
            });
            true
        })
    }

    fn remove(&self, container: &str) {
        self.with(|v| v.retain(|t| t.entry.container != container));
    }

    fn contains(&self, container: &str) -> bool {
        self.with(|v| v.iter().any(|t| t.entry.container == container))
    }

    fn update(&self, container: &str, f: impl FnOnce(&mut Tracked)) {
        self.with(|v| {
            if let Some(t) = v.iter_mut().find(|t| t.entry.container == container) {
                f(t);
            }
        });
    }

    fn set_error(&self, container: &str, err: String, reset: bool) {
        self.update(container, |t| {
            if reset {
                t.entry = StatsEntry {
                    container: t.entry.container.clone(),
                    name: t.entry.name.clone(),
                    id: t.entry.id.clone(),
                    ..Default::default()
                };
            }
            t.entry.is_invalid = true;
            t.error = Some(err);
        });
    }

    fn snapshot(&self) -> Vec<StatsEntry> {
        self.with(|v| v.iter().map(|t| t.entry.clone()).collect())
    }

    fn errors(&self) -> Vec<String> {
        self.with(|v| v.iter().filter_map(|t| t.error.clone()).collect())
    }
}

/// Follow the samples of one container into the board; `first` fires at
/// the first sample (or failure).
async fn collect(
    client: Client,
    board: Board,
    container: String,
    stream: bool,
    first: oneshot::Sender<()>,
) {
    let mut first = Some(first);
    let mut release = || {
        if let Some(f) = first.take() {
            let _ = f.send(());
        }
    };
    let mut samples = match client.containers().stats(&container, stream, false).await {
        Ok(s) => s,
        Err(e) => {
            board.set_error(&container, e.to_string(), false);
            release();
            return;
        }
    };
    loop {
        match tokio::time::timeout(SAMPLE_TIMEOUT, samples.next()).await {
            Err(_) => {
                board.set_error(&container, "timeout waiting for stats".into(), true);
                release();
                if !stream {
                    return;
                }
                continue;
            }
            Ok(Some(Ok(s))) => {
                let entry = entry_from(&container, &s);
                board.update(&container, |t| {
                    t.entry = entry;
                    t.error = None;
                });
            }
            Ok(Some(Err(e))) => {
                board.set_error(&container, e.to_string(), false);
                release();
                return;
            }
            Ok(None) => {
                board.set_error(&container, "EOF".into(), false);
                release();
                return;
            }
        }
        release();
        if !stream || !board.contains(&container) {
            return;
        }
    }
}

fn start_collecting(
    ctx: &Ctx,
    board: &Board,
    container: &str,
    stream: bool,
) -> Option<oneshot::Receiver<()>> {
    if !board.add(container) {
        return None;
    }
    let (tx, rx) = oneshot::channel();
    tokio::spawn(collect(
        ctx.client.clone(),
        board.clone(),
        container.to_string(),
        stream,
        tx,
    ));
    Some(rx)
}

/// Without container names: watch the running containers (all with
/// `-a`), adding those that start and dropping those that die (are
/// destroyed, with `-a`), as the daemon's events tell.
async fn watch_all(ctx: &Ctx, board: &Board, args: &StatsArgs) -> Result<(), StatusError> {
    let stream = !args.no_stream;
    if stream {
        let filters = Filters::new().with("type", "container");
        let mut events = ctx.client.events(None, None, &filters).await?;
        let (ctx2, board2, all) = (
            Ctx {
                client: ctx.client.clone(),
                debug: ctx.debug,
            },
            board.clone(),
            args.all,
        );
        tokio::spawn(async move {
            while let Some(Ok(e)) = events.next().await {
                let id = e.actor.id.clone();
                if id.is_empty() {
                    continue;
                }
                match e.action.as_str() {
                    "start" => {
                        start_collecting(&ctx2, &board2, &id, true);
                    }
                    "create" if all => {
                        start_collecting(&ctx2, &board2, &id, true);
                    }
                    "destroy" => board2.remove(&id),
                    "die" if !all => board2.remove(&id),
                    _ => {}
                }
            }
        });
    }
    let list = ctx
        .client
        .containers()
        .list(args.all, None, false, &Filters::new())
        .await?;
    let firsts: Vec<_> = list
        .iter()
        .filter_map(|c| start_collecting(ctx, board, &c.id, stream))
        .collect();
    futures::future::join_all(firsts).await;
    Ok(())
}

pub async fn run(ctx: &Ctx, args: StatsArgs) -> CmdResult {
    // docker words a bad `--format` of `stats` in lower case.
    let format = ListFormat::parse(&format_string(args.format.as_deref())).map_err(|e| {
        StatusError::msg(e.replacen("Template parsing error", "template parsing error", 1))
    })?;
    let trunc = !args.no_trunc;
    let board = Board::default();
    let show_all = args.containers.is_empty();
    if show_all {
        watch_all(ctx, &board, &args).await?;
    } else {
        let firsts: Vec<_> = args
            .containers
            .iter()
            .filter_map(|c| start_collecting(ctx, &board, c, !args.no_stream))
            .collect();
        futures::future::join_all(firsts).await;
        let errors = board.errors();
        if !errors.is_empty() {
            return Err(StatusError::msg(errors.join("\n")));
        }
    }

    if args.no_stream {
        let text = render(&board.snapshot(), &format, trunc).map_err(StatusError::msg)?;
        print!("{text}");
        return Ok(());
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let entries = board.snapshot();
        let mut out = std::io::stdout().lock();
        if entries.is_empty() && !show_all {
            write!(out, "\x1b[H\x1b[J")?;
            out.flush()?;
            return Ok(());
        }
        let text = render(&entries, &format, trunc).map_err(StatusError::msg)?;
        out.write_all(frame(&text).as_bytes())?;
        out.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use pouch_api::stats::{BlkioStatEntry, CpuUsage, PidsStats};

    use super::*;

    fn cpu(total: u64, system: u64, online: u32) -> CpuStats {
        CpuStats {
            cpu_usage: CpuUsage {
                total_usage: total,
                ..Default::default()
            },
            system_cpu_usage: system,
            online_cpus: online,
            ..Default::default()
        }
    }

    #[test]
    fn cpu_percentages() {
        // 0.5 s of CPU in 4 s of system time on 4 CPUs: half a CPU.
        let pre = cpu(1_000_000_000, 100_000_000_000, 4);
        let cur = cpu(1_500_000_000, 104_000_000_000, 4);
        assert!((cpu_percent(&pre, &cur) - 50.0).abs() < 1e-9);
        // No system progress, no CPU progress, or a reset: 0.
        assert_eq!(cpu_percent(&cur, &cur), 0.0);
        assert_eq!(cpu_percent(&cur, &pre), 0.0);
        // Online CPUs unknown: the per-CPU list counts.
        let mut cur2 = cpu(1_500_000_000, 104_000_000_000, 0);
        cur2.cpu_usage.percpu_usage = vec![1, 2];
        assert!((cpu_percent(&pre, &cur2) - 25.0).abs() < 1e-9);
        assert_eq!(percentage(12.345), "12.35%");
        assert_eq!(percentage(0.0), "0.00%");
    }

    #[test]
    fn memory_and_io() {
        let mut m = MemoryStats {
            usage: 10 << 20,
            limit: 100 << 20,
            ..Default::default()
        };
        m.stats.insert("inactive_file".into(), 2 << 20);
        assert_eq!(mem_usage_no_cache(&m), (8 << 20) as f64);
        m.stats.insert("total_inactive_file".into(), 4 << 20);
        assert_eq!(mem_usage_no_cache(&m), (6 << 20) as f64);
        m.stats.insert("total_inactive_file".into(), 20 << 20);
        assert_eq!(mem_usage_no_cache(&m), (8 << 20) as f64);
        assert_eq!(mem_percent(0.0, 5.0), 0.0);
        assert_eq!(mem_percent(200.0, 50.0), 25.0);

        let mut nets = HashMap::new();
        for (k, rx, tx) in [("eth0", 1000, 10), ("eth1", 500, 5)] {
            nets.insert(
                k.to_string(),
                NetworkStats {
                    rx_bytes: rx,
                    tx_bytes: tx,
                    ..Default::default()
                },
            );
        }
        assert_eq!(network_io(Some(&nets)), (1500.0, 15.0));
        assert_eq!(network_io(None), (0.0, 0.0));
        let e = |op: &str, value| BlkioStatEntry {
            op: op.into(),
            value,
            ..Default::default()
        };
        let b = BlkioStats {
            io_service_bytes_recursive: Some(vec![
                e("Read", 4096),
                e("write", 100),
                e("Sync", 7),
                e("read", 4),
                e("", 1),
            ]),
            ..Default::default()
        };
        assert_eq!(block_io(&b), (4100, 100));
    }

    fn sample() -> Stats {
        let mut s = Stats {
            name: "/web".into(),
            id: "0123456789abcdef0123".into(),
            cpu_stats: cpu(2_000_000_000, 20_000_000_000, 2),
            precpu_stats: cpu(1_000_000_000, 10_000_000_000, 2),
            memory_stats: MemoryStats {
                usage: 3 << 20,
                limit: 2 << 30,
                ..Default::default()
            },
            pids_stats: PidsStats {
                current: 3,
                limit: 0,
            },
            ..Default::default()
        };
        let mut nets = HashMap::new();
        nets.insert(
            "eth0".into(),
            NetworkStats {
                rx_bytes: 1234,
                tx_bytes: 0,
                ..Default::default()
            },
        );
        s.networks = Some(nets);
        s
    }

    #[test]
    fn table_like_docker() {
        let e = entry_from("web", &sample());
        assert!((e.cpu_percentage - 20.0).abs() < 1e-9);
        let f = ListFormat::parse(&format_string(None)).unwrap();
        let mut invalid = StatsEntry {
            container: "db".into(),
            id: "fedcba9876543210".into(),
            ..Default::default()
        };
        invalid.is_invalid = true;
        let out = render(&[e.clone(), invalid], &f, true).unwrap();
        let want = "\
CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O       BLOCK I/O   PIDS
0123456789ab   web       20.00%    3MiB / 2GiB         0.15%     1.23kB / 0B   0B / 0B     3
fedcba987654   --        --        -- / --             --        --            --          --
";
        assert_eq!(out, want);

        let f = ListFormat::parse("{{.Container}}: {{.CPUPerc}} {{.MemPerc}}").unwrap();
        assert_eq!(
            render(std::slice::from_ref(&e), &f, true).unwrap(),
            "web: 20.00% 0.15%\n"
        );
        let f = ListFormat::parse("table {{.Name}}\\t{{.PIDs}}").unwrap();
        assert_eq!(
            render(std::slice::from_ref(&e), &f, false).unwrap(),
            "NAME      PIDS\nweb       3\n"
        );
        let f = ListFormat::parse("{{json .}}").unwrap();
        let line = render(&[e], &f, false).unwrap();
        let v: Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(v["ID"], "0123456789abcdef0123");
        assert_eq!(v["MemUsage"], "3MiB / 2GiB");
        assert_eq!(v["BlockIO"], "0B / 0B");
    }

    #[test]
    fn frames_redraw_in_place() {
        assert_eq!(frame("A\nB\n"), "\x1b[HA\x1b[K\nB\x1b[K\n\x1b[J");
    }
}
