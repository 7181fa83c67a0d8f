//! Requests per second of cheap endpoints: 4 keep-alive connections, each
//! sending its next request when the previous answer is in, for a fixed
//! window. The client runs on the same 2 cores as the daemon.

use super::Ctx;
use crate::client::Conn;
use anyhow::{bail, Result};
use std::path::Path;
use std::time::{Duration, Instant};

/// Requests/s of `GET path` over `conns` connections during `window`.
pub async fn rps(sock: &Path, path: &str, conns: usize, window: Duration) -> Result<f64> {
    let mut cs = Vec::new();
    for _ in 0..conns {
        let mut c = Conn::connect(sock).await?;
        // Warm-up: the connection is set up on both sides.
        for _ in 0..5 {
            c.get(path).await?;
        }
        cs.push(c);
    }
    let t0 = Instant::now();
    let end = t0 + window;
    let work = cs.into_iter().map(|mut c| async move {
        let mut n = 0u64;
        while Instant::now() < end {
            let r = c.get(path).await?;
            if r.status != 200 {
                bail!("GET {path}: HTTP {}", r.status);
            }
            n += 1;
        }
        Ok(n)
    });
    let total: u64 = futures::future::try_join_all(work).await?.into_iter().sum();
    Ok(total as f64 / t0.elapsed().as_secs_f64())
}

pub async fn run(ctx: &mut Ctx) -> Result<()> {
    let window = ctx.opts.window();
    for _round in 0..ctx.opts.rounds {
        for (id, path) in [("ping_rps", "/_ping"), ("version_rps", "/version")] {
            for i in 0..2 {
                let v = rps(&ctx.daemons[i].sock, path, 4, window).await?;
                ctx.rec.add(id, i, v);
            }
        }
    }
    Ok(())
}
