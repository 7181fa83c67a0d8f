//! Network endpoints: the three built-in networks (`bridge`, `host`,
//! `none`) in Docker's shape. User-defined networks are not supported and
//! are refused with Docker's error shape.

use super::{inspect::network_name, State};
use crate::error::{Error, Result};
use crate::mgr::network::{network_id, BridgeConfig};
use crate::server::params::Params;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::Json;
use pouch_api::network::{EndpointResource, Ipam, IpamConfig, NetworkResource};
use pouch_api::Filters;
use std::collections::HashMap;
use std::sync::OnceLock;

const BUILTIN: [(&str, &str); 3] = [("bridge", "bridge"), ("host", "host"), ("none", "null")];

/// Built-in networks exist as long as the daemon runs.
fn created() -> String {
    static T: OnceLock<String> = OnceLock::new();
    T.get_or_init(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .clone()
}

fn resource(state: &State, name: &str, driver: &str) -> NetworkResource {
    let b: &BridgeConfig = state.containers.network().bridge();
    let mut n = NetworkResource {
        name: name.to_string(),
        id: network_id(name, &b.name),
        created: created(),
        scope: "local".to_string(),
        driver: driver.to_string(),
        ipam: Ipam {
            driver: "default".to_string(),
            options: None,
            config: Vec::new(),
        },
        ..Default::default()
    };
    if name == "bridge" {
        n.ipam.config.push(IpamConfig {
            subnet: b.subnet(),
            gateway: b.gateway.to_string(),
            ..Default::default()
        });
        n.options = HashMap::from([
            ("com.docker.network.bridge.name".to_string(), b.name.clone()),
            (
                "com.docker.network.bridge.default_bridge".to_string(),
                "true".to_string(),
            ),
            (
                "com.docker.network.bridge.enable_ip_masquerade".to_string(),
                "true".to_string(),
            ),
        ]);
    }
    for c in state.containers.all() {
        let m = c.meta();
        if !m.state.status.is_alive() || network_name(&m) != name {
            continue;
        }
        let mut ep = EndpointResource {
            name: m.name.clone(),
            ..Default::default()
        };
        if let Some(e) = &m.network {
            ep.endpoint_id = e.endpoint_id.clone();
            ep.mac_address = e.mac_address.clone();
            ep.ipv4_address = format!("{}/{}", e.ip_address, e.ip_prefix_len);
        }
        n.containers.insert(m.id.clone(), ep);
    }
    n
}

fn matches(f: &Filters, n: &NetworkResource) -> bool {
    let name_ok =
        f.get("name").is_empty() || f.get("name").iter().any(|v| n.name.contains(v.as_str()));
    name_ok
        && f.fuzzy_match("id", &n.id)
        && f.exact_match("driver", &n.driver)
        && f.exact_match("scope", &n.scope)
        && f.exact_match("type", "builtin")
        && f.match_labels("label", &n.labels)
}

/// `GET /networks`.
pub async fn list(state: State, RawQuery(q): RawQuery) -> Result<Json<Vec<NetworkResource>>> {
    let f = Params::parse(q.as_deref()).filters()?;
    f.validate(&["name", "id", "driver", "scope", "type", "label", "dangling"])
        .map_err(Error::InvalidParameter)?;
    if let Some(t) = f
        .get("type")
        .iter()
        .find(|t| !matches!(t.as_str(), "builtin" | "custom"))
    {
        return Err(Error::invalid(format!("invalid filter: 'type'='{t}'")));
    }
    let out = BUILTIN
        .iter()
        .map(|(name, driver)| resource(&state, name, driver))
        .filter(|n| matches(&f, n))
        .collect();
    Ok(Json(out))
}

/// A built-in network by name, full ID or unique ID prefix.
fn find(state: &State, reference: &str) -> Result<NetworkResource> {
    let all: Vec<NetworkResource> = BUILTIN
        .iter()
        .map(|(name, driver)| resource(state, name, driver))
        .collect();
    if let Some(n) = all
        .iter()
        .find(|n| n.name == reference || n.id == reference)
    {
        return Ok(n.clone());
    }
    let by_prefix: Vec<&NetworkResource> = if reference.is_empty() {
        Vec::new()
    } else {
        all.iter().filter(|n| n.id.starts_with(reference)).collect()
    };
    match by_prefix.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::not_found(format!("network {reference} not found"))),
        _ => Err(Error::invalid(format!(
            "network {reference} is ambiguous ({} matches found)",
            by_prefix.len()
        ))),
    }
}

/// `GET /networks/{id}`.
pub async fn inspect(state: State, Path(id): Path<String>) -> Result<Json<NetworkResource>> {
    find(&state, &id).map(Json)
}

/// `POST /networks/create`.
pub async fn create(state: State, body: Bytes) -> Result<StatusCode> {
    let name = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["Name"].as_str().map(str::to_string))
        .unwrap_or_default();
    if BUILTIN.iter().any(|(n, _)| *n == name) || find(&state, &name).is_ok() {
        return Err(Error::conflict(format!(
            "network with name {name} already exists"
        )));
    }
    Err(Error::NotImplemented(
        "user-defined networks are not supported by pouchd: use the default bridge network (or host, none)".to_string(),
    ))
}

/// `DELETE /networks/{id}`.
pub async fn remove(state: State, Path(id): Path<String>) -> Result<StatusCode> {
    let n = find(&state, &id)?;
    Err(Error::Forbidden(format!(
        "{} is a pre-defined network and cannot be removed",
        n.name
    )))
}

/// `POST /networks/{id}/connect` and `/disconnect`.
pub async fn connect(state: State, Path(id): Path<String>) -> Result<StatusCode> {
    let n = find(&state, &id)?;
    Err(Error::NotImplemented(format!(
        "connecting or disconnecting running containers is not supported by pouchd (network {})",
        n.name
    )))
}

/// `POST /networks/prune`: built-in networks are never pruned.
pub async fn prune() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "NetworksDeleted": [] }))
}
