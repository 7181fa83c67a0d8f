//! Pod sandboxes: a network namespace on the default bridge (no pause
//! process: the nsfs mount keeps the namespace, as for Docker containers),
//! with the pod's metadata, persisted under `<home>/cri/sandboxes` so that a
//! restarted daemon still knows its pods. Host-network pods have no
//! namespace of their own.

use crate::error::{Error, Result};
use crate::mgr::network::ports::{PortMapping, PortRequest};
use crate::mgr::network::{AttachRequest, Endpoint, Network, Sandbox};
use pouch_cri::v1;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;

/// Prefix of the network namespaces of pods.
pub use crate::mgr::network::POD_NETNS_PREFIX;

/// A pod sandbox as pouchd keeps it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Pod {
    pub id: String,
    pub name: String,
    pub uid: String,
    pub namespace: String,
    pub attempt: u32,
    pub labels: HashMap<String, String>,
    pub annotations: HashMap<String, String>,
    /// Nanoseconds since the epoch.
    pub created_at: i64,
    pub ready: bool,
    pub hostname: String,
    pub log_directory: String,
    pub dns_servers: Vec<String>,
    pub dns_searches: Vec<String>,
    pub dns_options: Vec<String>,
    pub host_network: bool,
    pub endpoint: Option<Endpoint>,
    pub runtime_handler: String,
}

impl Pod {
    /// The pod's name towards the network: its namespace file and CNI
    /// container ID. The prefix keeps the container manager's sweep of
    /// orphaned namespaces away from it.
    pub fn net_id(&self) -> String {
        format!("{POD_NETNS_PREFIX}{}", self.id)
    }

    /// The namespace file containers of the pod join.
    pub fn netns(&self) -> Option<&str> {
        self.endpoint.as_ref().map(|e| e.sandbox_key.as_str())
    }

    pub fn metadata(&self) -> v1::PodSandboxMetadata {
        v1::PodSandboxMetadata {
            name: self.name.clone(),
            uid: self.uid.clone(),
            namespace: self.namespace.clone(),
            attempt: self.attempt,
        }
    }

    pub fn state(&self) -> v1::PodSandboxState {
        if self.ready {
            v1::PodSandboxState::SandboxReady
        } else {
            v1::PodSandboxState::SandboxNotready
        }
    }
}

/// The pods of this daemon.
pub struct PodStore {
    dir: PathBuf,
    pods: Mutex<BTreeMap<String, Pod>>,
    /// Held while a pod's network is set up or torn down.
    net_lock: tokio::sync::Mutex<()>,
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
}

impl PodStore {
    pub fn open(dir: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let mut pods = BTreeMap::new();
        for e in std::fs::read_dir(&dir)?.flatten() {
            let p = e.path();
            match std::fs::read(&p)
                .map_err(Error::from)
                .and_then(|b| serde_json::from_slice::<Pod>(&b).map_err(Error::from))
            {
                Ok(pod) => {
                    pods.insert(pod.id.clone(), pod);
                }
                Err(err) => {
                    tracing::warn!(path = %p.display(), error = %err, "skipping an unreadable pod")
                }
            }
        }
        Ok(PodStore {
            dir,
            pods: Mutex::new(pods),
            net_lock: tokio::sync::Mutex::new(()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Pod>> {
        self.pods.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, pod: &Pod) -> Result<()> {
        crate::store::write_atomic(
            &self.dir.join(format!("{}.json", pod.id)),
            &serde_json::to_vec(pod)?,
        )?;
        self.lock().insert(pod.id.clone(), pod.clone());
        Ok(())
    }

    /// A pod by ID or unique ID prefix.
    pub fn get(&self, id: &str) -> Result<Pod> {
        let pods = self.lock();
        if let Some(p) = pods.get(id) {
            return Ok(p.clone());
        }
        let found: Vec<&Pod> = if id.is_empty() {
            Vec::new()
        } else {
            pods.values().filter(|p| p.id.starts_with(id)).collect()
        };
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::not_found(format!("pod sandbox {id} not found"))),
            _ => Err(Error::invalid(format!("pod sandbox ID {id} is ambiguous"))),
        }
    }

    pub fn all(&self) -> Vec<Pod> {
        self.lock().values().cloned().collect()
    }

    /// RunPodSandbox: the pod's namespace on the default bridge, with its
    /// published ports.
    pub async fn run(
        &self,
        net: &dyn Network,
        cfg: v1::PodSandboxConfig,
        handler: String,
    ) -> Result<Pod> {
        let md = cfg.metadata.clone().unwrap_or_default();
        if md.name.is_empty() {
            return Err(Error::invalid(
                "sandbox config must include metadata with a name",
            ));
        }
        let host_network = cfg
            .linux
            .as_ref()
            .and_then(|l| l.security_context.as_ref())
            .and_then(|s| s.namespace_options.as_ref())
            .is_some_and(|n| n.network == v1::NamespaceMode::Node as i32);
        let dns = cfg.dns_config.clone().unwrap_or_default();
        let mut pod = Pod {
            id: hex::encode(rand::random::<[u8; 32]>()),
            name: md.name,
            uid: md.uid,
            namespace: md.namespace,
            attempt: md.attempt,
            labels: cfg.labels.clone(),
            annotations: cfg.annotations.clone(),
            created_at: now_ns(),
            ready: true,
            hostname: cfg.hostname.clone(),
            log_directory: cfg.log_directory.clone(),
            dns_servers: dns.servers,
            dns_searches: dns.searches,
            dns_options: dns.options,
            host_network,
            endpoint: None,
            runtime_handler: handler,
        };
        if !host_network {
            let requests: Vec<PortRequest> = cfg
                .port_mappings
                .iter()
                .filter(|p| p.host_port > 0 && p.container_port > 0)
                .map(|p| PortRequest {
                    host_ip: p.host_ip.clone(),
                    host_ports: Some((p.host_port as u16, p.host_port as u16)),
                    container_port: p.container_port as u16,
                    protocol: match v1::Protocol::try_from(p.protocol) {
                        Ok(v1::Protocol::Udp) => "udp",
                        Ok(v1::Protocol::Sctp) => "sctp",
                        _ => "tcp",
                    }
                    .to_string(),
                })
                .collect();
            let _net = self.net_lock.lock().await;
            let taken: Vec<PortMapping> = self
                .all()
                .into_iter()
                .filter_map(|p| p.endpoint)
                .flat_map(|e| e.ports)
                .collect();
            let sandbox = net.create_sandbox(&pod.net_id()).await?;
            let default = net.networks().default_bridge().clone();
            let req = AttachRequest {
                ifname: crate::mgr::network::IFNAME,
                ports: &requests,
                taken: &taken,
                ip: None,
            };
            match net.attach(&pod.net_id(), &sandbox, &default, req).await {
                Ok(ep) => pod.endpoint = Some(ep),
                Err(e) => {
                    let _ = net.remove_sandbox(&sandbox).await;
                    return Err(e);
                }
            }
        }
        if let Err(e) = self.save(&pod) {
            self.release(net, &mut pod).await;
            return Err(e);
        }
        Ok(pod)
    }

    /// Tears down the pod's network (the pod stays, not ready).
    async fn release(&self, net: &dyn Network, pod: &mut Pod) {
        if let Some(ep) = pod.endpoint.take() {
            if let Err(e) = net.detach(&pod.net_id(), &ep).await {
                tracing::warn!(pod = %pod.id, error = %e, "releasing the pod's network");
            }
            let sb = Sandbox {
                id: ep.sandbox_id.clone(),
                key: ep.sandbox_key.clone(),
            };
            if let Err(e) = net.remove_sandbox(&sb).await {
                tracing::warn!(pod = %pod.id, error = %e, "removing the pod's namespace");
            }
        }
        pod.ready = false;
    }

    /// StopPodSandbox (its containers are stopped by the caller first).
    pub async fn stop(&self, net: &dyn Network, id: &str) -> Result<()> {
        let _net = self.net_lock.lock().await;
        let mut pod = self.get(id)?;
        self.release(net, &mut pod).await;
        self.save(&pod)
    }

    /// RemovePodSandbox: forgets a stopped pod.
    pub fn remove(&self, id: &str) -> Result<()> {
        match std::fs::remove_file(self.dir.join(format!("{id}.json"))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        self.lock().remove(id);
        Ok(())
    }
}
