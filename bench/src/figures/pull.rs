//! Pulling from a local registry (`docker-registry` on 127.0.0.1, one per
//! network namespace on the same storage, see `crate::registry`): an image
//! of 5 layers × 24 MiB of incompressible data, pulled through the API
//! (`POST /images/create`, progress stream read to the end) by pouchd and
//! dockerd alternately, the image removed before each pull with its
//! content really gone; then the pull of the image already present.

use super::{ms, Ctx};
use crate::daemons::{Daemon, Kind, POUCHD_NAMESPACE};
use crate::registry::BenchRegistry;
use crate::sys;
use anyhow::{anyhow, bail, Context, Result};
use std::process::Command;
use std::time::Instant;

const REPO: &str = "bench/pull";
const LAYERS: usize = 5;
const LAYER_SIZE: usize = 24 << 20;

/// Pulls `name` and fails on an error in the progress stream.
async fn pull(d: &Daemon, name: &str) -> Result<String> {
    let (repo, tag) = name.rsplit_once(':').ok_or_else(|| anyhow!("no tag"))?;
    let mut c = d.conn().await?;
    let r = c
        .post(&format!("/images/create?fromImage={repo}&tag={tag}"), None)
        .await?
        .expect(&format!("{}: pull", d.name()), &[200])?;
    let body = String::from_utf8_lossy(&r.body).to_string();
    if let Some(l) = body.lines().find(|l| l.contains("\"error\"")) {
        bail!("{}: pull {name}: {l}", d.name());
    }
    Ok(body)
}

/// Removes `name` and, for pouchd, runs containerd's GC at once (deleting
/// an image only schedules it): the next pull must fetch every layer, as
/// dockerd's does after its `rmi`.
async fn remove(ctx: &Ctx, d: &Daemon, name: &str, layers: &[String]) -> Result<()> {
    let mut c = d.conn().await?;
    c.delete(&format!("/images/{name}?force=1"))
        .await?
        .expect(&format!("{}: remove image", d.name()), &[200, 404])?;
    if matches!(d.kind, Kind::Pouchd) {
        let ctr = |args: &[&str]| -> Result<String> {
            let out = Command::new(&ctx.opts.ctr)
                .arg("-a")
                .arg(&d.containerd_sock)
                .args(["-n", POUCHD_NAMESPACE])
                .args(args)
                .output()
                .context("run ctr")?;
            if !out.status.success() {
                bail!("ctr {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            }
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let lease = ctr(&["leases", "create"])?;
        let id = lease
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        ctr(&["leases", "delete", "--sync", &id])?;
        let left = ctr(&["content", "ls", "-q"])?;
        if let Some(l) = layers.iter().find(|l| left.contains(l.as_str())) {
            bail!("pouchd: layer {l} still there after GC");
        }
    }
    Ok(())
}

pub async fn run(ctx: &mut Ctx) -> Result<()> {
    let reg = BenchRegistry::start(&ctx.root, ctx.netns_pid)?;
    let t0 = Instant::now();
    let (bytes, layers) = reg.push_random_image(REPO, "v1", LAYERS, LAYER_SIZE)?;
    crate::log(format!(
        "pull: pushed {LAYERS} layers, {:.1} MiB compressed, in {:.1} s",
        bytes as f64 / (1 << 20) as f64,
        t0.elapsed().as_secs_f64()
    ));
    let name = format!("127.0.0.1:{}/{REPO}:v1", reg.port);
    for _round in 0..ctx.opts.rounds {
        for i in 0..ctx.daemons.len() {
            let d = &ctx.daemons[i];
            remove(ctx, d, &name, &layers).await?;
            let cpu = |p: Option<i32>| p.and_then(sys::cpu_secs).unwrap_or(0.0);
            let (pid, cpid) = (d.pid(), d.containerd_pid());
            let (cpu0, ccpu0) = (cpu(pid), cpu(cpid));
            let t = Instant::now();
            let out = pull(d, &name).await?;
            let took = t.elapsed();
            ctx.rec.add("pull_120mb.cpu", i, cpu(pid) - cpu0);
            ctx.rec
                .add("pull_120mb.containerd_cpu", i, cpu(cpid) - ccpu0);
            if !out.contains("Downloaded newer image") {
                bail!("{}: pull did not download: {out}", d.name());
            }
            ctx.rec.add("pull_120mb", i, took.as_secs_f64());
        }
        for i in 0..ctx.daemons.len() {
            let d = &ctx.daemons[i];
            for _ in 0..ctx.opts.iters(5, 2) {
                let t = Instant::now();
                let out = pull(d, &name).await?;
                let took = t.elapsed();
                if !out.contains("Image is up to date") {
                    bail!("{}: re-pull was not up to date: {out}", d.name());
                }
                ctx.rec.add("repull", i, ms(took));
            }
        }
    }
    ctx.rec.note(
        "pull_120mb",
        format!(
            "{LAYERS} gzip layers of {} MiB of random data from docker-registry on 127.0.0.1 \
             (dockerd: the same storage served in its network namespace; 127.0.0.0/8 is \
             insecure by default for both); pouchd's containerd GC is run after each removal",
            LAYER_SIZE >> 20
        ),
    );
    for d in &ctx.daemons {
        remove(ctx, d, &name, &layers).await?;
    }
    Ok(())
}
