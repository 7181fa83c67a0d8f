//! One container's whole life through the API on one keep-alive connection:
//! create, start, wait, delete (`true` exits at once).

use super::{create, ms, oneshot, remove, start, wait, Ctx};
use crate::client::Conn;
use anyhow::{bail, Result};
use serde_json::Value;
use std::time::Instant;

async fn cycle(c: &mut Conn, cfg: &Value) -> Result<[f64; 4]> {
    let t0 = Instant::now();
    let id = create(c, cfg).await?;
    let t1 = Instant::now();
    start(c, &id).await?;
    let t2 = Instant::now();
    let code = wait(c, &id).await?;
    let t3 = Instant::now();
    remove(c, &id, false).await?;
    let t4 = Instant::now();
    if code != 0 {
        bail!("container exited {code}");
    }
    Ok([ms(t1 - t0), ms(t2 - t1), ms(t3 - t2), ms(t4 - t3)])
}

pub async fn run(ctx: &mut Ctx) -> Result<()> {
    let cfg = oneshot(&["true"]);
    let mut conns = [ctx.daemons[0].conn().await?, ctx.daemons[1].conn().await?];
    for c in conns.iter_mut() {
        cycle(c, &cfg).await?; // warm-up
    }
    let n = ctx.opts.iters(10, 5);
    for _round in 0..ctx.opts.rounds {
        for _ in 0..n {
            for (i, c) in conns.iter_mut().enumerate() {
                let parts = cycle(c, &cfg).await?;
                ctx.rec.add("api_lifecycle", i, parts.iter().sum());
                for (id, v) in [
                    "api_lifecycle.create",
                    "api_lifecycle.start",
                    "api_lifecycle.wait",
                    "api_lifecycle.delete",
                ]
                .into_iter()
                .zip(parts)
                {
                    ctx.rec.add(id, i, v);
                }
            }
        }
    }
    Ok(())
}
