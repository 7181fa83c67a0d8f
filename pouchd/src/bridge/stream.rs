//! Streaming endpoints: logs and attach (HTTP upgrade to a raw stream).

use super::State;
use crate::error::{Error, Result};
use crate::mgr::container::{
    parse_detach_keys, AttachStreams, LogsOptions, OutputChunk, StdinEnd, StreamKind,
};
use crate::server::params::Params;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request};
use axum::http::{header, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};

const RAW: &str = "application/vnd.docker.raw-stream";
const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";

/// Docker's stream framing: `[stream, 0, 0, 0, len as u32 big-endian]` + data.
pub fn frame(kind: StreamKind, data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(8 + data.len());
    out.extend_from_slice(&frame_header(kind, data.len()));
    out.extend_from_slice(data);
    Bytes::from(out)
}

fn frame_header(kind: StreamKind, len: usize) -> [u8; 8] {
    let kind = match kind {
        StreamKind::Stdout => 1,
        StreamKind::Stderr => 2,
    };
    let len = (len as u32).to_be_bytes();
    [kind, 0, 0, 0, len[0], len[1], len[2], len[3]]
}

/// `seconds[.fraction]` as the docker CLI sends it (nanosecond digits). Not
/// through f64: 19 significant digits do not fit its mantissa, and a time
/// rounded up would drop the very line it was taken from.
fn unix_time(v: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().ok()?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    chrono::DateTime::from_timestamp(secs, nanos)
}

/// `since`/`until`: Unix seconds with optional fraction, or RFC 3339.
pub(super) fn parse_time(v: Option<&str>) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    let Some(v) = v.filter(|v| !v.is_empty() && *v != "0") else {
        return Ok(None);
    };
    if let Some(t) = unix_time(v) {
        return Ok(Some(t));
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| Some(t.with_timezone(&chrono::Utc)))
        .map_err(|_| Error::invalid(format!("invalid time value: {v:?}")))
}

pub async fn logs(state: State, Path(id): Path<String>, RawQuery(q): RawQuery) -> Result<Response> {
    let p = Params::parse(q.as_deref());
    let tail = match p.str("tail") {
        None | Some("") | Some("all") => None,
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| Error::invalid(format!("invalid tail value: {n:?}")))?,
        ),
    };
    let opts = LogsOptions {
        follow: p.bool("follow"),
        stdout: p.bool("stdout"),
        stderr: p.bool("stderr"),
        since: parse_time(p.str("since"))?,
        until: parse_time(p.str("until"))?,
        timestamps: p.bool("timestamps"),
        tail,
    };
    let timestamps = opts.timestamps;
    let (tty, rx) = state.containers.logs(&id, opts)?;
    // A batch of entries goes out as one HTTP chunk: one chunk per line
    // would cost more than the lines themselves.
    let body = tokio_stream::wrappers::ReceiverStream::new(rx).map(move |batch| {
        let size = batch.iter().map(|e| e.line.len() + e.time.len() + 9).sum();
        let mut out = Vec::with_capacity(size);
        for e in batch {
            let len = e.line.len() + if timestamps { e.time.len() + 1 } else { 0 };
            if !tty {
                out.extend_from_slice(&frame_header(e.stream, len));
            }
            if timestamps {
                out.extend_from_slice(e.time.as_bytes());
                out.push(b' ');
            }
            out.extend_from_slice(&e.line);
        }
        Ok::<_, std::convert::Infallible>(Bytes::from(out))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, if tty { RAW } else { MULTIPLEXED })
        .body(Body::from_stream(body))
        .map_err(|e| Error::system(e.to_string()))
}

/// Which output streams the client wants.
#[derive(Clone, Copy)]
pub(super) struct Wanted {
    pub stdout: bool,
    pub stderr: bool,
}

impl Wanted {
    fn encode(self, tty: bool, kind: StreamKind, data: &[u8]) -> Option<Bytes> {
        let ok = match kind {
            StreamKind::Stdout => self.stdout,
            StreamKind::Stderr => self.stderr,
        };
        ok.then(|| {
            if tty {
                Bytes::copy_from_slice(data)
            } else {
                frame(kind, data)
            }
        })
    }
}

/// Pumps live output to `w` until the process's streams close or the client goes.
async fn pump_output<W: AsyncWrite + Unpin>(streams: &mut AttachStreams, want: Wanted, w: &mut W) {
    loop {
        match streams.output.recv().await {
            Some(OutputChunk::Data(kind, data)) => {
                if let Some(bytes) = want.encode(streams.tty, kind, &data) {
                    if w.write_all(&bytes).await.is_err() || w.flush().await.is_err() {
                        return;
                    }
                }
            }
            Some(OutputChunk::End) | None => {
                if let Some(exited) = streams.exited.as_mut() {
                    let _ = exited.wait_for(|done| *done).await;
                }
                break;
            }
        }
    }
    let _ = w.shutdown().await;
}

pub async fn attach(
    state: State,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    req: Request,
) -> Result<Response> {
    let p = Params::parse(q.as_deref());
    let want = Wanted {
        stdout: p.bool("stdout"),
        stderr: p.bool("stderr"),
    };
    let detach_keys = parse_detach_keys(p.str("detachKeys").unwrap_or(""))?;
    // Subscribe before answering, so no output after this point is missed.
    let streams = state.containers.attach(&id)?;
    let stdin = if p.bool("stdin") {
        Some((state.containers.attach(&id)?, detach_keys))
    } else {
        None
    };
    hijack(state, req, streams, stdin, want, p.bool("stream"))
}

/// Answers an attach-like request: with `Upgrade: tcp`, switches protocols and
/// runs output (and stdin, when given) over the raw connection; without it,
/// streams output as the response body.
pub(super) fn hijack(
    state: State,
    mut req: Request,
    mut streams: AttachStreams,
    stdin: Option<(AttachStreams, Vec<u8>)>,
    want: Wanted,
    stream: bool,
) -> Result<Response> {
    let content_type = if streams.tty { RAW } else { MULTIPLEXED };
    let wants_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"tcp"));
    if wants_upgrade {
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(u) => hyper_util::rt::TokioIo::new(u),
                Err(e) => {
                    tracing::warn!(error = %e, "attach upgrade failed");
                    return;
                }
            };
            let (rd, mut wr) = tokio::io::split(upgraded);
            let (detached_tx, detached) = tokio::sync::oneshot::channel::<()>();
            if let Some((f, keys)) = stdin {
                let mgr = state.containers.clone();
                tokio::spawn(async move {
                    if mgr.feed_stdin(&f, rd, &keys).await == StdinEnd::Detached {
                        let _ = detached_tx.send(());
                    }
                });
            }
            if stream {
                tokio::select! {
                    _ = pump_output(&mut streams, want, &mut wr) => {}
                    Ok(()) = detached => { let _ = wr.shutdown().await; }
                }
            }
        });
        return Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "tcp")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::empty())
            .map_err(|e| Error::system(e.to_string()));
    }
    // Without an upgrade: output only, as a streamed body.
    let (tx, rx) = tokio::io::duplex(64 * 1024);
    if stream {
        tokio::spawn(async move {
            let mut tx = tx;
            pump_output(&mut streams, want, &mut tx).await
        });
    }
    let body = tokio_util_stream(rx);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .map_err(|e| Error::system(e.to_string()))
}

fn tokio_util_stream(rx: tokio::io::DuplexStream) -> Body {
    let s = futures::stream::unfold(rx, |mut rx| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 32 * 1024];
        match rx.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::convert::Infallible>(Bytes::from(buf)), rx))
            }
        }
    });
    Body::from_stream(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_docker_header() {
        let f = frame(StreamKind::Stderr, b"hi\n");
        assert_eq!(&f[..8], &[2, 0, 0, 0, 0, 0, 0, 3]);
        assert_eq!(&f[8..], b"hi\n");
    }

    #[test]
    fn times_parse_both_forms() {
        assert_eq!(parse_time(Some("10.5")).unwrap().unwrap().timestamp(), 10);
        assert!(parse_time(Some("2024-01-01T00:00:00Z")).unwrap().is_some());
        assert!(parse_time(Some("yesterday")).is_err());
        assert!(parse_time(None).unwrap().is_none());
    }

    #[test]
    fn unix_times_keep_every_nanosecond() {
        let t = parse_time(Some("1795324433.425347307")).unwrap().unwrap();
        assert_eq!(t.timestamp(), 1795324433);
        assert_eq!(t.timestamp_subsec_nanos(), 425347307);
        let t = parse_time(Some("10.5")).unwrap().unwrap();
        assert_eq!(t.timestamp_subsec_nanos(), 500_000_000);
        assert!(parse_time(Some("10.1234567890")).is_err());
        assert!(parse_time(Some("10.-5")).is_err());
    }
}
