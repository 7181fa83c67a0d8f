//! Network objects: `GET /networks` and `GET /networks/{id}` (Go:
//! `types.NetworkResource`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::de::null_default;

/// One network, as `docker network inspect` shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkResource {
    #[serde(rename = "Name", deserialize_with = "null_default")]
    pub name: String,
    #[serde(rename = "Id", deserialize_with = "null_default")]
    pub id: String,
    /// RFC 3339 with nanoseconds.
    #[serde(rename = "Created", deserialize_with = "null_default")]
    pub created: String,
    #[serde(rename = "Scope", deserialize_with = "null_default")]
    pub scope: String,
    /// `bridge`, `host` or `null`.
    #[serde(rename = "Driver", deserialize_with = "null_default")]
    pub driver: String,
    #[serde(rename = "EnableIPv6", deserialize_with = "null_default")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM", deserialize_with = "null_default")]
    pub ipam: Ipam,
    #[serde(rename = "Internal", deserialize_with = "null_default")]
    pub internal: bool,
    #[serde(rename = "Attachable", deserialize_with = "null_default")]
    pub attachable: bool,
    #[serde(rename = "Ingress", deserialize_with = "null_default")]
    pub ingress: bool,
    #[serde(rename = "ConfigFrom", deserialize_with = "null_default")]
    pub config_from: ConfigReference,
    #[serde(rename = "ConfigOnly", deserialize_with = "null_default")]
    pub config_only: bool,
    /// Container ID → endpoint.
    #[serde(rename = "Containers", deserialize_with = "null_default")]
    pub containers: HashMap<String, EndpointResource>,
    #[serde(rename = "Options", deserialize_with = "null_default")]
    pub options: HashMap<String, String>,
    #[serde(rename = "Labels", deserialize_with = "null_default")]
    pub labels: HashMap<String, String>,
}

/// IP address management of a network.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct Ipam {
    #[serde(deserialize_with = "null_default")]
    pub driver: String,
    /// `null` in Docker's output when unset.
    pub options: Option<HashMap<String, String>>,
    #[serde(deserialize_with = "null_default")]
    pub config: Vec<IpamConfig>,
}

/// One address pool of a network.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct IpamConfig {
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub subnet: String,
    #[serde(
        rename = "IPRange",
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub ip_range: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub gateway: String,
}

/// The network a config-only network's settings come from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ConfigReference {
    #[serde(deserialize_with = "null_default")]
    pub network: String,
}

/// A container's endpoint in a network.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EndpointResource {
    #[serde(rename = "Name", deserialize_with = "null_default")]
    pub name: String,
    #[serde(rename = "EndpointID", deserialize_with = "null_default")]
    pub endpoint_id: String,
    #[serde(rename = "MacAddress", deserialize_with = "null_default")]
    pub mac_address: String,
    /// Address with prefix, `172.17.0.2/16`.
    #[serde(rename = "IPv4Address", deserialize_with = "null_default")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address", deserialize_with = "null_default")]
    pub ipv6_address: String,
}

/// `POST /networks/create` (Go: `types.NetworkCreateRequest`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkCreateRequest {
    #[serde(rename = "Name", deserialize_with = "null_default")]
    pub name: String,
    #[serde(rename = "CheckDuplicate", deserialize_with = "null_default")]
    pub check_duplicate: bool,
    #[serde(rename = "Driver", deserialize_with = "null_default")]
    pub driver: String,
    #[serde(rename = "Scope", deserialize_with = "null_default")]
    pub scope: String,
    #[serde(rename = "Internal", deserialize_with = "null_default")]
    pub internal: bool,
    #[serde(rename = "Attachable", deserialize_with = "null_default")]
    pub attachable: bool,
    #[serde(rename = "Ingress", deserialize_with = "null_default")]
    pub ingress: bool,
    #[serde(rename = "ConfigOnly", deserialize_with = "null_default")]
    pub config_only: bool,
    #[serde(rename = "ConfigFrom")]
    pub config_from: Option<ConfigReference>,
    #[serde(rename = "IPAM")]
    pub ipam: Option<Ipam>,
    #[serde(rename = "EnableIPv6", deserialize_with = "null_default")]
    pub enable_ipv6: bool,
    #[serde(rename = "Options", deserialize_with = "null_default")]
    pub options: HashMap<String, String>,
    #[serde(rename = "Labels", deserialize_with = "null_default")]
    pub labels: HashMap<String, String>,
}

/// The answer to `POST /networks/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkCreateResponse {
    #[serde(rename = "Id", deserialize_with = "null_default")]
    pub id: String,
    #[serde(rename = "Warning", deserialize_with = "null_default")]
    pub warning: String,
}

/// `POST /networks/{id}/connect`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkConnectRequest {
    #[serde(rename = "Container", deserialize_with = "null_default")]
    pub container: String,
    #[serde(rename = "EndpointConfig")]
    pub endpoint_config: Option<crate::container::EndpointSettings>,
}

/// `POST /networks/{id}/disconnect`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkDisconnectRequest {
    #[serde(rename = "Container", deserialize_with = "null_default")]
    pub container: String,
    #[serde(rename = "Force", deserialize_with = "null_default")]
    pub force: bool,
}

/// The answer to `POST /networks/prune`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworksPruneResponse {
    #[serde(rename = "NetworksDeleted", deserialize_with = "null_default")]
    pub networks_deleted: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docker network inspect bridge` of Docker 20.10.
    const BRIDGE: &str = r#"{"Name":"bridge","Id":"9f1b","Created":"2023-03-01T10:00:00.123456789Z","Scope":"local","Driver":"bridge","EnableIPv6":false,"IPAM":{"Driver":"default","Options":null,"Config":[{"Subnet":"172.17.0.0/16","Gateway":"172.17.0.1"}]},"Internal":false,"Attachable":false,"Ingress":false,"ConfigFrom":{"Network":""},"ConfigOnly":false,"Containers":{"5c9a":{"Name":"web","EndpointID":"e1","MacAddress":"02:42:ac:11:00:02","IPv4Address":"172.17.0.2/16","IPv6Address":""}},"Options":{"com.docker.network.bridge.name":"docker0"},"Labels":{}}"#;

    #[test]
    fn round_trips_docker_json() {
        let n: NetworkResource = serde_json::from_str(BRIDGE).unwrap();
        assert_eq!(n.ipam.config[0].subnet, "172.17.0.0/16");
        assert_eq!(n.containers["5c9a"].ipv4_address, "172.17.0.2/16");
        let back: serde_json::Value = serde_json::to_value(&n).unwrap();
        let orig: serde_json::Value = serde_json::from_str(BRIDGE).unwrap();
        assert_eq!(back, orig);
    }
}
