//! `GET /containers/{id}/json` response types.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::config::Config;
use super::host_config::HostConfig;
use super::network::NetworkSettings;
use crate::de::null_default;

/// Runtime state of a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ContainerState {
    /// One of "created", "running", "paused", "restarting", "removing",
    /// "exited", "dead".
    #[serde(deserialize_with = "null_default")]
    pub status: String,
    #[serde(deserialize_with = "null_default")]
    pub running: bool,
    #[serde(deserialize_with = "null_default")]
    pub paused: bool,
    #[serde(deserialize_with = "null_default")]
    pub restarting: bool,
    #[serde(rename = "OOMKilled", deserialize_with = "null_default")]
    pub oom_killed: bool,
    #[serde(deserialize_with = "null_default")]
    pub dead: bool,
    #[serde(deserialize_with = "null_default")]
    pub pid: i64,
    #[serde(deserialize_with = "null_default")]
    pub exit_code: i64,
    #[serde(deserialize_with = "null_default")]
    pub error: String,
    /// RFC 3339; `0001-01-01T00:00:00Z` when never started.
    #[serde(deserialize_with = "null_default")]
    pub started_at: String,
    /// RFC 3339; `0001-01-01T00:00:00Z` when never finished.
    #[serde(deserialize_with = "null_default")]
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// Healthcheck state of a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct Health {
    /// "none", "starting", "healthy" or "unhealthy".
    #[serde(deserialize_with = "null_default")]
    pub status: String,
    #[serde(deserialize_with = "null_default")]
    pub failing_streak: i64,
    #[serde(deserialize_with = "null_default")]
    pub log: Vec<HealthcheckResult>,
}

/// One healthcheck probe result.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct HealthcheckResult {
    /// RFC 3339.
    #[serde(deserialize_with = "null_default")]
    pub start: String,
    /// RFC 3339.
    #[serde(deserialize_with = "null_default")]
    pub end: String,
    #[serde(deserialize_with = "null_default")]
    pub exit_code: i64,
    #[serde(deserialize_with = "null_default")]
    pub output: String,
}

/// Storage driver information of a container or image.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct GraphDriverData {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub data: HashMap<String, String>,
}

/// A mount in use by a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct MountPoint {
    /// "bind", "volume", "tmpfs" or "npipe".
    #[serde(deserialize_with = "null_default")]
    pub r#type: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub source: String,
    #[serde(deserialize_with = "null_default")]
    pub destination: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub driver: String,
    #[serde(deserialize_with = "null_default")]
    pub mode: String,
    #[serde(rename = "RW", deserialize_with = "null_default")]
    pub rw: bool,
    #[serde(deserialize_with = "null_default")]
    pub propagation: String,
}

/// Low-level information about a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ContainerInspect {
    #[serde(rename = "Id", deserialize_with = "null_default")]
    pub id: String,
    /// RFC 3339 with nanoseconds.
    #[serde(deserialize_with = "null_default")]
    pub created: String,
    #[serde(deserialize_with = "null_default")]
    pub path: String,
    #[serde(deserialize_with = "null_default")]
    pub args: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub state: ContainerState,
    /// Image ID (`sha256:...`).
    #[serde(deserialize_with = "null_default")]
    pub image: String,
    #[serde(deserialize_with = "null_default")]
    pub resolv_conf_path: String,
    #[serde(deserialize_with = "null_default")]
    pub hostname_path: String,
    #[serde(deserialize_with = "null_default")]
    pub hosts_path: String,
    #[serde(deserialize_with = "null_default")]
    pub log_path: String,
    /// With a leading `/`, as Docker.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub restart_count: i64,
    #[serde(deserialize_with = "null_default")]
    pub driver: String,
    #[serde(deserialize_with = "null_default")]
    pub platform: String,
    #[serde(deserialize_with = "null_default")]
    pub mount_label: String,
    #[serde(deserialize_with = "null_default")]
    pub process_label: String,
    #[serde(deserialize_with = "null_default")]
    pub app_armor_profile: String,
    /// IDs of exec instances; `null` when there are none.
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    #[serde(deserialize_with = "null_default")]
    pub host_config: HostConfig,
    #[serde(deserialize_with = "null_default")]
    pub graph_driver: GraphDriverData,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    #[serde(deserialize_with = "null_default")]
    pub mounts: Vec<MountPoint>,
    #[serde(deserialize_with = "null_default")]
    pub config: Config,
    #[serde(deserialize_with = "null_default")]
    pub network_settings: NetworkSettings,
}
