//! The load client: HTTP/1.1 over a unix socket with hyper 1, one
//! keep-alive connection per `Conn`; requests on a `Conn` are sequential.
//!
//! Every path gets the `/v1.41` prefix, so both daemons serve the same API
//! version. The hijacked exec stream uses a fresh connection, as the docker
//! CLI does.

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http::{header, Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;

/// API version used for every request.
pub const API: &str = "/v1.41";
/// No single request of the bench takes this long unless a daemon hangs.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// A response whose body was read completely.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "response is not JSON: {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(200)])
            )
        })
    }

    /// Fails with the status and body unless the status is one of `ok`.
    pub fn expect(self, what: &str, ok: &[u16]) -> Result<Resp> {
        if ok.contains(&self.status) {
            return Ok(self);
        }
        bail!(
            "{what}: HTTP {} {}",
            self.status,
            String::from_utf8_lossy(&self.body[..self.body.len().min(400)]).trim()
        )
    }
}

async fn handshake(sock: &Path) -> Result<SendRequest<Full<Bytes>>> {
    let stream = UnixStream::connect(sock)
        .await
        .with_context(|| format!("connect {}", sock.display()))?;
    let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    Ok(tx)
}

fn request(
    method: Method,
    path: &str,
    body: Option<Bytes>,
    ctype: &str,
) -> Result<Request<Full<Bytes>>> {
    let mut b = Request::builder()
        .method(method)
        .uri(format!("{API}{path}"))
        .header(header::HOST, "docker")
        .header(header::USER_AGENT, "pouch-bench");
    let body = match body {
        Some(bytes) => {
            b = b.header(header::CONTENT_TYPE, ctype);
            bytes
        }
        None => Bytes::new(),
    };
    Ok(b.body(Full::new(body))?)
}

/// One keep-alive connection to a daemon's API socket.
pub struct Conn {
    sock: PathBuf,
    tx: SendRequest<Full<Bytes>>,
}

impl Conn {
    pub async fn connect(sock: &Path) -> Result<Conn> {
        Ok(Conn {
            sock: sock.to_path_buf(),
            tx: handshake(sock).await?,
        })
    }

    async fn send(&mut self, req: Request<Full<Bytes>>) -> Result<Response<Incoming>> {
        if self.tx.ready().await.is_err() {
            // The daemon closed the idle connection (or it broke): reconnect once.
            self.tx = handshake(&self.sock).await?;
            self.tx.ready().await?;
        }
        Ok(self.tx.send_request(req).await?)
    }

    /// Sends a request and reads the whole response body.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        ctype: &str,
    ) -> Result<Resp> {
        let req = request(method.clone(), path, body, ctype)?;
        let fut = async {
            let resp = self.send(req).await?;
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await?.to_bytes();
            Ok::<_, anyhow::Error>(Resp { status, body })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut)
            .await
            .map_err(|_| anyhow!("{method} {path}: no answer in {REQUEST_TIMEOUT:?}"))?
    }

    pub async fn get(&mut self, path: &str) -> Result<Resp> {
        self.call(Method::GET, path, None, "").await
    }

    pub async fn delete(&mut self, path: &str) -> Result<Resp> {
        self.call(Method::DELETE, path, None, "").await
    }

    pub async fn post(&mut self, path: &str, body: Option<&Value>) -> Result<Resp> {
        let body = body.map(|v| Bytes::from(v.to_string()));
        self.call(Method::POST, path, body, "application/json")
            .await
    }

    /// GET whose body is only counted, never held: returns (status, bytes).
    pub async fn get_count(&mut self, path: &str) -> Result<(u16, u64)> {
        let req = request(Method::GET, path, None, "")?;
        let fut = async {
            let resp = self.send(req).await?;
            let status = resp.status().as_u16();
            let mut body = resp.into_body();
            let mut n = 0u64;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame?.into_data() {
                    n += data.len() as u64;
                }
            }
            Ok::<_, anyhow::Error>((status, n))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut)
            .await
            .map_err(|_| anyhow!("GET {path}: no answer in {REQUEST_TIMEOUT:?}"))?
    }
}

/// POSTs `body` with `Upgrade: tcp` on a fresh connection (as `docker exec`
/// and `docker attach` do) and reads the raw stream until the daemon closes
/// it. Returns the number of stream bytes. A daemon that answers 200 instead
/// of 101 gets its body read to the end.
pub async fn hijack(sock: &Path, path: &str, body: &Value) -> Result<u64> {
    let mut tx = handshake(sock).await?;
    let mut req = request(
        Method::POST,
        path,
        Some(Bytes::from(body.to_string())),
        "application/json",
    )?;
    req.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("Upgrade"),
    );
    req.headers_mut()
        .insert(header::UPGRADE, header::HeaderValue::from_static("tcp"));
    let fut = async {
        tx.ready().await?;
        let resp = tx.send_request(req).await?;
        match resp.status().as_u16() {
            101 => {
                let upgraded = hyper::upgrade::on(resp).await?;
                let mut io = TokioIo::new(upgraded);
                let mut buf = vec![0u8; 64 * 1024];
                let mut n = 0u64;
                loop {
                    let k = io.read(&mut buf).await?;
                    if k == 0 {
                        break;
                    }
                    n += k as u64;
                }
                Ok(n)
            }
            200 => Ok(resp.into_body().collect().await?.to_bytes().len() as u64),
            s => {
                let b = resp.into_body().collect().await?.to_bytes();
                bail!(
                    "POST {path}: HTTP {s} {}",
                    String::from_utf8_lossy(&b).trim()
                )
            }
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, fut)
        .await
        .map_err(|_| anyhow!("POST {path} (hijacked): no end in {REQUEST_TIMEOUT:?}"))?
}
