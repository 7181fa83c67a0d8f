//! `docker run --rm --network none busybox true` through Debian's docker CLI
//! (20.10), one run at a time, pouchd and dockerd alternating; and the
//! containerd floor: `ctr run --rm` of the same image on pouchd's containerd.

use super::{ms, Ctx};
use crate::daemons::{Daemon, POUCHD_NAMESPACE};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::process::Command;

pub(super) async fn timed(cmd: &mut Command, what: &str) -> Result<Duration> {
    let t0 = Instant::now();
    let out = cmd
        .output()
        .await
        .with_context(|| format!("running {what}"))?;
    let took = t0.elapsed();
    if !out.status.success() {
        bail!(
            "{what}: {} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(took)
}

async fn docker_run(docker: &Path, config: &Path, d: &Daemon) -> Result<Duration> {
    let mut cmd = Command::new(docker);
    cmd.env("DOCKER_HOST", format!("unix://{}", d.sock.display()))
        .env("DOCKER_CONFIG", config)
        .args(["run", "--rm", "--network", "none", "busybox", "true"]);
    timed(&mut cmd, &format!("docker run against {}", d.name())).await
}

/// The image's name in pouchd's containerd namespace.
async fn ctr_image(ctr: &Path, d: &Daemon) -> Result<String> {
    let out = Command::new(ctr)
        .arg("-a")
        .arg(&d.containerd_sock)
        .args(["-n", POUCHD_NAMESPACE, "images", "ls", "-q"])
        .output()
        .await
        .context("ctr images ls")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.contains("busybox"))
        .map(str::to_string)
        .context("no busybox image in pouchd's containerd namespace")
}

async fn ctr_run(ctr: &Path, d: &Daemon, image: &str, id: &str) -> Result<Duration> {
    let mut cmd = Command::new(ctr);
    cmd.arg("-a").arg(&d.containerd_sock).args([
        "-n",
        POUCHD_NAMESPACE,
        "run",
        "--rm",
        image,
        id,
        "true",
    ]);
    timed(&mut cmd, "ctr run").await
}

pub async fn run(ctx: &mut Ctx) -> Result<()> {
    let config = ctx.root.join("docker-config");
    std::fs::create_dir_all(&config)?;
    let (docker, ctr) = (ctx.opts.docker_cli.clone(), ctx.opts.ctr.clone());
    let image = ctr_image(&ctr, &ctx.daemons[0]).await?;
    // Warm-up, not recorded.
    for d in &ctx.daemons {
        docker_run(&docker, &config, d).await?;
    }
    ctr_run(&ctr, &ctx.daemons[0], &image, "bench-floor-warm").await?;
    let n = ctx.opts.iters(5, 3);
    let mut k = 0;
    for _round in 0..ctx.opts.rounds {
        for _ in 0..n {
            for i in 0..2 {
                let t = docker_run(&docker, &config, &ctx.daemons[i]).await?;
                ctx.rec.add("cli_run", i, ms(t));
            }
            k += 1;
            let t = ctr_run(&ctr, &ctx.daemons[0], &image, &format!("bench-floor-{k}")).await?;
            ctx.rec.add("ctr_floor", 0, ms(t));
        }
    }
    ctx.rec.note(
        "ctr_floor",
        "ctr (containerd's own Go client) creates, starts, waits and deletes in one process: \
         no daemon in between; dockerd keeps images outside containerd, so no dockerd column",
    );
    Ok(())
}
