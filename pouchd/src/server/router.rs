//! Routes of the Docker Engine API v1.41 onto bridge handlers.

use crate::bridge::{
    archive, container, events, exec, image, image_commit, image_filters, image_import, image_pull,
    image_save, network, stream, system,
};
use crate::daemon::Daemon;
use crate::error::Error;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::Router;
use std::sync::Arc;

/// Strips `/v1.xx` before routing (a `Router::layer` would run after it) and
/// refuses versions newer than ours, as Docker does.
pub(super) async fn strip_version(mut req: Request) -> Result<Request, axum::response::Response> {
    let path = req.uri().path();
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok(req);
    };
    let (ver, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => return Ok(req),
    };
    let Some((major, minor)) = ver.split_once('.') else {
        return Ok(req);
    };
    let (Ok(major), Ok(minor)) = (major.parse::<u32>(), minor.parse::<u32>()) else {
        return Ok(req);
    };
    if (major, minor) > (1, 41) {
        return Err(Error::invalid(format!(
            "client version {ver} is too new. Maximum supported API version is {}",
            pouch_api::API_VERSION
        ))
        .into_response());
    }
    if (major, minor) < (1, 12) {
        return Err(Error::invalid(format!(
            "client version {ver} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
            pouch_api::MIN_API_VERSION
        ))
        .into_response());
    }
    let new_path = tail.to_string();
    let pq = match req.uri().query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path,
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = pq.parse().ok();
    if let Ok(uri) = axum::http::Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
    Ok(req)
}

async fn page_not_found() -> Error {
    Error::not_found("page not found")
}

/// The routes of the API (without the version prefix).
pub fn router(daemon: Arc<Daemon>) -> Router {
    Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/system/df", get(crate::bridge::system_df::df))
        .route("/build", post(crate::bridge::build::build))
        .route("/build/prune", post(crate::bridge::system_df::build_prune))
        .route("/auth", post(image_pull::auth))
        .route("/events", get(events::events))
        .route("/containers/create", post(container::create))
        .route("/containers/json", get(container::list))
        .route(
            "/containers/prune",
            post(crate::bridge::container_prune::prune),
        )
        .route("/containers/{id}/json", get(container::inspect))
        .route("/containers/{id}/start", post(container::start))
        .route("/containers/{id}/stop", post(container::stop))
        .route("/containers/{id}/restart", post(container::restart))
        .route("/containers/{id}/kill", post(container::kill))
        .route("/containers/{id}/pause", post(container::pause))
        .route("/containers/{id}/unpause", post(container::unpause))
        .route("/containers/{id}/wait", post(container::wait))
        .route("/containers/{id}/rename", post(container::rename))
        .route("/containers/{id}/update", post(container::update))
        .route("/containers/{id}/resize", post(container::resize))
        .route("/containers/{id}/top", get(container::top))
        .route(
            "/containers/{id}/archive",
            get(archive::get).head(archive::head).put(archive::put),
        )
        .route("/containers/{id}/export", get(archive::export))
        .route("/containers/{id}/changes", get(container::changes))
        .route("/containers/{id}/stats", get(container::stats))
        .route("/containers/{id}/attach", post(stream::attach))
        .route("/containers/{id}/logs", get(stream::logs))
        .route("/containers/{id}/exec", post(exec::create))
        .route("/exec/{id}/start", post(exec::start))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/containers/{id}", delete(container::remove))
        .route("/networks", get(network::list))
        .route("/networks/create", post(network::create))
        .route("/networks/prune", post(network::prune))
        .route(
            "/networks/{id}",
            get(network::inspect).delete(network::remove),
        )
        .route("/networks/{id}/connect", post(network::connect))
        .route("/networks/{id}/disconnect", post(network::disconnect))
        .route("/images/load", post(image::load))
        .route("/images/create", post(image_import::create))
        .route("/commit", post(image_commit::commit))
        .route("/images/json", get(image::list))
        .route("/images/get", get(image_save::save_many))
        .route("/images/prune", post(image_filters::prune))
        .route(
            "/images/{*rest}",
            get(image::get).delete(image::remove).post(image::post),
        )
        .route("/volumes", get(crate::bridge::volume::list))
        .route("/volumes/create", post(crate::bridge::volume::create))
        .route("/volumes/prune", post(crate::bridge::volume::prune))
        .route(
            "/volumes/{name}",
            get(crate::bridge::volume::inspect).delete(crate::bridge::volume::remove),
        )
        .fallback(page_not_found)
        .layer(axum::middleware::from_fn(
            super::drain::drain_refused_bodies,
        ))
        .with_state(daemon)
}
