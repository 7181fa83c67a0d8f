//! A tiny HTTP/1.1 client over a unix socket, for requests that API clients
//! refuse to send (malformed bodies, odd versions) and for checking the exact
//! status and error body of a response.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// A complete response (the body is read until the server closes).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}): status {} body {:?}",
                self.status,
                self.text()
            )
        })
    }

    /// The `message` of a Docker-style error body `{"message": "..."}`;
    /// panics when the body has another shape.
    pub fn message(&self) -> String {
        let v = self.json();
        match v.get("message").and_then(|m| m.as_str()) {
            Some(m) => m.to_string(),
            None => panic!(
                "error body without a string \"message\": status {} body {}",
                self.status, v
            ),
        }
    }

    /// Asserts the status and that the body is a Docker error object with a
    /// non-empty message; returns the message.
    #[track_caller]
    pub fn expect_error(&self, status: u16) -> String {
        assert_eq!(
            self.status,
            status,
            "expected status {status}, got {} with body {:?}",
            self.status,
            self.text()
        );
        if let Some(ct) = self.header("content-type") {
            assert!(
                ct.starts_with("application/json"),
                "error response content type is {ct:?}, body {:?}",
                self.text()
            );
        }
        let m = self.message();
        assert!(!m.trim().is_empty(), "empty error message");
        m
    }
}

/// Sends one request (`Connection: close`) and reads the whole response.
pub fn request(
    sock: &Path,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> std::io::Result<Response> {
    let mut s = UnixStream::connect(sock)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    s.set_write_timeout(Some(Duration::from_secs(120)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: pouch-tests\r\nConnection: close\r\n");
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    match s.write_all(body).and_then(|()| s.flush()) {
        Ok(()) => {}
        // The server may refuse a request on its head alone (a 400 for a bad
        // query) and close before it read the body; its answer is there to
        // read, as HTTP clients do.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ) => {}
        Err(e) => return Err(e),
    }
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => {}
        // The server may answer and reset before it read all of a body it refused.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !raw.is_empty() => {}
        Err(e) => return Err(e),
    }
    parse(&raw)
}

/// A response whose body is read while it arrives (events, stats, follow):
/// the status and headers are parsed, the (possibly chunked) body is read
/// line by line. Dropping it closes the connection.
pub struct Streaming {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    stream: UnixStream,
    chunked: bool,
    /// Raw bytes read but not decoded yet (chunk framing).
    raw: Vec<u8>,
    /// Decoded body bytes not consumed yet.
    body: Vec<u8>,
    /// Bytes left in the current chunk (chunked bodies).
    chunk_left: usize,
    eof: bool,
}

/// Sends a request without a body and returns once the response head has
/// arrived (within `limit`); the body is then read with [`Streaming`].
pub fn open_stream(
    sock: &Path,
    method: &str,
    path: &str,
    limit: Duration,
) -> std::io::Result<Streaming> {
    let mut s = UnixStream::connect(sock)?;
    s.set_write_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: pouch-tests\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes())?;
    let deadline = std::time::Instant::now() + limit;
    let mut raw = Vec::new();
    let end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no response head for {method} {path} within {limit:?}"),
            ));
        }
        s.set_read_timeout(Some(left))?;
        let mut buf = [0u8; 8192];
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Err(invalid(format!(
                "connection closed before the response head: {:?}",
                String::from_utf8_lossy(&raw)
            )));
        }
        raw.extend_from_slice(&buf[..n]);
    };
    // Reuse the parser for the head.
    let parsed = parse(&raw[..end + 4])?;
    let chunked = parsed.headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    Ok(Streaming {
        status: parsed.status,
        headers: parsed.headers,
        stream: s,
        chunked,
        raw: raw[end + 4..].to_vec(),
        body: Vec::new(),
        chunk_left: 0,
        eof: false,
    })
}

impl Streaming {
    /// Moves complete data from `raw` to `body`; sets `eof` at the last chunk.
    fn decode(&mut self) -> std::io::Result<()> {
        if !self.chunked {
            self.body.append(&mut self.raw);
            return Ok(());
        }
        loop {
            if self.chunk_left > 0 {
                let take = self.chunk_left.min(self.raw.len());
                if take == 0 {
                    return Ok(());
                }
                self.body.extend(self.raw.drain(..take));
                self.chunk_left -= take;
                continue;
            }
            // Between chunks: optional CRLF after data, then "size\r\n".
            if self.raw.starts_with(b"\r\n") {
                self.raw.drain(..2);
            }
            let Some(eol) = self.raw.windows(2).position(|w| w == b"\r\n") else {
                return Ok(());
            };
            if eol == 0 {
                self.raw.drain(..2);
                continue;
            }
            let line = String::from_utf8_lossy(&self.raw[..eol]).to_string();
            let size_str = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_str, 16)
                .map_err(|_| invalid(format!("bad chunk size {size_str:?}")))?;
            self.raw.drain(..eol + 2);
            if size == 0 {
                self.eof = true;
                return Ok(());
            }
            self.chunk_left = size;
        }
    }

    /// Reads more bytes, waiting until `deadline`; false when nothing came
    /// (end of stream or deadline).
    fn fill(&mut self, deadline: std::time::Instant) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut buf = [0u8; 16384];
        match self.stream.read(&mut buf) {
            Ok(0) => {
                self.eof = true;
                Ok(false)
            }
            Ok(n) => {
                self.raw.extend_from_slice(&buf[..n]);
                self.decode()?;
                Ok(true)
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// The next line of the body (without its newline); `None` when the
    /// stream ended or nothing complete arrived within `limit`.
    pub fn next_line(&mut self, limit: Duration) -> std::io::Result<Option<String>> {
        let deadline = std::time::Instant::now() + limit;
        self.decode()?;
        loop {
            if let Some(i) = self.body.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.body.drain(..=i).collect();
                return Ok(Some(
                    String::from_utf8_lossy(&line[..line.len() - 1]).into_owned(),
                ));
            }
            if !self.fill(deadline)? {
                return Ok(None);
            }
        }
    }

    /// True once the server ended the body (or closed the connection).
    pub fn ended(&self) -> bool {
        self.eof
    }
}

fn invalid(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// Parses a complete raw HTTP/1.1 response (chunked or not).
pub fn parse(raw: &[u8]) -> std::io::Result<Response> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            invalid(format!(
                "no header end in {:?}",
                String::from_utf8_lossy(raw)
            ))
        })?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|e| invalid(e.to_string()))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        rest[..len.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            // Truncated stream: keep what we have.
            return Ok(out);
        };
        let size_str = std::str::from_utf8(&data[..eol]).map_err(|e| invalid(e.to_string()))?;
        let size_str = size_str.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_str, 16)
            .map_err(|_| invalid(format!("bad chunk size {size_str:?}")))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let take = size.min(data.len());
        out.extend_from_slice(&data[..take]);
        data = &data[take..];
        if data.starts_with(b"\r\n") {
            data = &data[2..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chunked_and_plain() {
        let r = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"abcde");
        let r = parse(b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.body, b"{}");
        assert_eq!(r.header("Content-Length"), Some("2"));
    }
}
