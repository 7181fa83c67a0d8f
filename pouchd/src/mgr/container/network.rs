//! A container's place on the default bridge: attached for each run,
//! released when the run ends (exit, failed start, removal) and, after a
//! daemon crash, for every container that no longer runs.

use super::store::Container;
use super::ContainerMgr;
use crate::error::Result;
use crate::mgr::network::ports::{self, PortMapping};
use std::collections::HashSet;
use std::sync::Arc;

/// Docker's default network: an empty mode, `default` and `bridge`.
pub(super) fn uses_bridge(network_mode: &str) -> bool {
    matches!(network_mode, "" | "default" | "bridge")
}

impl ContainerMgr {
    /// Attaches `c` to the bridge for a run (a no-op for `none` and `host`);
    /// the endpoint is in `c`'s metadata afterwards.
    pub(super) async fn attach_network(&self, c: &Arc<Container>) -> Result<()> {
        if c.meta().network.is_some() {
            self.release_network(c).await;
        }
        let m = c.meta();
        if !uses_bridge(&m.host_config.network_mode) {
            return Ok(());
        }
        let requests = ports::requests(&m.host_config, &m.config.exposed_ports)?;
        // Held from choosing host ports until they are in the metadata, so
        // two starts cannot pick the same port; starts without ports need
        // not wait for each other.
        let _ports = if requests.is_empty() {
            None
        } else {
            Some(self.net_lock.lock().await)
        };
        let taken: Vec<PortMapping> = self
            .all()
            .iter()
            .filter(|o| o.id != c.id)
            .filter_map(|o| o.meta().network)
            .flat_map(|e| e.ports)
            .collect();
        let ep = self.net.attach(&c.id, &requests, &taken).await?;
        c.update(|m| m.network = Some(ep));
        Ok(())
    }

    /// Undoes [`Self::attach_network`]; failures are logged, not returned:
    /// the run is over either way. The caller persists the metadata.
    pub(super) async fn release_network(&self, c: &Arc<Container>) {
        let Some(ep) = c.meta().network else {
            return;
        };
        if let Err(e) = self.net.detach(&c.id, &ep).await {
            tracing::warn!(id = %c.id, error = %e, "releasing the container's network");
        }
        c.update(|m| m.network = None);
    }

    /// At daemon start: networks of containers that stopped while the
    /// daemon was away (or of ones it never recorded) are released; those
    /// of running containers stay.
    pub(super) async fn release_stale_networks(&self) {
        let mut keep = HashSet::new();
        for c in self.all() {
            let m = c.meta();
            if m.network.is_none() {
                continue;
            }
            if m.state.status.is_alive() {
                keep.insert(c.id.clone());
            } else {
                self.release_network(&c).await;
                if let Err(e) = self.save(&c).await {
                    tracing::warn!(id = %c.id, error = %e, "saving released network");
                }
            }
        }
        self.net.release_orphans(&keep).await;
    }
}

/// Docker's resolv.conf for a container in its own namespace: the host's,
/// without loopback nameservers (they would be the container's own
/// loopback), and Google's public DNS when none is left.
pub(super) fn container_resolv_conf(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let addr = words.next().unwrap_or("");
            let local = addr
                .parse::<std::net::IpAddr>()
                .map(|a| a.is_loopback())
                .unwrap_or(false);
            if local {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_drops_loopback_servers() {
        let r = container_resolv_conf("search x\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n");
        assert_eq!(r, "search x\nnameserver 10.0.0.2\n");
        let r = container_resolv_conf("nameserver 127.0.0.1\n");
        assert_eq!(r, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }

    #[test]
    fn bridge_modes() {
        assert!(uses_bridge(""));
        assert!(uses_bridge("default"));
        assert!(uses_bridge("bridge"));
        assert!(!uses_bridge("none"));
        assert!(!uses_bridge("host"));
    }
}
