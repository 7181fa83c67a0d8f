//! Daemon configuration: flags as Pouch names them, optionally from a JSON
//! config file with the same keys; flags win over the file.

use crate::error::{Error, Result};
use clap::Parser;
use serde::Deserialize;
use std::path::PathBuf;

/// Command-line flags.
#[derive(Debug, Parser, Default)]
#[command(name = "pouchd", version, about = "pouch container engine daemon")]
pub struct Flags {
    /// Root directory of persisted state.
    #[arg(long = "home-dir")]
    pub home_dir: Option<PathBuf>,
    /// Address to serve the API on (unix:///path); repeatable.
    #[arg(short = 'l', long = "listen")]
    pub listen: Vec<String>,
    /// containerd's socket.
    #[arg(short = 'c', long = "containerd")]
    pub containerd: Option<PathBuf>,
    /// containerd binary to start when none answers on the socket.
    #[arg(long = "containerd-path")]
    pub containerd_path: Option<PathBuf>,
    /// containerd namespace of pouchd's containers and images.
    #[arg(long = "default-namespace")]
    pub default_namespace: Option<String>,
    /// Where to write the daemon's pid.
    #[arg(long = "pidfile")]
    pub pidfile: Option<PathBuf>,
    /// Runtime state (FIFOs, containerd state) directory.
    #[arg(long = "exec-root-dir")]
    pub exec_root_dir: Option<PathBuf>,
    /// JSON config file with the same keys as the flags.
    #[arg(long = "config-file")]
    pub config_file: Option<PathBuf>,
    /// Default log driver of containers (json-file or none).
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Default log driver option (max-size=10m, max-file=3); repeatable.
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Registry reached over plain HTTP (`host:port`, `host:*`, a CIDR);
    /// repeatable. Loopback registries are always allowed plain HTTP.
    #[arg(long = "insecure-registries", alias = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// Mirror of Docker Hub tried before it (`https://mirror.example`,
    /// `http://10.0.0.5:5000`); repeatable.
    #[arg(long = "registry-mirrors", alias = "registry-mirror")]
    pub registry_mirrors: Vec<String>,
    /// Directory of per-registry CA certificates, Docker's certs.d layout:
    /// `<dir>/<host:port>/ca.crt` (default: /etc/pouch/certs.d, then
    /// /etc/docker/certs.d).
    #[arg(long = "registry-certs-dir")]
    pub registry_certs_dir: Option<PathBuf>,
    /// Linux bridge of the default `bridge` network (at most 15 characters).
    #[arg(long = "bridge-name", alias = "bridge")]
    pub bridge_name: Option<String>,
    /// The bridge's address and prefix, which sets the containers' subnet
    /// (Docker's `--bip`, e.g. 172.31.0.1/16).
    #[arg(long = "bip")]
    pub bip: Option<String>,
    /// Where user-defined networks get their subnets, as Docker's
    /// `--default-address-pool base=10.10.0.0/16,size=24` (repeatable;
    /// default: Docker's pools, 172.17.0.0/16 to 172.31.0.0/16 and
    /// 192.168.0.0/16 in /20s).
    #[arg(long = "default-address-pool")]
    pub default_address_pools: Vec<String>,
    /// Serve the Kubernetes CRI (v1) on this unix socket
    /// (`unix:///run/pouchcri.sock` or a path); off when not given.
    #[arg(long = "cri-listen")]
    pub cri_listen: Option<String>,
    /// Directories of the CNI plugins, colon-separated.
    #[arg(long = "cni-bin-dir")]
    pub cni_bin_dir: Option<String>,
    /// Debug logging.
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
}

/// The config file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    pub home_dir: Option<PathBuf>,
    pub listen: Vec<String>,
    pub containerd: Option<PathBuf>,
    pub containerd_path: Option<PathBuf>,
    pub default_namespace: Option<String>,
    pub pidfile: Option<PathBuf>,
    pub exec_root_dir: Option<PathBuf>,
    pub log_driver: Option<String>,
    pub log_opts: std::collections::HashMap<String, String>,
    pub insecure_registries: Vec<String>,
    pub registry_mirrors: Vec<String>,
    pub registry_certs_dir: Option<PathBuf>,
    pub bridge_name: Option<String>,
    pub bip: Option<String>,
    pub default_address_pools: Vec<FilePool>,
    pub cri_listen: Option<String>,
    pub cni_bin_dir: Option<String>,
    pub debug: bool,
}

/// One of the config file's `default-address-pools`, as in Docker's
/// daemon.json.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePool {
    pub base: String,
    pub size: u8,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub home_dir: PathBuf,
    pub listen: Vec<String>,
    pub containerd: PathBuf,
    pub containerd_path: PathBuf,
    pub namespace: String,
    pub pidfile: Option<PathBuf>,
    pub exec_root: PathBuf,
    pub log_config: pouch_api::container::LogConfig,
    pub insecure_registries: Vec<String>,
    pub registry_mirrors: Vec<String>,
    /// Where per-registry CAs are looked for, in order.
    pub registry_certs_dirs: Vec<PathBuf>,
    /// The default bridge network.
    pub bridge: crate::mgr::network::BridgeConfig,
    /// Subnets of user-defined networks (empty: Docker's defaults).
    pub address_pools: Vec<crate::mgr::network::pool::Pool>,
    /// The CRI socket, when the CRI is served.
    pub cri_listen: Option<PathBuf>,
    /// `CNI_PATH` of the plugins.
    pub cni_bin_dir: String,
    pub debug: bool,
}

const DEFAULT_CONFIG_FILE: &str = "/etc/pouch/config.json";

/// Docker's docker0 is 172.17.0.0/16 and its pools for user networks go up
/// from there; the last of them is the least likely to be taken.
const DEFAULT_BRIDGE_NAME: &str = "pouch0";
const DEFAULT_BIP: &str = "172.31.0.1/16";
/// Debian's containernetworking-plugins, then the upstream location.
const DEFAULT_CNI_BIN_DIR: &str = "/usr/lib/cni:/opt/cni/bin";

impl Config {
    /// Flags over the config file over defaults.
    pub fn resolve(flags: Flags) -> Result<Self> {
        let (path, explicit) = match &flags.config_file {
            Some(p) => (p.clone(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
        };
        let file: FileConfig = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::invalid(format!("config file {}: {e}", path.display())))?,
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => {
                FileConfig::default()
            }
            Err(e) => {
                return Err(Error::invalid(format!(
                    "config file {}: {e}",
                    path.display()
                )))
            }
        };
        let listen = if !flags.listen.is_empty() {
            flags.listen
        } else if !file.listen.is_empty() {
            file.listen
        } else {
            vec!["unix:///var/run/pouchd.sock".to_string()]
        };
        let namespace = flags
            .default_namespace
            .or(file.default_namespace)
            .unwrap_or_else(|| "default".to_string());
        if namespace.is_empty()
            || !namespace
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(Error::invalid(format!("invalid namespace {namespace:?}")));
        }
        let mut log_opts = file.log_opts;
        for kv in &flags.log_opt {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                Error::invalid(format!("invalid --log-opt {kv:?}: want key=value"))
            })?;
            log_opts.insert(k.to_string(), v.to_string());
        }
        let log_config = pouch_api::container::LogConfig {
            r#type: flags
                .log_driver
                .or(file.log_driver)
                .unwrap_or_else(|| "json-file".to_string()),
            config: log_opts,
        };
        crate::mgr::container::validate_log_config(&log_config)?;
        let insecure_registries = if flags.insecure_registries.is_empty() {
            file.insecure_registries
        } else {
            flags.insecure_registries
        };
        let registry_mirrors = if flags.registry_mirrors.is_empty() {
            file.registry_mirrors
        } else {
            flags.registry_mirrors
        };
        let registry_certs_dirs = match flags.registry_certs_dir.or(file.registry_certs_dir) {
            Some(d) => vec![d],
            None => vec!["/etc/pouch/certs.d".into(), "/etc/docker/certs.d".into()],
        };
        let bridge = crate::mgr::network::BridgeConfig::parse(
            flags
                .bridge_name
                .as_deref()
                .or(file.bridge_name.as_deref())
                .unwrap_or(DEFAULT_BRIDGE_NAME),
            flags
                .bip
                .as_deref()
                .or(file.bip.as_deref())
                .unwrap_or(DEFAULT_BIP),
        )?;
        let address_pools = if flags.default_address_pools.is_empty() {
            file.default_address_pools
                .iter()
                .map(|p| {
                    crate::mgr::network::pool::Pool::parse(&format!(
                        "base={},size={}",
                        p.base, p.size
                    ))
                })
                .collect::<Result<Vec<_>>>()?
        } else {
            flags
                .default_address_pools
                .iter()
                .map(|p| crate::mgr::network::pool::Pool::parse(p))
                .collect::<Result<Vec<_>>>()?
        };
        let cri_listen = flags
            .cri_listen
            .or(file.cri_listen)
            .filter(|s| !s.is_empty())
            .map(|s| PathBuf::from(s.strip_prefix("unix://").unwrap_or(&s)));
        let cfg = Config {
            bridge,
            address_pools,
            cri_listen,
            cni_bin_dir: flags
                .cni_bin_dir
                .or(file.cni_bin_dir)
                .unwrap_or_else(|| DEFAULT_CNI_BIN_DIR.to_string()),
            insecure_registries,
            registry_mirrors,
            registry_certs_dirs,
            log_config,
            home_dir: flags
                .home_dir
                .or(file.home_dir)
                .unwrap_or_else(|| "/var/lib/pouch".into()),
            listen,
            containerd: flags
                .containerd
                .or(file.containerd)
                .unwrap_or_else(|| "/var/run/pouch/containerd.sock".into()),
            containerd_path: flags
                .containerd_path
                .or(file.containerd_path)
                .unwrap_or_else(|| "containerd".into()),
            namespace,
            pidfile: flags.pidfile.or(file.pidfile),
            exec_root: flags
                .exec_root_dir
                .or(file.exec_root_dir)
                .unwrap_or_else(|| "/var/run/pouchd".into()),
            debug: flags.debug || file.debug,
        };
        cfg.registries()?;
        Ok(cfg)
    }

    /// The registry settings the image manager uses.
    pub fn registries(&self) -> Result<crate::mgr::image::registry::Registries> {
        Ok(
            crate::mgr::image::registry::Registries::new(&self.insecure_registries)?
                .with_mirrors(&self.registry_mirrors)?
                .with_certs_dirs(self.registry_certs_dirs.clone()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.json");
        std::fs::write(
            &f,
            r#"{"home-dir": "/file", "default-namespace": "fromfile", "debug": true}"#,
        )
        .unwrap();
        let flags = Flags {
            home_dir: Some("/flag".into()),
            config_file: Some(f),
            ..Default::default()
        };
        let c = Config::resolve(flags).unwrap();
        assert_eq!(c.home_dir, PathBuf::from("/flag"));
        assert_eq!(c.namespace, "fromfile");
        assert!(c.debug);
        assert_eq!(c.listen, vec!["unix:///var/run/pouchd.sock".to_string()]);
    }

    #[test]
    fn insecure_registries_from_file_or_flags() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.json");
        std::fs::write(&f, r#"{"insecure-registries": ["reg.example:5000"]}"#).unwrap();
        let flags = Flags {
            config_file: Some(f.clone()),
            ..Default::default()
        };
        let c = Config::resolve(flags).unwrap();
        assert_eq!(c.insecure_registries, vec!["reg.example:5000".to_string()]);
        let flags = Flags {
            config_file: Some(f),
            insecure_registries: vec!["other:*".into()],
            ..Default::default()
        };
        let c = Config::resolve(flags).unwrap();
        assert_eq!(c.insecure_registries, vec!["other:*".to_string()]);
        let empty = dir.path().join("empty.json");
        std::fs::write(&empty, "{}").unwrap();
        let flags = Flags {
            config_file: Some(empty),
            insecure_registries: vec!["bad entry".into()],
            ..Default::default()
        };
        let err = Config::resolve(flags).unwrap_err().to_string();
        assert!(err.contains("insecure registry"), "{err}");
    }

    #[test]
    fn registry_mirrors_and_certs_dir() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.json");
        std::fs::write(
            &f,
            r#"{"registry-mirrors": ["http://10.9.9.9:5000/"], "registry-certs-dir": "/certs"}"#,
        )
        .unwrap();
        let c = Config::resolve(Flags {
            config_file: Some(f.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.registry_certs_dirs, vec![PathBuf::from("/certs")]);
        let r = c.registries().unwrap();
        assert_eq!(
            r.mirrors_for("docker.io"),
            vec!["10.9.9.9:5000".to_string()]
        );
        assert!(r.mirrors_for("quay.io").is_empty());
        // A plain-HTTP mirror is reached over HTTP.
        assert!(r.is_insecure("10.9.9.9:5000"));
        let c = Config::resolve(Flags {
            config_file: Some(f),
            registry_mirrors: vec!["mirror.example".into()],
            ..Default::default()
        });
        assert!(c.unwrap_err().to_string().contains("registry mirror"));
        let empty = dir.path().join("empty.json");
        std::fs::write(&empty, "{}").unwrap();
        let c = Config::resolve(Flags {
            config_file: Some(empty),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            c.registry_certs_dirs[0],
            PathBuf::from("/etc/pouch/certs.d")
        );
    }

    #[test]
    fn bridge_from_flags_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.json");
        std::fs::write(&f, r#"{"bridge-name": "br9", "bip": "10.9.0.1/24"}"#).unwrap();
        let c = Config::resolve(Flags {
            config_file: Some(f.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.bridge.name, "br9");
        assert_eq!(c.bridge.subnet(), "10.9.0.0/24");
        let c = Config::resolve(Flags {
            config_file: Some(f.clone()),
            bridge_name: Some("pt-1".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.bridge.name, "pt-1");
        let bad = Config::resolve(Flags {
            config_file: Some(f),
            bip: Some("10.9.0.1".into()),
            ..Default::default()
        });
        assert!(bad.unwrap_err().to_string().contains("--bip"));
        let empty = dir.path().join("empty.json");
        std::fs::write(&empty, "{}").unwrap();
        let c = Config::resolve(Flags {
            config_file: Some(empty),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.bridge.name, "pouch0");
        assert_eq!(c.bridge.subnet(), "172.31.0.0/16");
    }

    #[test]
    fn unknown_keys_and_missing_explicit_file_fail() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.json");
        std::fs::write(&f, r#"{"bogus": 1}"#).unwrap();
        let flags = Flags {
            config_file: Some(f),
            ..Default::default()
        };
        assert!(Config::resolve(flags).is_err());
        let flags = Flags {
            config_file: Some(dir.path().join("none.json")),
            ..Default::default()
        };
        assert!(Config::resolve(flags).is_err());
    }
}
