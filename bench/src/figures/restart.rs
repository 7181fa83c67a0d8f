//! Crash recovery: with 50 containers running, kill -9 the daemon, start it
//! again and poll `GET /containers/json` (a fresh connection per attempt,
//! every 2 ms) until it lists the 50 as running. Containers are kept across
//! rounds; dockerd runs with --live-restore (without it, dockerd stops
//! running containers when it starts).

use super::{list, make_containers, ms, remove_all, Ctx};
use crate::client::Conn;
use crate::daemons::{Daemon, Kind};
use crate::sys;
use anyhow::{bail, Result};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const N: usize = 50;

/// Waits until `pid` is gone from /proc, zombie included.
async fn wait_reaped(d: &Daemon, pid: i32) -> Result<()> {
    let t0 = Instant::now();
    while sys::exists(pid) {
        if t0.elapsed() > Duration::from_secs(30) {
            bail!(
                "{}: its containerd (pid {pid}) not reaped 30 s after kill -9",
                d.name()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

pub async fn run(ctx: &mut Ctx) -> Result<()> {
    let mut ids = Vec::new();
    for d in &ctx.daemons {
        ids.push(make_containers(d, "bench-restart", N, true).await?);
    }
    for _round in 0..ctx.opts.rounds {
        for (i, mine) in ids.iter().enumerate() {
            let want: HashSet<&str> = mine.iter().map(String::as_str).collect();
            let d = &mut ctx.daemons[i];
            let containerd = d.containerd_pid();
            d.kill9()?;
            // dockerd's containerd dies with it (parent-death signal). Its
            // zombie goes to pid 1, which on this machine reaps only every
            // few seconds, and a new dockerd that finds the zombie's pid
            // alive waits for it and gives up: start once it is reaped, as
            // on a host whose init reaps at once (not counted).
            if let (Kind::Dockerd, Some(pid)) = (d.kind, containerd) {
                wait_reaped(d, pid).await?;
            }
            let t0 = Instant::now();
            d.spawn()?;
            let mut first: Option<Duration> = None;
            let mut seen = 0usize;
            let ready = loop {
                if let Ok(mut c) = Conn::connect(&d.sock).await {
                    if let Ok(v) = list(&mut c, false).await {
                        let at = t0.elapsed();
                        first.get_or_insert(at);
                        seen = v
                            .iter()
                            .filter(|c| c["Id"].as_str().is_some_and(|id| want.contains(id)))
                            .count();
                        if seen >= N {
                            break at;
                        }
                    }
                }
                if let Some(f) = first {
                    if t0.elapsed() > f + Duration::from_secs(10) {
                        // It answers but lists fewer: the rest did not survive.
                        break f;
                    }
                }
                if t0.elapsed() > Duration::from_secs(60) {
                    bail!("{}: no API 60 s after restart", d.name());
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            };
            ctx.rec.add("restart_ready", i, ms(ready));
            ctx.rec.add("restart_survivors", i, seen as f64);
            if seen < N {
                ctx.rec.note(
                    "restart_survivors",
                    format!(
                        "{}: only {seen}/{N} listed as running after restart",
                        d.name()
                    ),
                );
            }
            d.wait_ready(Duration::from_secs(30)).await?;
        }
    }
    ctx.rec.note(
        "restart_ready",
        "from spawning the daemon to the first list showing all 50 running; pouchd's containerd \
         keeps running, dockerd (--live-restore) starts a new containerd of its own",
    );
    for (d, ids) in ctx.daemons.iter().zip(&ids) {
        remove_all(d, ids).await?;
    }
    Ok(())
}
