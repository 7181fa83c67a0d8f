//! An in-process registry for unit tests (127.0.0.1, plain HTTP): enough of
//! the distribution API for pull and monolithic push, with corrupt or slow
//! blobs, responses cut off half-way and basic auth on demand.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct FakeState {
    /// `repo:reference` (tag or digest) → (media type, bytes)
    pub manifests: HashMap<String, (String, Vec<u8>)>,
    pub blobs: HashMap<String, Vec<u8>>,
    /// Blobs served with a byte flipped.
    pub corrupt: HashSet<String>,
    /// Blobs served in small chunks with pauses.
    pub slow: HashSet<String>,
    /// Blobs whose response stops half-way (the connection is cut).
    pub cut: HashSet<String>,
    /// Basic auth required when set.
    pub basic: Option<(String, String)>,
    /// `METHOD path` of every request.
    pub log: Vec<String>,
    uploads: u64,
}

pub struct FakeRegistry {
    pub host: String,
    pub state: Arc<Mutex<FakeState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn digest_of(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

impl FakeRegistry {
    pub async fn start() -> FakeRegistry {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeRegistry { host, state, task }
    }

    fn st(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    pub fn put_blob(&self, data: &[u8]) -> String {
        let d = digest_of(data);
        self.st().blobs.insert(d.clone(), data.to_vec());
        d
    }

    /// Stores a manifest under its digest and, when given, a tag.
    pub fn put_manifest(
        &self,
        repo: &str,
        tag: Option<&str>,
        media_type: &str,
        data: &[u8],
    ) -> String {
        let d = digest_of(data);
        let mut st = self.st();
        let v = (media_type.to_string(), data.to_vec());
        st.manifests.insert(format!("{repo}:{d}"), v.clone());
        if let Some(t) = tag {
            st.manifests.insert(format!("{repo}:{t}"), v);
        }
        d
    }

    pub fn manifest(&self, repo: &str, reference: &str) -> Option<(String, Vec<u8>)> {
        self.st()
            .manifests
            .get(&format!("{repo}:{reference}"))
            .cloned()
    }

    pub fn requests(&self) -> Vec<String> {
        self.st().log.clone()
    }

    /// How many times the blob `digest` was fetched (GET).
    pub fn blob_gets(&self, digest: &str) -> usize {
        let suffix = format!("/blobs/{digest}");
        self.st()
            .log
            .iter()
            .filter(|r| r.starts_with("GET ") && r.ends_with(&suffix))
            .count()
    }
}

fn error(status: StatusCode, code: &str, msg: &str) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": msg}]});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn handle(
    State(state): State<Arc<Mutex<FakeState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let mut st = state.lock().unwrap();
    st.log.push(format!("{method} {path}"));
    if let Some((u, p)) = &st.basic {
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        );
        let got = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if got != Some(want.as_str()) {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "authentication required",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"fake\"".parse().unwrap(),
            );
            return r;
        }
    }
    if path == "/v2/" {
        return (StatusCode::OK, "{}").into_response();
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some((repo, reference)) = rest.rsplit_once("/manifests/") {
        let key = format!("{repo}:{reference}");
        return match method {
            Method::GET | Method::HEAD => match st.manifests.get(&key) {
                Some((mt, data)) => {
                    let d = digest_of(data);
                    let b = if method == Method::HEAD {
                        Body::empty()
                    } else {
                        Body::from(data.clone())
                    };
                    (
                        [
                            (header::CONTENT_TYPE, mt.clone()),
                            (header::HeaderName::from_static("docker-content-digest"), d),
                        ],
                        b,
                    )
                        .into_response()
                }
                None => error(
                    StatusCode::NOT_FOUND,
                    "MANIFEST_UNKNOWN",
                    "manifest unknown",
                ),
            },
            Method::PUT => {
                let mt = headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let d = digest_of(&body);
                st.manifests
                    .insert(format!("{repo}:{d}"), (mt.clone(), body.to_vec()));
                st.manifests.insert(key, (mt, body.to_vec()));
                (
                    StatusCode::CREATED,
                    [
                        (header::LOCATION, format!("/v2/{repo}/manifests/{d}")),
                        (header::HeaderName::from_static("docker-content-digest"), d),
                    ],
                )
                    .into_response()
            }
            _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
        };
    }
    if let Some((repo, upload)) = rest.split_once("/blobs/uploads/") {
        return match method {
            Method::POST => {
                st.uploads += 1;
                let loc = format!("/v2/{repo}/blobs/uploads/{}", st.uploads);
                (StatusCode::ACCEPTED, [(header::LOCATION, loc)]).into_response()
            }
            Method::PUT if !upload.is_empty() => {
                let digest = form_urlencoded::parse(query.as_bytes())
                    .find(|(k, _)| k == "digest")
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default();
                if digest_of(&body) != digest {
                    return error(StatusCode::BAD_REQUEST, "DIGEST_INVALID", "digest mismatch");
                }
                st.blobs.insert(digest.clone(), body.to_vec());
                (
                    StatusCode::CREATED,
                    [(header::LOCATION, format!("/v2/{repo}/blobs/{digest}"))],
                )
                    .into_response()
            }
            _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
        };
    }
    if let Some((_, digest)) = rest.rsplit_once("/blobs/") {
        let Some(data) = st.blobs.get(digest).cloned() else {
            return error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown");
        };
        if method == Method::HEAD {
            return (
                [(header::CONTENT_LENGTH, data.len().to_string())],
                Body::empty(),
            )
                .into_response();
        }
        let mut data = data;
        if st.corrupt.contains(digest) && !data.is_empty() {
            data[0] ^= 0xff;
        }
        if st.cut.contains(digest) {
            let half = data[..data.len() / 2].to_vec();
            let s = futures::stream::iter([
                Ok(Bytes::from(half)),
                Err(std::io::Error::other("connection cut")),
            ]);
            return (
                [(header::CONTENT_LENGTH, data.len().to_string())],
                Body::from_stream(s),
            )
                .into_response();
        }
        if st.slow.contains(digest) {
            let chunks: Vec<Vec<u8>> = data.chunks(16).map(|c| c.to_vec()).collect();
            let s = futures::stream::iter(chunks).then(|c| async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<_, std::io::Error>(Bytes::from(c))
            });
            return Body::from_stream(s).into_response();
        }
        return Body::from(data).into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}
