//! Exec endpoints.

use super::stream::{hijack, Wanted};
use super::{to_completion, State};
use crate::error::{Error, Result};
use crate::server::params::{json_body, Params};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use pouch_api::exec::{ExecConfig, ExecInspect, ExecStartConfig, IdResponse};

pub async fn create(state: State, Path(id): Path<String>, body: Bytes) -> Result<Response> {
    let cfg: ExecConfig =
        json_body(&body)?.ok_or_else(|| Error::invalid("exec config cannot be empty"))?;
    let exec_id = state.containers.exec_create(&id, cfg)?;
    Ok((StatusCode::CREATED, Json(IdResponse { id: exec_id })).into_response())
}

pub async fn start(state: State, Path(id): Path<String>, req: Request) -> Result<Response> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|e| Error::invalid(format!("reading body: {e}")))?;
    let start: ExecStartConfig = json_body(&bytes)?.unwrap_or_default();
    if start.detach {
        let (mgr, id, size) = (state.containers.clone(), id.clone(), start.console_size);
        to_completion(async move { mgr.exec_start(&id, size).await }).await?;
        return Ok(StatusCode::OK.into_response());
    }
    let e = state.containers.exec_get(&id)?;
    if e.state().started {
        return Err(Error::conflict(format!(
            "Error: Exec command {id} has already run"
        )));
    }
    let want = Wanted {
        stdout: e.config.attach_stdout,
        stderr: e.config.attach_stderr,
    };
    // Subscribed before the process starts: none of its output is missed.
    let streams = state.containers.exec_attach(&id)?;
    let stdin = if e.config.attach_stdin {
        let keys = crate::mgr::container::parse_detach_keys(&e.config.detach_keys)?;
        Some((state.containers.exec_attach(&id)?, keys))
    } else {
        None
    };
    // A failure reaches the attached client inside the stream, as with Docker;
    // the exec's exit code (126/127) tells the rest.
    let (mgr, eid, size) = (state.containers.clone(), id.clone(), start.console_size);
    if let Err(e) = to_completion(async move { mgr.exec_start(&eid, size).await }).await {
        tracing::debug!(exec = %id, error = %e, "exec start failed");
    }
    let req = Request::from_parts(parts, axum::body::Body::empty());
    hijack(state, req, streams, stdin, want, true)
}

pub async fn inspect(state: State, Path(id): Path<String>) -> Result<Json<ExecInspect>> {
    Ok(Json(state.containers.exec_inspect(&id)?))
}

pub async fn resize(
    state: State,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<StatusCode> {
    let p = Params::parse(q.as_deref());
    state
        .containers
        .exec_resize(&id, p.u32("w")?, p.u32("h")?)
        .await?;
    Ok(StatusCode::OK)
}
