//! Streamed response bodies: Docker's multiplexed stdout/stderr frames
//! (logs, attach) and JSON message streams (image load).

use std::pin::Pin;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::stream::{self, Stream, StreamExt};
use pouch_api::JsonMessage;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::{Error, Result};

/// Which output stream a chunk belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

/// A piece of container output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    pub stream: StreamKind,
    pub data: Bytes,
}

/// Container output, demultiplexed (or raw stdout for TTY containers).
pub type LogStream = Pin<Box<dyn Stream<Item = Result<LogChunk>> + Send>>;

/// Messages of a JSON progress stream. A message carrying an error ends
/// the stream with [`Error::Stream`].
pub type JsonMessageStream = Pin<Box<dyn Stream<Item = Result<JsonMessage>> + Send>>;

/// Length of the header that precedes each frame of a multiplexed stream:
/// `[stream, 0, 0, 0, len (u32 big endian)]`.
pub const FRAME_HEADER_LEN: usize = 8;

/// Encode one multiplexed frame (stream id 1 = stdout, 2 = stderr).
pub fn encode_frame(stream: StreamKind, data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(FRAME_HEADER_LEN + data.len());
    out.put_u8(match stream {
        StreamKind::Stdout => 1,
        StreamKind::Stderr => 2,
    });
    out.put_bytes(0, 3);
    // Frames longer than 4 GiB cannot be expressed; callers chunk data.
    out.put_u32(u32::try_from(data.len()).unwrap_or(u32::MAX));
    out.put_slice(&data[..data.len().min(u32::MAX as usize)]);
    out.freeze()
}

/// Incremental decoder of Docker's multiplexed stream format (what Go's
/// `stdcopy.StdCopy` reads). Feed bytes with [`push`](Self::push), take
/// complete frames with [`next_chunk`](Self::next_chunk).
#[derive(Debug, Default)]
pub struct FrameDemuxer {
    buf: BytesMut,
}

impl FrameDemuxer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Append received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes received but not yet returned as a chunk.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, or `Ok(None)` until more bytes arrive.
    /// Stream ids 0 (stdin) and 1 map to stdout, 2 to stderr; a
    /// system-error frame (3) is returned as [`Error::Stream`] with its
    /// text, and any other id as [`Error::Protocol`]. Empty frames are
    /// skipped.
    pub fn next_chunk(&mut self) -> Result<Option<LogChunk>> {
        loop {
            if self.buf.len() < FRAME_HEADER_LEN {
                return Ok(None);
            }
            let id = self.buf[0];
            // Check the stream id as soon as the header is in, so raw (TTY)
            // output is reported instead of waiting for a bogus length.
            let stream = match id {
                0 | 1 => Some(StreamKind::Stdout),
                2 => Some(StreamKind::Stderr),
                3 => None,
                other => {
                    return Err(Error::Protocol(format!(
                        "unrecognized stream id {other} in multiplexed output \
                         (is the container a TTY?)"
                    )))
                }
            };
            let len = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]);
            let len = len as usize;
            if self.buf.len() - FRAME_HEADER_LEN < len {
                return Ok(None);
            }
            self.buf.advance(FRAME_HEADER_LEN);
            let data = self.buf.split_to(len).freeze();
            let Some(stream) = stream else {
                return Err(Error::Stream(
                    String::from_utf8_lossy(&data).trim_end().to_string(),
                ));
            };
            if !data.is_empty() {
                return Ok(Some(LogChunk { stream, data }));
            }
        }
    }
}

/// Incremental decoder of a stream of concatenated JSON messages.
#[derive(Debug, Default)]
pub struct JsonStreamDecoder {
    buf: BytesMut,
}

impl JsonStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Append received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete message, or `Ok(None)` until more bytes arrive.
    pub fn next_message(&mut self) -> Result<Option<JsonMessage>> {
        let (item, consumed) = {
            let mut it = serde_json::Deserializer::from_slice(&self.buf).into_iter::<JsonMessage>();
            let item = it.next();
            (item, it.byte_offset())
        };
        match item {
            None => {
                self.buf.clear();
                Ok(None)
            }
            Some(Ok(msg)) => {
                self.buf.advance(consumed);
                Ok(Some(msg))
            }
            Some(Err(e)) if e.is_eof() => Ok(None),
            Some(Err(e)) => Err(Error::Decode(e)),
        }
    }

    /// Call at end of input: fails if a partial message is left.
    pub fn finish(&self) -> Result<()> {
        if self.buf.iter().all(u8::is_ascii_whitespace) {
            Ok(())
        } else {
            Err(Error::Protocol(
                "JSON message stream ended in the middle of a message".into(),
            ))
        }
    }
}

/// Boxed stream of body bytes (a tar archive, an export, ...).
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// A stream of JSON values of one type (stats samples, events).
pub type JsonStream<T> = Pin<Box<dyn Stream<Item = Result<T>> + Send>>;

/// Turn raw output into a [`LogStream`]: demultiplexed frames, or (TTY)
/// every byte as stdout.
pub(crate) fn log_stream(inner: ByteStream, tty: bool) -> LogStream {
    if tty {
        return Box::pin(inner.filter_map(|item| async move {
            match item {
                Ok(data) if data.is_empty() => None,
                Ok(data) => Some(Ok(LogChunk {
                    stream: StreamKind::Stdout,
                    data,
                })),
                Err(e) => Some(Err(e)),
            }
        }));
    }
    let state = (inner, FrameDemuxer::new(), false);
    Box::pin(stream::unfold(
        state,
        |(mut inner, mut demux, done)| async move {
            if done {
                return None;
            }
            loop {
                match demux.next_chunk() {
                    Ok(Some(chunk)) => return Some((Ok(chunk), (inner, demux, false))),
                    Err(e) => return Some((Err(e), (inner, demux, true))),
                    Ok(None) => {}
                }
                match inner.next().await {
                    Some(Ok(data)) => demux.push(&data),
                    Some(Err(e)) => return Some((Err(e), (inner, demux, true))),
                    // A truncated last frame is dropped, as Go's stdcopy does.
                    None => return None,
                }
            }
        },
    ))
}

/// Turn a body into a [`JsonMessageStream`]. A message with an error ends
/// the stream with `Err(Error::Stream(message))`.
pub(crate) fn json_message_stream(inner: ByteStream) -> JsonMessageStream {
    let state = (inner, JsonStreamDecoder::new(), false);
    Box::pin(stream::unfold(
        state,
        |(mut inner, mut dec, done)| async move {
            if done {
                return None;
            }
            loop {
                match dec.next_message() {
                    Ok(Some(msg)) => {
                        let item = match msg.error_message() {
                            Some(err) => {
                                let err = if err.is_empty() { "unknown error" } else { err };
                                return Some((
                                    Err(Error::Stream(err.to_string())),
                                    (inner, dec, true),
                                ));
                            }
                            None => Ok(msg),
                        };
                        return Some((item, (inner, dec, false)));
                    }
                    Err(e) => return Some((Err(e), (inner, dec, true))),
                    Ok(None) => {}
                }
                match inner.next().await {
                    Some(Ok(data)) => dec.push(&data),
                    Some(Err(e)) => return Some((Err(e), (inner, dec, true))),
                    None => {
                        return match dec.finish() {
                            Ok(()) => None,
                            Err(e) => Some((Err(e), (inner, dec, true))),
                        }
                    }
                }
            }
        },
    ))
}

/// Decode a body made of concatenated (usually newline-delimited) JSON
/// values of type `T`. A value that does not decode ends the stream with
/// [`Error::Decode`]; a partial value at the end with [`Error::Protocol`].
pub(crate) fn json_stream<T>(inner: ByteStream) -> JsonStream<T>
where
    T: DeserializeOwned + Send + 'static,
{
    fn next_value<T: DeserializeOwned>(buf: &mut BytesMut) -> Result<Option<T>> {
        let (item, consumed) = {
            let mut it = serde_json::Deserializer::from_slice(buf).into_iter::<T>();
            let item = it.next();
            (item, it.byte_offset())
        };
        match item {
            None => {
                buf.clear();
                Ok(None)
            }
            Some(Ok(v)) => {
                buf.advance(consumed);
                Ok(Some(v))
            }
            Some(Err(e)) if e.is_eof() => Ok(None),
            Some(Err(e)) => Err(Error::Decode(e)),
        }
    }
    let state = (inner, BytesMut::new(), false);
    Box::pin(stream::unfold(
        state,
        |(mut inner, mut buf, done)| async move {
            if done {
                return None;
            }
            loop {
                match next_value::<T>(&mut buf) {
                    Ok(Some(v)) => return Some((Ok(v), (inner, buf, false))),
                    Err(e) => return Some((Err(e), (inner, buf, true))),
                    Ok(None) => {}
                }
                match inner.next().await {
                    Some(Ok(data)) => buf.extend_from_slice(&data),
                    Some(Err(e)) => return Some((Err(e), (inner, buf, true))),
                    None => {
                        if buf.iter().all(u8::is_ascii_whitespace) {
                            return None;
                        }
                        return Some((
                            Err(Error::Protocol(
                                "JSON stream ended in the middle of a value".into(),
                            )),
                            (inner, buf, true),
                        ));
                    }
                }
            }
        },
    ))
}

/// Read an `AsyncRead` as a stream of byte chunks.
pub(crate) fn reader_stream<R>(reader: R) -> impl Stream<Item = std::io::Result<Bytes>> + Send
where
    R: AsyncRead + Send + 'static,
{
    stream::unfold((Box::pin(reader), false), |(mut r, done)| async move {
        if done {
            return None;
        }
        let mut buf = BytesMut::with_capacity(32 * 1024);
        match r.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(buf.freeze()), (r, false))),
            Err(e) => Some((Err(e), (r, true))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(stream: StreamKind, s: &str) -> LogChunk {
        LogChunk {
            stream,
            data: Bytes::copy_from_slice(s.as_bytes()),
        }
    }

    #[test]
    fn demux_whole_frames() {
        let mut d = FrameDemuxer::new();
        d.push(&encode_frame(StreamKind::Stdout, b"hello\n"));
        d.push(&encode_frame(StreamKind::Stderr, b"oops\n"));
        assert_eq!(
            d.next_chunk().unwrap(),
            Some(chunk(StreamKind::Stdout, "hello\n"))
        );
        assert_eq!(
            d.next_chunk().unwrap(),
            Some(chunk(StreamKind::Stderr, "oops\n"))
        );
        assert_eq!(d.next_chunk().unwrap(), None);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn demux_byte_by_byte() {
        let mut all = Vec::new();
        all.extend_from_slice(&encode_frame(StreamKind::Stdout, b"abc"));
        all.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]); // empty frame: skipped
        all.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2, b'i', b'n']); // stdin id
        all.extend_from_slice(&encode_frame(StreamKind::Stderr, &[0xff; 300]));
        let mut d = FrameDemuxer::new();
        let mut got = Vec::new();
        for b in all {
            d.push(&[b]);
            while let Some(c) = d.next_chunk().unwrap() {
                got.push(c);
            }
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], chunk(StreamKind::Stdout, "abc"));
        assert_eq!(got[1], chunk(StreamKind::Stdout, "in"));
        assert_eq!(got[2].stream, StreamKind::Stderr);
        assert_eq!(got[2].data.len(), 300);
    }

    #[test]
    fn demux_errors() {
        let mut d = FrameDemuxer::new();
        d.push(&[3, 0, 0, 0, 0, 0, 0, 4]);
        d.push(b"fail");
        match d.next_chunk() {
            Err(Error::Stream(m)) => assert_eq!(m, "fail"),
            other => panic!("unexpected {other:?}"),
        }
        let mut d = FrameDemuxer::new();
        d.push(b"plain tty output");
        assert!(matches!(d.next_chunk(), Err(Error::Protocol(_))));
    }

    #[test]
    fn demux_partial_header() {
        let mut d = FrameDemuxer::new();
        d.push(&[2, 0, 0, 0, 0, 0]);
        assert_eq!(d.next_chunk().unwrap(), None);
        d.push(&[0, 1, b'x']);
        assert_eq!(
            d.next_chunk().unwrap(),
            Some(chunk(StreamKind::Stderr, "x"))
        );
    }

    fn bytes_stream(parts: Vec<&'static [u8]>) -> ByteStream {
        Box::pin(stream::iter(
            parts.into_iter().map(|p| Ok(Bytes::from_static(p))),
        ))
    }

    #[tokio::test]
    async fn log_stream_modes() {
        let f1 = encode_frame(StreamKind::Stdout, b"out");
        let f2 = encode_frame(StreamKind::Stderr, b"err");
        let mut both = f1.to_vec();
        both.extend_from_slice(&f2);
        let leaked: &'static [u8] = Box::leak(both.into_boxed_slice());
        let (a, b) = leaked.split_at(5);
        let got: Vec<_> = log_stream(bytes_stream(vec![a, b]), false)
            .collect::<Vec<_>>()
            .await;
        let got: Vec<LogChunk> = got.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(
            got,
            vec![
                chunk(StreamKind::Stdout, "out"),
                chunk(StreamKind::Stderr, "err")
            ]
        );

        let got: Vec<_> = log_stream(bytes_stream(vec![b"raw ", b"", b"tty"]), true)
            .collect::<Vec<_>>()
            .await;
        let got: Vec<LogChunk> = got.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(
            got,
            vec![
                chunk(StreamKind::Stdout, "raw "),
                chunk(StreamKind::Stdout, "tty")
            ]
        );
    }

    #[test]
    fn json_decoder_split_messages() {
        let mut d = JsonStreamDecoder::new();
        d.push(br#"{"stream":"Loaded ima"#);
        assert!(d.next_message().unwrap().is_none());
        d.push(b"ge: busybox:latest\\n\"}\r\n{\"status\":\"x\"}{\"id\"");
        assert_eq!(
            d.next_message().unwrap().unwrap().stream,
            "Loaded image: busybox:latest\n"
        );
        assert_eq!(d.next_message().unwrap().unwrap().status, "x");
        assert!(d.next_message().unwrap().is_none());
        assert!(d.finish().is_err());
        d.push(br#":"a"}  "#);
        assert_eq!(d.next_message().unwrap().unwrap().id, "a");
        assert!(d.next_message().unwrap().is_none());
        assert!(d.finish().is_ok());
        d.push(b"garbage");
        assert!(matches!(d.next_message(), Err(Error::Decode(_))));
    }

    #[tokio::test]
    async fn json_stream_surfaces_errors() {
        let body = bytes_stream(vec![
            b"{\"stream\":\"ok\\n\"}\n",
            b"{\"errorDetail\":{\"message\":\"bad tar\"},\"error\":\"bad tar\"}\n",
            b"{\"stream\":\"never\"}\n",
        ]);
        let items: Vec<_> = json_message_stream(body).collect().await;
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_ref().unwrap().stream, "ok\n");
        match &items[1] {
            Err(Error::Stream(m)) => assert_eq!(m, "bad tar"),
            other => panic!("unexpected {other:?}"),
        }

        let truncated = bytes_stream(vec![b"{\"stream\":"]);
        let items: Vec<_> = json_message_stream(truncated).collect().await;
        assert!(matches!(items.as_slice(), [Err(Error::Protocol(_))]));
    }

    #[tokio::test]
    async fn json_values_split_across_chunks() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct V {
            n: u32,
        }
        let body = bytes_stream(vec![b"{\"n\":1}\n{\"n\"", b":2}\n", b"\n{\"n\":3}"]);
        let got: Vec<V> = json_stream::<V>(body).map(|r| r.unwrap()).collect().await;
        assert_eq!(got, vec![V { n: 1 }, V { n: 2 }, V { n: 3 }]);
        let items: Vec<_> = json_stream::<V>(bytes_stream(vec![b"{\"n\":"]))
            .collect()
            .await;
        assert!(matches!(items.as_slice(), [Err(Error::Protocol(_))]));
        let items: Vec<_> = json_stream::<V>(bytes_stream(vec![b"{\"n\":\"x\"}"]))
            .collect()
            .await;
        assert!(matches!(items.as_slice(), [Err(Error::Decode(_))]));
    }

    #[tokio::test]
    async fn reads_reader() {
        let data: &'static [u8] = b"some tar bytes";
        let chunks: Vec<_> = reader_stream(data).collect().await;
        let all: Vec<u8> = chunks
            .into_iter()
            .flat_map(|c| c.unwrap().to_vec())
            .collect();
        assert_eq!(all, data);
    }
}
