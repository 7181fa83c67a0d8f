//! `docker cp` (`/containers/{id}/archive`) and `docker export`.

use super::image::body_reader;
use super::State;
use crate::error::{Error, Result};
use crate::server::params::Params;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// A blocking writer whose bytes become a streamed response body; writes
/// fail once the client has gone, which stops the producer.
struct ChannelWriter(mpsc::Sender<Bytes>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn tar_body(rx: mpsc::Receiver<Bytes>) -> Body {
    let s = tokio_stream::wrappers::ReceiverStream::new(rx);
    Body::from_stream(futures::StreamExt::map(
        s,
        Ok::<_, std::convert::Infallible>,
    ))
}

fn path_param(p: &Params) -> Result<String> {
    match p.str("path") {
        Some(v) if !v.is_empty() => Ok(v.to_string()),
        _ => Err(Error::invalid("path parameter is required")),
    }
}

pub async fn head(state: State, Path(id): Path<String>, RawQuery(q): RawQuery) -> Result<Response> {
    let p = Params::parse(q.as_deref());
    let stat = state.containers.path_stat(&id, &path_param(&p)?).await?;
    Ok(([(STAT_HEADER, stat.header_value())], StatusCode::OK).into_response())
}

pub async fn get(state: State, Path(id): Path<String>, RawQuery(q): RawQuery) -> Result<Response> {
    let p = Params::parse(q.as_deref());
    let path = path_param(&p)?;
    // Stat first: a missing path is a 404 before any byte is streamed.
    let stat = state.containers.path_stat(&id, &path).await?;
    let (tx, rx) = mpsc::channel(16);
    let mgr = state.containers.clone();
    tokio::spawn(async move {
        if let Err(e) = mgr.archive_path(&id, &path, ChannelWriter(tx)).await {
            tracing::debug!(error = %e, "archive stream ended early");
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-tar")
        .header(STAT_HEADER, stat.header_value())
        .body(tar_body(rx))
        .map_err(|e| Error::system(e.to_string()))
}

pub async fn put(
    state: State,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Body,
) -> Result<StatusCode> {
    let p = Params::parse(q.as_deref());
    let path = path_param(&p)?;
    let no_overwrite = p.bool("noOverwriteDirNonDir");
    state
        .containers
        .extract_to(
            &id,
            &path,
            body_reader(body),
            no_overwrite,
            p.bool("copyUIDGID"),
        )
        .await?;
    Ok(StatusCode::OK)
}

pub async fn export(state: State, Path(id): Path<String>) -> Result<Response> {
    // Fail early (404) for unknown containers.
    state.containers.get(&id)?;
    let (tx, rx) = mpsc::channel(16);
    let mgr = state.containers.clone();
    tokio::spawn(async move {
        if let Err(e) = mgr.export(&id, ChannelWriter(tx)).await {
            tracing::debug!(error = %e, "export stream ended early");
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-tar")
        .body(tar_body(rx))
        .map_err(|e| Error::system(e.to_string()))
}
