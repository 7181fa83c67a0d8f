//! Idle memory: VmRSS of each daemon process (and, for information, of its
//! containerd) with the image loaded and no container. Runs first.

use super::Ctx;
use crate::sys;
use anyhow::{Context, Result};
use std::time::Duration;

pub async fn run(ctx: &mut Ctx) -> Result<()> {
    for _round in 0..ctx.opts.rounds {
        for (i, d) in ctx.daemons.iter().enumerate() {
            let pid = d.pid().context("daemon not running")?;
            let rss = sys::rss_kib(pid).with_context(|| format!("{}: no VmRSS", d.name()))?;
            ctx.rec.add("rss_idle", i, rss as f64 / 1024.0);
            if let Some(r) = d.containerd_pid().and_then(sys::rss_kib) {
                ctx.rec.add("containerd_rss_idle", i, r as f64 / 1024.0);
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    ctx.rec.note(
        "rss_idle",
        "VmRSS of the daemon process alone (dockerd, pouchd), after loading the image",
    );
    Ok(())
}
