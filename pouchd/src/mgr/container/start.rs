//! `POST /containers/{id}/start`: files the container sees (/etc/hosts, ...),
//! the OCI spec, the containerd record, FIFOs, and the task.

use super::io;
use super::spec::{self, ResolvedUser};
use super::state::{ContainerMeta, Status};
use super::store::Container;
use super::ContainerMgr;
use crate::ctrd::{Mount, NewContainer};
use crate::error::{Error, Result};
use std::path::PathBuf;
use std::sync::Arc;

/// Directories of a snapshot's layers, top first, for reading image files
/// (passwd, group) without mounting.
pub(super) fn layer_dirs(mounts: &[Mount]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for m in mounts {
        match m.kind.as_str() {
            "overlay" => {
                for o in &m.options {
                    if let Some(u) = o.strip_prefix("upperdir=") {
                        out.insert(0, PathBuf::from(u));
                    } else if let Some(l) = o.strip_prefix("lowerdir=") {
                        out.extend(l.split(':').map(PathBuf::from));
                    }
                }
            }
            "bind" => out.push(PathBuf::from(&m.source)),
            _ => {}
        }
    }
    out
}

const HOSTS_BASE: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// Writes /etc/hosts: localhost, the container's own address under its
/// hostname, its peers on user-defined networks, and `--add-host`s. The
/// file is written in place: it is bind-mounted into a running container.
pub(super) fn write_hosts(m: &ContainerMeta, peers: &[super::network::HostEntry]) -> Result<()> {
    let hostname = spec::hostname_of(m);
    let mut hosts = if m.host_config.network_mode == "host" {
        std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| HOSTS_BASE.to_string())
    } else {
        HOSTS_BASE.to_string()
    };
    if let Some(ep) = m.primary_endpoint() {
        // As Docker: the container's own address under its hostname.
        hosts.push_str(&format!("{}\t{hostname}\n", ep.ip_address));
    }
    for (ip, names) in peers {
        hosts.push_str(&format!("{ip}\t{}\n", names.join(" ")));
    }
    for e in &m.host_config.extra_hosts {
        if let Some((name, ip)) = e.split_once(':') {
            hosts.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    std::fs::write(&m.hosts_path, hosts)?;
    Ok(())
}

/// Writes /etc/hostname, /etc/hosts and /etc/resolv.conf for the container.
fn write_etc_files(m: &ContainerMeta, peers: &[super::network::HostEntry]) -> Result<()> {
    let hostname = spec::hostname_of(m);
    let host_net = m.host_config.network_mode == "host";
    if let Some(dir) = std::path::Path::new(&m.hostname_path).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&m.hostname_path, format!("{hostname}\n"))?;
    write_hosts(m, peers)?;
    let mut resolv = if m.host_config.dns.is_empty() {
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        if host_net {
            host
        } else {
            super::network::container_resolv_conf(&host)
        }
    } else {
        m.host_config
            .dns
            .iter()
            .map(|d| format!("nameserver {d}\n"))
            .collect()
    };
    if !m.host_config.dns_search.is_empty() {
        resolv.push_str(&format!("search {}\n", m.host_config.dns_search.join(" ")));
    }
    if !m.host_config.dns_options.is_empty() {
        resolv.push_str(&format!(
            "options {}\n",
            m.host_config.dns_options.join(" ")
        ));
    }
    std::fs::write(&m.resolv_conf_path, resolv)?;
    Ok(())
}

/// Bind sources that do not exist are created as directories, as Docker does.
fn ensure_bind_sources(m: &ContainerMeta) -> Result<()> {
    for b in &m.host_config.binds {
        let b = spec::parse_bind(b)?;
        if b.is_host() && std::fs::symlink_metadata(&b.source).is_err() {
            std::fs::create_dir_all(&b.source)
                .map_err(|e| Error::system(format!("creating bind source {}: {e}", b.source)))?;
        }
    }
    Ok(())
}

impl ContainerMgr {
    /// Starts the container.
    pub async fn start(&self, reference: &str) -> Result<()> {
        let c = self.get(reference)?;
        let _op = c.op.lock().await;
        match c.meta().state.status {
            Status::Running => {
                return Err(Error::NotModified(format!(
                    "container {} is already running",
                    c.id
                )))
            }
            Status::Paused => {
                return Err(Error::conflict(
                    "cannot start a paused container, try unpause instead",
                ))
            }
            Status::Removing | Status::Dead => {
                return Err(Error::conflict(format!(
                    "container {} is marked for removal and cannot be started",
                    c.id
                )))
            }
            _ => {}
        }
        c.update(|m| m.manually_stopped = false);
        let res = self.start_locked(&c).await;
        if res.is_err() && c.meta().host_config.auto_remove {
            drop(_op);
            if let Err(e) = self.remove_container(&c, true, true).await {
                tracing::warn!(id = %c.id, error = %e, "auto-remove after failed start");
            }
        }
        res
    }

    /// Starts a task for `c`; the caller holds `c.op`.
    pub(super) async fn start_locked(&self, c: &Arc<Container>) -> Result<()> {
        // The previous run's task is still being reaped.
        drop(c.reap.lock().await);
        match self.try_start(c).await {
            Ok(pid) => {
                c.update(|m| {
                    m.state.status = Status::Running;
                    m.state.pid = pid;
                    m.state.started_at = Some(chrono::Utc::now());
                    m.state.exit_code = 0;
                    m.state.error.clear();
                    m.state.oom_killed = false;
                });
                self.save(c).await?;
                c.wait.send_modify(|w| w.running = true);
                self.emit(&c.meta(), "start", &[]);
                tracing::info!(id = %c.id, pid, "container started");
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                // runc reports a missing or non-executable command only as text.
                let code = if msg.contains("executable file not found")
                    || msg.contains("no such file or directory")
                {
                    127
                } else if msg.contains("permission denied") {
                    126
                } else {
                    128
                };
                c.update(|m| {
                    m.state.error = msg.clone();
                    m.state.exit_code = code;
                    if m.state.status != Status::Created {
                        m.state.status = Status::Exited;
                    }
                });
                let _ = self.rt.delete_task(&c.id).await;
                let _ = self.rt.delete_container(&c.id).await;
                self.release_network(c).await;
                let _ = self.save(c).await;
                Err(e)
            }
        }
    }

    async fn try_start(&self, c: &Arc<Container>) -> Result<u32> {
        self.attach_network(c).await?;
        let m = c.meta();
        ensure_bind_sources(&m)?;
        self.populate_volumes(c).await?;
        let m = c.meta();
        write_etc_files(&m, &self.peer_entries(&m))?;
        self.share_etc_files(&m)?;
        let mounts = self.rt.snapshot_mounts(&m.snapshot_key).await?;
        let user = if m.config.user.is_empty() {
            spec::resolve_user("", &layer_dirs(&mounts)).unwrap_or(ResolvedUser {
                home: Some("/root".into()),
                ..Default::default()
            })
        } else {
            spec::resolve_user(&m.config.user, &layer_dirs(&mounts))?
        };
        let oci = spec::build(&m, &user, &self.cfg.namespace)?;
        let spec_json = serde_json::to_vec(&oci)?;
        let mut labels = std::collections::HashMap::new();
        labels.insert(crate::ctrd::CONTAINER_LABEL.to_string(), m.name.clone());
        self.rt
            .create_container(NewContainer {
                id: m.id.clone(),
                spec: spec_json,
                image: m.image_id.clone(),
                snapshot_key: m.snapshot_key.clone(),
                labels,
            })
            .await?;
        let fifo_dir = self.cfg.exec_root.join(&m.id);
        let stdio = io::create_fifos(&fifo_dir, m.config.tty, m.config.open_stdin)?;
        let run = io::open_fifos(&stdio)?;
        let pid = self.rt.start_task(&m.id, &mounts, &stdio).await?;
        let [h, w] = m.host_config.console_size;
        if m.config.tty && h > 0 && w > 0 {
            // The client's terminal size, so the first output is laid out right.
            if let Err(e) = self.rt.resize(&m.id, "", w as u32, h as u32).await {
                tracing::debug!(id = %m.id, error = %e, "initial console size");
            }
        }
        c.io.start_copying(run, Self::open_log(&m)?).await?;
        Ok(pid)
    }
}
