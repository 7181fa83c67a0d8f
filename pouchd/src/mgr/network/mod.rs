//! Network manager: Docker's default `bridge` network on a Linux bridge of
//! this daemon, through the CNI plugins (bridge + host-local IPAM + portmap),
//! one named network namespace per running container.
//!
//! The container manager calls it at start, exit and removal through the
//! [`Network`] trait (a fake stands in for unit tests); `none` and `host`
//! never reach it. It calls nothing above it.

pub mod cni;
pub mod netns;
pub mod ports;

use crate::error::{Error, Result};
use async_trait::async_trait;
use ports::{PortMapping, PortRequest};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// The container's interface name inside its namespace.
pub const IFNAME: &str = "eth0";

/// What a container got on the default bridge; persisted with the container
/// so that an exit, a removal or a restarted daemon can undo it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Endpoint {
    pub network_id: String,
    pub endpoint_id: String,
    /// The Linux bridge.
    pub bridge: String,
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
}

/// The default bridge network's settings.
#[derive(Debug, Clone, PartialEq)]
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

/// What the container manager needs of networking.
#[async_trait]
pub trait Network: Send + Sync {
    /// The default bridge network.
    fn bridge(&self) -> &BridgeConfig;

    /// Creates the container's namespace on the bridge and publishes `ports`
    /// (host ports not among `taken`, which other containers publish).
    async fn attach(
        &self,
        id: &str,
        ports: &[PortRequest],
        taken: &[PortMapping],
    ) -> Result<Endpoint>;

    /// Undoes [`Network::attach`]: every step is tried; the first error.
    async fn detach(&self, id: &str, ep: &Endpoint) -> Result<()>;

    /// Releases namespaces (and what CNI set up for them) of containers
    /// other than `keep`: left behind when the daemon died mid-way.
    async fn release_orphans(&self, keep: &HashSet<String>);
}

/// The real thing: CNI plugins and nsfs mounts.
pub struct NetworkMgr {
    bridge: BridgeConfig,
    plugins: cni::Plugins,
    /// `<exec-root>/netns`.
    netns_dir: PathBuf,
    /// host-local's leases, `<exec-root>/cni/ipam` (gone with a reboot, as
    /// the namespaces are).
    ipam_dir: PathBuf,
}

impl NetworkMgr {
    pub fn new(bridge: BridgeConfig, cni_path: &str, exec_root: &std::path::Path) -> Self {
        NetworkMgr {
            bridge,
            plugins: cni::Plugins::new(cni_path),
            netns_dir: exec_root.join("netns"),
            ipam_dir: exec_root.join("cni").join("ipam"),
        }
    }

    /// Masquerades what leaves the bridge's subnet for elsewhere: one rule
    /// for the daemon, as Docker has, made at start if missing. (The bridge
    /// plugin's `ipMasq` makes a chain and three rules per container: nine
    /// runs of iptables on every start and six on every exit.) The comment
    /// names the network as CNI's own rules do, so tools that clean up a
    /// network's rules find this one too.
    pub async fn ensure_masquerade(&self) -> Result<()> {
        let b = &self.bridge;
        let comment = format!("name: \"{}\" pouchd masquerade", b.name);
        let subnet = b.subnet();
        let rule = |op: &str| {
            let mut c = tokio::process::Command::new("iptables");
            c.args(["--wait", "-t", "nat", op, "POSTROUTING", "-s", &subnet])
                .args(["!", "-o", &b.name, "-m", "comment", "--comment", &comment])
                .args(["-j", "MASQUERADE"]);
            c
        };
        let run = |mut c: tokio::process::Command| async move {
            c.output()
                .await
                .map_err(|e| Error::system(format!("running iptables: {e}")))
        };
        if run(rule("-C")).await?.status.success() {
            return Ok(());
        }
        let out = run(rule("-A")).await?;
        if !out.status.success() {
            return Err(Error::system(format!(
                "adding the masquerade rule of {}: {}",
                b.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    /// The conflist: the bridge (gateway, hairpin for a container reaching
    /// itself through a published port; masquerade is the daemon's one
    /// rule, [`Self::ensure_masquerade`]) with
    /// host-local IPAM, then portmap. The CNI network is named after the
    /// bridge, so daemons with different bridges never share leases or
    /// iptables chains. Without ports, portmap is left out: it would only
    /// cost a few iptables runs on every start and exit.
    fn conflist(&self, portmap: bool) -> Value {
        let b = &self.bridge;
        let mut list = json!({
            "cniVersion": cni::CNI_VERSION,
            "name": b.name,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": b.name,
                    "isGateway": true,
                    "ipMasq": false,
                    "hairpinMode": true,
                    "ipam": {
                        "type": "host-local",
                        "dataDir": self.ipam_dir,
                        "ranges": [[{"subnet": b.subnet(), "gateway": b.gateway.to_string()}]],
                        "routes": [{"dst": "0.0.0.0/0"}]
                    }
                },
                {
                    "type": "portmap",
                    "snat": true,
                    "capabilities": {"portMappings": true}
                }
            ]
        });
        if !portmap {
            if let Some(plugins) = list["plugins"].as_array_mut() {
                plugins.truncate(1);
            }
        }
        list
    }

    fn runtime_config(ports: &[PortMapping]) -> Value {
        let maps: Vec<Value> = ports
            .iter()
            .map(|p| {
                let mut m = json!({
                    "hostPort": p.host_port,
                    "containerPort": p.container_port,
                    "protocol": p.protocol,
                });
                if !p.host_ip.is_empty() {
                    m["hostIP"] = json!(p.host_ip);
                }
                m
            })
            .collect();
        json!({ "portMappings": maps })
    }

    async fn add(&self, id: &str, ns: &std::path::Path, ports: &[PortMapping]) -> Result<Value> {
        // `lo` is up already (netns::create).
        let t = cni::Target {
            container_id: id,
            netns: ns,
            ifname: IFNAME,
        };
        self.plugins
            .add_list(
                &self.conflist(!ports.is_empty()),
                t,
                &Self::runtime_config(ports),
            )
            .await
    }

    /// DEL; `prev` (the ADD's result) also says which plugins ran: without
    /// it, portmap runs whatever `ports` says.
    async fn del(
        &self,
        id: &str,
        ns: &std::path::Path,
        ports: &[PortMapping],
        prev: Option<&Value>,
    ) -> Result<()> {
        let portmap = prev.is_none() || !ports.is_empty();
        let t = cni::Target {
            container_id: id,
            netns: ns,
            ifname: IFNAME,
        };
        self.plugins
            .del_list(
                &self.conflist(portmap),
                t,
                &Self::runtime_config(ports),
                prev,
            )
            .await
    }

    async fn remove_netns(path: PathBuf) -> Result<()> {
        tokio::task::spawn_blocking(move || netns::remove(&path))
            .await
            .map_err(|e| Error::system(format!("netns task: {e}")))?
    }
}

#[async_trait]
impl Network for NetworkMgr {
    fn bridge(&self) -> &BridgeConfig {
        &self.bridge
    }

    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn attach(
        &self,
        id: &str,
        requests: &[PortRequest],
        taken: &[PortMapping],
    ) -> Result<Endpoint> {
        let ports = ports::resolve(requests, taken)?;
        let path = self.netns_dir.join(id);
        if path.exists() {
            // Left by an earlier run that was not undone.
            let _ = self.del(id, &path, &ports, None).await;
            Self::remove_netns(path.clone()).await?;
        }
        let p = path.clone();
        tokio::task::spawn_blocking(move || netns::create(&p))
            .await
            .map_err(|e| Error::system(format!("netns task: {e}")))??;
        let result = match self.add(id, &path, &ports).await {
            Ok(r) => r,
            Err(e) => {
                let _ = self.del(id, &path, &ports, None).await;
                let _ = Self::remove_netns(path).await;
                return Err(e.context("setting up the container's network"));
            }
        };
        let a = match cni::assigned(&result, IFNAME) {
            Ok(a) => a,
            Err(e) => {
                let _ = self.del(id, &path, &ports, Some(&result)).await;
                let _ = Self::remove_netns(path).await;
                return Err(e);
            }
        };
        tracing::debug!(ip = %a.ip, "container attached to the bridge");
        Ok(Endpoint {
            network_id: network_id("bridge", &self.bridge.name),
            endpoint_id: hex::encode(rand::random::<[u8; 32]>()),
            bridge: self.bridge.name.clone(),
            sandbox_id: hex::encode(rand::random::<[u8; 32]>()),
            sandbox_key: path.to_string_lossy().into_owned(),
            ip_address: a.ip,
            ip_prefix_len: a.prefix_len,
            gateway: a.gateway,
            mac_address: a.mac,
            ports,
            cni_result: result,
        })
    }

    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn detach(&self, id: &str, ep: &Endpoint) -> Result<()> {
        let path = PathBuf::from(&ep.sandbox_key);
        let prev = (!ep.cni_result.is_null()).then_some(&ep.cni_result);
        let del = self.del(id, &path, &ep.ports, prev).await;
        let rm = Self::remove_netns(path).await;
        del.and(rm)
    }

    async fn release_orphans(&self, keep: &HashSet<String>) {
        for (id, path) in netns::list(&self.netns_dir) {
            if keep.contains(&id) {
                continue;
            }
            tracing::info!(id = %id, "releasing the network of a container that is gone");
            if let Err(e) = self.del(&id, &path, &[], None).await {
                tracing::warn!(id = %id, error = %e, "CNI DEL of an orphaned namespace");
            }
            if let Err(e) = Self::remove_netns(path).await {
                tracing::warn!(id = %id, error = %e, "removing an orphaned namespace");
            }
        }
    }
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

    #[test]
    fn conflist_names_the_bridge_and_ipam_dir() {
        let dir = tempfile::tempdir().unwrap();
        let m = NetworkMgr::new(
            BridgeConfig::parse("pt0", "10.9.0.1/24").unwrap(),
            "/usr/lib/cni",
            dir.path(),
        );
        assert_eq!(m.conflist(false)["plugins"].as_array().unwrap().len(), 1);
        let c = m.conflist(true);
        assert_eq!(c["plugins"][1]["type"], "portmap");
        assert_eq!(c["name"], "pt0");
        assert_eq!(c["plugins"][0]["bridge"], "pt0");
        assert_eq!(
            c["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.9.0.0/24"
        );
        assert!(c["plugins"][0]["ipam"]["dataDir"]
            .as_str()
            .unwrap()
            .starts_with(&*dir.path().to_string_lossy()));
        let rc = NetworkMgr::runtime_config(&[PortMapping {
            host_ip: "127.0.0.1".into(),
            host_port: 8080,
            container_port: 80,
            protocol: "tcp".into(),
        }]);
        assert_eq!(
            rc,
            json!({"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "127.0.0.1"}]})
        );
    }
}
