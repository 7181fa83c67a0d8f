//! What is persisted of a container, versioned.

use chrono::{DateTime, Utc};
use pouch_api::container::{Config, HostConfig};
use serde::{Deserialize, Serialize};

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
    /// The container's place on the default bridge while it runs.
    #[serde(default)]
    pub network: Option<crate::mgr::network::Endpoint>,
}

pub const META_VERSION: u32 = 1;
