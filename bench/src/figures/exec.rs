//! `exec true` as the docker CLI does it: exec create, exec start attached
//! (Upgrade: tcp on a fresh connection, stream read to its end), exec inspect
//! for the exit code; in a running container. Beside it, for scale:
//! containerd's own client, `ctr task exec` on pouchd's containerd (less
//! ctr's start-up), and pouchd's exec in a container without seccomp, which
//! shows runc's cost of loading the profile at every exec (both daemons
//! apply Docker's).

use super::cli::timed;
use super::{create, long_running, ms, remove, start, Ctx};
use crate::client::{hijack, Conn};
use crate::daemons::POUCHD_NAMESPACE;
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
    let mut unconfined = long_running();
    unconfined["HostConfig"]["SecurityOpt"] = serde_json::json!(["seccomp=unconfined"]);
    let bare = create(&mut conns[0], &unconfined).await?;
    start(&mut conns[0], &bare).await?;
    let (ctr, csock) = (ctx.opts.ctr.clone(), ctx.daemons[0].containerd_sock.clone());
    let ctr_cmd = |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(&ctr);
        cmd.arg("-a")
            .arg(&csock)
            .args(["-n", POUCHD_NAMESPACE])
            .args(args);
        cmd
    };
    let n = ctx.opts.iters(10, 5);
    let mut k = 0;
    for _round in 0..ctx.opts.rounds {
        for _ in 0..n {
            for i in 0..2 {
                let p = exec_true(&mut conns[i], &socks[i], &ids[i]).await?;
                ctx.rec.add("exec", i, p.iter().sum());
                ctx.rec.add("exec.create", i, p[0]);
                ctx.rec.add("exec.start", i, p[1]);
                ctx.rec.add("exec.inspect", i, p[2]);
            }
            let p = exec_true(&mut conns[0], &socks[0], &bare).await?;
            ctx.rec.add("exec.unconfined", 0, p.iter().sum());
            k += 1;
            let exec_id = format!("bench-floor-{k}");
            let full = timed(
                &mut ctr_cmd(&["task", "exec", "--exec-id", &exec_id, &ids[0], "true"]),
                "ctr task exec",
            )
            .await?;
            let startup = timed(&mut ctr_cmd(&["version"]), "ctr version").await?;
            ctx.rec
                .add("exec.ctr_floor", 0, ms(full.saturating_sub(startup)));
        }
    }
    ctx.rec.note(
        "exec.ctr_floor",
        "`ctr task exec <id> true` on pouchd's containerd minus the time of `ctr version` \
         (ctr's own start-up): Tasks.Exec, Tasks.Start and the exit through containerd and the shim, \
         with no daemon in between",
    );
    ctx.rec.note(
        "exec.unconfined",
        "pouchd only: the same exec in a container run with --security-opt seccomp=unconfined; \
         the difference is runc compiling and loading Docker's seccomp profile at each exec",
    );
    remove(&mut conns[0], &bare, true).await?;
    for i in 0..2 {
        remove(&mut conns[i], &ids[i], true).await?;
    }
    Ok(())
}
