//! Transport: a connector for hyper-util's pooled client that dials the
//! daemon's unix socket (or a TCP address), whatever the request URI says.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpStream, UnixStream};

use crate::error::{Error, Result};

/// Default daemon address.
pub const DEFAULT_HOST: &str = "unix:///var/run/pouchd.sock";

/// Default port of `tcp://host` without a port, as Docker.
const DEFAULT_TCP_PORT: u16 = 2375;

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Unix(PathBuf),
    /// `host:port`.
    Tcp(String),
}

impl Endpoint {
    /// Parse `unix:///path`, `/path`, `tcp://host[:port]` or
    /// `http://host[:port]`; empty means [`DEFAULT_HOST`].
    pub(crate) fn parse(host: &str) -> Result<Self> {
        let host = host.trim();
        let invalid = |reason: &str| Error::InvalidHost {
            host: host.to_string(),
            reason: reason.to_string(),
        };
        if host.is_empty() {
            return Self::parse(DEFAULT_HOST);
        }
        if let Some(path) = host.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(invalid("empty socket path"));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if host.starts_with('/') {
            return Ok(Endpoint::Unix(PathBuf::from(host)));
        }
        let rest = host
            .strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("http://"))
            .ok_or_else(|| invalid("expected unix:///path or tcp://host:port"))?;
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') {
            return Err(invalid("expected tcp://host:port"));
        }
        // Split `host[:port]`, with IPv6 hosts in brackets (`[::1]:80`).
        let (name, port) = if let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']').ok_or_else(|| invalid("unclosed '['"))?;
            let after = &inner[close + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(invalid("expected tcp://host:port")),
            };
            (&rest[..close + 2], port)
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if name.is_empty() || name == "[]" {
            return Err(invalid("empty host name"));
        }
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| invalid("invalid port"))?,
            None => DEFAULT_TCP_PORT,
        };
        Ok(Endpoint::Tcp(format!("{name}:{port}")))
    }

    /// Base URL requests are made against.
    pub(crate) fn base_url(&self) -> String {
        match self {
            Endpoint::Unix(_) => "http://localhost".to_string(),
            Endpoint::Tcp(addr) => format!("http://{addr}"),
        }
    }
}

/// The connector handed to hyper-util's client.
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    endpoint: Arc<Endpoint>,
}

impl Connector {
    pub(crate) fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint: Arc::new(endpoint),
        }
    }
}

impl tower::Service<Uri> for Connector {
    type Response = Conn;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Conn>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let endpoint = Arc::clone(&self.endpoint);
        Box::pin(async move {
            match &*endpoint {
                Endpoint::Unix(path) => {
                    let stream = UnixStream::connect(path).await?;
                    Ok(Conn::Unix(TokioIo::new(stream)))
                }
                Endpoint::Tcp(addr) => {
                    let stream = TcpStream::connect(addr.as_str()).await?;
                    stream.set_nodelay(true)?;
                    Ok(Conn::Tcp(TokioIo::new(stream)))
                }
            }
        })
    }
}

/// A connection to the daemon.
#[derive(Debug)]
pub(crate) enum Conn {
    Unix(TokioIo<UnixStream>),
    Tcp(TokioIo<TcpStream>),
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tcp(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tcp(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_flush(cx),
            Conn::Tcp(s) => Pin::new(s).poll_flush(cx),
        }
    }

    /// Half-closes the write side (so an attached container sees EOF on
    /// stdin while its output can still be read).
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tcp(s) => Pin::new(s).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Unix(s) => s.is_write_vectored(),
            Conn::Tcp(s) => s.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_hosts() {
        assert_eq!(
            Endpoint::parse("").unwrap(),
            Endpoint::Unix("/var/run/pouchd.sock".into())
        );
        assert_eq!(
            Endpoint::parse("unix:///tmp/p.sock").unwrap(),
            Endpoint::Unix("/tmp/p.sock".into())
        );
        assert_eq!(
            Endpoint::parse("/tmp/p.sock").unwrap(),
            Endpoint::Unix("/tmp/p.sock".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:2376").unwrap(),
            Endpoint::Tcp("127.0.0.1:2376".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://localhost").unwrap(),
            Endpoint::Tcp("localhost:2375".into())
        );
        assert_eq!(
            Endpoint::parse("http://[::1]:80/").unwrap(),
            Endpoint::Tcp("[::1]:80".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://[::1]").unwrap(),
            Endpoint::Tcp("[::1]:2375".into())
        );
        for bad in [
            "unix://",
            "ssh://x",
            "tcp://",
            "tcp://h:x",
            "tcp://h:",
            "tcp://h/p",
            "x",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Endpoint::parse("tcp://h:1").unwrap().base_url(),
            "http://h:1"
        );
    }
}
