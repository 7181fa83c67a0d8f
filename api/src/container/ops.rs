//! Request and response bodies of container operations
//! (create, list, wait, update).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::config::Config;
use super::host_config::{HostConfig, RestartPolicy};
use super::inspect::MountPoint;
use super::network::{EndpointSettings, NetworkingConfig};
use crate::de::{is_zero, null_default};

/// Body of `POST /containers/create`: the `Config` fields at top level plus
/// `HostConfig` and `NetworkingConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ContainerCreateRequest {
    #[serde(flatten)]
    pub config: Config,
    #[serde(deserialize_with = "null_default")]
    pub host_config: HostConfig,
    #[serde(deserialize_with = "null_default")]
    pub networking_config: NetworkingConfig,
}

/// Response of `POST /containers/create` (201).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ContainerCreateResponse {
    #[serde(rename = "Id", deserialize_with = "null_default")]
    pub id: String,
    #[serde(deserialize_with = "null_default")]
    pub warnings: Vec<String>,
}

/// A port of a container in `GET /containers/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Port {
    /// Host IP the port is published on.
    #[serde(
        rename = "IP",
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub ip: String,
    #[serde(rename = "PrivatePort", deserialize_with = "null_default")]
    pub private_port: u16,
    /// Host port; omitted (0) when not published.
    #[serde(
        rename = "PublicPort",
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero"
    )]
    pub public_port: u16,
    /// "tcp", "udp" or "sctp".
    #[serde(rename = "Type", deserialize_with = "null_default")]
    pub r#type: String,
}

/// `HostConfig` subset in `GET /containers/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct SummaryHostConfig {
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub network_mode: String,
}

/// `NetworkSettings` subset in `GET /containers/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct SummaryNetworkSettings {
    #[serde(deserialize_with = "null_default")]
    pub networks: HashMap<String, EndpointSettings>,
}

/// One entry of `GET /containers/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ContainerSummary {
    #[serde(rename = "Id", deserialize_with = "null_default")]
    pub id: String,
    /// Names with a leading `/`.
    #[serde(deserialize_with = "null_default")]
    pub names: Vec<String>,
    /// Image as given by the user at create time.
    #[serde(deserialize_with = "null_default")]
    pub image: String,
    #[serde(rename = "ImageID", deserialize_with = "null_default")]
    pub image_id: String,
    #[serde(deserialize_with = "null_default")]
    pub command: String,
    /// Unix timestamp (seconds).
    #[serde(deserialize_with = "null_default")]
    pub created: i64,
    #[serde(deserialize_with = "null_default")]
    pub ports: Vec<Port>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    #[serde(deserialize_with = "null_default")]
    pub labels: HashMap<String, String>,
    /// "created", "running", "paused", "restarting", "removing", "exited",
    /// "dead".
    #[serde(deserialize_with = "null_default")]
    pub state: String,
    /// Human readable, e.g. "Up 2 minutes", "Exited (0) 5 seconds ago".
    #[serde(deserialize_with = "null_default")]
    pub status: String,
    #[serde(deserialize_with = "null_default")]
    pub host_config: SummaryHostConfig,
    #[serde(deserialize_with = "null_default")]
    pub network_settings: SummaryNetworkSettings,
    #[serde(deserialize_with = "null_default")]
    pub mounts: Vec<MountPoint>,
}

/// Error detail of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ContainerWaitError {
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub message: String,
}

/// Response of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ContainerWaitResponse {
    #[serde(deserialize_with = "null_default")]
    pub status_code: i64,
    /// Serialized as `null` when there is no error.
    pub error: Option<ContainerWaitError>,
}

/// Body of `POST /containers/{id}/update` (Go: `container.UpdateConfig`).
/// Zero values mean "leave unchanged".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ContainerUpdateRequest {
    #[serde(deserialize_with = "null_default")]
    pub cpu_shares: i64,
    #[serde(deserialize_with = "null_default")]
    pub memory: i64,
    #[serde(deserialize_with = "null_default")]
    pub nano_cpus: i64,
    #[serde(deserialize_with = "null_default")]
    pub blkio_weight: u16,
    #[serde(deserialize_with = "null_default")]
    pub cpu_period: i64,
    #[serde(deserialize_with = "null_default")]
    pub cpu_quota: i64,
    #[serde(deserialize_with = "null_default")]
    pub cpu_realtime_period: i64,
    #[serde(deserialize_with = "null_default")]
    pub cpu_realtime_runtime: i64,
    #[serde(deserialize_with = "null_default")]
    pub cpuset_cpus: String,
    #[serde(deserialize_with = "null_default")]
    pub cpuset_mems: String,
    #[serde(deserialize_with = "null_default")]
    pub memory_reservation: i64,
    #[serde(deserialize_with = "null_default")]
    pub memory_swap: i64,
    #[serde(deserialize_with = "null_default")]
    pub kernel_memory: i64,
    pub pids_limit: Option<i64>,
    #[serde(deserialize_with = "null_default")]
    pub restart_policy: RestartPolicy,
}

/// Response of `POST /containers/{id}/update`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ContainerUpdateResponse {
    #[serde(deserialize_with = "null_default")]
    pub warnings: Vec<String>,
}

/// Response of `POST /containers/prune`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ContainersPruneResponse {
    /// Docker sends `null` when nothing was removed.
    pub containers_deleted: Option<Vec<String>>,
    /// Bytes of the removed containers' writable layers.
    #[serde(deserialize_with = "null_default")]
    pub space_reclaimed: u64,
}
