//! `POST /commit`: the bridge gathers what the image manager needs from the
//! container manager (snapshot, image, config), pauses the container around
//! the diff, and has the image manager make the image.

use super::{to_completion, State};
use crate::error::{Error, Result};
use crate::mgr::container::Status;
use crate::mgr::image::{changes, CommitRequest};
use crate::server::params::{json_body, Params};
use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use pouch_api::container::Config;

/// Every value of a repeated query key (`changes` comes once per `--change`).
pub(super) fn query_all(raw: Option<&str>, key: &str) -> Vec<String> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .collect()
}

pub async fn commit(state: State, RawQuery(q): RawQuery, body: Bytes) -> Result<Response> {
    let p = Params::parse(q.as_deref());
    let reference = p.str("container").unwrap_or("");
    if reference.is_empty() {
        return Err(Error::invalid("container is required"));
    }
    let c = state.containers.get(reference)?;
    let m = c.meta();
    let body_cfg: Option<Config> = json_body::<Option<Config>>(&body)?.flatten();
    let user_cfg = body_cfg.unwrap_or_else(|| m.config.clone());
    let config = changes::apply(user_cfg, &query_all(q.as_deref(), "changes"))?;
    let repo = p.str("repo").unwrap_or("").to_string();
    let tag = p.str("tag").unwrap_or("").to_string();
    let image_ref = state
        .images
        .check_commit_name(&repo, &tag)?
        .unwrap_or_default();
    let comment = p.str("comment").unwrap_or("").to_string();
    let req = CommitRequest {
        container_id: m.id.clone(),
        snapshot_key: m.snapshot_key.clone(),
        image_id: m.image_id.clone(),
        container_config: m.config.clone(),
        config,
        repo: repo.clone(),
        tag: tag.clone(),
        author: p.str("author").unwrap_or("").to_string(),
        comment: comment.clone(),
        exact: false,
        created_by: None,
    };
    // As Docker: pause by default (API >= 1.13), only a running container.
    let pause = p.bool_or("pause", true) && m.state.status == Status::Running;
    let daemon = state.0.clone();
    // Run to the end even if the client goes away: a container paused for
    // the diff must be unpaused.
    let id = to_completion(async move {
        if pause {
            daemon.containers.pause(&m.id).await?;
        }
        let result = daemon.images.commit(req).await;
        if pause {
            if let Err(e) = daemon.containers.unpause(&m.id).await {
                tracing::warn!(id = %m.id, error = %e, "cannot unpause after commit");
            }
        }
        let id = result?;
        let mut attrs = m.config.labels.clone();
        attrs.insert("image".to_string(), m.config.image.clone());
        attrs.insert("name".to_string(), m.name.clone());
        attrs.insert("comment".to_string(), comment);
        attrs.insert("imageID".to_string(), id.clone());
        attrs.insert("imageRef".to_string(), image_ref);
        daemon.events.publish("container", "commit", &m.id, attrs);
        Ok(id)
    })
    .await?;
    // Docker's `IDResponse`, the shape exec create answers with too.
    let body = pouch_api::exec::IdResponse { id };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
