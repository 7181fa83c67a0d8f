//! What is persisted of a container, versioned.

use chrono::{DateTime, Utc};
use pouch_api::container::{Config, HostConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Docker's container statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// Whether a task exists (running or paused).
    pub fn is_alive(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }
}

/// Runtime state of a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub status: Status,
    pub pid: u32,
    pub exit_code: i64,
    pub error: String,
    pub oom_killed: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The persisted document of one container (`config.v1.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerMeta {
    /// Format version of this document.
    pub version: u32,
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    pub created: DateTime<Utc>,
    /// The process started: entrypoint + cmd, split as Docker shows them.
    pub path: String,
    pub args: Vec<String>,
    /// The effective config (image defaults merged in).
    pub config: Config,
    pub host_config: HostConfig,
    /// `sha256:` ID of the image.
    pub image_id: String,
    pub snapshot_key: String,
    /// Volumes and `--mount`s (host-path `Binds` stay in `host_config`).
    #[serde(default)]
    pub mounts: Vec<super::volumes::MountRecord>,
    pub state: State,
    pub restart_count: u64,
    /// Set by stop/kill through the API, so restart policies leave it stopped.
    pub manually_stopped: bool,
    pub log_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub resolv_conf_path: String,
    /// The networks the container joins when it starts, by name (Docker's
    /// `NetworkSettings.Networks`, also shown while it does not run).
    /// Empty in records from before user-defined networks: then the
    /// network mode says.
    #[serde(default)]
    pub networks: BTreeMap<String, NetworkAttachment>,
    /// The container's endpoints while it runs: the network mode's first,
    /// which also publishes the ports.
    #[serde(default)]
    pub endpoints: Vec<crate::mgr::network::Endpoint>,
    /// The one endpoint of records from before user-defined networks; moved
    /// into `endpoints` when read.
    #[serde(default, rename = "network", skip_serializing)]
    pub legacy_endpoint: Option<crate::mgr::network::Endpoint>,
    /// The network namespace of the pod (a CRI sandbox) the container runs
    /// in; its network mode is then `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_netns: Option<String>,
}

/// How a container joins one network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkAttachment {
    pub network_id: String,
    /// Names the container has on the network besides its own.
    pub aliases: Vec<String>,
    /// A fixed address (`--ip`).
    pub ipv4_address: String,
}

impl ContainerMeta {
    /// Brings a record of an earlier version up to date.
    pub fn upgrade(&mut self) {
        if let Some(ep) = self.legacy_endpoint.take() {
            self.endpoints.push(ep);
        }
    }

    /// The endpoint through which ports are published.
    pub fn primary_endpoint(&self) -> Option<&crate::mgr::network::Endpoint> {
        self.endpoints.first()
    }
}

pub const META_VERSION: u32 = 1;
