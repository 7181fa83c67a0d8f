//! `pouch stats`: a live table of containers' resource usage (CPU %,
//! memory, network and block I/O, PIDs), as `docker stats` computes and
//! prints it.

mod compute;
mod render;

pub use compute::*;
pub use render::*;

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
mod tests;
