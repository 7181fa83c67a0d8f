//! `POST /images/create`: import (`fromSrc`, a rootfs tarball from the body
//! or a URL) here, pull (`fromImage`) in [`super::image_pull`].

use super::image_commit::query_all;
use super::{to_completion, State};
use crate::error::Result;
use crate::mgr::image::{download, ImportOptions};
use crate::server::params::Params;
use axum::body::Body;
use axum::extract::RawQuery;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

pub async fn create(
    state: State,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let p = Params::parse(q.as_deref());
    let src = match p.str("fromSrc") {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => return Ok(super::image_pull::create(state, &headers, &p).await),
    };
    let plan = state.images.plan_import(ImportOptions {
        repo: p.str("repo").unwrap_or("").to_string(),
        tag: p.str("tag").unwrap_or("").to_string(),
        message: p.str("message").unwrap_or("").to_string(),
        changes: query_all(q.as_deref(), "changes"),
        platform: p.str("platform").unwrap_or("").to_string(),
    })?;
    let input = if src == "-" {
        Box::pin(
            body.into_data_stream()
                .map(|c| c.map_err(std::io::Error::other)),
        )
    } else {
        download(&src).await?
    };
    let daemon = state.0.clone();
    // To the end even if the client goes away: the staged file and the
    // lease are cleaned up only by a finished import.
    let id = to_completion(async move { daemon.images.import(plan, input).await }).await?;
    let mut line = serde_json::to_vec(&pouch_api::JsonMessage {
        status: id,
        ..Default::default()
    })?;
    line.extend_from_slice(b"\r\n");
    Ok(([(header::CONTENT_TYPE, "application/json")], line).into_response())
}
