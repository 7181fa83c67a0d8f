//! A container's networks: chosen at create (the network mode and
//! `NetworkingConfig`), changed by connect and disconnect, attached for each
//! run in one namespace (one interface per network), released when the run
//! ends (exit, failed start, removal) and, after a daemon crash, for every
//! container that no longer runs.
//!
//! Containers on a user-defined network find each other by name: pouchd
//! keeps every running member's /etc/hosts listing the others, rewritten
//! in place (the file is bind-mounted) whenever one joins or leaves.

use super::state::{ContainerMeta, NetworkAttachment};
use super::store::Container;
use super::ContainerMgr;
use crate::error::{Error, Result};
use crate::mgr::network::ports::{self, PortMapping};
use crate::mgr::network::{AttachRequest, Endpoint, NetConfig, NetworkStore, Sandbox};
use pouch_api::container::{EndpointSettings, HostConfig, NetworkingConfig};
use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Docker's default network: an empty mode, `default` and `bridge`.
pub(super) fn uses_bridge(network_mode: &str) -> bool {
    matches!(network_mode, "" | "default" | "bridge")
}

/// Modes whose containers have no network of their own to join others.
pub(super) fn shares_namespace(network_mode: &str) -> bool {
    matches!(network_mode, "host" | "none") || network_mode.starts_with("container:")
}

/// The attachment asked for by an endpoint config, checked against `net`.
pub(super) fn attachment(
    net: &NetConfig,
    ep: Option<&EndpointSettings>,
) -> Result<NetworkAttachment> {
    let mut a = NetworkAttachment {
        network_id: net.id.clone(),
        ..Default::default()
    };
    let Some(ep) = ep else {
        return Ok(a);
    };
    if !ep.aliases.is_empty() {
        if !net.is_user_defined() {
            return Err(Error::invalid(
                "network-scoped aliases are only supported for user-defined networks",
            ));
        }
        a.aliases = ep
            .aliases
            .iter()
            .filter(|x| !x.is_empty())
            .cloned()
            .collect();
    }
    let ip = ep
        .ipam_config
        .as_ref()
        .map(|c| c.ipv4_address.trim())
        .unwrap_or_default();
    if !ip.is_empty() {
        if !net.is_user_defined() {
            return Err(Error::invalid(
                "user specified IP address is supported on user defined networks only",
            ));
        }
        let addr: Ipv4Addr = ip
            .parse()
            .map_err(|_| Error::invalid(format!("invalid IPv4 address: {ip}")))?;
        match net.subnet() {
            Some(s) if s.is_host(addr) => {}
            _ => {
                return Err(Error::invalid(format!(
                    "no configured subnet of network {} contains the IP address {addr}",
                    net.name
                )))
            }
        }
        a.ipv4_address = addr.to_string();
    }
    Ok(a)
}

/// The networks a new container joins: its network mode's, with the
/// endpoint config the client gave for it.
pub(super) fn plan_networks(
    store: &NetworkStore,
    hc: &HostConfig,
    nc: &NetworkingConfig,
) -> Result<BTreeMap<String, NetworkAttachment>> {
    if nc.endpoints_config.len() > 1 {
        let mut names: Vec<&str> = nc.endpoints_config.keys().map(String::as_str).collect();
        names.sort();
        return Err(Error::invalid(format!(
            "Container cannot be connected to network endpoints: {}",
            names.join(", ")
        )));
    }
    let mode = hc.network_mode.as_str();
    if let Some(target) = mode.strip_prefix("container:") {
        if target.is_empty() {
            return Err(Error::invalid(
                "invalid network mode: container: needs a container",
            ));
        }
        // The other container's namespace, joined at each start.
        return Ok(BTreeMap::new());
    }
    let net = if uses_bridge(mode) {
        store.default_bridge().clone()
    } else {
        store.get(mode)?
    };
    if net.bridge.is_none() {
        // host or none.
        return Ok(BTreeMap::new());
    }
    let ep = nc
        .endpoints_config
        .iter()
        .find(|(k, _)| *k == mode || **k == net.name || **k == net.id)
        .map(|(_, v)| v);
    Ok(BTreeMap::from([(net.name.clone(), attachment(&net, ep)?)]))
}

/// The networks a container joins, its network mode's first.
pub fn configured(m: &ContainerMeta) -> Vec<(String, NetworkAttachment)> {
    let mode = m.host_config.network_mode.as_str();
    if m.networks.is_empty() {
        return if uses_bridge(mode) {
            vec![("bridge".to_string(), NetworkAttachment::default())]
        } else {
            Vec::new()
        };
    }
    let primary = |name: &str, a: &NetworkAttachment| {
        name == mode
            || (!mode.is_empty() && a.network_id == mode)
            || (uses_bridge(mode) && name == "bridge")
    };
    let mut out: Vec<(String, NetworkAttachment)> = m
        .networks
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.sort_by_key(|(name, a)| !primary(name, a));
    out
}

/// Docker's short ID, which it adds to a container's aliases on
/// user-defined networks.
pub(super) fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// One line of /etc/hosts: an address and its names.
pub(super) type HostEntry = (String, Vec<String>);

impl ContainerMgr {
    pub(super) fn store(&self) -> &NetworkStore {
        self.net.networks()
    }

    /// A configured network, by the ID recorded at create (it may have been
    /// renamed since) or else by name.
    fn resolve_network(&self, name: &str, a: &NetworkAttachment) -> Result<NetConfig> {
        if !a.network_id.is_empty() {
            if let Ok(n) = self.store().get(&a.network_id) {
                return Ok(n);
            }
        }
        self.store().get(name)
    }

    /// `container:<id>`: the namespace of that running container, and its
    /// hostname, as Docker joins it at each start.
    fn join_container(&self, c: &Arc<Container>, target: &str) -> Result<()> {
        let t = self.get(target)?.meta();
        if !t.state.status.is_alive() || t.state.pid == 0 {
            return Err(Error::conflict(format!(
                "cannot join network of a non running container: {target}"
            )));
        }
        if t.id == c.id {
            return Err(Error::invalid("cannot join own network"));
        }
        let netns = t
            .pod_netns
            .clone()
            .or_else(|| t.primary_endpoint().map(|e| e.sandbox_key.clone()))
            .unwrap_or_else(|| format!("/proc/{}/ns/net", t.state.pid));
        let hostname = super::spec::hostname_of(&t);
        c.update(|m| {
            m.pod_netns = Some(netns);
            m.config.hostname = hostname;
        });
        Ok(())
    }

    /// A `container:<id>` container sees that container's /etc/hosts and
    /// resolv.conf, as in Docker.
    pub(super) fn share_etc_files(&self, m: &ContainerMeta) -> Result<()> {
        let Some(target) = m.host_config.network_mode.strip_prefix("container:") else {
            return Ok(());
        };
        let t = self.get(target)?.meta();
        for (from, to) in [
            (&t.hosts_path, &m.hosts_path),
            (&t.resolv_conf_path, &m.resolv_conf_path),
        ] {
            if let Ok(text) = std::fs::read(from) {
                std::fs::write(to, text)?;
            }
        }
        Ok(())
    }

    /// Attaches `c` to its networks for a run (a no-op for `none` and
    /// `host`); the endpoints are in `c`'s metadata afterwards.
    pub(super) async fn attach_network(&self, c: &Arc<Container>) -> Result<()> {
        let mode = c.meta().host_config.network_mode;
        if let Some(target) = mode.strip_prefix("container:") {
            return self.join_container(c, target);
        }
        if !c.meta().endpoints.is_empty() {
            self.release_network(c).await;
        }
        let m = c.meta();
        let wanted = configured(&m);
        if wanted.is_empty() {
            return Ok(());
        }
        let mut nets = Vec::with_capacity(wanted.len());
        for (name, a) in &wanted {
            nets.push((self.resolve_network(name, a)?, a.clone()));
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
            .flat_map(|o| o.meta().endpoints)
            .flat_map(|e| e.ports)
            .collect();
        let sandbox = self.net.create_sandbox(&c.id).await?;
        let mut eps: Vec<Endpoint> = Vec::with_capacity(nets.len());
        for (i, (net, a)) in nets.iter().enumerate() {
            let ip = a.ipv4_address.parse().ok();
            let ifname = format!("eth{i}");
            let req = AttachRequest {
                ifname: &ifname,
                ports: if i == 0 { &requests } else { &[] },
                taken: &taken,
                ip,
            };
            match self.net.attach(&c.id, &sandbox, net, req).await {
                Ok(ep) => eps.push(ep),
                Err(e) => {
                    self.undo_endpoints(&c.id, &eps, Some(&sandbox)).await;
                    return Err(e);
                }
            }
        }
        c.update(|m| {
            m.endpoints = eps;
            for (net, _) in &nets {
                if let Some(a) = m.networks.get_mut(&net.name) {
                    a.network_id = net.id.clone();
                    let sid = short_id(&m.id).to_string();
                    if net.is_user_defined() && !a.aliases.contains(&sid) {
                        a.aliases.push(sid);
                    }
                }
            }
        });
        drop(_ports);
        self.refresh_peers(c);
        Ok(())
    }

    async fn undo_endpoints(&self, id: &str, eps: &[Endpoint], sandbox: Option<&Sandbox>) {
        for ep in eps.iter().rev() {
            if let Err(e) = self.net.detach(id, ep).await {
                tracing::warn!(id = %id, network = ep.network_name(), error = %e, "releasing an endpoint");
            }
        }
        let sandbox = sandbox.cloned().or_else(|| {
            eps.first().map(|e| Sandbox {
                id: e.sandbox_id.clone(),
                key: e.sandbox_key.clone(),
            })
        });
        if let Some(s) = sandbox {
            if let Err(e) = self.net.remove_sandbox(&s).await {
                tracing::warn!(id = %id, error = %e, "removing the network namespace");
            }
        }
    }

    /// Undoes [`Self::attach_network`]; failures are logged, not returned:
    /// the run is over either way. The caller persists the metadata.
    pub(super) async fn release_network(&self, c: &Arc<Container>) {
        let eps = c.meta().endpoints;
        if eps.is_empty() {
            return;
        }
        self.undo_endpoints(&c.id, &eps, None).await;
        c.update(|m| m.endpoints.clear());
        self.refresh_peers_of(&eps);
    }

    /// At daemon start: networks of containers that stopped while the
    /// daemon was away (or of ones it never recorded) are released; those
    /// of running containers stay.
    pub(super) async fn release_stale_networks(&self) {
        let mut keep = HashSet::new();
        for c in self.all() {
            let m = c.meta();
            if m.endpoints.is_empty() {
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
        let nets = self.store().all();
        self.net.release_orphans(&keep, &nets).await;
    }

    /// Containers attached to network `id` (running, or being started).
    pub fn containers_on(&self, network_id: &str) -> Vec<(ContainerMeta, Endpoint)> {
        self.all()
            .into_iter()
            .map(|c| c.meta())
            .filter_map(|m| {
                let ep = m
                    .endpoints
                    .iter()
                    .find(|e| e.network_id == network_id)
                    .cloned()?;
                Some((m, ep))
            })
            .collect()
    }

    /// Containers configured on network `id`, running or not.
    pub fn configured_on(&self, net: &NetConfig) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|c| {
                configured(&c.meta()).iter().any(|(name, a)| {
                    a.network_id == net.id || (a.network_id.is_empty() && *name == net.name)
                })
            })
            .map(|c| c.id.clone())
            .collect()
    }

    /// What `m`'s /etc/hosts lists of the others on its user-defined
    /// networks: their addresses there, with their names and aliases.
    pub(super) fn peer_entries(&self, m: &ContainerMeta) -> Vec<HostEntry> {
        let mut out = Vec::new();
        for ep in &m.endpoints {
            if ep.network_name() == "bridge" {
                continue;
            }
            for (p, pe) in self.containers_on(&ep.network_id) {
                if p.id == m.id {
                    continue;
                }
                let mut names = vec![p.name.clone()];
                if let Some(a) = p.networks.get(pe.network_name()) {
                    names.extend(a.aliases.iter().filter(|x| **x != p.name).cloned());
                }
                out.push((pe.ip_address.clone(), names));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Rewrites the /etc/hosts of `c`.
    pub(super) fn refresh_hosts(&self, c: &Arc<Container>) {
        let _hosts = self.hosts_lock.lock().unwrap_or_else(|e| e.into_inner());
        let m = c.meta();
        if m.endpoints.is_empty() {
            return;
        }
        let peers = self.peer_entries(&m);
        if let Err(e) = super::start::write_hosts(&m, &peers) {
            tracing::warn!(id = %c.id, error = %e, "rewriting /etc/hosts");
        }
    }

    /// Rewrites /etc/hosts of `c`'s peers on its current endpoints' networks.
    pub(super) fn refresh_peers(&self, c: &Arc<Container>) {
        let eps = c.meta().endpoints;
        self.refresh_peers_of(&eps);
    }

    /// Rewrites /etc/hosts of the running containers on the user-defined
    /// networks of `eps`.
    pub(super) fn refresh_peers_of(&self, eps: &[Endpoint]) {
        let nets: HashSet<&str> = eps
            .iter()
            .filter(|e| e.network_name() != "bridge")
            .map(|e| e.network_id.as_str())
            .collect();
        if nets.is_empty() {
            return;
        }
        for c in self.all() {
            let m = c.meta();
            if m.endpoints
                .iter()
                .any(|e| nets.contains(e.network_id.as_str()))
            {
                self.refresh_hosts(&c);
            }
        }
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
