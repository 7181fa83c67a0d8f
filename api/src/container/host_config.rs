//! `HostConfig`: the non-portable part of a container's configuration
//! (Go: `container.HostConfig` with `container.Resources` embedded).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::de::{is_false, is_zero, null_default};

/// Port bindings keyed by `port/proto` (e.g. `80/tcp`). In inspect output an
/// exposed but unpublished port maps to `null`.
pub type PortMap = HashMap<String, Option<Vec<PortBinding>>>;

/// One host side of a port mapping.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PortBinding {
    #[serde(rename = "HostIp", deserialize_with = "null_default")]
    pub host_ip: String,
    #[serde(rename = "HostPort", deserialize_with = "null_default")]
    pub host_port: String,
}

/// Logging driver configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct LogConfig {
    #[serde(deserialize_with = "null_default")]
    pub r#type: String,
    #[serde(deserialize_with = "null_default")]
    pub config: HashMap<String, String>,
}

/// Restart policy: `Name` is one of "", "no", "always", "unless-stopped",
/// "on-failure".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct RestartPolicy {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub maximum_retry_count: i64,
}

/// A device made available in the container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeviceMapping {
    #[serde(deserialize_with = "null_default")]
    pub path_on_host: String,
    #[serde(deserialize_with = "null_default")]
    pub path_in_container: String,
    #[serde(deserialize_with = "null_default")]
    pub cgroup_permissions: String,
}

/// A request for devices to be sent to device drivers (e.g. GPUs).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeviceRequest {
    #[serde(deserialize_with = "null_default")]
    pub driver: String,
    #[serde(deserialize_with = "null_default")]
    pub count: i64,
    #[serde(rename = "DeviceIDs", deserialize_with = "null_default")]
    pub device_ids: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub capabilities: Vec<Vec<String>>,
    #[serde(deserialize_with = "null_default")]
    pub options: HashMap<String, String>,
}

/// A resource limit (`docker run --ulimit nofile=1024:2048`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct Ulimit {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub soft: i64,
    #[serde(deserialize_with = "null_default")]
    pub hard: i64,
}

/// Block IO weight for one device.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct WeightDevice {
    #[serde(deserialize_with = "null_default")]
    pub path: String,
    #[serde(deserialize_with = "null_default")]
    pub weight: u16,
}

/// Block IO rate limit for one device.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ThrottleDevice {
    #[serde(deserialize_with = "null_default")]
    pub path: String,
    #[serde(deserialize_with = "null_default")]
    pub rate: u64,
}

/// A mount requested with `--mount` (Go: `mount.Mount`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct Mount {
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub r#type: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub source: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub target: String,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub consistency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

/// Options of a `bind` mount.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct BindOptions {
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub propagation: String,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_false")]
    pub non_recursive: bool,
}

/// Options of a `volume` mount.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct VolumeOptions {
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_false")]
    pub no_copy: bool,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub labels: HashMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_config: Option<VolumeDriverConfig>,
}

/// Volume driver selection of a `volume` mount.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct VolumeDriverConfig {
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub options: HashMap<String, String>,
}

/// Options of a `tmpfs` mount.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct TmpfsOptions {
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_zero")]
    pub size_bytes: i64,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_zero")]
    pub mode: u32,
}

/// Host-dependent container configuration, with the cgroup resource fields
/// (Go: `container.Resources`) inlined as Docker does on the wire.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct HostConfig {
    /// `host-src:container-dest[:options]` bind mounts and volumes.
    #[serde(deserialize_with = "null_default")]
    pub binds: Vec<String>,
    #[serde(rename = "ContainerIDFile", deserialize_with = "null_default")]
    pub container_id_file: String,
    #[serde(deserialize_with = "null_default")]
    pub log_config: LogConfig,
    #[serde(deserialize_with = "null_default")]
    pub network_mode: String,
    #[serde(deserialize_with = "null_default")]
    pub port_bindings: PortMap,
    #[serde(deserialize_with = "null_default")]
    pub restart_policy: RestartPolicy,
    #[serde(deserialize_with = "null_default")]
    pub auto_remove: bool,
    #[serde(deserialize_with = "null_default")]
    pub volume_driver: String,
    #[serde(deserialize_with = "null_default")]
    pub volumes_from: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub cap_add: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub cap_drop: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub cgroupns_mode: String,
    #[serde(deserialize_with = "null_default")]
    pub dns: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub dns_options: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub dns_search: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub extra_hosts: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub group_add: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub ipc_mode: String,
    #[serde(deserialize_with = "null_default")]
    pub cgroup: String,
    #[serde(deserialize_with = "null_default")]
    pub links: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub oom_score_adj: i64,
    #[serde(deserialize_with = "null_default")]
    pub pid_mode: String,
    #[serde(deserialize_with = "null_default")]
    pub privileged: bool,
    #[serde(deserialize_with = "null_default")]
    pub publish_all_ports: bool,
    #[serde(deserialize_with = "null_default")]
    pub readonly_rootfs: bool,
    #[serde(deserialize_with = "null_default")]
    pub security_opt: Vec<String>,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub storage_opt: HashMap<String, String>,
    /// Container path → tmpfs mount options.
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub tmpfs: HashMap<String, String>,
    #[serde(rename = "UTSMode", deserialize_with = "null_default")]
    pub uts_mode: String,
    #[serde(deserialize_with = "null_default")]
    pub userns_mode: String,
    #[serde(deserialize_with = "null_default")]
    pub shm_size: i64,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub sysctls: HashMap<String, String>,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub runtime: String,
    /// Initial console size `[height, width]`.
    #[serde(deserialize_with = "null_default")]
    pub console_size: [u64; 2],
    #[serde(deserialize_with = "null_default")]
    pub isolation: String,

    // ---- Resources (Go: container.Resources, embedded) ----
    #[serde(deserialize_with = "null_default")]
    pub cpu_shares: i64,
    #[serde(deserialize_with = "null_default")]
    pub memory: i64,
    #[serde(deserialize_with = "null_default")]
    pub nano_cpus: i64,
    #[serde(deserialize_with = "null_default")]
    pub cgroup_parent: String,
    #[serde(deserialize_with = "null_default")]
    pub blkio_weight: u16,
    #[serde(deserialize_with = "null_default")]
    pub blkio_weight_device: Vec<WeightDevice>,
    #[serde(deserialize_with = "null_default")]
    pub blkio_device_read_bps: Vec<ThrottleDevice>,
    #[serde(deserialize_with = "null_default")]
    pub blkio_device_write_bps: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceReadIOps", deserialize_with = "null_default")]
    pub blkio_device_read_iops: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceWriteIOps", deserialize_with = "null_default")]
    pub blkio_device_write_iops: Vec<ThrottleDevice>,
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
    pub devices: Vec<DeviceMapping>,
    #[serde(deserialize_with = "null_default")]
    pub device_cgroup_rules: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub device_requests: Vec<DeviceRequest>,
    #[serde(deserialize_with = "null_default")]
    pub kernel_memory: i64,
    #[serde(rename = "KernelMemoryTCP", deserialize_with = "null_default")]
    pub kernel_memory_tcp: i64,
    #[serde(deserialize_with = "null_default")]
    pub memory_reservation: i64,
    /// Total memory + swap; -1 means unlimited swap.
    #[serde(deserialize_with = "null_default")]
    pub memory_swap: i64,
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: Option<bool>,
    /// `None`/0 means unlimited (as does -1).
    pub pids_limit: Option<i64>,
    #[serde(deserialize_with = "null_default")]
    pub ulimits: Vec<Ulimit>,
    #[serde(deserialize_with = "null_default")]
    pub cpu_count: i64,
    #[serde(deserialize_with = "null_default")]
    pub cpu_percent: i64,
    #[serde(rename = "IOMaximumIOps", deserialize_with = "null_default")]
    pub io_maximum_iops: u64,
    #[serde(rename = "IOMaximumBandwidth", deserialize_with = "null_default")]
    pub io_maximum_bandwidth: u64,

    // ---- after Resources ----
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mounts: Vec<Mount>,
    #[serde(deserialize_with = "null_default")]
    pub masked_paths: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub readonly_paths: Vec<String>,
    /// Run an init inside the container; `None` = daemon default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
}
