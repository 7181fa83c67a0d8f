//! Typed async client of the Docker Engine API v1.41 as served by
//! `pouchd`, over a unix socket (or plain-HTTP TCP).
//!
//! ```no_run
//! # async fn demo() -> pouch_client::Result<()> {
//! let client = pouch_client::Client::new("unix:///var/run/pouchd.sock")?;
//! let version = client.version().await?;
//! let containers = client.containers().list(true, None, false, &Default::default()).await?;
//! # Ok(()) }
//! ```
//!
//! [`Client`] is cheap to clone, `Send + Sync`, and keeps idle connections
//! in a pool. Container operations are under [`Client::containers`], image
//! operations under [`Client::images`], exec instances under
//! [`Client::exec`]; `ping`, `version`, `info` and `events` are on the
//! client itself.

pub mod archive;
mod conn;
pub mod container;
pub mod error;
pub mod exec;
pub mod image;
pub mod network;
mod query;
pub mod registry;
pub mod stream;
mod system;
pub mod volume;

use bytes::Bytes;
use futures::TryStreamExt;
use http::header::USER_AGENT;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use archive::{ArchivePutOptions, PathStat};
pub use conn::DEFAULT_HOST;
pub use container::{
    AttachOptions, AttachStdin, Attached, ContainerTop, Containers, FilesystemChange, LogsOptions,
    WaitFuture,
};
pub use error::{BoxError, Error, Result};
pub use exec::Exec;
pub use image::{BuildOptions, CommitOptions, Images, ImportOptions};
pub use pouch_api as api;
pub use registry::{encode_auth, PullOptions};
pub use stream::{
    ByteStream, FrameDemuxer, JsonMessageStream, JsonStream, JsonStreamDecoder, LogChunk,
    LogStream, StreamKind,
};
pub use volume::Volumes;

use conn::{Connector, Endpoint};
use query::Query;

/// Request body type used by the client.
pub(crate) type Body = UnsyncBoxBody<Bytes, BoxError>;

const USER_AGENT_VALUE: &str = concat!("pouch-client/", env!("CARGO_PKG_VERSION"));

/// A client of one pouchd daemon.
#[derive(Clone, Debug)]
pub struct Client {
    http: HyperClient<Connector, Body>,
    /// `http://localhost` for unix sockets, `http://host:port` for TCP.
    base: String,
    /// The host string as given (for error messages).
    host: String,
}

impl Client {
    /// Create a client for `host`: `unix:///path/to.sock` (or a bare
    /// absolute path), `tcp://host[:port]` / `http://host[:port]` (port
    /// 2375 by default). An empty string means [`DEFAULT_HOST`].
    /// No connection is made until the first request.
    pub fn new(host: &str) -> Result<Self> {
        let endpoint = Endpoint::parse(host)?;
        let base = endpoint.base_url();
        let http = HyperClient::builder(TokioExecutor::new()).build(Connector::new(endpoint));
        let host = if host.trim().is_empty() {
            DEFAULT_HOST.to_string()
        } else {
            host.trim().to_string()
        };
        Ok(Self { http, base, host })
    }

    /// The daemon address this client talks to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Container operations.
    pub fn containers(&self) -> Containers<'_> {
        Containers::new(self)
    }

    /// Image operations.
    pub fn images(&self) -> Images<'_> {
        Images::new(self)
    }

    /// Volume operations.
    pub fn volumes(&self) -> Volumes<'_> {
        Volumes::new(self)
    }

    /// Network operations.
    pub fn networks(&self) -> network::Networks<'_> {
        network::Networks::new(self)
    }

    /// Exec instance operations (create them with
    /// [`Containers::exec_create`]).
    pub fn exec(&self) -> Exec<'_> {
        Exec::new(self)
    }

    fn url(&self, path: &str, query: &Query) -> String {
        format!(
            "{}/v{}{}{}",
            self.base,
            pouch_api::API_VERSION,
            path,
            query.render()
        )
    }

    /// Send a request and return the response whatever its status.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &Query,
        body: Body,
        headers: &[(&'static str, &str)],
    ) -> Result<Response<Incoming>> {
        let mut builder = Request::builder()
            .method(method)
            .uri(self.url(path, query))
            .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let req = builder
            .body(body)
            .map_err(|e| Error::InvalidRequest(e.to_string()))?;
        self.http
            .request(req)
            .await
            .map_err(|e| Error::transport(&self.host, e))
    }

    /// Send a request; turn a status >= 400 into [`Error::Api`].
    pub(crate) async fn request(
        &self,
        method: Method,
        path: &str,
        query: &Query,
        body: Body,
        headers: &[(&'static str, &str)],
    ) -> Result<Response<Incoming>> {
        let resp = self.send(method, path, query, body, headers).await?;
        check_status(resp).await
    }

    /// Request without a body, expecting no meaningful response body.
    pub(crate) async fn call(&self, method: Method, path: &str, query: &Query) -> Result<()> {
        let resp = self.request(method, path, query, empty(), &[]).await?;
        // Drain so the connection can go back to the pool.
        resp.into_body().collect().await?;
        Ok(())
    }

    /// Request without a body, decoding a JSON response.
    pub(crate) async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &Query,
    ) -> Result<T> {
        let resp = self.request(method, path, query, empty(), &[]).await?;
        read_json(resp).await
    }

    /// Request with a JSON body, decoding a JSON response.
    pub(crate) async fn call_with_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &Query,
        body: &B,
    ) -> Result<T> {
        let body = json_body(body)?;
        let resp = self
            .request(
                method,
                path,
                query,
                body,
                &[("content-type", "application/json")],
            )
            .await?;
        read_json(resp).await
    }
}

/// Pass responses with status < 400 through (Docker's Go client treats 304
/// "already started/stopped" as success); read the body of others into an
/// [`Error::Api`].
pub(crate) async fn check_status(resp: Response<Incoming>) -> Result<Response<Incoming>> {
    let status = resp.status();
    if status.as_u16() < 400 {
        return Ok(resp);
    }
    let body = resp.into_body().collect().await?.to_bytes();
    Err(Error::from_response(status.as_u16(), &body))
}

/// Collect a body and decode it as JSON.
pub(crate) async fn read_json<T: DeserializeOwned>(resp: Response<Incoming>) -> Result<T> {
    let is_no_content = resp.status() == StatusCode::NO_CONTENT;
    let body = resp.into_body().collect().await?.to_bytes();
    if is_no_content || body.iter().all(u8::is_ascii_whitespace) {
        // An empty 2xx body decodes as an empty object (all defaults) when
        // `T` allows it, as Go leaves its result zeroed.
        if let Ok(v) = serde_json::from_slice(b"{}") {
            return Ok(v);
        }
    }
    Ok(serde_json::from_slice(&body)?)
}

/// A response body as a stream of byte chunks.
pub(crate) fn body_stream(resp: Response<Incoming>) -> ByteStream {
    Box::pin(resp.into_body().into_data_stream().map_err(Error::from))
}

pub(crate) fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub(crate) fn json_body<B: Serialize>(body: &B) -> Result<Body> {
    let bytes = serde_json::to_vec(body)?;
    Ok(Full::new(Bytes::from(bytes))
        .map_err(|never| match never {})
        .boxed_unsync())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn client_is_send_sync_clone() {
        assert_send_sync::<Client>();
    }

    #[test]
    fn futures_are_send() {
        fn is_send<T: Send>(_: T) {}
        let c = Client::new("").unwrap();
        let req = pouch_api::container::ContainerCreateRequest::default();
        let filters = pouch_api::Filters::new();
        is_send(c.ping());
        is_send(c.info());
        is_send(c.containers().create(None, &req));
        is_send(c.containers().list(true, None, false, &filters));
        is_send(c.containers().wait_begin("x", Some("next-exit")));
        is_send(c.containers().logs("x", &LogsOptions::default()));
        is_send(c.containers().attach("x", &AttachOptions::default()));
        is_send(c.images().remove("x", false, false));
        is_send(c.images().load_reader(&b""[..], false));
        is_send(c.images().pull("x", None, &PullOptions::default()));
        is_send(c.images().push("x", None, None));
        is_send(c.images().save(&["x"]));
        is_send(
            c.images()
                .import_reader(&b""[..], &ImportOptions::default()),
        );
        is_send(c.images().commit("x", &CommitOptions::default()));
        is_send(c.images().history("x"));
        is_send(c.images().prune(&filters));
        is_send(c.login(&Default::default()));
        is_send(c.containers().exec_create("x", &Default::default()));
        is_send(c.exec().exec_start("x", &Default::default(), false));
        is_send(c.exec().exec_inspect("x"));
        is_send(c.containers().stats("x", true, false));
        is_send(c.containers().archive_get("x", "/"));
        is_send(
            c.containers()
                .archive_put_reader("x", "/", &b""[..], &Default::default()),
        );
        is_send(c.events(None, None, &filters));
    }

    #[test]
    fn urls() {
        let c = Client::new("unix:///tmp/x.sock").unwrap();
        assert_eq!(
            c.url("/containers/json", &Query::new().flag("all", true)),
            "http://localhost/v1.41/containers/json?all=1"
        );
        assert_eq!(c.host(), "unix:///tmp/x.sock");
        let c = Client::new("").unwrap();
        assert_eq!(c.host(), DEFAULT_HOST);
        assert!(Client::new("ftp://x").is_err());
    }
}
