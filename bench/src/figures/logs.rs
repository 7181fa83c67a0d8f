//! A container writes 100 MiB to stdout in 100-byte lines (busybox `yes`
//! piped through `head -c`); the time from start to the end of wait, then
//! the time to read all of it back through `GET /containers/{id}/logs`.

use super::{create, oneshot, remove, start, wait, Ctx};
use crate::sys;
use anyhow::{bail, Result};
use std::time::Instant;

const BYTES: u64 = 100 << 20;

pub async fn run(ctx: &mut Ctx) -> Result<()> {
    // 99 characters + newline = 100-byte lines; 1 Mi lines.
    let script = format!("yes {} | head -c {BYTES}", "x".repeat(99));
    let cfg = oneshot(&["sh", "-c", &script]);
    for _round in 0..ctx.opts.rounds {
        for i in 0..2 {
            let d = &ctx.daemons[i];
            let mut c = d.conn().await?;
            let id = create(&mut c, &cfg).await?;
            let pid = d.pid().unwrap_or(0);
            let cpu0 = sys::cpu_secs(pid).unwrap_or(0.0);
            let t0 = Instant::now();
            start(&mut c, &id).await?;
            let code = wait(&mut c, &id).await?;
            let write = t0.elapsed();
            let cpu1 = sys::cpu_secs(pid).unwrap_or(0.0);
            if code != 0 {
                bail!("{}: log writer exited {code}", d.name());
            }
            let me = std::process::id() as i32;
            sys::reset_peak_rss(pid);
            let mine0 = sys::cpu_secs(me).unwrap_or(0.0);
            let t1 = Instant::now();
            let (status, n) = c
                .get_count(&format!("/containers/{id}/logs?stdout=1&stderr=1"))
                .await?;
            let read = t1.elapsed();
            let cpu2 = sys::cpu_secs(pid).unwrap_or(0.0);
            let mine1 = sys::cpu_secs(me).unwrap_or(0.0);
            if status != 200 {
                bail!("{}: logs: HTTP {status}", d.name());
            }
            ctx.rec.add("log_write", i, write.as_secs_f64());
            ctx.rec.add("logs_read", i, read.as_secs_f64());
            ctx.rec.add("log_write.cpu", i, cpu1 - cpu0);
            ctx.rec.add("logs_read.cpu", i, cpu2 - cpu1);
            ctx.rec.add("logs_read.client_cpu", i, mine1 - mine0);
            if let Some(kib) = sys::peak_rss_kib(pid) {
                ctx.rec.add("logs_read.peak_rss", i, kib as f64 / 1024.0);
            }
            ctx.rec.note(
                "logs_read",
                format!(
                    "{}: {n} bytes read (100 MiB of lines + 8-byte frame headers){}",
                    d.name(),
                    if n < BYTES { " -- INCOMPLETE" } else { "" }
                ),
            );
            remove(&mut c, &id, true).await?;
        }
    }
    Ok(())
}
