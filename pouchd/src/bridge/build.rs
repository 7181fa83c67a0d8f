//! `POST /build`: the context tar (the body) is extracted, then the build's
//! progress streams back as Docker's classic builder prints it.

use super::image::body_reader;
use super::image_commit::query_all;
use super::image_pull::streamed;
use super::State;
use crate::build::{BuildOptions, Builder};
use crate::error::Error;
use crate::server::params::Params;
use axum::body::Body;
use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// A JSON object of the query (`buildargs`, `labels`); empty when absent.
fn json_map<T: serde::de::DeserializeOwned>(
    p: &Params,
    key: &str,
) -> Result<HashMap<String, T>, Error> {
    match p.str(key) {
        None | Some("") => Ok(HashMap::new()),
        Some(v) => {
            serde_json::from_str(v).map_err(|e| Error::invalid(format!("invalid {key} {v:?}: {e}")))
        }
    }
}

fn options(q: Option<&str>) -> Result<BuildOptions, Error> {
    let p = Params::parse(q);
    if p.str("remote").is_some_and(|r| !r.is_empty()) {
        return Err(Error::invalid(
            "remote build contexts are not supported by pouchd: send the context as the body",
        ));
    }
    if p.str("version").is_some_and(|v| v == "2") {
        return Err(Error::invalid(
            "BuildKit is not supported by pouchd: use the classic builder (DOCKER_BUILDKIT=0)",
        ));
    }
    Ok(BuildOptions {
        dockerfile: p.str("dockerfile").unwrap_or("").to_string(),
        tags: query_all(q, "t")
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect(),
        build_args: json_map(&p, "buildargs")?,
        labels: json_map(&p, "labels")?,
        target: p.str("target").unwrap_or("").to_string(),
        quiet: p.bool("q"),
        network_mode: p.str("networkmode").unwrap_or("").to_string(),
        pull: p.bool("pull"),
        no_cache: p.bool("nocache"),
    })
}

pub async fn build(state: State, RawQuery(q): RawQuery, body: Body) -> Response {
    let opts = match options(q.as_deref()) {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    for t in &opts.tags {
        if let Err(e) = crate::mgr::image::reference::Reference::parse(t) {
            return Error::invalid(format!("invalid tag {t:?}: {e}")).into_response();
        }
    }
    let builder = Builder::new(
        state.containers.clone(),
        state.images.clone(),
        state.system.home_dir.join("tmp"),
        state.build_cache.clone(),
    );
    let reader = body_reader(body);
    let (builder, ctx) = match tokio::task::spawn_blocking(move || {
        let ctx = builder.context(reader);
        (builder, ctx)
    })
    .await
    {
        Ok((b, Ok(c))) => (b, c),
        Ok((_, Err(e))) => return e.into_response(),
        Err(e) => return Error::system(format!("context task: {e}")).into_response(),
    };
    streamed(move |progress| async move {
        builder
            .build(&ctx, &opts, &progress)
            .await
            .map(|_| ())
            .map_err(Into::into)
    })
    .await
    .into_response()
}
