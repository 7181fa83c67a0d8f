//! Image endpoints. Image names contain `/`, so `/images/{*rest}` is split
//! here into the name and the operation suffix.

use super::State;
use crate::error::{Error, Result};
use crate::mgr::image::Image;
use crate::server::params::Params;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use pouch_api::container::GraphDriverData;
use pouch_api::image::{ImageInspect, ImageMetadata, ImageSummary, RootFs};
use std::io::Read;
use tokio::sync::mpsc;

/// A blocking reader over a request body, for the tar parser that runs on
/// the blocking pool.
pub(super) struct BodyReader {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

pub(super) fn body_reader(body: Body) -> BodyReader {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut s = body.into_data_stream();
        while let Some(chunk) = s.next().await {
            let item = chunk.map_err(std::io::Error::other);
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    BodyReader {
        rx,
        cur: Bytes::new(),
    }
}

pub async fn load(state: State, RawQuery(q): RawQuery, body: Body) -> Result<Response> {
    let _quiet = Params::parse(q.as_deref()).bool("quiet");
    let lines = state.images.load(body_reader(body)).await?;
    let mut out = Vec::new();
    for l in lines {
        let msg = serde_json::json!({ "stream": format!("{l}\n") });
        out.extend_from_slice(msg.to_string().as_bytes());
        out.push(b'\n');
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], out).into_response())
}

fn created_unix(img: &Image) -> i64 {
    img.created.map(|c| c.timestamp()).unwrap_or(0)
}

/// Shell-style match (`*`, `?`) as Go's path.Match does it for references:
/// `*` does not cross `/`.
fn glob(pattern: &[u8], s: &[u8]) -> bool {
    match (pattern.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], s) || (!s.is_empty() && s[0] != b'/' && glob(pattern, &s[1..]))
        }
        (Some(b'?'), Some(c)) if *c != b'/' => glob(&pattern[1..], &s[1..]),
        (Some(p), Some(c)) if p == c => glob(&pattern[1..], &s[1..]),
        _ => false,
    }
}

/// Whether tag `repo:tag` matches a `reference` filter value (with or without a tag).
fn reference_matches(filter: &str, tag: &str) -> bool {
    let repo = tag.rsplit_once(':').map(|(r, _)| r).unwrap_or(tag);
    let has_tag = filter
        .rsplit_once(':')
        .is_some_and(|(_, t)| !t.contains('/'));
    if has_tag {
        glob(filter.as_bytes(), tag.as_bytes())
    } else {
        glob(filter.as_bytes(), repo.as_bytes())
    }
}

pub(super) fn summary(img: &Image, tags: Vec<String>) -> ImageSummary {
    let mut tags = tags;
    let mut repo_digests = img.repo_digests();
    if tags.is_empty() && repo_digests.is_empty() {
        // Both placeholders: the docker CLI shows an image as dangling only
        // when it gets the pair, as dockerd sends it.
        tags.push("<none>:<none>".to_string());
        repo_digests.push("<none>@<none>".to_string());
    }
    ImageSummary {
        id: img.id.clone(),
        parent_id: String::new(),
        repo_tags: tags,
        repo_digests,
        created: created_unix(img),
        size: img.size,
        shared_size: -1,
        virtual_size: img.size,
        labels: img
            .config
            .config
            .as_ref()
            .map(|c| c.labels.clone())
            .unwrap_or_default(),
        containers: -1,
    }
}

pub async fn list(state: State, RawQuery(q): RawQuery) -> Result<Json<Vec<ImageSummary>>> {
    let p = Params::parse(q.as_deref());
    let f = p.filters()?;
    f.validate(&["dangling", "label", "before", "since", "reference"])
        .map_err(Error::InvalidParameter)?;
    let dangling = f.get_bool("dangling").map_err(Error::InvalidParameter)?;
    let refs = f.get("reference");
    let window = super::image_filters::CreatedRange::from_filters(&state.images, &f)?;
    // Untagged images of the build cache are intermediate images: shown
    // with `-a` only, as Docker's.
    let cache = if p.bool("all") {
        Default::default()
    } else {
        state.build_cache.images()
    };
    let mut out: Vec<ImageSummary> = Vec::new();
    for img in state.images.list() {
        if !window.contains(img.created) {
            continue;
        }
        let mut tags = img.repo_tags();
        if tags.is_empty() && cache.contains(&img.id) {
            continue;
        }
        if let Some(d) = dangling {
            if d != tags.is_empty() {
                continue;
            }
        }
        if !refs.is_empty() {
            // Only the matching tags are listed, as Docker does.
            tags.retain(|t| refs.iter().any(|r| reference_matches(r, t)));
            if tags.is_empty() {
                continue;
            }
        }
        let labels = img
            .config
            .config
            .as_ref()
            .map(|c| c.labels.clone())
            .unwrap_or_default();
        if !f.match_labels("label", &labels) {
            continue;
        }
        out.push(summary(&img, tags));
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.created));
    Ok(Json(out))
}

fn inspect(img: &Image) -> ImageInspect {
    let c = &img.config;
    ImageInspect {
        id: img.id.clone(),
        repo_tags: img.repo_tags(),
        repo_digests: img.repo_digests(),
        created: c.created.clone().unwrap_or_default(),
        container: c.container.clone(),
        container_config: c.container_config.clone(),
        docker_version: c.docker_version.clone(),
        author: c.author.clone(),
        comment: c.comment.clone(),
        config: c.config.clone().unwrap_or_default(),
        architecture: c.architecture.clone(),
        variant: c.variant.clone(),
        os: c.os.clone(),
        size: img.size,
        virtual_size: img.size,
        graph_driver: GraphDriverData {
            name: "overlayfs".to_string(),
            data: Default::default(),
        },
        root_fs: RootFs {
            r#type: "layers".to_string(),
            layers: c.rootfs.diff_ids.clone(),
        },
        metadata: ImageMetadata {
            last_tag_time: None,
        },
        ..Default::default()
    }
}

/// Splits `busybox:latest/json` into (`busybox:latest`, `json`).
fn split_op(rest: &str) -> (&str, &str) {
    match rest.rsplit_once('/') {
        Some((name, op)) => (name, op),
        None => (rest, ""),
    }
}

pub async fn get(state: State, Path(rest): Path<String>) -> Result<Response> {
    match split_op(&rest) {
        (name, "json") => {
            let img = state.images.get(name)?;
            Ok(Json(inspect(&img)).into_response())
        }
        (name, "history") => super::image_save::history(&state, name).await,
        (name, "get") => super::image_save::save(&state, &[name.to_string()]).await,
        _ => Err(Error::not_found("page not found")),
    }
}

pub async fn post(
    state: State,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
    headers: axum::http::HeaderMap,
) -> Result<Response> {
    let p = Params::parse(q.as_deref());
    if rest == "create" {
        return Ok(super::image_pull::create(state, &headers, &p).await);
    }
    match split_op(&rest) {
        (name, "tag") => {
            let repo = p.str("repo").unwrap_or("");
            if repo.is_empty() {
                return Err(Error::invalid(
                    "repository name must have at least one component",
                ));
            }
            state
                .images
                .tag(name, repo, p.str("tag").unwrap_or(""))
                .await?;
            Ok(StatusCode::CREATED.into_response())
        }
        (name, "push") => Ok(super::image_pull::push(state, name, &headers, &p).await),
        _ => Err(Error::not_found("page not found")),
    }
}

pub async fn remove(
    state: State,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let p = Params::parse(q.as_deref());
    let img = state.images.get(&rest)?;
    let users = state.containers.image_users(&img.id);
    let items = state.images.remove(&rest, p.bool("force"), &users).await?;
    Ok(Json(items).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_filter_matches_like_docker() {
        assert!(reference_matches("busybox", "busybox:latest"));
        assert!(reference_matches("busy*", "busybox:latest"));
        assert!(reference_matches("busybox:latest", "busybox:latest"));
        assert!(!reference_matches("busybox:1", "busybox:latest"));
        assert!(!reference_matches("my/box", "busybox:latest"));
        assert!(reference_matches("my/*", "my/box:v1"));
        assert!(!reference_matches("*", "my/box:v1"));
        assert!(reference_matches("localhost:5000/x", "localhost:5000/x:y"));
    }
}
