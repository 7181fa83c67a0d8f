//! `POST /containers/create`: validate, merge the image's defaults, reserve
//! the name, prepare the writable snapshot, persist.

use super::state::{ContainerMeta, State, META_VERSION};
use super::store::Container;
use super::ContainerMgr;
use crate::error::{Error, Result};
use pouch_api::container::{Config, HostConfig, NetworkingConfig};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a container of a pod takes from its pod.
#[derive(Debug, Clone, Default)]
struct PodJoin {
    netns: Option<String>,
    log_path: Option<String>,
}

/// Outcome of a create.
#[derive(Debug, Clone)]
pub struct CreateResult {
    pub id: String,
    pub warnings: Vec<String>,
}

const MIN_MEMORY: i64 = 6 * 1024 * 1024;

pub(super) fn valid_name(name: &str) -> bool {
    let mut b = name.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && b.all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
}

fn random_name() -> String {
    const LEFT: &[&str] = &[
        "admiring",
        "brave",
        "clever",
        "dazzling",
        "eager",
        "festive",
        "gallant",
        "happy",
        "jolly",
        "keen",
        "lucid",
        "modest",
        "nifty",
        "optimistic",
        "quirky",
        "relaxed",
        "serene",
        "tender",
        "upbeat",
        "vibrant",
        "wizardly",
        "zealous",
    ];
    const RIGHT: &[&str] = &[
        "albattani",
        "babbage",
        "curie",
        "darwin",
        "euclid",
        "feynman",
        "galileo",
        "hopper",
        "hypatia",
        "kepler",
        "lovelace",
        "meitner",
        "newton",
        "noether",
        "pascal",
        "ritchie",
        "shannon",
        "tesla",
        "thompson",
        "turing",
        "wozniak",
        "yonath",
    ];
    let l = LEFT[rand::random_range(0..LEFT.len())];
    let r = RIGHT[rand::random_range(0..RIGHT.len())];
    format!("{l}_{r}")
}

/// Image env first, then the container's, later keys replacing earlier ones.
fn merge_env(image: &[String], own: &[String]) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for e in image.iter().chain(own) {
        let key = e.split('=').next().unwrap_or("").to_string();
        if !values.contains_key(&key) {
            order.push(key.clone());
        }
        values.insert(key, e.clone());
    }
    order
        .into_iter()
        .filter_map(|k| values.remove(&k))
        .collect()
}

/// The effective config: the request's, with the image's defaults where it is silent.
pub(super) fn merge_config(mut cfg: Config, image: &Config) -> Config {
    cfg.env = merge_env(&image.env, &cfg.env);
    if cfg.entrypoint.is_none() {
        cfg.entrypoint = image.entrypoint.clone();
        if cfg.cmd.is_none() {
            cfg.cmd = image.cmd.clone();
        }
    }
    if cfg.working_dir.is_empty() {
        cfg.working_dir = image.working_dir.clone();
    }
    if cfg.user.is_empty() {
        cfg.user = image.user.clone();
    }
    if cfg.stop_signal.is_empty() {
        cfg.stop_signal = image.stop_signal.clone();
    }
    for (k, v) in &image.labels {
        cfg.labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (k, v) in &image.exposed_ports {
        cfg.exposed_ports.entry(k.clone()).or_insert(*v);
    }
    for (k, v) in &image.volumes {
        cfg.volumes.entry(k.clone()).or_insert(*v);
    }
    cfg
}

/// Checks what containerd would reject late, or what Docker rejects up front.
pub(super) fn validate_host_config(hc: &HostConfig) -> Result<()> {
    super::security::parse(&hc.security_opt)?;
    let rp = &hc.restart_policy;
    match rp.name.as_str() {
        "" | "no" | "always" | "unless-stopped" => {
            if rp.maximum_retry_count != 0 {
                return Err(Error::invalid(format!(
                    "maximum retry count cannot be used with restart policy '{}'",
                    rp.name
                )));
            }
        }
        "on-failure" => {
            if rp.maximum_retry_count < 0 {
                return Err(Error::invalid("maximum retry count cannot be negative"));
            }
        }
        other => return Err(Error::invalid(format!("invalid restart policy '{other}'"))),
    }
    if hc.auto_remove && !matches!(rp.name.as_str(), "" | "no") {
        return Err(Error::invalid(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    if hc.memory != 0 && hc.memory < MIN_MEMORY {
        return Err(Error::invalid("Minimum memory limit allowed is 6MB"));
    }
    if hc.nano_cpus < 0 || hc.cpu_shares < 0 || hc.memory < 0 {
        return Err(Error::invalid("resource limits cannot be negative"));
    }
    if hc.nano_cpus > 0 && (hc.cpu_quota > 0 || hc.cpu_period > 0) {
        return Err(Error::invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(1);
    if hc.nano_cpus > ncpu * 1_000_000_000 {
        return Err(Error::invalid(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )));
    }
    for b in &hc.binds {
        super::spec::parse_bind(b)?;
    }
    crate::mgr::network::ports::requests(hc, &Default::default())?;
    Ok(())
}

impl ContainerMgr {
    /// Creates a container named `name` (random when empty) on its network
    /// mode's network.
    pub async fn create(
        &self,
        name: Option<&str>,
        config: Config,
        host_config: HostConfig,
    ) -> Result<CreateResult> {
        self.create_with(name, config, host_config, &NetworkingConfig::default())
            .await
    }

    /// Creates a container, with the endpoint settings (aliases, fixed
    /// address) of its network mode's network in `networking`.
    pub async fn create_with(
        &self,
        name: Option<&str>,
        config: Config,
        host_config: HostConfig,
        networking: &NetworkingConfig,
    ) -> Result<CreateResult> {
        self.create_inner(name, config, host_config, networking, None)
            .await
    }

    /// Creates a container of a pod: it joins the network namespace at
    /// `netns` (the pod sandbox's, `None` for a host-network pod) instead of
    /// networks of its own, and logs in the CRI's format to `log_path` when
    /// given.
    pub async fn create_in_pod(
        &self,
        name: Option<&str>,
        config: Config,
        mut host_config: HostConfig,
        netns: Option<&str>,
        log_path: Option<&str>,
    ) -> Result<CreateResult> {
        host_config.network_mode = if netns.is_some() { "none" } else { "host" }.into();
        if log_path.is_some() {
            host_config.log_config = pouch_api::container::LogConfig {
                r#type: super::logfile::CRI_DRIVER.to_string(),
                config: Default::default(),
            };
        }
        let pod = PodJoin {
            netns: netns.map(str::to_string),
            log_path: log_path.map(str::to_string),
        };
        self.create_inner(
            name,
            config,
            host_config,
            &NetworkingConfig::default(),
            Some(pod),
        )
        .await
    }

    async fn create_inner(
        &self,
        name: Option<&str>,
        config: Config,
        host_config: HostConfig,
        networking: &NetworkingConfig,
        pod: Option<PodJoin>,
    ) -> Result<CreateResult> {
        let pod = pod.unwrap_or_default();
        let named_by_client = name.is_some_and(|n| !n.trim_start_matches('/').is_empty());
        let name = match name.map(|n| n.strip_prefix('/').unwrap_or(n)) {
            Some(n) if !n.is_empty() => {
                if !valid_name(n) {
                    return Err(Error::invalid(format!(
                        "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                    )));
                }
                n.to_string()
            }
            _ => self.generated_name(),
        };
        if config.image.is_empty() {
            return Err(Error::invalid("image name is required"));
        }
        let mut host_config = host_config;
        host_config.log_config =
            super::logfile::effective(&host_config.log_config, &self.cfg.log_config)?;
        validate_host_config(&host_config)?;
        let networks =
            super::network::plan_networks(self.net.networks(), &host_config, networking)?;
        // The joined container is looked up at start, as Docker does.
        if host_config.network_mode.starts_with("container:") {
            if !host_config.port_bindings.is_empty() || host_config.publish_all_ports {
                return Err(Error::invalid(
                    "conflicting options: port publishing and the container type network mode",
                ));
            }
            if !config.hostname.is_empty() {
                return Err(Error::invalid(
                    "conflicting options: hostname and the network mode",
                ));
            }
            if !host_config.dns.is_empty() || !host_config.extra_hosts.is_empty() {
                return Err(Error::invalid(
                    "conflicting options: dns and the network mode",
                ));
            }
        }
        let image = self.images.get(&config.image)?;
        let image_cfg = image.config.config.clone().unwrap_or_default();
        let config = merge_config(config, &image_cfg);
        let mut argv: Vec<String> = config.entrypoint.clone().unwrap_or_default();
        argv.extend(config.cmd.clone().unwrap_or_default());
        if argv.is_empty() {
            return Err(Error::invalid("No command specified"));
        }
        let warnings = Vec::new();
        let (inherited, inherited_binds) = self.volumes_from(&host_config)?;
        // The container's own binds win over inherited ones.
        let own: Vec<String> = host_config
            .binds
            .iter()
            .filter_map(|b| super::spec::parse_bind(b).ok().map(|b| b.destination))
            .collect();
        for b in inherited_binds {
            let dst = super::spec::parse_bind(&b)?.destination;
            if !own.contains(&dst) {
                host_config.binds.push(b);
            }
        }
        let planned = super::volumes::plan(&host_config, &config, inherited)?;

        let id = hex::encode(rand::random::<[u8; 32]>());
        let mounts = self.acquire_mounts(&id, planned).await?;
        let dir = self.meta.dir(&id);
        let p = |f: &str| dir.join(f).to_string_lossy().into_owned();
        let meta = ContainerMeta {
            version: META_VERSION,
            id: id.clone(),
            name,
            created: chrono::Utc::now(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            config,
            host_config,
            image_id: image.id.clone(),
            snapshot_key: id.clone(),
            mounts,
            state: State::default(),
            restart_count: 0,
            manually_stopped: false,
            log_path: pod
                .log_path
                .clone()
                .unwrap_or_else(|| p(&format!("{id}-json.log"))),
            hostname_path: p("hostname"),
            hosts_path: p("hosts"),
            resolv_conf_path: p("resolv.conf"),
            networks,
            endpoints: Vec::new(),
            legacy_endpoint: None,
            pod_netns: pod.netns,
        };
        let container = Arc::new(Container::new(meta));
        // A generated name was free when chosen, but concurrent creates may
        // have drawn the same one since: draw again rather than fail.
        let mut draws = 0;
        while let Err(e) = self.containers.insert(container.clone()) {
            draws += 1;
            if named_by_client || !e.is_conflict() || draws > 10 {
                self.release_mounts(&id, &container.meta().mounts, true)
                    .await;
                return Err(e);
            }
            let fresh = self.generated_name();
            container.update(|m| m.name = fresh);
        }
        let made = async {
            self.rt.prepare_snapshot(&id, &image.top_chain).await?;
            self.save(&container).await
        }
        .await;
        if let Err(e) = made {
            self.containers.remove(&id);
            let _ = self.rt.remove_snapshot(&id).await;
            let _ = self.meta.remove(&id);
            self.release_mounts(&id, &container.meta().mounts, true)
                .await;
            return Err(e);
        }
        self.emit(&container.meta(), "create", &[]);
        tracing::info!(id = %id, "container created");
        Ok(CreateResult { id, warnings })
    }
}

impl ContainerMgr {
    /// A random name not in use. Like Docker: a few random names, then
    /// digits appended, so a crowded namespace never makes this spin.
    fn generated_name(&self) -> String {
        let mut attempt = 0u32;
        loop {
            let n = random_name();
            let n = if attempt < 5 {
                n
            } else {
                format!("{n}{}", rand::random_range(0..100_000u32))
            };
            if !self.containers.name_taken(&n) {
                return n;
            }
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_docker_rules() {
        assert!(valid_name("web-1"));
        assert!(valid_name("a.b_c"));
        assert!(!valid_name("a"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("x/y"));
        assert!(!valid_name("x y"));
    }

    #[test]
    fn entrypoint_override_drops_image_cmd() {
        let image = Config {
            cmd: Some(vec!["sh".into()]),
            env: vec!["PATH=/bin".into(), "A=1".into()],
            ..Default::default()
        };
        let own = Config {
            entrypoint: Some(vec!["echo".into()]),
            env: vec!["A=2".into()],
            ..Default::default()
        };
        let m = merge_config(own, &image);
        assert_eq!(m.cmd, None);
        assert_eq!(m.env, vec!["PATH=/bin".to_string(), "A=2".to_string()]);
    }

    #[test]
    fn image_cmd_used_when_silent() {
        let image = Config {
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        };
        let m = merge_config(Config::default(), &image);
        assert_eq!(m.cmd, Some(vec!["sh".to_string()]));
    }

    #[test]
    fn bad_host_configs_are_rejected() {
        let policy = |name: &str| pouch_api::container::RestartPolicy {
            name: name.into(),
            maximum_retry_count: 0,
        };
        let hc = HostConfig {
            restart_policy: policy("sometimes"),
            ..Default::default()
        };
        assert!(validate_host_config(&hc).is_err());
        let hc = HostConfig {
            memory: 1024,
            ..Default::default()
        };
        assert!(validate_host_config(&hc).is_err());
        let hc = HostConfig {
            auto_remove: true,
            restart_policy: policy("always"),
            ..Default::default()
        };
        assert!(validate_host_config(&hc).is_err());
    }
}
