//! Container endpoints.

use super::{inspect, to_completion, State};
use crate::error::{Error, Result};
use crate::mgr::container::{ListOptions, WaitCondition};
use crate::server::params::{json_body, Params};
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use pouch_api::container::{
    ContainerCreateRequest, ContainerCreateResponse, ContainerInspect, ContainerSummary,
    ContainerUpdateRequest, ContainerUpdateResponse, ContainerWaitError, ContainerWaitResponse,
};

pub async fn create(state: State, RawQuery(q): RawQuery, body: Bytes) -> Result<Response> {
    let p = Params::parse(q.as_deref());
    let req: ContainerCreateRequest = json_body(&body)?
        .ok_or_else(|| Error::invalid("config cannot be empty in order to create a container"))?;
    let mgr = state.containers.clone();
    let name = p.str("name").map(str::to_string);
    let res = to_completion(async move {
        mgr.create_with(
            name.as_deref(),
            req.config,
            req.host_config,
            &req.networking_config,
        )
        .await
    })
    .await?;
    let body = ContainerCreateResponse {
        id: res.id,
        warnings: res.warnings,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn list(state: State, RawQuery(q): RawQuery) -> Result<Json<Vec<ContainerSummary>>> {
    let p = Params::parse(q.as_deref());
    let opts = ListOptions {
        all: p.bool("all"),
        limit: p.int("limit")?.unwrap_or(0),
        filters: p.filters()?,
    };
    let size = p.bool("size");
    let metas = state.containers.list(&opts)?;
    let bridge = &state.containers.network().bridge().name;
    let mut out = Vec::with_capacity(metas.len());
    for m in &metas {
        let (rw, root) = if size {
            state.containers.sizes(m).await
        } else {
            (None, None)
        };
        let mut s = inspect::summary(m, rw, root);
        inspect::fill_network_ids(&mut s.network_settings.networks, bridge);
        out.push(s);
    }
    Ok(Json(out))
}

pub async fn inspect(
    state: State,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<ContainerInspect>> {
    let p = Params::parse(q.as_deref());
    let m = state.containers.get(&id)?.meta();
    let (rw, root) = if p.bool("size") {
        state.containers.sizes(&m).await
    } else {
        (None, None)
    };
    let mut out = inspect::inspect(&m, rw, root);
    inspect::fill_network_ids(
        &mut out.network_settings.networks,
        &state.containers.network().bridge().name,
    );
    let execs = state.containers.exec_ids(&m.id);
    out.exec_ids = (!execs.is_empty()).then_some(execs);
    Ok(Json(out))
}

pub async fn start(state: State, Path(id): Path<String>) -> Result<StatusCode> {
    let mgr = state.containers.clone();
    to_completion(async move { mgr.start(&id).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn timeout(p: &Params) -> Result<Option<i64>> {
    p.int("t")
}

pub async fn stop(
    state: State,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<StatusCode> {
    let p = Params::parse(q.as_deref());
    let (mgr, t) = (state.containers.clone(), timeout(&p)?);
    to_completion(async move { mgr.stop(&id, t).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn restart(
    state: State,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<StatusCode> {
    let p = Params::parse(q.as_deref());
    let (mgr, t) = (state.containers.clone(), timeout(&p)?);
    to_completion(async move { mgr.restart(&id, t).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn kill(
    state: State,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<StatusCode> {
    let p = Params::parse(q.as_deref());
    let (mgr, sig) = (
        state.containers.clone(),
        p.str("signal").map(str::to_string),
    );
    to_completion(async move { mgr.kill(&id, sig.as_deref()).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn pause(state: State, Path(id): Path<String>) -> Result<StatusCode> {
    let mgr = state.containers.clone();
    to_completion(async move { mgr.pause(&id).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unpause(state: State, Path(id): Path<String>) -> Result<StatusCode> {
    let mgr = state.containers.clone();
    to_completion(async move { mgr.unpause(&id).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Answers with the headers at once and the body when the wait is over:
/// clients start the container once the headers arrive.
pub async fn wait(state: State, Path(id): Path<String>, RawQuery(q): RawQuery) -> Result<Response> {
    let p = Params::parse(q.as_deref());
    let cond = WaitCondition::parse(p.str("condition").unwrap_or(""))?;
    let fut = state.containers.wait(&id, cond)?;
    let body = futures::stream::once(async move {
        let resp = match fut.await {
            Ok(code) => ContainerWaitResponse {
                status_code: code,
                error: None,
            },
            Err(e) => ContainerWaitResponse {
                status_code: -1,
                error: Some(ContainerWaitError {
                    message: e.to_string(),
                }),
            },
        };
        let mut bytes = serde_json::to_vec(&resp).unwrap_or_default();
        bytes.push(b'\n');
        Ok::<_, std::convert::Infallible>(Bytes::from(bytes))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(Body::from_stream(body))
        .map_err(|e| Error::system(e.to_string()))
}

pub async fn resize(
    state: State,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<StatusCode> {
    let p = Params::parse(q.as_deref());
    state
        .containers
        .resize(&id, p.u32("w")?, p.u32("h")?)
        .await?;
    Ok(StatusCode::OK)
}

pub async fn top(
    state: State,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<serde_json::Value>> {
    let p = Params::parse(q.as_deref());
    let t = state
        .containers
        .top(&id, p.str("ps_args").unwrap_or(""))
        .await?;
    Ok(Json(
        serde_json::json!({ "Titles": t.titles, "Processes": t.processes }),
    ))
}

/// One sample, or a sample a second (`stream`, the default) until the
/// client goes away or the container stops.
pub async fn stats(
    state: State,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let p = Params::parse(q.as_deref());
    let stream = p.bool_or("stream", true);
    let one_shot = p.bool("one-shot");
    let first = state.containers.stats(&id, None)?;
    if !stream {
        let s = if one_shot {
            first
        } else {
            // A second sample gives clients the CPU delta they compute percentages from.
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            state
                .containers
                .stats(&id, Some((&first.cpu_stats, &first.read)))?
        };
        return Ok(Json(s).into_response());
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let mgr = state.containers.clone();
    tokio::spawn(async move {
        let mut prev = first;
        loop {
            let mut line = serde_json::to_vec(&prev).unwrap_or_default();
            line.push(b'\n');
            if tx.send(Bytes::from(line)).await.is_err() {
                return;
            }
            // A stopped container's stream ends after its last (empty) sample.
            let running = mgr.get(&id).is_ok_and(|c| c.meta().state.status.is_alive());
            if !running {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            match mgr.stats(&id, Some((&prev.cpu_stats, &prev.read))) {
                Ok(s) => prev = s,
                Err(_) => return,
            }
        }
    });
    let body = futures::StreamExt::map(
        tokio_stream::wrappers::ReceiverStream::new(rx),
        Ok::<_, std::convert::Infallible>,
    );
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(Body::from_stream(body))
        .map_err(|e| Error::system(e.to_string()))
}

pub async fn changes(state: State, Path(id): Path<String>) -> Result<Json<serde_json::Value>> {
    let changes = state.containers.changes(&id).await?;
    let list: Vec<serde_json::Value> = changes
        .iter()
        .map(|c| serde_json::json!({ "Path": c.path, "Kind": c.kind as u8 }))
        .collect();
    Ok(Json(serde_json::Value::Array(list)))
}

pub async fn rename(
    state: State,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<StatusCode> {
    let p = Params::parse(q.as_deref());
    let name = p.str("name").unwrap_or("");
    let (mgr, name) = (state.containers.clone(), name.to_string());
    to_completion(async move { mgr.rename(&id, &name).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn update(
    state: State,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ContainerUpdateResponse>> {
    let req: ContainerUpdateRequest = json_body(&body)?.unwrap_or_default();
    let mgr = state.containers.clone();
    let warnings = to_completion(async move { mgr.update(&id, &req).await }).await?;
    Ok(Json(ContainerUpdateResponse { warnings }))
}

pub async fn remove(
    state: State,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<StatusCode> {
    let p = Params::parse(q.as_deref());
    if p.bool("link") {
        return Err(Error::invalid("links are not supported"));
    }
    let (mgr, force, volumes) = (state.containers.clone(), p.bool("force"), p.bool("v"));
    to_completion(async move { mgr.remove(&id, force, volumes).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}
