//! Errors of the client.

use pouch_api::ErrorResponse;

/// A boxed error from the HTTP or IO layers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to pouchd.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The daemon answered with a 4xx/5xx status. `message` is the
    /// `message` field of Docker's error body (or the raw body text).
    #[error("Error response from daemon: {message}")]
    Api { status: u16, message: String },

    /// The host string given to [`crate::Client::new`] is not usable.
    #[error("invalid host {host:?}: {reason}")]
    InvalidHost { host: String, reason: String },

    /// The connection to the daemon could not be established.
    #[error("Cannot connect to the pouch daemon at {host}. Is the pouch daemon running?")]
    Connect {
        host: String,
        #[source]
        source: BoxError,
    },

    /// The HTTP exchange failed after connecting (connection reset, bad
    /// response framing, ...).
    #[error("error during request: {0}")]
    Transport(#[source] BoxError),

    /// The response body was not the JSON we expected.
    #[error("error decoding response from daemon: {0}")]
    Decode(#[from] serde_json::Error),

    /// An error reported inside a streamed response: an `errorDetail` /
    /// `error` JSON message (image load) or a system-error frame (logs).
    #[error("{0}")]
    Stream(String),

    /// The daemon sent something that breaks the protocol (unknown stream
    /// in a multiplexed stream, attach without upgrade, ...).
    #[error("protocol error: {0}")]
    Protocol(String),

    /// The request could not be built (invalid characters, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// Local IO error (reading a request body, writing stdin).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Build an [`Error::Api`] from an error response's status and body,
    /// the way the Go client does: the body's JSON `message` when there is
    /// one, else the trimmed body text, else the status line.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        let message = match serde_json::from_slice::<ErrorResponse>(body) {
            Ok(e) if !e.message.is_empty() => e.message,
            _ => {
                let text = String::from_utf8_lossy(body).trim().to_string();
                if text.is_empty() {
                    let reason = http::StatusCode::from_u16(status)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("");
                    format!("{status} {reason}").trim_end().to_string()
                } else {
                    text
                }
            }
        };
        Error::Api { status, message }
    }

    /// HTTP status of an [`Error::Api`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The daemon's message of an [`Error::Api`] (without the
    /// "Error response from daemon: " prefix).
    pub fn api_message(&self) -> Option<&str> {
        match self {
            Error::Api { message, .. } => Some(message),
            _ => None,
        }
    }

    /// 404: no such container / image.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// 409: name in use, container running, image in use, ...
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// 400: invalid parameter.
    pub fn is_bad_request(&self) -> bool {
        self.status() == Some(400)
    }

    /// 500 and above.
    pub fn is_server_error(&self) -> bool {
        self.status().is_some_and(|s| s >= 500)
    }

    /// The daemon could not be reached at all.
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Connect { .. })
    }

    pub(crate) fn transport(host: &str, err: hyper_util::client::legacy::Error) -> Self {
        if err.is_connect() {
            Error::Connect {
                host: host.to_string(),
                source: Box::new(err),
            }
        } else {
            Error::Transport(Box::new(err))
        }
    }
}

impl From<hyper::Error> for Error {
    fn from(err: hyper::Error) -> Self {
        Error::Transport(Box::new(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_error_body() {
        let e = Error::from_response(404, br#"{"message":"No such container: foo"}"#);
        assert!(e.is_not_found());
        assert_eq!(e.api_message(), Some("No such container: foo"));
        assert_eq!(
            e.to_string(),
            "Error response from daemon: No such container: foo"
        );
    }

    #[test]
    fn non_json_and_empty_bodies() {
        let e = Error::from_response(500, b"plain failure\n");
        assert!(e.is_server_error());
        assert_eq!(e.api_message(), Some("plain failure"));
        let e = Error::from_response(409, b"");
        assert!(e.is_conflict());
        assert_eq!(e.api_message(), Some("409 Conflict"));
        let e = Error::from_response(400, br#"{"other":1}"#);
        assert!(e.is_bad_request());
        assert_eq!(e.api_message(), Some(r#"{"other":1}"#));
        let e = Error::from_response(599, b"");
        assert_eq!(e.api_message(), Some("599"));
    }

    #[test]
    fn classification() {
        let e = Error::Stream("boom".into());
        assert_eq!(e.status(), None);
        assert!(!e.is_not_found());
        assert!(!e.is_connect());
        assert_eq!(e.to_string(), "boom");
    }
}
