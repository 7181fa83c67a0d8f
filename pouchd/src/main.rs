//! The pouchd binary: configuration, containerd, managers, API.

use anyhow::Context;
use clap::Parser;
use pouchd::config::{Config, Flags};
use pouchd::ctrd::{ensure_containerd, ContainerdOptions, Ctrd};
use pouchd::daemon::Daemon;
use pouchd::mgr::container::{ContainerMgr, ContainerMgrConfig};
use pouchd::mgr::events::EventBus;
use pouchd::mgr::image::ImageMgr;
use pouchd::mgr::network::{Network, NetworkMgr, NetworkStore};
use pouchd::mgr::system::SystemInfo;
use pouchd::mgr::volume::VolumeMgr;
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};

fn main() -> anyhow::Result<()> {
    // As dockerd: what pouchd and its containerd create (layers, snapshot
    // roots, volumes) gets the modes they ask for, whatever the shell that
    // started it had.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let cfg = Config::resolve(Flags::parse())?;
    let filter = if cfg.debug { "debug" } else { "info" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("POUCHD_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(format!(
                    "{filter},h2=info,tower=info,hyper=info"
                ))
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cfg))
}

async fn run(cfg: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.home_dir).context("creating home dir")?;
    std::fs::create_dir_all(&cfg.exec_root).context("creating exec root")?;
    if let Some(p) = &cfg.pidfile {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(p, format!("{}\n", std::process::id())).context("writing pidfile")?;
    }
    ensure_containerd(ContainerdOptions {
        socket: cfg.containerd.clone(),
        binary: cfg.containerd_path.clone(),
        root: cfg.home_dir.join("containerd"),
        state: cfg.exec_root.join("containerd"),
    })
    .await?;
    let (ctrd, ctrd_events) = Ctrd::connect(&cfg.containerd, &cfg.namespace).await?;
    let ctrd = Arc::new(ctrd);
    let containerd_version = ctrd.version().await.unwrap_or_default();
    let events = Arc::new(EventBus::new(Some(cfg.home_dir.join("events.log")))?);
    let volumes = Arc::new(VolumeMgr::new(
        cfg.home_dir.join("volumes"),
        events.clone(),
    )?);
    let images =
        Arc::new(ImageMgr::new(ctrd.clone(), cfg.home_dir.join("tmp"), events.clone()).await?);
    images.set_registries(cfg.registries()?);
    let networks = NetworkStore::open(
        cfg.home_dir.join("networks"),
        &cfg.bridge,
        cfg.address_pools.clone(),
    )?;
    let network = Arc::new(NetworkMgr::new(networks, &cfg.cni_bin_dir, &cfg.exec_root));
    if let Err(e) = network.ensure_masquerade().await {
        // Containers on the bridge still reach each other and the host.
        tracing::warn!(error = %e, "no outbound NAT for the bridge network");
    }
    for n in network
        .networks()
        .all()
        .iter()
        .filter(|n| n.is_user_defined())
    {
        if let Err(e) = network.setup_network(n).await {
            tracing::warn!(network = %n.name, error = %e, "no outbound NAT for the network");
        }
    }
    let containers = ContainerMgr::new(
        ctrd.clone(),
        images.clone(),
        network,
        ContainerMgrConfig {
            root: cfg.home_dir.join("containers"),
            exec_root: cfg.exec_root.join("fifo"),
            namespace: cfg.namespace.clone(),
            log_config: cfg.log_config.clone(),
        },
        ctrd_events,
        events.clone(),
        volumes.clone(),
    )
    .await?;
    let daemon = Arc::new(Daemon {
        containers,
        images,
        events,
        system: SystemInfo::gather(cfg.home_dir.clone(), containerd_version, cfg.debug),
        volumes,
        build_cache: Arc::new(pouchd::build::cache::BuildCache::open(
            cfg.home_dir.join("build-cache.json"),
        )),
    });
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let containers = daemon.containers.clone();
    let cri = match &cfg.cri_listen {
        Some(path) => {
            let svc = pouchd::cri::Cri::new(
                daemon.containers.clone(),
                daemon.images.clone(),
                &cfg.home_dir,
            )?;
            let path = path.clone();
            Some(tokio::spawn(
                async move { pouchd::cri::serve(&path, svc).await },
            ))
        }
        None => None,
    };
    let cri_failed = async {
        match cri {
            Some(t) => match t.await {
                Ok(Ok(())) => std::future::pending().await,
                Ok(Err(e)) => Err(anyhow::Error::from(e)),
                Err(e) => Err(anyhow::anyhow!("CRI server task: {e}")),
            },
            None => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        r = pouchd::server::serve(&cfg.listen, daemon) => r.map_err(anyhow::Error::from),
        r = cri_failed => r,
        _ = term.recv() => Ok(()),
        _ = int.recv() => Ok(()),
    };
    // Removed containers' tasks and snapshots still being released in
    // containerd: finished now rather than by the next start's sweep.
    containers
        .shutdown(std::time::Duration::from_secs(10))
        .await;
    // Containers keep running without us; only our own files go.
    for l in &cfg.listen {
        if let Some(p) = l.strip_prefix("unix://") {
            let _ = std::fs::remove_file(p);
        }
    }
    if let Some(p) = &cfg.cri_listen {
        let _ = std::fs::remove_file(p);
    }
    if let Some(p) = &cfg.pidfile {
        let _ = std::fs::remove_file(p);
    }
    tracing::info!("pouchd stopped");
    result
}
