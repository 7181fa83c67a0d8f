//! Network endpoints: the built-in networks (`bridge`, `host`, `none`) and
//! user-defined bridge networks in Docker's shape; connect and disconnect.

use super::{container_prune::prune_options, to_completion, State};
use crate::error::{Error, Result};
use crate::mgr::network::NetConfig;
use crate::server::params::{json_body, Params};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::Json;
use pouch_api::network::{
    EndpointResource, Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest,
    NetworkCreateResponse, NetworkDisconnectRequest, NetworkResource, NetworksPruneResponse,
};
use pouch_api::Filters;

fn resource(state: &State, n: &NetConfig) -> NetworkResource {
    let mut r = NetworkResource {
        name: n.name.clone(),
        id: n.id.clone(),
        created: n.created.clone(),
        scope: "local".to_string(),
        driver: n.driver.clone(),
        internal: n.internal,
        attachable: n.attachable,
        ipam: Ipam {
            driver: "default".to_string(),
            options: None,
            config: Vec::new(),
        },
        options: n.options.clone(),
        labels: n.labels.clone(),
        ..Default::default()
    };
    if let Some(b) = &n.bridge {
        r.ipam.config.push(IpamConfig {
            subnet: b.subnet(),
            gateway: b.gateway.to_string(),
            ip_range: n.ip_range.map(|r| r.to_string()).unwrap_or_default(),
        });
        if n.is_user_defined() {
            r.ipam.options = Some(Default::default());
        }
    }
    for (m, e) in state.containers.containers_on(&n.id) {
        r.containers.insert(
            m.id.clone(),
            EndpointResource {
                name: m.name.clone(),
                endpoint_id: e.endpoint_id.clone(),
                mac_address: e.mac_address.clone(),
                ipv4_address: format!("{}/{}", e.ip_address, e.ip_prefix_len),
                ipv6_address: String::new(),
            },
        );
    }
    r
}

fn matches(f: &Filters, n: &NetworkResource, builtin: bool) -> bool {
    let name_ok =
        f.get("name").is_empty() || f.get("name").iter().any(|v| n.name.contains(v.as_str()));
    let kind = if builtin { "builtin" } else { "custom" };
    let dangling_ok = match f.get("dangling").first().map(String::as_str) {
        None => true,
        Some("true" | "1") => !builtin && n.containers.is_empty(),
        Some(_) => builtin || !n.containers.is_empty(),
    };
    name_ok
        && dangling_ok
        && f.fuzzy_match("id", &n.id)
        && f.exact_match("driver", &n.driver)
        && f.exact_match("scope", &n.scope)
        && f.exact_match("type", kind)
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
    if let Some(d) = f
        .get("dangling")
        .iter()
        .find(|d| !matches!(d.as_str(), "true" | "false" | "1" | "0"))
    {
        return Err(Error::invalid(format!(
            "invalid filter 'dangling={d}': only true or false is allowed"
        )));
    }
    let out = state
        .containers
        .network()
        .networks()
        .all()
        .iter()
        .map(|n| (resource(&state, n), n.builtin))
        .filter(|(r, builtin)| matches(&f, r, *builtin))
        .map(|(r, _)| r)
        .collect();
    Ok(Json(out))
}

fn find(state: &State, reference: &str) -> Result<NetConfig> {
    state.containers.network().networks().get(reference)
}

/// `GET /networks/{id}`.
pub async fn inspect(state: State, Path(id): Path<String>) -> Result<Json<NetworkResource>> {
    let n = find(&state, &id)?;
    Ok(Json(resource(&state, &n)))
}

/// `POST /networks/create`.
pub async fn create(
    state: State,
    body: Bytes,
) -> Result<(StatusCode, Json<NetworkCreateResponse>)> {
    let req: NetworkCreateRequest =
        json_body(&body)?.ok_or_else(|| Error::invalid("network create needs a body"))?;
    let mgr = state.containers.clone();
    let net = to_completion(async move { mgr.create_network(&req).await }).await?;
    Ok((
        StatusCode::CREATED,
        Json(NetworkCreateResponse {
            id: net.id,
            warning: String::new(),
        }),
    ))
}

/// `DELETE /networks/{id}`.
pub async fn remove(state: State, Path(id): Path<String>) -> Result<StatusCode> {
    let mgr = state.containers.clone();
    to_completion(async move { mgr.remove_network(&id).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /networks/{id}/connect`.
pub async fn connect(state: State, Path(id): Path<String>, body: Bytes) -> Result<StatusCode> {
    let req: NetworkConnectRequest = json_body(&body)?.unwrap_or_default();
    if req.container.is_empty() {
        return Err(Error::invalid("no container given to connect"));
    }
    let mgr = state.containers.clone();
    to_completion(async move {
        mgr.connect(&req.container, &id, req.endpoint_config.as_ref())
            .await
    })
    .await?;
    Ok(StatusCode::OK)
}

/// `POST /networks/{id}/disconnect`.
pub async fn disconnect(state: State, Path(id): Path<String>, body: Bytes) -> Result<StatusCode> {
    let req: NetworkDisconnectRequest = json_body(&body)?.unwrap_or_default();
    if req.container.is_empty() {
        return Err(Error::invalid("no container given to disconnect"));
    }
    let mgr = state.containers.clone();
    to_completion(async move { mgr.disconnect(&req.container, &id, req.force).await }).await?;
    Ok(StatusCode::OK)
}

/// `POST /networks/prune` (`until`, `label`, `label!`): built-in networks
/// are never pruned.
pub async fn prune(state: State, RawQuery(q): RawQuery) -> Result<Json<NetworksPruneResponse>> {
    let f = Params::parse(q.as_deref()).filters()?;
    let opts = prune_options(&f, chrono::Utc::now())?;
    let mgr = state.containers.clone();
    let deleted = to_completion(async move { mgr.prune_networks(&opts).await }).await?;
    Ok(Json(NetworksPruneResponse {
        networks_deleted: deleted,
    }))
}
