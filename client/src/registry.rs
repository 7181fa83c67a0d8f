//! Registry operations: login (`POST /auth`), pull (`POST /images/create`)
//! and push (`POST /images/{name}/push`), with credentials sent as the
//! `X-Registry-Auth` header.

use base64::Engine;
use http::Method;
use pouch_api::image::{AuthConfig, AuthResponse};

use crate::error::{Error, Result};
use crate::image::Images;
use crate::query::Query;
use crate::stream::{json_message_stream, JsonMessageStream};
use crate::{body_stream, empty, Client};

/// The `X-Registry-Auth` value of `auth`: its JSON, base64url-encoded
/// (padded, as Go's `base64.URLEncoding`).
pub fn encode_auth(auth: &AuthConfig) -> Result<String> {
    let json = serde_json::to_vec(auth)?;
    Ok(base64::engine::general_purpose::URL_SAFE.encode(json))
}

impl Client {
    /// `POST /auth`: check credentials with a registry. Wrong credentials
    /// are an [`Error::Api`] with status 401.
    pub async fn login(&self, auth: &AuthConfig) -> Result<AuthResponse> {
        self.call_with_json(Method::POST, "/auth", &Query::new(), auth)
            .await
    }
}

/// What to pull: `POST /images/create?fromImage=&tag=&platform=`.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// `os[/arch[/variant]]`; the daemon's platform when `None`.
    pub platform: Option<String>,
    /// Credentials for the image's registry.
    pub auth: Option<AuthConfig>,
}

impl Images<'_> {
    async fn stream_with_auth(
        &self,
        path: &str,
        query: &Query,
        auth: Option<&AuthConfig>,
    ) -> Result<JsonMessageStream> {
        // Docker always sends the header; an empty object means anonymous.
        let header = encode_auth(auth.unwrap_or(&AuthConfig::default()))?;
        let resp = self
            .client()
            .request(
                Method::POST,
                path,
                query,
                empty(),
                &[("x-registry-auth", header.as_str())],
            )
            .await?;
        Ok(json_message_stream(body_stream(resp)))
    }

    /// Pull `image` (a reference without tag, e.g. `busybox`) at `tag`
    /// (`latest` when `None`, decided by the daemon). Returns the daemon's
    /// progress messages; an error message ends the stream with
    /// [`Error::Stream`].
    pub async fn pull(
        &self,
        image: &str,
        tag: Option<&str>,
        opts: &PullOptions,
    ) -> Result<JsonMessageStream> {
        let query = Query::new()
            .set("fromImage", image)
            .opt("tag", tag)
            .opt("platform", opts.platform.as_deref());
        self.stream_with_auth("/images/create", &query, opts.auth.as_ref())
            .await
    }

    /// `POST /images/{name}/push?tag=`: push `name` (a repository) at
    /// `tag` (all tags of the repository when `None`).
    pub async fn push(
        &self,
        name: &str,
        tag: Option<&str>,
        auth: Option<&AuthConfig>,
    ) -> Result<JsonMessageStream> {
        if name.is_empty() {
            return Err(Error::InvalidRequest("empty image name".into()));
        }
        let query = Query::new().opt("tag", tag);
        self.stream_with_auth(&Images::path(name, "/push"), &query, auth)
            .await
    }
}
