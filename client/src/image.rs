//! Image operations (`/images/...`).

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use http::Method;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use pouch_api::container::Config;
use pouch_api::exec::IdResponse;
use pouch_api::image::{
    HistoryResponseItem, ImageDeleteResponseItem, ImageInspect, ImageSummary, ImagesPruneResponse,
};
use pouch_api::Filters;
use tokio::io::AsyncRead;

use crate::error::{BoxError, Result};
use crate::query::{encode_path, Query};
use crate::stream::{json_message_stream, reader_stream, ByteStream, JsonMessageStream};
use crate::{body_stream, empty, json_body, read_json, Body, Client};

/// Image operations; get one with [`Client::images`].
#[derive(Debug, Clone, Copy)]
pub struct Images<'a> {
    client: &'a Client,
}

impl<'a> Images<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    pub(crate) fn client(&self) -> &'a Client {
        self.client
    }

    pub(crate) fn path(name: &str, action: &str) -> String {
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

    /// `POST /build` (the classic builder) of the context tar `body`:
    /// the builder's messages (`{"stream": "Step 1/3 : ..."}`, the image ID
    /// in `aux`); a failed build ends the stream with [`crate::Error::Stream`].
    pub async fn build<S, E>(&self, opts: &BuildOptions, body: S) -> Result<JsonMessageStream>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let body: Body =
            StreamBody::new(body.map_ok(Frame::data).map_err(Into::into)).boxed_unsync();
        let mut query = Query::new();
        for t in &opts.tags {
            query = query.set("t", t.clone());
        }
        let json = |m: &std::collections::HashMap<String, String>| {
            (!m.is_empty()).then(|| serde_json::to_string(m).unwrap_or_default())
        };
        let query = query
            .opt(
                "dockerfile",
                (!opts.dockerfile.is_empty()).then(|| opts.dockerfile.clone()),
            )
            .opt("buildargs", json(&opts.build_args))
            .opt("labels", json(&opts.labels))
            .opt(
                "target",
                (!opts.target.is_empty()).then(|| opts.target.clone()),
            )
            .opt(
                "networkmode",
                (!opts.network.is_empty()).then(|| opts.network.clone()),
            )
            .flag("q", opts.quiet)
            .flag("nocache", opts.no_cache)
            .flag("pull", opts.pull)
            .set("rm", "1");
        let resp = self
            .client
            .request(
                Method::POST,
                "/build",
                &query,
                body,
                &[("content-type", "application/x-tar")],
            )
            .await?;
        Ok(json_message_stream(body_stream(resp)))
    }

    /// [`build`](Self::build) of a context tar read from `reader`.
    pub async fn build_reader<R>(&self, opts: &BuildOptions, reader: R) -> Result<JsonMessageStream>
    where
        R: AsyncRead + Send + 'static,
    {
        self.build(opts, reader_stream(reader)).await
    }

    /// [`load`](Self::load) from an `AsyncRead` (e.g. a `tokio::fs::File`
    /// or stdin).
    pub async fn load_reader<R>(&self, reader: R, quiet: bool) -> Result<JsonMessageStream>
    where
        R: AsyncRead + Send + 'static,
    {
        self.load(reader_stream(reader), quiet).await
    }
    /// `GET /images/{name}/history`: the steps of an image, newest first.
    pub async fn history(&self, name: &str) -> Result<Vec<HistoryResponseItem>> {
        self.client
            .call_json(Method::GET, &Self::path(name, "/history"), &Query::new())
            .await
    }

    /// `POST /images/prune[?filters=]`: remove dangling images (all unused
    /// ones with the filter `dangling=false`).
    pub async fn prune(&self, filters: &Filters) -> Result<ImagesPruneResponse> {
        let query = Query::new().opt("filters", (!filters.is_empty()).then(|| filters.to_json()));
        self.client
            .call_json(Method::POST, "/images/prune", &query)
            .await
    }

    /// `POST /build/prune`: the build cache's images.
    pub async fn build_prune(&self) -> Result<pouch_api::image::BuildCachePruneResponse> {
        self.client
            .call_json(Method::POST, "/build/prune", &Query::new())
            .await
    }

    /// `GET /images/get?names=...`: the images as one tarball (`docker
    /// save` format), streamed.
    pub async fn save(&self, names: &[&str]) -> Result<ByteStream> {
        let query = names.iter().fold(Query::new(), |q, n| q.set("names", *n));
        let resp = self
            .client
            .request(Method::GET, "/images/get", &query, empty(), &[])
            .await?;
        Ok(body_stream(resp))
    }

    /// `POST /images/create?fromSrc=-`: import a root filesystem tarball
    /// sent as the body. The messages end with `{"status":"sha256:..."}`.
    pub async fn import<S, E>(&self, body: S, opts: &ImportOptions) -> Result<JsonMessageStream>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let body: Body =
            StreamBody::new(body.map_ok(Frame::data).map_err(Into::into)).boxed_unsync();
        let resp = self
            .client
            .request(
                Method::POST,
                "/images/create",
                &opts.query("-"),
                body,
                &[("content-type", "application/x-tar")],
            )
            .await?;
        Ok(json_message_stream(body_stream(resp)))
    }

    /// [`import`](Self::import) from an `AsyncRead`.
    pub async fn import_reader<R>(
        &self,
        reader: R,
        opts: &ImportOptions,
    ) -> Result<JsonMessageStream>
    where
        R: AsyncRead + Send + 'static,
    {
        self.import(reader_stream(reader), opts).await
    }

    /// `POST /images/create?fromSrc=URL`: the daemon downloads the tarball.
    pub async fn import_url(&self, url: &str, opts: &ImportOptions) -> Result<JsonMessageStream> {
        let resp = self
            .client
            .request(
                Method::POST,
                "/images/create",
                &opts.query(url),
                empty(),
                &[],
            )
            .await?;
        Ok(json_message_stream(body_stream(resp)))
    }

    /// `POST /commit?container=...`: make an image of a container's
    /// changes. Returns the new image ID.
    pub async fn commit(&self, container: &str, opts: &CommitOptions) -> Result<String> {
        let mut query = Query::new()
            .set("container", container)
            .opt("repo", opts.repo.as_deref())
            .opt("tag", opts.tag.as_deref())
            .opt("comment", opts.comment.as_deref())
            .opt("author", opts.author.as_deref());
        // The daemon pauses by default; Go's client sends only `pause=0`.
        if !opts.pause {
            query = query.set("pause", "0");
        }
        for c in &opts.changes {
            query = query.set("changes", c.clone());
        }
        // No config: no body at all, as the Go client sends it.
        let (body, headers): (Body, &[(&'static str, &str)]) = match &opts.config {
            Some(config) => (json_body(config)?, &[("content-type", "application/json")]),
            None => (empty(), &[]),
        };
        let resp = self
            .client
            .request(Method::POST, "/commit", &query, body, headers)
            .await?;
        let id: IdResponse = read_json(resp).await?;
        Ok(id.id)
    }
}

/// Options of [`Images::build`] (the query of `POST /build`).
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub tags: Vec<String>,
    /// Path of the Dockerfile inside the context.
    pub dockerfile: String,
    pub build_args: std::collections::HashMap<String, String>,
    pub labels: std::collections::HashMap<String, String>,
    pub target: String,
    pub network: String,
    pub quiet: bool,
    pub no_cache: bool,
    pub pull: bool,
}

/// Options of [`Images::import`].
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Repository (and `tag`) to give the image.
    pub repo: Option<String>,
    pub tag: Option<String>,
    /// Commit message.
    pub message: Option<String>,
    /// Dockerfile instructions (`CMD ["sh"]`, `ENV A=b`) applied to the
    /// image config.
    pub changes: Vec<String>,
    pub platform: Option<String>,
}

impl ImportOptions {
    fn query(&self, src: &str) -> Query {
        let mut q = Query::new()
            .set("fromSrc", src)
            .opt("repo", self.repo.as_deref())
            .opt("tag", self.tag.as_deref())
            .opt("message", self.message.as_deref())
            .opt("platform", self.platform.as_deref());
        for c in &self.changes {
            q = q.set("changes", c.clone());
        }
        q
    }
}

/// Options of [`Images::commit`].
#[derive(Debug, Clone)]
pub struct CommitOptions {
    pub repo: Option<String>,
    pub tag: Option<String>,
    pub comment: Option<String>,
    pub author: Option<String>,
    /// Pause the container while committing (the default).
    pub pause: bool,
    /// Dockerfile instructions applied to the image config.
    pub changes: Vec<String>,
    /// A config to merge into the image's.
    pub config: Option<Config>,
}

impl Default for CommitOptions {
    fn default() -> Self {
        Self {
            repo: None,
            tag: None,
            comment: None,
            author: None,
            pause: true,
            changes: Vec::new(),
            config: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_queries() {
        let opts = ImportOptions {
            repo: Some("my/img".into()),
            tag: Some("v1".into()),
            message: Some("hi there".into()),
            changes: vec!["CMD [\"sh\"]".into(), "ENV A=b".into()],
            platform: None,
        };
        assert_eq!(
            opts.query("-").render(),
            "?fromSrc=-&repo=my%2Fimg&tag=v1&message=hi%20there\
             &changes=CMD%20%5B%22sh%22%5D&changes=ENV%20A%3Db"
        );
        assert_eq!(
            ImportOptions::default().query("http://h/x.tar").render(),
            "?fromSrc=http%3A%2F%2Fh%2Fx.tar"
        );
        assert!(CommitOptions::default().pause);
    }
}
