//! Volume endpoints: `/volumes`.

use super::State;
use crate::error::{Error, Result};
use crate::mgr::volume::{CreateOptions, Volume, VolumeFilters};
use crate::server::params::{json_body, Params};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use pouch_api::volume::{
    Volume as ApiVolume, VolumeCreateRequest, VolumeListResponse, VolumesPruneResponse,
};

/// Docker's JSON of a local volume.
pub(crate) fn to_api(v: Volume) -> ApiVolume {
    ApiVolume {
        created_at: v
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        driver: v.driver,
        labels: v.labels,
        mountpoint: v.mountpoint.to_string_lossy().into_owned(),
        name: v.name,
        options: v.options,
        scope: "local".to_string(),
        status: None,
        usage_data: None,
    }
}

/// Runs a volume operation that touches the disk off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::system(format!("volume operation: {e}")))?
}

pub async fn create(state: State, body: Bytes) -> Result<Response> {
    let req: VolumeCreateRequest = json_body(&body)?.unwrap_or_default();
    let opts = CreateOptions {
        name: Some(req.name).filter(|n| !n.is_empty()),
        driver: req.driver,
        driver_opts: req.driver_opts,
        labels: req.labels,
    };
    let mgr = state.volumes.clone();
    let v = blocking(move || mgr.create(&opts)).await?;
    Ok((StatusCode::CREATED, Json(to_api(v))).into_response())
}

pub async fn list(state: State, RawQuery(q): RawQuery) -> Result<Json<VolumeListResponse>> {
    let filters = VolumeFilters::new(Params::parse(q.as_deref()).filters()?)?;
    let volumes = state
        .volumes
        .list(&filters)
        .into_iter()
        .map(to_api)
        .collect();
    Ok(Json(VolumeListResponse {
        volumes,
        warnings: None,
    }))
}

pub async fn inspect(state: State, Path(name): Path<String>) -> Result<Json<ApiVolume>> {
    Ok(Json(to_api(state.volumes.get(&name)?)))
}

pub async fn remove(
    state: State,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<StatusCode> {
    let force = Params::parse(q.as_deref()).bool("force");
    let mgr = state.volumes.clone();
    blocking(move || mgr.remove(&name, force)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn prune(state: State, RawQuery(q): RawQuery) -> Result<Json<VolumesPruneResponse>> {
    let filters = Params::parse(q.as_deref()).filters()?;
    let mgr = state.volumes.clone();
    let r = blocking(move || mgr.prune(&filters)).await?;
    Ok(Json(VolumesPruneResponse {
        volumes_deleted: (!r.deleted.is_empty()).then_some(r.deleted),
        space_reclaimed: r.space_reclaimed,
    }))
}
