//! Registry endpoints: pull (`POST /images/create?fromImage=`), push
//! (`POST /images/{name}/push`) and login (`POST /auth`).
//!
//! Pull and push answer with a stream of JSON progress messages. As in
//! Docker, an error before the first message is an ordinary HTTP error (404
//! for an unknown repository or tag, 500 with an `unauthorized: ...`
//! message when the registry refuses the credentials); after it, errors
//! travel in the stream as `{"errorDetail":{...},"error":...}`. Login
//! answers 401 for wrong credentials.

use super::State;
use crate::error::Error;
use crate::mgr::image::registry::{AuthConfig, Progress, RegResult, RegistryError};
use crate::mgr::image::WantPlatform;
use crate::server::params::Params;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use pouch_api::JsonMessage;
use std::future::Future;
use tokio::sync::{mpsc, oneshot};

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            RegistryError::Other(e) => return e.into_response(),
            RegistryError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m),
            RegistryError::Denied(m) => (StatusCode::FORBIDDEN, m),
        };
        tracing::debug!(error = %message, %status, "registry request refused");
        (status, Json(pouch_api::ErrorResponse { message })).into_response()
    }
}

fn registry_auth(headers: &HeaderMap) -> AuthConfig {
    AuthConfig::from_header(headers.get("X-Registry-Auth").and_then(|v| v.to_str().ok()))
}

fn line(m: &JsonMessage) -> Bytes {
    let mut v = serde_json::to_vec(m).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

/// Runs `op` in its own task and answers with its progress stream; an error
/// before any progress is the HTTP answer itself. The task is cancelled
/// (its progress sends fail) when the client goes away.
pub(super) async fn streamed<F, Fut>(op: F) -> RegResult<Response>
where
    F: FnOnce(Progress) -> Fut,
    Fut: Future<Output = RegResult<()>> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<JsonMessage>(64);
    let (done_tx, done_rx) = oneshot::channel::<RegResult<()>>();
    let fut = op(Progress::new(tx));
    tokio::spawn(async move {
        let _ = done_tx.send(fut.await);
    });
    // The first message, or the outcome of an operation that sent none
    // (the channel closes when the operation ends and drops its sender).
    let Some(first) = rx.recv().await else {
        return match done_rx.await {
            Ok(Ok(())) => Ok(([(header::CONTENT_TYPE, "application/json")], "").into_response()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::system("the operation failed unexpectedly").into()),
        };
    };
    let tail = futures::stream::once(async move {
        match done_rx.await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(JsonMessage::error(e.to_string())),
            Err(_) => Some(JsonMessage::error("the operation failed unexpectedly")),
        }
    })
    .filter_map(futures::future::ready);
    let body = futures::stream::iter([first])
        .chain(tokio_stream::wrappers::ReceiverStream::new(rx))
        .chain(tail)
        .map(|m| Ok::<_, std::convert::Infallible>(line(&m)));
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

/// `POST /images/create`: pull `fromImage` (`fromSrc`, import, is in
/// [`super::image_import`]).
pub async fn create(state: State, headers: &HeaderMap, p: &Params) -> Response {
    let image = p.str("fromImage").unwrap_or("").to_string();
    if image.is_empty() {
        return Error::invalid("fromImage or fromSrc is required").into_response();
    }
    let tag = p.str("tag").unwrap_or("").to_string();
    let platform = match WantPlatform::parse(p.str("platform").unwrap_or("")) {
        Ok(pl) => pl,
        Err(e) => return e.into_response(),
    };
    let auth = registry_auth(headers);
    let daemon = state.0.clone();
    streamed(move |progress| async move {
        daemon
            .images
            .pull(&image, &tag, &platform, &auth, &progress)
            .await
    })
    .await
    .map_err(|e| match e {
        // As in Docker: a 401 would make the docker CLI start an
        // interactive login; a refused pull is a plain failure.
        RegistryError::Unauthorized(m) => RegistryError::Other(Error::System(m)),
        RegistryError::Denied(m) => RegistryError::Other(Error::NotFound(m)),
        other => other,
    })
    .into_response()
}

/// `POST /images/{name}/push?tag=`.
pub async fn push(state: State, name: &str, headers: &HeaderMap, p: &Params) -> Response {
    let tag = p.str("tag").unwrap_or("").to_string();
    let name = name.to_string();
    let auth = registry_auth(headers);
    let daemon = state.0.clone();
    streamed(move |progress| async move { daemon.images.push(&name, &tag, &auth, &progress).await })
        .await
        .into_response()
}

/// `POST /auth`: checks credentials with the registry.
pub async fn auth(state: State, body: Bytes) -> Response {
    let auth: AuthConfig = if body.is_empty() {
        AuthConfig::default()
    } else {
        match serde_json::from_slice::<AuthConfig>(&body) {
            Ok(a) => a.normalised(),
            Err(e) => return Error::invalid(format!("invalid auth config: {e}")).into_response(),
        }
    };
    match state.images.login(&auth).await {
        Ok(token) => Json(serde_json::json!({
            "Status": "Login Succeeded",
            "IdentityToken": token,
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}
