//! Files in containers (`/containers/{id}/archive`): stat a path, get it
//! as a tar archive, extract a tar archive into the container.

use base64::Engine as _;
use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use http::{HeaderMap, Method};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncRead;

use crate::container::Containers;
use crate::error::{BoxError, Error, Result};
use crate::query::Query;
use crate::stream::{reader_stream, ByteStream};
use crate::{body_stream, empty, Body};

/// Header carrying the stat of the path, base64-encoded JSON.
pub const PATH_STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// Go's `os.ModeDir`.
pub const MODE_DIR: u32 = 1 << 31;
/// Go's `os.ModeSymlink`.
pub const MODE_SYMLINK: u32 = 1 << 27;
/// Go's `os.ModeDevice`.
pub const MODE_DEVICE: u32 = 1 << 26;
/// Go's `os.ModeNamedPipe`.
pub const MODE_NAMED_PIPE: u32 = 1 << 25;
/// Go's `os.ModeSocket`.
pub const MODE_SOCKET: u32 = 1 << 24;
/// Go's `os.ModeCharDevice`.
pub const MODE_CHAR_DEVICE: u32 = 1 << 21;
/// Go's `os.ModeIrregular`.
pub const MODE_IRREGULAR: u32 = 1 << 19;

/// Stat of a path in a container (Docker's `ContainerPathStat`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go `os.FileMode` bits: permissions plus [`MODE_DIR`], [`MODE_SYMLINK`], ...
    pub mode: u32,
    /// Modification time, RFC 3339.
    pub mtime: String,
    /// For a symlink, the path it resolves to in the container.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

impl PathStat {
    pub fn is_dir(&self) -> bool {
        self.mode & MODE_DIR != 0
    }

    pub fn is_symlink(&self) -> bool {
        self.mode & MODE_SYMLINK != 0
    }

    /// Decode the value of the [`PATH_STAT_HEADER`] header.
    pub fn from_header_value(value: &str) -> Result<Self> {
        let json = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(|e| {
                Error::Protocol(format!("unable to decode container path stat header: {e}"))
            })?;
        serde_json::from_slice(&json).map_err(|e| {
            Error::Protocol(format!("unable to decode container path stat header: {e}"))
        })
    }

    fn from_headers(headers: &HeaderMap) -> Result<Self> {
        let value = headers
            .get(PATH_STAT_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Error::Protocol(format!("the daemon sent no {PATH_STAT_HEADER} header"))
            })?;
        Self::from_header_value(value)
    }
}

/// Options of [`Containers::archive_put_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArchivePutOptions {
    /// Refuse to replace a directory by a non-directory or the reverse.
    pub no_overwrite_dir_non_dir: bool,
    /// Keep the uid/gid of the archive's entries (`docker cp -a`).
    pub copy_uid_gid: bool,
}

impl Containers<'_> {
    /// `HEAD /containers/{id}/archive?path=`: stat a path in the container.
    pub async fn archive_stat(&self, id: &str, path: &str) -> Result<PathStat> {
        let query = Query::new().set("path", path);
        let resp = self
            .client
            .request(
                Method::HEAD,
                &Self::path(id, "/archive"),
                &query,
                empty(),
                &[],
            )
            .await?;
        let stat = PathStat::from_headers(resp.headers());
        // Drain (a HEAD has no body) so the connection is reused.
        let _ = resp.into_body().collect().await;
        stat
    }

    /// `GET /containers/{id}/archive?path=`: the stat of the path and a tar
    /// archive of it (its entries are named after the path's base name).
    pub async fn archive_get(&self, id: &str, path: &str) -> Result<(PathStat, ByteStream)> {
        let query = Query::new().set("path", path);
        let resp = self
            .client
            .request(
                Method::GET,
                &Self::path(id, "/archive"),
                &query,
                empty(),
                &[],
            )
            .await?;
        let stat = PathStat::from_headers(resp.headers())?;
        Ok((stat, body_stream(resp)))
    }

    /// `PUT /containers/{id}/archive?path=`: extract a tar archive into the
    /// directory `path` of the container.
    pub async fn archive_put<S, E>(
        &self,
        id: &str,
        path: &str,
        body: S,
        no_overwrite_dir_non_dir: bool,
    ) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let opts = ArchivePutOptions {
            no_overwrite_dir_non_dir,
            copy_uid_gid: false,
        };
        self.archive_put_with(id, path, body, &opts).await
    }

    /// [`archive_put`](Self::archive_put) with all options.
    pub async fn archive_put_with<S, E>(
        &self,
        id: &str,
        path: &str,
        body: S,
        opts: &ArchivePutOptions,
    ) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let body: Body =
            StreamBody::new(body.map_ok(Frame::data).map_err(Into::into)).boxed_unsync();
        let query = Query::new()
            .set("path", path)
            .opt(
                "noOverwriteDirNonDir",
                opts.no_overwrite_dir_non_dir.then_some("true"),
            )
            .opt("copyUIDGID", opts.copy_uid_gid.then_some("true"));
        let resp = self
            .client
            .request(
                Method::PUT,
                &Self::path(id, "/archive"),
                &query,
                body,
                &[("content-type", "application/x-tar")],
            )
            .await?;
        resp.into_body().collect().await?;
        Ok(())
    }

    /// [`archive_put_with`](Self::archive_put_with) from an `AsyncRead`
    /// (a file, stdin).
    pub async fn archive_put_reader<R>(
        &self,
        id: &str,
        path: &str,
        reader: R,
        opts: &ArchivePutOptions,
    ) -> Result<()>
    where
        R: AsyncRead + Send + 'static,
    {
        self.archive_put_with(id, path, reader_stream(reader), opts)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_stat_header() {
        let json = br#"{"name":"etc","size":4096,"mode":2147484141,"mtime":"2024-01-01T00:00:00Z","linkTarget":""}"#;
        let value = base64::engine::general_purpose::STANDARD.encode(json);
        let st = PathStat::from_header_value(&value).unwrap();
        assert_eq!(st.name, "etc");
        assert!(st.is_dir() && !st.is_symlink());
        assert_eq!(st.mode & 0o777, 0o755);
        assert!(PathStat::from_header_value("!!!").is_err());
        let value = base64::engine::general_purpose::STANDARD.encode(b"[1]");
        assert!(PathStat::from_header_value(&value).is_err());
    }
}
