//! `GET /images/get`, `GET /images/{name}/get` (image archives) and
//! `GET /images/{name}/history`.

use super::State;
use crate::error::Result;
use axum::body::Body;
use axum::extract::RawQuery;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The `names` of `GET /images/get?names=a&names=b` (repeated, as the
/// docker client sends them).
fn names(query: Option<&str>) -> Vec<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, v)| k == "names" && !v.is_empty())
        .map(|(_, v)| v.into_owned())
        .collect()
}

pub async fn save_many(state: State, RawQuery(q): RawQuery) -> Result<Response> {
    save(&state, &names(q.as_deref())).await
}

pub(super) async fn save(state: &State, names: &[String]) -> Result<Response> {
    let stream = state.images.save(names).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(stream),
    )
        .into_response())
}

pub(super) async fn history(state: &State, name: &str) -> Result<Response> {
    Ok(Json(state.images.history(name).await?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_repeated_keys() {
        assert_eq!(
            names(Some("names=busybox&names=a%2Fb%3A1&other=x&names=")),
            ["busybox", "a/b:1"]
        );
        assert!(names(None).is_empty());
    }
}
