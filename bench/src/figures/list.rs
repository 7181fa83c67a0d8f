//! `GET /containers/json?all=1` with 500 created (not started) containers,
//! one keep-alive connection, request after request.

use super::{make_containers, ms, remove_all, Ctx};
use anyhow::{bail, Result};
use std::time::Instant;

const N: usize = 500;

pub async fn run(ctx: &mut Ctx) -> Result<()> {
    let mut ids = Vec::new();
    for d in &ctx.daemons {
        ids.push(make_containers(d, "bench-list", N, false).await?);
    }
    let mut conns = [ctx.daemons[0].conn().await?, ctx.daemons[1].conn().await?];
    let n = ctx.opts.iters(20, 10);
    for round in 0..ctx.opts.rounds {
        for k in 0..n {
            for (i, c) in conns.iter_mut().enumerate() {
                let t0 = Instant::now();
                let r = c
                    .get("/containers/json?all=1")
                    .await?
                    .expect("list", &[200])?;
                let t = t0.elapsed();
                if round == 0 && k == 0 {
                    let got = r.json()?.as_array().map_or(0, Vec::len);
                    if got != N {
                        bail!(
                            "{}: listed {got} containers, want {N}",
                            ctx.daemons[i].name()
                        );
                    }
                    continue; // warm-up
                }
                ctx.rec.add("list_500", i, ms(t));
            }
        }
    }
    for (d, ids) in ctx.daemons.iter().zip(&ids) {
        remove_all(d, ids).await?;
    }
    Ok(())
}
