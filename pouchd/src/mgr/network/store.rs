//! The networks a daemon knows: the built-in `bridge`, `host` and `none`,
//! and user-defined bridge networks, each persisted as one JSON file under
//! `<home>/networks` so that a restarted daemon has them again.
//!
//! Only configuration lives here; the Linux bridges and iptables rules are
//! [`super::Network`]'s business.

use super::pool::{self, Pool, Subnet};
use super::{network_id, BridgeConfig};
use crate::error::{Error, Result};
use pouch_api::network::NetworkCreateRequest;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};

/// Docker's option naming a bridge network's Linux bridge.
pub const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";

/// One network's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetConfig {
    pub id: String,
    pub name: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    /// RFC 3339 with nanoseconds.
    pub created: String,
    /// The Linux bridge and subnet of a bridge network.
    #[serde(default)]
    pub bridge: Option<BridgeConfig>,
    /// Where in the subnet containers get addresses (Docker's `IPRange`).
    #[serde(default)]
    pub ip_range: Option<Subnet>,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub labels: HashMap<String, String>,
    #[serde(default)]
    pub options: HashMap<String, String>,
    #[serde(skip)]
    pub builtin: bool,
}

impl NetConfig {
    /// The default bridge network of a daemon.
    pub fn default_bridge(b: &BridgeConfig, created: &str) -> NetConfig {
        NetConfig {
            id: network_id("bridge", &b.name),
            name: "bridge".into(),
            driver: "bridge".into(),
            created: created.into(),
            bridge: Some(b.clone()),
            ip_range: None,
            internal: false,
            attachable: false,
            labels: HashMap::new(),
            options: HashMap::from([
                (BRIDGE_NAME_OPTION.to_string(), b.name.clone()),
                (
                    "com.docker.network.bridge.default_bridge".to_string(),
                    "true".to_string(),
                ),
                (
                    "com.docker.network.bridge.enable_ip_masquerade".to_string(),
                    "true".to_string(),
                ),
            ]),
            builtin: true,
        }
    }

    fn other_builtin(name: &str, driver: &str, bridge: &BridgeConfig, created: &str) -> NetConfig {
        NetConfig {
            id: network_id(name, &bridge.name),
            name: name.into(),
            driver: driver.into(),
            created: created.into(),
            bridge: None,
            ip_range: None,
            internal: false,
            attachable: false,
            labels: HashMap::new(),
            options: HashMap::new(),
            builtin: true,
        }
    }

    /// A user-defined network, whose containers find each other by name.
    pub fn is_user_defined(&self) -> bool {
        !self.builtin
    }

    pub fn subnet(&self) -> Option<Subnet> {
        self.bridge.as_ref().map(|b| Subnet {
            addr: b.network(),
            prefix_len: b.prefix_len,
        })
    }
}

/// A network name as Docker takes it (compose makes `project_default`).
fn validate_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !ok {
        return Err(Error::invalid(format!(
            "invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    Ok(())
}

/// The networks of a daemon.
pub struct NetworkStore {
    dir: PathBuf,
    pools: Vec<Pool>,
    builtin: Vec<NetConfig>,
    // std locks: map operations and small file writes only.
    user: RwLock<BTreeMap<String, NetConfig>>,
    /// Held from choosing a name and subnet until the network is in `user`.
    create_lock: Mutex<()>,
}

impl NetworkStore {
    /// Loads the user-defined networks persisted in `dir`.
    pub fn open(dir: PathBuf, default_bridge: &BridgeConfig, pools: Vec<Pool>) -> Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let builtin = vec![
            NetConfig::default_bridge(default_bridge, &created),
            NetConfig::other_builtin("host", "host", default_bridge, &created),
            NetConfig::other_builtin("none", "null", default_bridge, &created),
        ];
        let mut user = BTreeMap::new();
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let parsed = std::fs::read(&path)
                .map_err(Error::from)
                .and_then(|b| serde_json::from_slice::<NetConfig>(&b).map_err(Error::from));
            match parsed {
                Ok(n) if n.bridge.is_some() => {
                    user.insert(n.id.clone(), n);
                }
                Ok(_) => {
                    tracing::warn!(path = %path.display(), "skipping a network without a bridge")
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping an unreadable network")
                }
            }
        }
        Ok(NetworkStore {
            dir,
            pools: if pools.is_empty() {
                Pool::defaults()
            } else {
                pools
            },
            builtin,
            user: RwLock::new(user),
            create_lock: Mutex::new(()),
        })
    }

    pub fn default_bridge(&self) -> &NetConfig {
        &self.builtin[0]
    }

    /// Built-in networks first, then the others by name.
    pub fn all(&self) -> Vec<NetConfig> {
        let mut user: Vec<NetConfig> = self.read().values().cloned().collect();
        user.sort_by(|a, b| a.name.cmp(&b.name));
        self.builtin.iter().cloned().chain(user).collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, NetConfig>> {
        self.user.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, NetConfig>> {
        self.user.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A network by name, full ID or unique ID prefix (Docker's order).
    pub fn get(&self, reference: &str) -> Result<NetConfig> {
        let all = self.all();
        if let Some(n) = all.iter().find(|n| n.id == reference) {
            return Ok(n.clone());
        }
        if let Some(n) = all.iter().find(|n| n.name == reference) {
            return Ok(n.clone());
        }
        let by_prefix: Vec<&NetConfig> = if reference.is_empty() {
            Vec::new()
        } else {
            all.iter().filter(|n| n.id.starts_with(reference)).collect()
        };
        match by_prefix.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::not_found(format!("network {reference} not found"))),
            _ => Err(Error::invalid(format!(
                "network {reference} is ambiguous ({} matches found based on ID prefix)",
                by_prefix.len()
            ))),
        }
    }

    /// Creates a user-defined bridge network; `host_routes` are subnets
    /// the host uses, which an allocated subnet must not overlap.
    pub fn create(&self, req: &NetworkCreateRequest, host_routes: &[Subnet]) -> Result<NetConfig> {
        validate_name(&req.name)?;
        match req.driver.as_str() {
            "" | "bridge" => {}
            "host" | "null" => {
                return Err(Error::Forbidden(format!(
                    "only one instance of \"{}\" network is allowed",
                    req.driver
                )))
            }
            d => return Err(Error::not_found(format!("plugin \"{d}\" not found"))),
        }
        if req.ingress || req.config_only || req.config_from.is_some() {
            return Err(Error::invalid(
                "ingress and config-only networks are not supported by pouchd",
            ));
        }
        if req.enable_ipv6 {
            return Err(Error::invalid("IPv6 networks are not supported by pouchd"));
        }
        let ipam = req.ipam.clone().unwrap_or_default();
        if !matches!(ipam.driver.as_str(), "" | "default") {
            return Err(Error::not_found(format!(
                "plugin \"{}\" not found",
                ipam.driver
            )));
        }
        let config = match ipam.config.as_slice() {
            [] => None,
            [one] => Some(one),
            _ => {
                return Err(Error::invalid(
                    "pouchd supports one IPv4 subnet per network",
                ))
            }
        };
        let id = hex::encode(rand::random::<[u8; 32]>());
        let bridge_name = match req.options.get(BRIDGE_NAME_OPTION) {
            Some(n) if !n.is_empty() => n.clone(),
            _ => format!("br-{}", &id[..12]),
        };

        let _creating = self.create_lock.lock().unwrap_or_else(|e| e.into_inner());
        let all = self.all();
        if all.iter().any(|n| n.name == req.name) {
            return Err(Error::conflict(format!(
                "network with name {} already exists",
                req.name
            )));
        }
        if all
            .iter()
            .filter_map(|n| n.bridge.as_ref())
            .any(|b| b.name == bridge_name)
        {
            return Err(Error::conflict(format!(
                "bridge {bridge_name} is used by another network"
            )));
        }
        let taken: Vec<Subnet> = all.iter().filter_map(NetConfig::subnet).collect();
        let (subnet, gateway, ip_range) = match config {
            Some(c) if !c.subnet.is_empty() => {
                let subnet = Subnet::parse(&c.subnet)?;
                if !(8..=30).contains(&subnet.prefix_len) {
                    return Err(Error::invalid(format!(
                        "invalid subnet {subnet}: pouchd wants a prefix of /8 to /30"
                    )));
                }
                if taken.iter().any(|t| t.overlaps(&subnet)) {
                    return Err(Error::Forbidden(
                        "Pool overlaps with other one on this address space".into(),
                    ));
                }
                let gateway = if c.gateway.is_empty() {
                    subnet.first_host()
                } else {
                    let g: Ipv4Addr = c.gateway.parse().map_err(|_| {
                        Error::invalid(format!("invalid gateway address {:?}", c.gateway))
                    })?;
                    if !subnet.is_host(g) {
                        return Err(Error::invalid(format!(
                            "gateway {g} is not a host address of subnet {subnet}"
                        )));
                    }
                    g
                };
                let ip_range = if c.ip_range.is_empty() {
                    None
                } else {
                    let r = Subnet::parse(&c.ip_range)?;
                    if !subnet.contains(r.network()) || r.prefix_len < subnet.prefix_len {
                        return Err(Error::invalid(format!(
                            "ip range {r} is not inside subnet {subnet}"
                        )));
                    }
                    Some(r)
                };
                (subnet, gateway, ip_range)
            }
            Some(c) if !c.gateway.is_empty() || !c.ip_range.is_empty() => {
                return Err(Error::invalid("a gateway or an IP range needs a subnet"))
            }
            _ => {
                let used: Vec<Subnet> = taken.iter().chain(host_routes).copied().collect();
                let subnet = pool::allocate(&self.pools, &used).ok_or_else(|| {
                    Error::Forbidden(
                        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
                    )
                })?;
                (subnet, subnet.first_host(), None)
            }
        };
        let bridge =
            BridgeConfig::parse(&bridge_name, &format!("{gateway}/{}", subnet.prefix_len))?;
        let net = NetConfig {
            id: id.clone(),
            name: req.name.clone(),
            driver: "bridge".into(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            bridge: Some(bridge),
            ip_range,
            internal: req.internal,
            attachable: req.attachable,
            labels: req.labels.clone(),
            options: req.options.clone(),
            builtin: false,
        };
        crate::store::write_atomic(
            &self.dir.join(format!("{id}.json")),
            &serde_json::to_vec_pretty(&net)?,
        )?;
        self.write().insert(id, net.clone());
        Ok(net)
    }

    /// Forgets a user-defined network.
    pub fn remove(&self, id: &str) -> Result<()> {
        if self.builtin.iter().any(|n| n.id == id) {
            return Err(Error::Forbidden(
                "pre-defined networks cannot be removed".into(),
            ));
        }
        match std::fs::remove_file(self.dir.join(format!("{id}.json"))) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        self.write().remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::network::{Ipam, IpamConfig};

    fn store(dir: &std::path::Path) -> NetworkStore {
        NetworkStore::open(
            dir.to_path_buf(),
            &BridgeConfig::parse("pt0", "10.9.0.1/24").unwrap(),
            vec![Pool::parse("base=10.50.0.0/22,size=24").unwrap()],
        )
        .unwrap()
    }

    fn req(name: &str) -> NetworkCreateRequest {
        NetworkCreateRequest {
            name: name.into(),
            ..Default::default()
        }
    }

    fn with_subnet(name: &str, subnet: &str, gateway: &str, range: &str) -> NetworkCreateRequest {
        NetworkCreateRequest {
            name: name.into(),
            ipam: Some(Ipam {
                config: vec![IpamConfig {
                    subnet: subnet.into(),
                    gateway: gateway.into(),
                    ip_range: range.into(),
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn creates_persists_and_finds_networks() {
        // Names that are no hex ID prefix: a lookup also matches ID prefixes.
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let a = s.create(&req("app_default"), &[]).unwrap();
        let b = s
            .create(&req("nb"), &[Subnet::parse("10.50.1.0/24").unwrap()])
            .unwrap();
        assert_eq!(a.subnet().unwrap().to_string(), "10.50.0.0/24");
        assert_eq!(a.bridge.as_ref().unwrap().gateway.to_string(), "10.50.0.1");
        assert_eq!(
            a.bridge.as_ref().unwrap().name,
            format!("br-{}", &a.id[..12])
        );
        // The host's route took 10.50.1.0/24.
        assert_eq!(b.subnet().unwrap().to_string(), "10.50.2.0/24");
        assert_eq!(s.get("app_default").unwrap().id, a.id);
        assert_eq!(s.get(&a.id[..10]).unwrap().name, "app_default");
        assert_eq!(s.get("bridge").unwrap().bridge.unwrap().name, "pt0");
        assert!(s.get("host").unwrap().builtin);
        assert!(matches!(s.get("nope"), Err(Error::NotFound(_))));
        let names: Vec<String> = s.all().into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["bridge", "host", "none", "app_default", "nb"]);

        let again = store(dir.path());
        assert_eq!(again.get("nb").unwrap(), b);
        again.remove(&b.id).unwrap();
        assert!(store(dir.path()).get("nb").is_err());
        assert!(again.remove(&again.default_bridge().id.clone()).is_err());
    }

    #[test]
    fn refuses_what_docker_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.create(
            &with_subnet("fixed", "10.60.0.0/16", "10.60.0.254", "10.60.1.0/24"),
            &[],
        )
        .unwrap();
        let conflict =
            |r: &NetworkCreateRequest| matches!(s.create(r, &[]), Err(Error::Conflict(_)));
        assert!(conflict(&req("fixed")));
        assert!(conflict(&req("bridge")));
        let forbidden =
            |r: &NetworkCreateRequest| matches!(s.create(r, &[]), Err(Error::Forbidden(_)));
        assert!(forbidden(&with_subnet("o", "10.60.5.0/24", "", "")));
        assert!(forbidden(&with_subnet("o", "10.9.0.0/16", "", "")));
        let host = NetworkCreateRequest {
            driver: "host".into(),
            ..req("h2")
        };
        assert!(forbidden(&host));
        let invalid =
            |r: &NetworkCreateRequest| matches!(s.create(r, &[]), Err(Error::InvalidParameter(_)));
        for bad in ["", "-x", "a b", "a/b", "ünï"] {
            assert!(invalid(&req(bad)), "{bad:?}");
        }
        assert!(invalid(&with_subnet("g", "10.61.0.0/24", "10.62.0.1", "")));
        assert!(invalid(&with_subnet(
            "g",
            "10.61.0.0/24",
            "10.61.0.255",
            ""
        )));
        assert!(invalid(&with_subnet(
            "g",
            "10.61.0.0/24",
            "",
            "10.62.0.0/25"
        )));
        assert!(invalid(&with_subnet("g", "10.61.0.1/24", "", "")));
        assert!(invalid(&with_subnet("g", "", "10.61.0.1", "")));
        let v6 = NetworkCreateRequest {
            enable_ipv6: true,
            ..req("v6")
        };
        assert!(invalid(&v6));
        let overlay = NetworkCreateRequest {
            driver: "overlay".into(),
            ..req("ov")
        };
        assert!(matches!(s.create(&overlay, &[]), Err(Error::NotFound(_))));
        let named = NetworkCreateRequest {
            options: HashMap::from([(BRIDGE_NAME_OPTION.to_string(), "pt0".to_string())]),
            ..req("samebridge")
        };
        assert!(conflict(&named));
    }

    #[test]
    fn a_full_pool_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        for i in 0..4 {
            s.create(&req(&format!("n{i}")), &[]).unwrap();
        }
        assert!(matches!(
            s.create(&req("n4"), &[]),
            Err(Error::Forbidden(_))
        ));
    }
}
