//! [`NetworkMgr`]: the [`Network`] of a real host, through CNI plugins
//! and nsfs mounts.

use super::{
    cni, iptables, netns, pool, ports, AttachRequest, BridgeConfig, Endpoint, NetConfig, Network,
    NetworkStore, Sandbox, IFNAME, POD_NETNS_PREFIX,
};
use crate::error::{Error, Result};
use async_trait::async_trait;
use ports::PortMapping;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// The real thing: CNI plugins and nsfs mounts.
pub struct NetworkMgr {
    store: NetworkStore,
    /// The default bridge.
    bridge: BridgeConfig,
    plugins: cni::Plugins,
    /// `<exec-root>/netns`.
    netns_dir: PathBuf,
    /// host-local's leases, `<exec-root>/cni/ipam` (gone with a reboot, as
    /// the namespaces are).
    ipam_dir: PathBuf,
}

pub(super) async fn run_cmd(
    mut c: tokio::process::Command,
    what: &str,
) -> Result<std::process::Output> {
    c.stdin(std::process::Stdio::null());
    c.output()
        .await
        .map_err(|e| Error::system(format!("running {what}: {e}")))
}

impl NetworkMgr {
    pub fn new(store: NetworkStore, cni_path: &str, exec_root: &std::path::Path) -> Self {
        let bridge = store
            .default_bridge()
            .bridge
            .clone()
            .expect("the default bridge network has a bridge");
        NetworkMgr {
            store,
            bridge,
            plugins: cni::Plugins::new(cni_path),
            netns_dir: exec_root.join("netns"),
            ipam_dir: exec_root.join("cni").join("ipam"),
        }
    }

    /// The default bridge's masquerade and isolation rules, made at daemon
    /// start.
    pub async fn ensure_masquerade(&self) -> Result<()> {
        iptables::masquerade(&self.bridge, true).await?;
        iptables::isolate(&self.bridge, true).await
    }

    /// The conflist of a network: the bridge (gateway, hairpin for a
    /// container reaching itself through a published port; masquerade is
    /// the network's one rule, [`iptables::masquerade`]) with host-local IPAM,
    /// then portmap. The CNI network is named after the bridge, so daemons
    /// with different bridges never share leases or iptables chains.
    /// Without ports, portmap is left out: it would only cost a few
    /// iptables runs on every start and exit.
    fn conflist(&self, net: &BridgeConfig, opts: ConfOpts) -> Value {
        let mut range = json!({"subnet": net.subnet(), "gateway": net.gateway.to_string()});
        if let Some(r) = opts.ip_range {
            let subnet = pool::Subnet {
                addr: net.network(),
                prefix_len: net.prefix_len,
            };
            let first = if r.network() == subnet.network() {
                subnet.first_host()
            } else {
                r.network()
            };
            let last = if r.broadcast() == subnet.broadcast() {
                Ipv4Addr::from(u32::from(r.broadcast()) - 1)
            } else {
                r.broadcast()
            };
            range["rangeStart"] = json!(first.to_string());
            range["rangeEnd"] = json!(last.to_string());
        }
        let routes = if opts.internal {
            json!([])
        } else {
            json!([{"dst": "0.0.0.0/0"}])
        };
        let mut bridge = json!({
            "type": "bridge",
            "bridge": net.name,
            "isGateway": true,
            "ipMasq": false,
            "hairpinMode": true,
            "ipam": {
                "type": "host-local",
                "dataDir": self.ipam_dir,
                "ranges": [[range]],
                "routes": routes
            }
        });
        if opts.fixed_ip {
            bridge["capabilities"] = json!({"ips": true});
        }
        let mut plugins = vec![bridge];
        if opts.portmap {
            plugins.push(json!({
                "type": "portmap",
                "snat": true,
                "capabilities": {"portMappings": true}
            }));
        }
        json!({
            "cniVersion": cni::CNI_VERSION,
            "name": net.name,
            "plugins": plugins,
        })
    }

    fn runtime_config(ports: &[PortMapping], ip: Option<Ipv4Addr>) -> Value {
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
        let mut rc = json!({ "portMappings": maps });
        if let Some(ip) = ip {
            rc["ips"] = json!([ip.to_string()]);
        }
        rc
    }

    /// DEL with the ADD's config; `prev` (the ADD's result) may be missing
    /// when the ADD never finished.
    async fn del(
        &self,
        id: &str,
        ns: &std::path::Path,
        ifname: &str,
        list: &Value,
        ports: &[PortMapping],
        prev: Option<&Value>,
    ) -> Result<()> {
        let t = cni::Target {
            container_id: id,
            netns: ns,
            ifname,
        };
        self.plugins
            .del_list(list, t, &Self::runtime_config(ports, None), prev)
            .await
    }

    async fn remove_netns(path: PathBuf) -> Result<()> {
        tokio::task::spawn_blocking(move || netns::remove(&path))
            .await
            .map_err(|e| Error::system(format!("netns task: {e}")))?
    }
}

/// What a conflist holds beyond the network itself.
#[derive(Debug, Clone, Copy, Default)]
struct ConfOpts {
    portmap: bool,
    fixed_ip: bool,
    internal: bool,
    ip_range: Option<pool::Subnet>,
}

#[async_trait]
impl Network for NetworkMgr {
    fn networks(&self) -> &NetworkStore {
        &self.store
    }

    fn bridge(&self) -> &BridgeConfig {
        &self.bridge
    }

    async fn create_sandbox(&self, id: &str) -> Result<Sandbox> {
        let path = self.netns_dir.join(id);
        if path.exists() {
            // Left by an earlier run that was not undone.
            let list = self.conflist(&self.bridge, ConfOpts::default());
            let _ = self.del(id, &path, IFNAME, &list, &[], None).await;
            Self::remove_netns(path.clone()).await?;
        }
        let p = path.clone();
        tokio::task::spawn_blocking(move || netns::create(&p))
            .await
            .map_err(|e| Error::system(format!("netns task: {e}")))??;
        Ok(Sandbox {
            id: hex::encode(rand::random::<[u8; 32]>()),
            key: path.to_string_lossy().into_owned(),
        })
    }

    async fn remove_sandbox(&self, sandbox: &Sandbox) -> Result<()> {
        Self::remove_netns(PathBuf::from(&sandbox.key)).await
    }

    #[tracing::instrument(skip_all, fields(id = %id, network = %net.name))]
    async fn attach(
        &self,
        id: &str,
        sandbox: &Sandbox,
        net: &NetConfig,
        req: AttachRequest<'_>,
    ) -> Result<Endpoint> {
        let Some(b) = &net.bridge else {
            return Err(Error::invalid(format!(
                "network {} has no bridge to attach to",
                net.name
            )));
        };
        let ports = ports::resolve(req.ports, req.taken)?;
        let list = self.conflist(
            b,
            ConfOpts {
                portmap: !ports.is_empty(),
                fixed_ip: req.ip.is_some(),
                internal: net.internal,
                ip_range: net.ip_range,
            },
        );
        let path = PathBuf::from(&sandbox.key);
        let t = cni::Target {
            container_id: id,
            netns: &path,
            ifname: req.ifname,
        };
        let result = match self
            .plugins
            .add_list(&list, t, &Self::runtime_config(&ports, req.ip))
            .await
        {
            Ok(r) => r,
            Err(e) => {
                let _ = self.del(id, &path, req.ifname, &list, &ports, None).await;
                return Err(e.context(format!("connecting to network {}", net.name)));
            }
        };
        let a = match cni::assigned(&result, req.ifname) {
            Ok(a) => a,
            Err(e) => {
                let _ = self
                    .del(id, &path, req.ifname, &list, &ports, Some(&result))
                    .await;
                return Err(e);
            }
        };
        tracing::debug!(ip = %a.ip, "container attached");
        Ok(Endpoint {
            network_id: net.id.clone(),
            network_name: net.name.clone(),
            endpoint_id: hex::encode(rand::random::<[u8; 32]>()),
            bridge: b.name.clone(),
            ifname: req.ifname.to_string(),
            sandbox_id: sandbox.id.clone(),
            sandbox_key: sandbox.key.clone(),
            ip_address: a.ip,
            ip_prefix_len: a.prefix_len,
            gateway: a.gateway,
            mac_address: a.mac,
            ports,
            cni_result: result,
            cni_config: list,
        })
    }

    #[tracing::instrument(skip_all, fields(id = %id, network = %ep.network_name))]
    async fn detach(&self, id: &str, ep: &Endpoint) -> Result<()> {
        let path = PathBuf::from(&ep.sandbox_key);
        let prev = (!ep.cni_result.is_null()).then_some(&ep.cni_result);
        // Endpoints recorded before the config was kept were on the
        // default bridge.
        let list = if ep.cni_config.is_null() {
            self.conflist(
                &self.bridge,
                ConfOpts {
                    portmap: prev.is_none() || !ep.ports.is_empty(),
                    ..Default::default()
                },
            )
        } else {
            ep.cni_config.clone()
        };
        self.del(id, &path, ep.ifname(), &list, &ep.ports, prev)
            .await
    }

    async fn setup_network(&self, net: &NetConfig) -> Result<()> {
        let Some(b) = &net.bridge else {
            return Ok(());
        };
        if !net.internal {
            iptables::masquerade(b, true).await?;
        }
        iptables::isolate(b, true).await
    }

    async fn remove_network(&self, net: &NetConfig) -> Result<()> {
        let Some(b) = &net.bridge else {
            return Ok(());
        };
        let rule = iptables::masquerade(b, false)
            .await
            .and(iptables::isolate(b, false).await);
        let mut c = tokio::process::Command::new("ip");
        c.args(["link", "delete", &b.name, "type", "bridge"]);
        let out = run_cmd(c, "ip link delete").await?;
        let link = if out.status.success()
            || String::from_utf8_lossy(&out.stderr).contains("Cannot find device")
        {
            Ok(())
        } else {
            Err(Error::system(format!(
                "deleting bridge {}: {}",
                b.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        };
        let leases = match std::fs::remove_dir_all(self.ipam_dir.join(&b.name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        };
        rule.and(link).and(leases)
    }

    async fn release_orphans(&self, keep: &HashSet<String>, nets: &[NetConfig]) {
        for (id, path) in netns::list(&self.netns_dir) {
            if keep.contains(&id) || id.starts_with(POD_NETNS_PREFIX) {
                continue;
            }
            tracing::info!(id = %id, "releasing the network of a container that is gone");
            for b in nets.iter().filter_map(|n| n.bridge.as_ref()) {
                let list = self.conflist(b, ConfOpts::default());
                if let Err(e) = self.del(&id, &path, IFNAME, &list, &[], None).await {
                    tracing::warn!(id = %id, error = %e, "CNI DEL of an orphaned namespace");
                }
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

    fn mgr(b: &BridgeConfig, dir: &std::path::Path) -> NetworkMgr {
        let store = NetworkStore::open(dir.join("networks"), b, Vec::new()).unwrap();
        NetworkMgr::new(store, "/usr/lib/cni", dir)
    }

    #[test]
    fn conflist_names_the_bridge_and_ipam_dir() {
        let dir = tempfile::tempdir().unwrap();
        let b = BridgeConfig::parse("pt0", "10.9.0.1/24").unwrap();
        let m = mgr(&b, dir.path());
        let c = m.conflist(&b, ConfOpts::default());
        assert_eq!(c["plugins"].as_array().unwrap().len(), 1);
        assert_eq!(c["plugins"][0]["ipam"]["routes"][0]["dst"], "0.0.0.0/0");
        assert!(c["plugins"][0].get("capabilities").is_none());
        let c = m.conflist(
            &b,
            ConfOpts {
                portmap: true,
                ..Default::default()
            },
        );
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
        let rc = NetworkMgr::runtime_config(
            &[PortMapping {
                host_ip: "127.0.0.1".into(),
                host_port: 8080,
                container_port: 80,
                protocol: "tcp".into(),
            }],
            Some(Ipv4Addr::new(10, 9, 0, 7)),
        );
        assert_eq!(
            rc,
            json!({"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "127.0.0.1"}], "ips": ["10.9.0.7"]})
        );
    }

    #[test]
    fn conflist_of_a_user_network() {
        let dir = tempfile::tempdir().unwrap();
        let b = BridgeConfig::parse("br-1", "10.60.0.1/16").unwrap();
        let m = mgr(&b, dir.path());
        let c = m.conflist(
            &b,
            ConfOpts {
                fixed_ip: true,
                internal: true,
                ip_range: Some(pool::Subnet::parse("10.60.1.0/24").unwrap()),
                ..Default::default()
            },
        );
        let range = &c["plugins"][0]["ipam"]["ranges"][0][0];
        assert_eq!(range["rangeStart"], "10.60.1.0");
        assert_eq!(range["rangeEnd"], "10.60.1.255");
        assert_eq!(c["plugins"][0]["ipam"]["routes"], json!([]));
        assert_eq!(c["plugins"][0]["capabilities"]["ips"], true);
        // A range at the subnet's ends leaves out its network and
        // broadcast addresses.
        let c = m.conflist(
            &b,
            ConfOpts {
                ip_range: Some(pool::Subnet::parse("10.60.0.0/16").unwrap()),
                ..Default::default()
            },
        );
        let range = &c["plugins"][0]["ipam"]["ranges"][0][0];
        assert_eq!(range["rangeStart"], "10.60.0.1");
        assert_eq!(range["rangeEnd"], "10.60.255.254");
    }
}
