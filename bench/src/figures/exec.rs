//! `exec true` as the docker CLI does it: exec create, exec start attached
//! (Upgrade: tcp on a fresh connection, stream read to its end), exec inspect
//! for the exit code; in a running container.

use super::{create, long_running, ms, remove, start, Ctx};
use crate::client::{hijack, Conn};
use anyhow::{anyhow, bail, Result};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

async fn exec_true(c: &mut Conn, sock: &Path, cid: &str) -> Result<[f64; 3]> {
    let t0 = Instant::now();
    let r = c
        .post(
            &format!("/containers/{cid}/exec"),
            Some(&json!({"AttachStdout": true, "AttachStderr": true, "Cmd": ["true"]})),
        )
        .await?
        .expect("exec create", &[201])?;
    let eid = r.json()?["Id"]
        .as_str()
        .ok_or_else(|| anyhow!("exec create: no Id"))?
        .to_string();
    let t1 = Instant::now();
    hijack(
        sock,
        &format!("/exec/{eid}/start"),
        &json!({"Detach": false, "Tty": false}),
    )
    .await?;
    let t2 = Instant::now();
    loop {
        let v = c
            .get(&format!("/exec/{eid}/json"))
            .await?
            .expect("exec inspect", &[200])?
            .json()?;
        if v["Running"] != json!(true) {
            if v["ExitCode"] != json!(0) {
                bail!("exec true: exit code {}", v["ExitCode"]);
            }
            break;
        }
        if t2.elapsed() > Duration::from_secs(10) {
            bail!("exec still running 10 s after its stream ended");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let t3 = Instant::now();
    Ok([ms(t1 - t0), ms(t2 - t1), ms(t3 - t2)])
}

pub async fn run(ctx: &mut Ctx) -> Result<()> {
    let mut conns = [ctx.daemons[0].conn().await?, ctx.daemons[1].conn().await?];
    let mut ids = Vec::new();
    for c in conns.iter_mut() {
        let id = create(c, &long_running()).await?;
        start(c, &id).await?;
        ids.push(id);
    }
    let socks = [ctx.daemons[0].sock.clone(), ctx.daemons[1].sock.clone()];
    for i in 0..2 {
        exec_true(&mut conns[i], &socks[i], &ids[i]).await?; // warm-up
    }
    let n = ctx.opts.iters(10, 5);
    for _round in 0..ctx.opts.rounds {
        for _ in 0..n {
            for i in 0..2 {
                let p = exec_true(&mut conns[i], &socks[i], &ids[i]).await?;
                ctx.rec.add("exec", i, p.iter().sum());
                ctx.rec.add("exec.create", i, p[0]);
                ctx.rec.add("exec.start", i, p[1]);
                ctx.rec.add("exec.inspect", i, p[2]);
            }
        }
    }
    for i in 0..2 {
        remove(&mut conns[i], &ids[i], true).await?;
    }
    Ok(())
}
