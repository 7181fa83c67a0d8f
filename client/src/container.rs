//! Container operations (`/containers/...`).

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::TryStreamExt;
use http::{Method, StatusCode};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use pouch_api::container::{
    ContainerCreateRequest, ContainerCreateResponse, ContainerInspect, ContainerSummary,
    ContainerUpdateRequest, ContainerUpdateResponse, ContainerWaitResponse,
    ContainersPruneResponse,
};
use pouch_api::de::null_default;
use pouch_api::exec::{ExecConfig, IdResponse};
use pouch_api::stats::Stats;
use pouch_api::Filters;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncWrite, AsyncWriteExt, WriteHalf};

use crate::error::{Error, Result};
use crate::query::{encode_path, Query};
use crate::stream::{json_stream, log_stream, reader_stream, ByteStream, JsonStream, LogStream};
use crate::{body_stream, check_status, empty, read_json, Body, Client};

/// The body of a wait started with [`Containers::wait_begin`].
pub type WaitFuture =
    Pin<Box<dyn std::future::Future<Output = Result<ContainerWaitResponse>> + Send>>;

/// Options of [`Containers::logs`]. The default selects stdout and stderr,
/// everything, no follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsOptions {
    pub follow: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Unix timestamp (`1690000000` or `1690000000.123456789`).
    pub since: Option<String>,
    /// Unix timestamp.
    pub until: Option<String>,
    pub timestamps: bool,
    /// Number of lines from the end, or `"all"`.
    pub tail: Option<String>,
    /// The container has a TTY: output is raw (no frame headers) and all
    /// of it is reported as stdout.
    pub tty: bool,
}

impl Default for LogsOptions {
    fn default() -> Self {
        Self {
            follow: false,
            stdout: true,
            stderr: true,
            since: None,
            until: None,
            timestamps: false,
            tail: None,
            tty: false,
        }
    }
}

/// Options of [`Containers::attach`]. The default streams stdout and
/// stderr, without stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Stream output as it is produced (almost always wanted).
    pub stream: bool,
    /// Replay the container's past output first.
    pub logs: bool,
    /// Key sequence that detaches, e.g. `ctrl-p,ctrl-q`.
    pub detach_keys: Option<String>,
    /// The container has a TTY: output is raw, reported as stdout.
    pub tty: bool,
}

impl Default for AttachOptions {
    fn default() -> Self {
        Self {
            stdin: false,
            stdout: true,
            stderr: true,
            stream: true,
            logs: false,
            detach_keys: None,
            tty: false,
        }
    }
}

/// The write side of an attach connection: the container's stdin.
pub struct AttachStdin {
    inner: WriteHalf<TokioIo<Upgraded>>,
}

impl AttachStdin {
    /// Close stdin (half-close the connection): the container reads EOF
    /// while its output keeps flowing to [`Attached::output`].
    pub async fn close_write(&mut self) -> io::Result<()> {
        self.inner.shutdown().await
    }
}

impl fmt::Debug for AttachStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttachStdin").finish_non_exhaustive()
    }
}

impl AsyncWrite for AttachStdin {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// An attached container: its output and its stdin.
pub struct Attached {
    /// Container output until it exits or detaches.
    pub output: LogStream,
    /// Container stdin (only useful with [`AttachOptions::stdin`]).
    pub input: AttachStdin,
}

impl fmt::Debug for Attached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attached").finish_non_exhaustive()
    }
}

/// Container operations; get one with [`Client::containers`].
#[derive(Debug, Clone, Copy)]
pub struct Containers<'a> {
    pub(crate) client: &'a Client,
}

impl<'a> Containers<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    pub(crate) fn path(id: &str, action: &str) -> String {
        format!("/containers/{}{}", encode_path(id), action)
    }

    /// `POST /containers/create[?name=]`.
    pub async fn create(
        &self,
        name: Option<&str>,
        config: &ContainerCreateRequest,
    ) -> Result<ContainerCreateResponse> {
        let query = Query::new().opt("name", name);
        self.client
            .call_with_json(Method::POST, "/containers/create", &query, config)
            .await
    }

    /// `POST /containers/{id}/start`. Starting a running container is not
    /// an error (304).
    pub async fn start(&self, id: &str) -> Result<()> {
        self.client
            .call(Method::POST, &Self::path(id, "/start"), &Query::new())
            .await
    }

    /// `POST /containers/{id}/stop[?t=]`; `timeout` in seconds before kill.
    pub async fn stop(&self, id: &str, timeout: Option<i64>) -> Result<()> {
        let query = Query::new().opt("t", timeout.map(|t| t.to_string()));
        self.client
            .call(Method::POST, &Self::path(id, "/stop"), &query)
            .await
    }

    /// `POST /containers/{id}/restart[?t=]`.
    pub async fn restart(&self, id: &str, timeout: Option<i64>) -> Result<()> {
        let query = Query::new().opt("t", timeout.map(|t| t.to_string()));
        self.client
            .call(Method::POST, &Self::path(id, "/restart"), &query)
            .await
    }

    /// `POST /containers/{id}/kill[?signal=]` (`KILL` when `None`).
    pub async fn kill(&self, id: &str, signal: Option<&str>) -> Result<()> {
        let query = Query::new().opt("signal", signal);
        self.client
            .call(Method::POST, &Self::path(id, "/kill"), &query)
            .await
    }

    /// `POST /containers/{id}/pause`.
    pub async fn pause(&self, id: &str) -> Result<()> {
        self.client
            .call(Method::POST, &Self::path(id, "/pause"), &Query::new())
            .await
    }

    /// `POST /containers/{id}/unpause`.
    pub async fn unpause(&self, id: &str) -> Result<()> {
        self.client
            .call(Method::POST, &Self::path(id, "/unpause"), &Query::new())
            .await
    }

    /// `POST /containers/{id}/wait[?condition=]`: resolves when the
    /// condition is met. `condition` is `not-running` (default),
    /// `next-exit` or `removed`.
    pub async fn wait(&self, id: &str, condition: Option<&str>) -> Result<ContainerWaitResponse> {
        let query = Query::new().opt("condition", condition);
        self.client
            .call_json(Method::POST, &Self::path(id, "/wait"), &query)
            .await
    }

    /// `POST /containers/{id}/wait[?condition=]`, in two steps as Docker's
    /// Go client does it: this returns once the daemon has answered with
    /// the response headers (so the wait is registered and the container
    /// can be started without missing its exit), and the returned future
    /// resolves with the body when the condition is met.
    pub async fn wait_begin(&self, id: &str, condition: Option<&str>) -> Result<WaitFuture> {
        let query = Query::new().opt("condition", condition);
        let resp = self
            .client
            .request(Method::POST, &Self::path(id, "/wait"), &query, empty(), &[])
            .await?;
        Ok(Box::pin(read_json(resp)))
    }

    /// `GET /containers/{id}/json`.
    pub async fn inspect(&self, id: &str) -> Result<ContainerInspect> {
        self.client
            .call_json(Method::GET, &Self::path(id, "/json"), &Query::new())
            .await
    }

    /// `GET /containers/{id}/json?size=1` (fills `SizeRw`, `SizeRootFs`).
    pub async fn inspect_with_size(&self, id: &str) -> Result<ContainerInspect> {
        let query = Query::new().flag("size", true);
        self.client
            .call_json(Method::GET, &Self::path(id, "/json"), &query)
            .await
    }

    /// `GET /containers/json`. `all` includes stopped containers; `limit`
    /// returns the N most recently created; `size` fills the size fields.
    pub async fn list(
        &self,
        all: bool,
        limit: Option<i64>,
        size: bool,
        filters: &Filters,
    ) -> Result<Vec<ContainerSummary>> {
        let query = Query::new()
            .flag("all", all)
            .opt("limit", limit.map(|l| l.to_string()))
            .flag("size", size)
            .opt("filters", (!filters.is_empty()).then(|| filters.to_json()));
        self.client
            .call_json(Method::GET, "/containers/json", &query)
            .await
    }

    /// `POST /containers/{id}/rename?name=`.
    pub async fn rename(&self, id: &str, new_name: &str) -> Result<()> {
        let query = Query::new().set("name", new_name);
        self.client
            .call(Method::POST, &Self::path(id, "/rename"), &query)
            .await
    }

    /// `POST /containers/prune[?filters=]`: every stopped container, narrowed
    /// by `until`, `label` and `label!`.
    pub async fn prune(&self, filters: &Filters) -> Result<ContainersPruneResponse> {
        let query = Query::new().opt("filters", (!filters.is_empty()).then(|| filters.to_json()));
        self.client
            .call_json(Method::POST, "/containers/prune", &query)
            .await
    }

    /// `DELETE /containers/{id}[?force=1][&v=1]`.
    pub async fn remove(&self, id: &str, force: bool, volumes: bool) -> Result<()> {
        let query = Query::new().flag("v", volumes).flag("force", force);
        self.client
            .call(Method::DELETE, &Self::path(id, ""), &query)
            .await
    }

    /// `POST /containers/{id}/update`.
    pub async fn update(
        &self,
        id: &str,
        update: &ContainerUpdateRequest,
    ) -> Result<ContainerUpdateResponse> {
        self.client
            .call_with_json(
                Method::POST,
                &Self::path(id, "/update"),
                &Query::new(),
                update,
            )
            .await
    }

    /// `POST /containers/{id}/resize?h=&w=` (TTY size).
    pub async fn resize(&self, id: &str, height: u16, width: u16) -> Result<()> {
        let query = Query::new()
            .set("h", height.to_string())
            .set("w", width.to_string());
        self.client
            .call(Method::POST, &Self::path(id, "/resize"), &query)
            .await
    }

    /// `GET /containers/{id}/logs`: the output as a stream of chunks
    /// (demultiplexed unless `opts.tty`).
    pub async fn logs(&self, id: &str, opts: &LogsOptions) -> Result<LogStream> {
        let query = Query::new()
            .flag("follow", opts.follow)
            .flag("stdout", opts.stdout)
            .flag("stderr", opts.stderr)
            .opt("since", opts.since.as_deref())
            .opt("until", opts.until.as_deref())
            .flag("timestamps", opts.timestamps)
            .opt("tail", opts.tail.as_deref());
        let resp = self
            .client
            .request(Method::GET, &Self::path(id, "/logs"), &query, empty(), &[])
            .await?;
        Ok(log_stream(body_stream(resp), opts.tty))
    }

    /// `POST /containers/{id}/attach` with an HTTP upgrade: returns the
    /// output stream and a stdin writer over the hijacked connection.
    pub async fn attach(&self, id: &str, opts: &AttachOptions) -> Result<Attached> {
        let query = Query::new()
            .flag("stream", opts.stream)
            .flag("stdin", opts.stdin)
            .flag("stdout", opts.stdout)
            .flag("stderr", opts.stderr)
            .flag("logs", opts.logs)
            .opt("detachKeys", opts.detach_keys.as_deref());
        upgrade(
            self.client,
            &Self::path(id, "/attach"),
            &query,
            empty(),
            "text/plain",
            opts.tty,
        )
        .await
    }

    /// `POST /containers/{id}/exec`: create an exec instance; returns its
    /// ID. Start it with [`crate::Exec::exec_start`].
    pub async fn exec_create(&self, id: &str, config: &ExecConfig) -> Result<String> {
        let resp: IdResponse = self
            .client
            .call_with_json(
                Method::POST,
                &Self::path(id, "/exec"),
                &Query::new(),
                config,
            )
            .await?;
        Ok(resp.id)
    }

    /// `GET /containers/{id}/top[?ps_args=]`: the processes of a running
    /// container, as `ps` prints them.
    pub async fn top(&self, id: &str, ps_args: Option<&str>) -> Result<ContainerTop> {
        let query = Query::new().opt("ps_args", ps_args.filter(|a| !a.is_empty()));
        self.client
            .call_json(Method::GET, &Self::path(id, "/top"), &query)
            .await
    }

    /// `GET /containers/{id}/stats?stream=`: resource usage samples.
    /// With `stream` a sample comes every second until the container stops
    /// (or the stream is dropped); without, one sample (with `one_shot`,
    /// without waiting for a second reading for `precpu_stats`).
    pub async fn stats(&self, id: &str, stream: bool, one_shot: bool) -> Result<JsonStream<Stats>> {
        let query = Query::new()
            .set("stream", if stream { "1" } else { "0" })
            .flag("one-shot", one_shot);
        let resp = self
            .client
            .request(Method::GET, &Self::path(id, "/stats"), &query, empty(), &[])
            .await?;
        Ok(json_stream(body_stream(resp)))
    }

    /// `GET /containers/{id}/changes`: what changed in the container's
    /// filesystem compared to its image.
    pub async fn changes(&self, id: &str) -> Result<Vec<FilesystemChange>> {
        let list: Option<Vec<FilesystemChange>> = self
            .client
            .call_json(Method::GET, &Self::path(id, "/changes"), &Query::new())
            .await?;
        Ok(list.unwrap_or_default())
    }

    /// `GET /containers/{id}/export`: the container's filesystem as a tar
    /// archive.
    pub async fn export(&self, id: &str) -> Result<ByteStream> {
        let resp = self
            .client
            .request(
                Method::GET,
                &Self::path(id, "/export"),
                &Query::new(),
                empty(),
                &[],
            )
            .await?;
        Ok(body_stream(resp))
    }
}

/// Send a request asking for an HTTP upgrade (`Connection: Upgrade`,
/// `Upgrade: tcp`) and turn the hijacked connection into an [`Attached`].
pub(crate) async fn upgrade(
    client: &Client,
    path: &str,
    query: &Query,
    body: Body,
    content_type: &'static str,
    tty: bool,
) -> Result<Attached> {
    let headers = [
        ("connection", "Upgrade"),
        ("upgrade", "tcp"),
        ("content-type", content_type),
    ];
    let resp = client
        .send(Method::POST, path, query, body, &headers)
        .await?;
    let status = resp.status();
    if status != StatusCode::SWITCHING_PROTOCOLS {
        let resp = check_status(resp).await?;
        drop(resp);
        return Err(Error::Protocol(format!(
            "daemon did not upgrade the attach connection (status {status})"
        )));
    }
    let upgraded = hyper::upgrade::on(resp).await?;
    let (reader, writer) = tokio::io::split(TokioIo::new(upgraded));
    let output = log_stream(Box::pin(reader_stream(reader).map_err(Error::from)), tty);
    Ok(Attached {
        output,
        input: AttachStdin { inner: writer },
    })
}

/// The processes of a container (`GET /containers/{id}/top`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerTop {
    /// Column titles (`UID`, `PID`, ...).
    #[serde(rename = "Titles", deserialize_with = "null_default")]
    pub titles: Vec<String>,
    /// One row per process, a value per title.
    #[serde(rename = "Processes", deserialize_with = "null_default")]
    pub processes: Vec<Vec<String>>,
}

/// One entry of `GET /containers/{id}/changes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FilesystemChange {
    #[serde(rename = "Path", deserialize_with = "null_default")]
    pub path: String,
    /// 0: modified, 1: added, 2: deleted.
    #[serde(rename = "Kind", deserialize_with = "null_default")]
    pub kind: u8,
}

impl FilesystemChange {
    /// Docker's letter for the kind: `C` (changed), `A` (added), `D`
    /// (deleted), `?` for anything else.
    pub fn kind_letter(&self) -> &'static str {
        match self.kind {
            0 => "C",
            1 => "A",
            2 => "D",
            _ => "?",
        }
    }
}
