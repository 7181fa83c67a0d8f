//! The daemon's one error type. Each variant is a kind that the server maps to
//! an HTTP status in exactly one place (`server::error`).

use std::fmt::Display;

/// Result alias used across pouchd.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Error kinds of pouchd, in Docker's vocabulary (moby's errdefs).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or names an impossible setting (400).
    #[error("{0}")]
    InvalidParameter(String),
    /// The object does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The operation is never allowed on this object: removing a built-in
    /// network (403).
    #[error("{0}")]
    Forbidden(String),
    /// The object's state forbids the operation, or a name is taken (409).
    #[error("{0}")]
    Conflict(String),
    /// Nothing to do: start of a started container, stop of a stopped one (304).
    #[error("{0}")]
    NotModified(String),
    /// The operation exists in the API but not in this configuration (501).
    #[error("{0}")]
    NotImplemented(String),
    /// containerd or another dependency is not reachable (503).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: the daemon failed (500).
    #[error("{0}")]
    System(String),
}

impl Error {
    pub fn invalid(msg: impl Display) -> Self {
        Error::InvalidParameter(msg.to_string())
    }
    pub fn not_found(msg: impl Display) -> Self {
        Error::NotFound(msg.to_string())
    }
    pub fn conflict(msg: impl Display) -> Self {
        Error::Conflict(msg.to_string())
    }
    pub fn system(msg: impl Display) -> Self {
        Error::System(msg.to_string())
    }
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound(_))
    }
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict(_))
    }

    /// Prefixes the message with context while keeping the kind.
    pub fn context(self, ctx: impl Display) -> Self {
        let wrap = |m: String| format!("{ctx}: {m}");
        match self {
            Error::InvalidParameter(m) => Error::InvalidParameter(wrap(m)),
            Error::NotFound(m) => Error::NotFound(wrap(m)),
            Error::Forbidden(m) => Error::Forbidden(wrap(m)),
            Error::Conflict(m) => Error::Conflict(wrap(m)),
            Error::NotModified(m) => Error::NotModified(wrap(m)),
            Error::NotImplemented(m) => Error::NotImplemented(wrap(m)),
            Error::Unavailable(m) => Error::Unavailable(wrap(m)),
            Error::System(m) => Error::System(wrap(m)),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::System(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::System(format!("json: {e}"))
    }
}

/// containerd's gRPC codes, classified by code and never by message text.
impl From<tonic::Status> for Error {
    fn from(s: tonic::Status) -> Self {
        let msg = s.message().to_string();
        match s.code() {
            tonic::Code::NotFound => Error::NotFound(msg),
            tonic::Code::AlreadyExists | tonic::Code::FailedPrecondition => Error::Conflict(msg),
            tonic::Code::InvalidArgument => Error::InvalidParameter(msg),
            tonic::Code::Unavailable => Error::Unavailable(format!("containerd: {msg}")),
            _ => Error::System(msg),
        }
    }
}
