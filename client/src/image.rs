//! Image operations (`/images/...`).

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use http::Method;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use pouch_api::image::{ImageDeleteResponseItem, ImageInspect, ImageSummary};
use pouch_api::Filters;
use tokio::io::AsyncRead;

use crate::error::{BoxError, Result};
use crate::query::{encode_path, Query};
use crate::stream::{json_message_stream, reader_stream, JsonMessageStream};
use crate::{body_stream, Body, Client};

/// Image operations; get one with [`Client::images`].
#[derive(Debug, Clone, Copy)]
pub struct Images<'a> {
    client: &'a Client,
}

impl<'a> Images<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    fn path(name: &str, action: &str) -> String {
        format!("/images/{}{}", encode_path(name), action)
    }

    /// `GET /images/json`. `all` includes intermediate images.
    pub async fn list(&self, all: bool, filters: &Filters) -> Result<Vec<ImageSummary>> {
        let query = Query::new()
            .flag("all", all)
            .opt("filters", (!filters.is_empty()).then(|| filters.to_json()));
        self.client
            .call_json(Method::GET, "/images/json", &query)
            .await
    }

    /// `GET /images/{name}/json`; `name` is a reference or an (short) ID.
    pub async fn inspect(&self, name: &str) -> Result<ImageInspect> {
        self.client
            .call_json(Method::GET, &Self::path(name, "/json"), &Query::new())
            .await
    }

    /// `DELETE /images/{name}[?force=1][&noprune=1]`.
    pub async fn remove(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> Result<Vec<ImageDeleteResponseItem>> {
        let query = Query::new().flag("force", force).flag("noprune", noprune);
        self.client
            .call_json(Method::DELETE, &Self::path(name, ""), &query)
            .await
    }

    /// `POST /images/{name}/tag?repo=&tag=`: tag image `name` as
    /// `repo:tag` (`latest` when `tag` is `None`, decided by the daemon).
    pub async fn tag(&self, name: &str, repo: &str, tag: Option<&str>) -> Result<()> {
        let query = Query::new().set("repo", repo).opt("tag", tag);
        self.client
            .call(Method::POST, &Self::path(name, "/tag"), &query)
            .await
    }

    /// `POST /images/load?quiet=`: upload an image tarball (`docker save`
    /// format). Returns the daemon's messages, e.g.
    /// `{"stream":"Loaded image: busybox:latest\n"}`; an error message from
    /// the daemon ends the stream with [`crate::Error::Stream`]. Collect
    /// with `futures::TryStreamExt::try_collect`.
    pub async fn load<S, E>(&self, body: S, quiet: bool) -> Result<JsonMessageStream>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let body: Body =
            StreamBody::new(body.map_ok(Frame::data).map_err(Into::into)).boxed_unsync();
        let query = Query::new().set("quiet", if quiet { "1" } else { "0" });
        let resp = self
            .client
            .request(
                Method::POST,
                "/images/load",
                &query,
                body,
                &[("content-type", "application/x-tar")],
            )
            .await?;
        Ok(json_message_stream(body_stream(resp)))
    }

    /// [`load`](Self::load) from an `AsyncRead` (e.g. a `tokio::fs::File`
    /// or stdin).
    pub async fn load_reader<R>(&self, reader: R, quiet: bool) -> Result<JsonMessageStream>
    where
        R: AsyncRead + Send + 'static,
    {
        self.load(reader_stream(reader), quiet).await
    }
}
