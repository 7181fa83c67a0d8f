//! System types: `GET /version`, `GET /info`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::de::{is_false, null_default};

/// Platform of the server.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct Platform {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
}

/// Version of one server component.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ComponentVersion {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub version: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub details: HashMap<String, String>,
}

/// Response of `GET /version`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct Version {
    #[serde(deserialize_with = "null_default")]
    pub platform: Platform,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub components: Vec<ComponentVersion>,
    #[serde(deserialize_with = "null_default")]
    pub version: String,
    #[serde(rename = "ApiVersion", deserialize_with = "null_default")]
    pub api_version: String,
    #[serde(
        rename = "MinAPIVersion",
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub min_api_version: String,
    #[serde(deserialize_with = "null_default")]
    pub git_commit: String,
    #[serde(deserialize_with = "null_default")]
    pub go_version: String,
    #[serde(deserialize_with = "null_default")]
    pub os: String,
    #[serde(deserialize_with = "null_default")]
    pub arch: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub kernel_version: String,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_false")]
    pub experimental: bool,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub build_time: String,
}

/// Plugins available on the server, by kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct PluginsInfo {
    #[serde(deserialize_with = "null_default")]
    pub volume: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub network: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub authorization: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub log: Vec<String>,
}

/// An OCI runtime known to the daemon. Note Docker's lowercase keys.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Runtime {
    #[serde(deserialize_with = "null_default")]
    pub path: String,
    #[serde(
        rename = "runtimeArgs",
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub runtime_args: Vec<String>,
}

/// Commit of a component (containerd, runc, init).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Commit {
    #[serde(rename = "ID", deserialize_with = "null_default")]
    pub id: String,
    /// Docker CLI prints a warning when this differs from `ID`.
    #[serde(rename = "Expected", deserialize_with = "null_default")]
    pub expected: String,
}

/// A swarm manager peer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Peer {
    #[serde(rename = "NodeID", deserialize_with = "null_default")]
    pub node_id: String,
    #[serde(rename = "Addr", deserialize_with = "null_default")]
    pub addr: String,
}

/// Swarm state. pouch has no swarm mode: the default is `inactive`, which
/// makes `docker info` print `Swarm: inactive` and nothing more.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct SwarmInfo {
    #[serde(rename = "NodeID", deserialize_with = "null_default")]
    pub node_id: String,
    #[serde(rename = "NodeAddr", deserialize_with = "null_default")]
    pub node_addr: String,
    /// "", "inactive", "pending", "active", "error", "locked".
    #[serde(rename = "LocalNodeState", deserialize_with = "null_default")]
    pub local_node_state: String,
    #[serde(rename = "ControlAvailable", deserialize_with = "null_default")]
    pub control_available: bool,
    #[serde(rename = "Error", deserialize_with = "null_default")]
    pub error: String,
    #[serde(rename = "RemoteManagers")]
    pub remote_managers: Option<Vec<Peer>>,
}

impl Default for SwarmInfo {
    fn default() -> Self {
        Self {
            node_id: String::new(),
            node_addr: String::new(),
            local_node_state: "inactive".to_owned(),
            control_available: false,
            error: String::new(),
            remote_managers: None,
        }
    }
}

/// Registry configuration of one index.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct IndexInfo {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub mirrors: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub secure: bool,
    #[serde(deserialize_with = "null_default")]
    pub official: bool,
}

/// Registry service configuration (Go: `registry.ServiceConfig`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct RegistryServiceConfig {
    /// CIDR strings, e.g. `127.0.0.0/8`.
    #[serde(
        rename = "AllowNondistributableArtifactsCIDRs",
        deserialize_with = "null_default"
    )]
    pub allow_nondistributable_artifacts_cidrs: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub allow_nondistributable_artifacts_hostnames: Vec<String>,
    /// CIDR strings, e.g. `127.0.0.0/8`.
    #[serde(rename = "InsecureRegistryCIDRs", deserialize_with = "null_default")]
    pub insecure_registry_cidrs: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub index_configs: HashMap<String, IndexInfo>,
    #[serde(deserialize_with = "null_default")]
    pub mirrors: Vec<String>,
}

/// A default address pool for networks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct NetworkAddressPool {
    #[serde(deserialize_with = "null_default")]
    pub base: String,
    #[serde(deserialize_with = "null_default")]
    pub size: i64,
}

/// Response of `GET /info`.
///
/// Notes for filling it so `docker info` (CLI 20.10) prints well:
/// `SecurityOptions` entries are `name=seccomp,profile=default` style;
/// `OSType` "linux" enables the runtime/commit section; `Warnings` replaces
/// the CLI's own warnings about missing cgroup features.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct Info {
    #[serde(rename = "ID", deserialize_with = "null_default")]
    pub id: String,
    #[serde(deserialize_with = "null_default")]
    pub containers: i64,
    #[serde(deserialize_with = "null_default")]
    pub containers_running: i64,
    #[serde(deserialize_with = "null_default")]
    pub containers_paused: i64,
    #[serde(deserialize_with = "null_default")]
    pub containers_stopped: i64,
    #[serde(deserialize_with = "null_default")]
    pub images: i64,
    #[serde(deserialize_with = "null_default")]
    pub driver: String,
    /// `[key, value]` pairs.
    #[serde(deserialize_with = "null_default")]
    pub driver_status: Vec<[String; 2]>,
    #[serde(deserialize_with = "null_default")]
    pub plugins: PluginsInfo,
    #[serde(deserialize_with = "null_default")]
    pub memory_limit: bool,
    #[serde(deserialize_with = "null_default")]
    pub swap_limit: bool,
    #[serde(deserialize_with = "null_default")]
    pub kernel_memory: bool,
    #[serde(rename = "KernelMemoryTCP", deserialize_with = "null_default")]
    pub kernel_memory_tcp: bool,
    #[serde(deserialize_with = "null_default")]
    pub cpu_cfs_period: bool,
    #[serde(deserialize_with = "null_default")]
    pub cpu_cfs_quota: bool,
    #[serde(rename = "CPUShares", deserialize_with = "null_default")]
    pub cpu_shares: bool,
    #[serde(rename = "CPUSet", deserialize_with = "null_default")]
    pub cpu_set: bool,
    #[serde(deserialize_with = "null_default")]
    pub pids_limit: bool,
    #[serde(rename = "IPv4Forwarding", deserialize_with = "null_default")]
    pub ipv4_forwarding: bool,
    #[serde(deserialize_with = "null_default")]
    pub bridge_nf_iptables: bool,
    #[serde(deserialize_with = "null_default")]
    pub bridge_nf_ip6tables: bool,
    #[serde(deserialize_with = "null_default")]
    pub debug: bool,
    #[serde(deserialize_with = "null_default")]
    pub n_fd: i64,
    #[serde(deserialize_with = "null_default")]
    pub oom_kill_disable: bool,
    #[serde(deserialize_with = "null_default")]
    pub n_goroutines: i64,
    /// RFC 3339 with nanoseconds.
    #[serde(deserialize_with = "null_default")]
    pub system_time: String,
    #[serde(deserialize_with = "null_default")]
    pub logging_driver: String,
    /// "cgroupfs" or "systemd".
    #[serde(deserialize_with = "null_default")]
    pub cgroup_driver: String,
    /// "1" or "2".
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub cgroup_version: String,
    #[serde(deserialize_with = "null_default")]
    pub n_events_listener: i64,
    #[serde(deserialize_with = "null_default")]
    pub kernel_version: String,
    #[serde(deserialize_with = "null_default")]
    pub operating_system: String,
    #[serde(rename = "OSVersion", deserialize_with = "null_default")]
    pub os_version: String,
    #[serde(rename = "OSType", deserialize_with = "null_default")]
    pub os_type: String,
    #[serde(deserialize_with = "null_default")]
    pub architecture: String,
    #[serde(deserialize_with = "null_default")]
    pub index_server_address: String,
    /// `null` is accepted by docker CLI 20.10.
    pub registry_config: Option<RegistryServiceConfig>,
    #[serde(rename = "NCPU", deserialize_with = "null_default")]
    pub ncpu: i64,
    #[serde(deserialize_with = "null_default")]
    pub mem_total: i64,
    #[serde(deserialize_with = "null_default")]
    pub docker_root_dir: String,
    #[serde(deserialize_with = "null_default")]
    pub http_proxy: String,
    #[serde(deserialize_with = "null_default")]
    pub https_proxy: String,
    #[serde(deserialize_with = "null_default")]
    pub no_proxy: String,
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub labels: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub experimental_build: bool,
    #[serde(deserialize_with = "null_default")]
    pub server_version: String,
    #[serde(deserialize_with = "null_default")]
    pub runtimes: HashMap<String, Runtime>,
    #[serde(deserialize_with = "null_default")]
    pub default_runtime: String,
    #[serde(deserialize_with = "null_default")]
    pub swarm: SwarmInfo,
    #[serde(deserialize_with = "null_default")]
    pub live_restore_enabled: bool,
    #[serde(deserialize_with = "null_default")]
    pub isolation: String,
    #[serde(deserialize_with = "null_default")]
    pub init_binary: String,
    #[serde(deserialize_with = "null_default")]
    pub containerd_commit: Commit,
    #[serde(deserialize_with = "null_default")]
    pub runc_commit: Commit,
    #[serde(deserialize_with = "null_default")]
    pub init_commit: Commit,
    #[serde(deserialize_with = "null_default")]
    pub security_options: Vec<String>,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub product_license: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub default_address_pools: Vec<NetworkAddressPool>,
    #[serde(deserialize_with = "null_default")]
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::test_util::assert_keys_preserved;

    /// `GET /version` of Docker 20.10.
    const VERSION: &str = r#"{"Platform":{"Name":"Docker Engine - Community"},"Components":[{"Name":"Engine","Version":"20.10.23","Details":{"ApiVersion":"1.41","Arch":"amd64","BuildTime":"2023-01-19T17:32:04.000000000+00:00","Experimental":"false","GitCommit":"6051f14","GoVersion":"go1.18.10","KernelVersion":"5.15.0","MinAPIVersion":"1.12","Os":"linux"}},{"Name":"containerd","Version":"1.6.15","Details":{"GitCommit":"5b842e528e99d4d4c1686467debf2bd4b88ecd86"}}],"Version":"20.10.23","ApiVersion":"1.41","MinAPIVersion":"1.12","GitCommit":"6051f14","GoVersion":"go1.18.10","Os":"linux","Arch":"amd64","KernelVersion":"5.15.0","BuildTime":"2023-01-19T17:32:04.000000000+00:00"}"#;

    /// `GET /info` of Docker 20.10 (GenericResources, Swarm details and
    /// ClientInfo-only fields trimmed).
    const INFO: &str = r#"{"ID":"ABCD:EFGH","Containers":3,"ContainersRunning":1,"ContainersPaused":0,"ContainersStopped":2,"Images":5,"Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"],["Supports d_type","true"]],"Plugins":{"Volume":["local"],"Network":["bridge","host","null"],"Authorization":null,"Log":["json-file","local"]},"MemoryLimit":true,"SwapLimit":true,"KernelMemory":true,"KernelMemoryTCP":true,"CpuCfsPeriod":true,"CpuCfsQuota":true,"CPUShares":true,"CPUSet":true,"PidsLimit":true,"IPv4Forwarding":true,"BridgeNfIptables":true,"BridgeNfIp6tables":true,"Debug":false,"NFd":33,"OomKillDisable":false,"NGoroutines":42,"SystemTime":"2023-03-01T10:00:00.123456789Z","LoggingDriver":"json-file","CgroupDriver":"systemd","CgroupVersion":"2","NEventsListener":0,"KernelVersion":"5.15.0","OperatingSystem":"Ubuntu 22.04 LTS","OSVersion":"22.04","OSType":"linux","Architecture":"x86_64","IndexServerAddress":"https://index.docker.io/v1/","RegistryConfig":{"AllowNondistributableArtifactsCIDRs":[],"AllowNondistributableArtifactsHostnames":[],"InsecureRegistryCIDRs":["127.0.0.0/8"],"IndexConfigs":{"docker.io":{"Name":"docker.io","Mirrors":[],"Secure":true,"Official":true}},"Mirrors":[]},"NCPU":2,"MemTotal":25000000000,"DockerRootDir":"/var/lib/docker","HttpProxy":"","HttpsProxy":"","NoProxy":"","Name":"host1","Labels":[],"ExperimentalBuild":false,"ServerVersion":"20.10.23","Runtimes":{"io.containerd.runc.v2":{"path":"runc"},"runc":{"path":"runc"}},"DefaultRuntime":"runc","Swarm":{"NodeID":"","NodeAddr":"","LocalNodeState":"inactive","ControlAvailable":false,"Error":"","RemoteManagers":null},"LiveRestoreEnabled":false,"Isolation":"","InitBinary":"docker-init","ContainerdCommit":{"ID":"5b842e5","Expected":"5b842e5"},"RuncCommit":{"ID":"v1.1.4-0-g5fd4c4d","Expected":"v1.1.4-0-g5fd4c4d"},"InitCommit":{"ID":"de40ad0","Expected":"de40ad0"},"SecurityOptions":["name=seccomp,profile=default","name=cgroupns"],"Warnings":null}"#;

    #[test]
    fn version_roundtrip() {
        let v: Version = serde_json::from_str(VERSION).unwrap();
        assert_eq!(v.api_version, "1.41");
        assert_eq!(v.min_api_version, "1.12");
        assert_eq!(v.components[1].name, "containerd");
        let out = serde_json::to_value(&v).unwrap();
        assert_keys_preserved(&serde_json::from_str(VERSION).unwrap(), &out, "");
        assert_eq!(serde_json::from_value::<Version>(out).unwrap(), v);
    }

    #[test]
    fn info_roundtrip() {
        let i: Info = serde_json::from_str(INFO).unwrap();
        assert_eq!(i.ncpu, 2);
        assert_eq!(i.n_fd, 33);
        assert!(i.cpu_shares && i.ipv4_forwarding);
        assert_eq!(i.driver_status[0], ["Backing Filesystem", "extfs"]);
        assert_eq!(i.runtimes["runc"].path, "runc");
        assert_eq!(i.swarm.local_node_state, "inactive");
        let reg = i.registry_config.as_ref().unwrap();
        assert!(reg.index_configs["docker.io"].official);
        let out = serde_json::to_value(&i).unwrap();
        assert_keys_preserved(&serde_json::from_str(INFO).unwrap(), &out, "");
        assert_eq!(serde_json::from_value::<Info>(out).unwrap(), i);
    }

    #[test]
    fn info_defaults_for_docker_cli() {
        let v = serde_json::to_value(Info::default()).unwrap();
        assert_eq!(v["RegistryConfig"], Value::Null);
        assert_eq!(v["Swarm"]["LocalNodeState"], "inactive");
        assert_eq!(v["DriverStatus"], serde_json::json!([]));
        assert_eq!(v["Plugins"]["Volume"], serde_json::json!([]));
        assert!(v["ContainerdCommit"]["ID"].is_string());
        let back: Info = serde_json::from_str(r#"{"Swarm":null,"NCPU":null}"#).unwrap();
        assert_eq!(back.swarm.local_node_state, "inactive");
        assert!(serde_json::from_str::<Info>(r#"{"NCPU":"2"}"#).is_err());
    }
}

/// Response of `GET /system/df`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct SystemDfResponse {
    /// Bytes of all image layers, each counted once.
    #[serde(deserialize_with = "null_default")]
    pub layers_size: i64,
    #[serde(deserialize_with = "null_default")]
    pub images: Vec<crate::image::ImageSummary>,
    /// With `SizeRw` and `SizeRootFs`.
    #[serde(deserialize_with = "null_default")]
    pub containers: Vec<crate::container::ContainerSummary>,
    /// With `UsageData`.
    #[serde(deserialize_with = "null_default")]
    pub volumes: Vec<crate::volume::Volume>,
    /// Build cache records; pouchd has no builder, so none.
    #[serde(deserialize_with = "null_default")]
    pub build_cache: Vec<serde_json::Value>,
}
