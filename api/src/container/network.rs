//! Container networking types: `NetworkSettings` (inspect),
//! `EndpointSettings` and `NetworkingConfig` (create).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::host_config::PortMap;
use crate::de::null_default;

/// Networks to connect the container to at create time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct NetworkingConfig {
    /// Network name → endpoint configuration.
    #[serde(deserialize_with = "null_default")]
    pub endpoints_config: HashMap<String, EndpointSettings>,
}

/// Static IP configuration requested for an endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EndpointIpamConfig {
    #[serde(
        rename = "IPv4Address",
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv4_address: String,
    #[serde(
        rename = "IPv6Address",
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv6_address: String,
    #[serde(
        rename = "LinkLocalIPs",
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub link_local_ips: Vec<String>,
}

/// Configuration and state of one network endpoint of a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    #[serde(rename = "Links", deserialize_with = "null_default")]
    pub links: Vec<String>,
    #[serde(rename = "Aliases", deserialize_with = "null_default")]
    pub aliases: Vec<String>,
    #[serde(rename = "NetworkID", deserialize_with = "null_default")]
    pub network_id: String,
    #[serde(rename = "EndpointID", deserialize_with = "null_default")]
    pub endpoint_id: String,
    #[serde(rename = "Gateway", deserialize_with = "null_default")]
    pub gateway: String,
    #[serde(rename = "IPAddress", deserialize_with = "null_default")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen", deserialize_with = "null_default")]
    pub ip_prefix_len: i64,
    #[serde(rename = "IPv6Gateway", deserialize_with = "null_default")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address", deserialize_with = "null_default")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen", deserialize_with = "null_default")]
    pub global_ipv6_prefix_len: i64,
    #[serde(rename = "MacAddress", deserialize_with = "null_default")]
    pub mac_address: String,
    #[serde(rename = "DriverOpts", deserialize_with = "null_default")]
    pub driver_opts: HashMap<String, String>,
}

/// An IP address with its prefix length.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct Address {
    #[serde(deserialize_with = "null_default")]
    pub addr: String,
    #[serde(deserialize_with = "null_default")]
    pub prefix_len: i64,
}

/// Network state of a container, as in `GET /containers/{id}/json`.
/// The top-level address fields describe the default bridge network.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkSettings {
    #[serde(rename = "Bridge", deserialize_with = "null_default")]
    pub bridge: String,
    #[serde(rename = "SandboxID", deserialize_with = "null_default")]
    pub sandbox_id: String,
    #[serde(rename = "HairpinMode", deserialize_with = "null_default")]
    pub hairpin_mode: bool,
    #[serde(rename = "LinkLocalIPv6Address", deserialize_with = "null_default")]
    pub link_local_ipv6_address: String,
    #[serde(rename = "LinkLocalIPv6PrefixLen", deserialize_with = "null_default")]
    pub link_local_ipv6_prefix_len: i64,
    /// `port/proto` → host bindings (`null` when exposed but unpublished).
    #[serde(rename = "Ports", deserialize_with = "null_default")]
    pub ports: PortMap,
    #[serde(rename = "SandboxKey", deserialize_with = "null_default")]
    pub sandbox_key: String,
    #[serde(rename = "SecondaryIPAddresses")]
    pub secondary_ip_addresses: Option<Vec<Address>>,
    #[serde(rename = "SecondaryIPv6Addresses")]
    pub secondary_ipv6_addresses: Option<Vec<Address>>,
    #[serde(rename = "EndpointID", deserialize_with = "null_default")]
    pub endpoint_id: String,
    #[serde(rename = "Gateway", deserialize_with = "null_default")]
    pub gateway: String,
    #[serde(rename = "GlobalIPv6Address", deserialize_with = "null_default")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen", deserialize_with = "null_default")]
    pub global_ipv6_prefix_len: i64,
    #[serde(rename = "IPAddress", deserialize_with = "null_default")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen", deserialize_with = "null_default")]
    pub ip_prefix_len: i64,
    #[serde(rename = "IPv6Gateway", deserialize_with = "null_default")]
    pub ipv6_gateway: String,
    #[serde(rename = "MacAddress", deserialize_with = "null_default")]
    pub mac_address: String,
    /// Network name → endpoint.
    #[serde(rename = "Networks", deserialize_with = "null_default")]
    pub networks: HashMap<String, EndpointSettings>,
}
