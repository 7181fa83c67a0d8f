//! 100 containers: create+start them 16 at a time, measure memory and the
//! list rate with them running, then stop+remove them 16 at a time.
//! One daemon after the other within each round.

use super::{create, fan_out, list, long_running, remove, start, stop, Ctx};
use crate::sys;
use anyhow::{bail, Context, Result};
use std::time::Duration;

const N: usize = 100;
const AT_A_TIME: usize = 16;

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

pub async fn run(ctx: &mut Ctx) -> Result<()> {
    let window = ctx.opts.window();
    for _round in 0..ctx.opts.rounds {
        for i in 0..2 {
            let d = &ctx.daemons[i];
            let pid = d.pid().context("daemon not running")?;
            let rss0 = sys::rss_kib(pid).unwrap_or(0);
            let crss0 = d.containerd_pid().and_then(sys::rss_kib);

            let cpu = |p: Option<i32>| p.and_then(sys::cpu_secs).unwrap_or(0.0);
            let cpid = d.containerd_pid();
            let (cpu0, ccpu0) = (cpu(Some(pid)), cpu(cpid));
            let cfg = long_running();
            let (took, ids) = fan_out(&d.sock, AT_A_TIME, N, |mut c, _| {
                let cfg = &cfg;
                async move {
                    let id = create(&mut c, cfg).await?;
                    start(&mut c, &id).await?;
                    Ok((c, id))
                }
            })
            .await
            .with_context(|| format!("{}: create+start", d.name()))?;
            ctx.rec.add("create_start_100", i, took.as_secs_f64());
            ctx.rec
                .add("create_start_100.cpu", i, cpu(Some(pid)) - cpu0);
            ctx.rec
                .add("create_start_100.containerd_cpu", i, cpu(cpid) - ccpu0);

            let mut c = d.conn().await?;
            let running = list(&mut c, false).await?.len();
            if running != N {
                bail!("{}: {running} containers running, want {N}", d.name());
            }
            // Let exit/start bookkeeping settle before reading memory.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let rss1 = sys::rss_kib(pid).unwrap_or(0);
            ctx.rec
                .add("rss_per_container", i, (mib(rss1) - mib(rss0)) / N as f64);
            if let (Some(a), Some(b)) = (crss0, d.containerd_pid().and_then(sys::rss_kib)) {
                ctx.rec.add(
                    "containerd_rss_per_container",
                    i,
                    (mib(b) - mib(a)) / N as f64,
                );
            }
            let shims = d.shims();
            if !shims.is_empty() {
                let pss: u64 = shims.iter().filter_map(|p| sys::pss_kib(p.pid)).sum();
                ctx.rec
                    .add("shim_pss_per_container", i, mib(pss) / shims.len() as f64);
                let bin = shims[0]
                    .cmdline
                    .split(' ')
                    .next()
                    .unwrap_or("?")
                    .to_string();
                ctx.rec.note(
                    "shim_pss_per_container",
                    format!(
                        "{}: {} shims ({bin}) for {N} containers",
                        d.name(),
                        shims.len()
                    ),
                );
            }

            let v = super::http::rps(&d.sock, "/containers/json", 4, window).await?;
            ctx.rec.add("list_rps_100", i, v);

            let ids = &ids;
            let t0 = std::time::Instant::now();
            let (took, _) = fan_out(&d.sock, AT_A_TIME, N, |mut c, k| async move {
                stop(&mut c, &ids[k]).await?;
                remove(&mut c, &ids[k], false).await?;
                Ok((c, ()))
            })
            .await
            .with_context(|| format!("{}: stop+remove", d.name()))?;
            ctx.rec.add("stop_remove_100", i, took.as_secs_f64());
            // pouchd answers a removal before containerd has reaped the task
            // (it finishes in the background): until every shim is gone, so
            // the next figure starts on a quiet daemon and the cost shows
            // (shims of these 100 only: an earlier figure's `ctr run --rm`
            // can leave one behind).
            let ours = |p: &sys::Proc| ids.iter().any(|id| p.cmdline.contains(id.as_str()));
            while d.shims().iter().any(ours) {
                if t0.elapsed() > Duration::from_secs(120) {
                    bail!("{}: shims left 120 s after stop+remove", d.name());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            ctx.rec
                .add("stop_remove_100.settled", i, t0.elapsed().as_secs_f64());
        }
    }
    ctx.rec.note(
        "rss_per_container",
        "(daemon VmRSS with 100 running - before) / 100, 0.5 s after the last start",
    );
    ctx.rec.note(
        "stop_remove_100",
        "the containers run `sh -c \"trap 'exit 0' TERM; sleep 3600 & wait\"`: they exit on SIGTERM",
    );
    Ok(())
}
