//! Network manager: Docker's default `bridge` network and user-defined
//! bridge networks, each on a Linux bridge of this daemon, through the CNI
//! plugins (bridge + host-local IPAM + portmap); one named network
//! namespace per running container, with one interface per network.
//!
//! [`NetworkStore`] keeps the networks' configuration. The container
//! manager calls [`Network`] at start, connect, disconnect, exit and
//! removal (a fake stands in for unit tests); `none` and `host` never reach
//! it. It calls nothing above it.

pub mod cni;
mod iptables;
mod manager;
pub mod netns;
pub mod pool;
pub mod ports;
pub mod store;

use crate::error::{Error, Result};
use async_trait::async_trait;
pub use manager::NetworkMgr;
use ports::{PortMapping, PortRequest};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::net::Ipv4Addr;
pub use store::{NetConfig, NetworkStore};

/// Namespaces named so belong to pods (CRI sandboxes), which the CRI layer
/// releases itself: the sweep of containers' orphaned namespaces skips them.
pub const POD_NETNS_PREFIX: &str = "pod-";

/// The container's interface name inside its namespace.
pub const IFNAME: &str = "eth0";

/// What a container got on the default bridge; persisted with the container
/// so that an exit, a removal or a restarted daemon can undo it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Endpoint {
    pub network_id: String,
    /// The network's name when attached (empty in records of the default
    /// bridge from before user-defined networks).
    pub network_name: String,
    pub endpoint_id: String,
    /// The Linux bridge.
    pub bridge: String,
    /// The interface in the container (empty: `eth0`).
    pub ifname: String,
    /// Docker's `SandboxID`: names this run's namespace.
    pub sandbox_id: String,
    /// The namespace file (Docker's `SandboxKey`).
    pub sandbox_key: String,
    pub ip_address: String,
    pub ip_prefix_len: u8,
    pub gateway: String,
    pub mac_address: String,
    pub ports: Vec<PortMapping>,
    /// The CNI ADD result, the `prevResult` of the DEL.
    pub cni_result: Value,
    /// The conflist of the ADD, which the DEL must use too.
    pub cni_config: Value,
}

impl Endpoint {
    pub fn ifname(&self) -> &str {
        if self.ifname.is_empty() {
            IFNAME
        } else {
            &self.ifname
        }
    }

    pub fn network_name(&self) -> &str {
        if self.network_name.is_empty() {
            "bridge"
        } else {
            &self.network_name
        }
    }
}

/// The default bridge network's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BridgeConfig {
    /// Linux bridge name (at most 15 bytes).
    pub name: String,
    /// The bridge's own address, the containers' gateway.
    pub gateway: Ipv4Addr,
    pub prefix_len: u8,
}

impl BridgeConfig {
    /// Docker's `--bip`: the bridge address with its prefix, `172.31.0.1/16`.
    pub fn parse(name: &str, bip: &str) -> Result<Self> {
        if name.is_empty()
            || name.len() > 15
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(Error::invalid(format!(
                "invalid bridge name {name:?}: 1 to 15 characters of [a-zA-Z0-9_.-]"
            )));
        }
        let bad = || {
            Error::invalid(format!(
                "invalid --bip {bip:?}: want an address/prefix such as 172.31.0.1/16"
            ))
        };
        let (ip, len) = bip.split_once('/').ok_or_else(bad)?;
        let gateway: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix_len: u8 = len.parse().map_err(|_| bad())?;
        if !(8..=30).contains(&prefix_len) {
            return Err(bad());
        }
        let cfg = BridgeConfig {
            name: name.to_string(),
            gateway,
            prefix_len,
        };
        if gateway == cfg.network() || gateway == cfg.broadcast() {
            return Err(bad());
        }
        Ok(cfg)
    }

    fn mask(&self) -> u32 {
        u32::MAX << (32 - self.prefix_len)
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.gateway) & self.mask())
    }

    fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.gateway) | !self.mask())
    }

    /// `172.31.0.0/16`.
    pub fn subnet(&self) -> String {
        format!("{}/{}", self.network(), self.prefix_len)
    }
}

/// A stable ID for a built-in network of a daemon.
pub fn network_id(name: &str, bridge: &str) -> String {
    hex::encode(Sha256::digest(format!("pouch network {name} on {bridge}")))
}

/// A container's network namespace, shared by its endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct Sandbox {
    /// Docker's `SandboxID`: names this run's namespace.
    pub id: String,
    /// The namespace file (Docker's `SandboxKey`).
    pub key: String,
}

/// One endpoint asked for.
#[derive(Debug, Clone, Copy)]
pub struct AttachRequest<'a> {
    /// The interface inside the container: `eth0`, `eth1`, ...
    pub ifname: &'a str,
    /// Ports to publish (on the first endpoint only).
    pub ports: &'a [PortRequest],
    /// Host ports other containers publish.
    pub taken: &'a [PortMapping],
    /// A fixed address (Docker's `IPAMConfig.IPv4Address`).
    pub ip: Option<Ipv4Addr>,
}

/// What the container manager (and the network endpoints of the API) need
/// of networking.
#[async_trait]
pub trait Network: Send + Sync {
    /// The networks' configuration.
    fn networks(&self) -> &NetworkStore;

    /// The default bridge network.
    fn bridge(&self) -> &BridgeConfig {
        self.networks()
            .default_bridge()
            .bridge
            .as_ref()
            .expect("the default bridge network has a bridge")
    }

    /// Creates the container's network namespace; one left by an earlier
    /// run that was not undone is released first.
    async fn create_sandbox(&self, id: &str) -> Result<Sandbox>;

    /// Removes the namespace (its endpoints must be detached already).
    async fn remove_sandbox(&self, sandbox: &Sandbox) -> Result<()>;

    /// Connects the namespace to `net` and publishes `req.ports`.
    async fn attach(
        &self,
        id: &str,
        sandbox: &Sandbox,
        net: &NetConfig,
        req: AttachRequest<'_>,
    ) -> Result<Endpoint>;

    /// Undoes [`Network::attach`]: every step is tried; the first error.
    async fn detach(&self, id: &str, ep: &Endpoint) -> Result<()>;

    /// Makes what a bridge network needs on the host beyond its bridge
    /// (which the first attach creates): the masquerade rule.
    async fn setup_network(&self, net: &NetConfig) -> Result<()>;

    /// Removes a network's bridge, rules and address leases.
    async fn remove_network(&self, net: &NetConfig) -> Result<()>;

    /// Releases namespaces (and what CNI set up for them on `nets`) of
    /// containers other than `keep`: left behind when the daemon died.
    async fn release_orphans(&self, keep: &HashSet<String>, nets: &[NetConfig]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bip_gives_subnet_and_gateway() {
        let b = BridgeConfig::parse("pouch0", "172.31.0.1/16").unwrap();
        assert_eq!(b.subnet(), "172.31.0.0/16");
        assert_eq!(b.gateway.to_string(), "172.31.0.1");
        let b = BridgeConfig::parse("x", "10.213.7.1/24").unwrap();
        assert_eq!(b.subnet(), "10.213.7.0/24");
        for (name, bip) in [
            ("", "172.31.0.1/16"),
            ("a-name-longer-than-15", "172.31.0.1/16"),
            ("bad/name", "172.31.0.1/16"),
            ("p", "172.31.0.1"),
            ("p", "172.31.0.0/16"),
            ("p", "172.31.0.1/31"),
            ("p", "::1/64"),
        ] {
            assert!(BridgeConfig::parse(name, bip).is_err(), "{name} {bip}");
        }
    }
}
