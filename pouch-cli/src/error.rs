//! How a command fails: a message for stderr (if any) and an exit code,
//! as the docker CLI's `StatusError`.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// `-D`: errors show their underlying causes.
static DEBUG: AtomicBool = AtomicBool::new(false);

pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

/// The error's message; with `-D`, followed by its chain of causes.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    if DEBUG.load(Ordering::Relaxed) {
        let mut source = e.source();
        while let Some(s) = source {
            msg.push_str(&format!("\n  caused by: {s}"));
            source = s.source();
        }
    }
    msg
}

/// A failed command: `status` is printed to stderr, `code` is the exit
/// code. `status: None` exits quietly (e.g. `run` passing on the
/// container's exit code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusError {
    pub status: Option<String>,
    pub code: i32,
}

impl StatusError {
    /// Exit with `code` after printing `msg`.
    pub fn new(code: i32, msg: impl Into<String>) -> Self {
        Self {
            status: Some(msg.into()),
            code,
        }
    }

    /// Exit 1 after printing `msg`.
    pub fn msg(msg: impl Into<String>) -> Self {
        Self::new(1, msg)
    }

    /// Exit with `code`, printing nothing.
    pub fn code(code: i32) -> Self {
        Self { status: None, code }
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.status {
            Some(s) => write!(f, "{s}"),
            None => write!(f, "exit status {}", self.code),
        }
    }
}

impl From<pouch_client::Error> for StatusError {
    fn from(e: pouch_client::Error) -> Self {
        Self::msg(describe(&e))
    }
}

impl From<std::io::Error> for StatusError {
    fn from(e: std::io::Error) -> Self {
        Self::msg(e.to_string())
    }
}

impl From<String> for StatusError {
    fn from(e: String) -> Self {
        Self::msg(e)
    }
}

/// Result of a command.
pub type CmdResult = Result<(), StatusError>;

/// Gather the errors of a command run on several objects (`rm a b c`):
/// docker prints the successes as it goes and all errors at the end, one
/// per line, exiting 1.
#[derive(Debug, Default)]
pub struct Errors(Vec<String>);

impl Errors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, e: impl fmt::Display) {
        self.0.push(e.to_string());
    }

    pub fn into_result(self) -> CmdResult {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(StatusError::msg(self.0.join("\n")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_errors() {
        let mut e = Errors::new();
        assert_eq!(Errors::new().into_result(), Ok(()));
        e.push("Error response from daemon: No such container: a");
        e.push("Error response from daemon: No such container: b");
        let err = e.into_result().unwrap_err();
        assert_eq!(err.code, 1);
        assert_eq!(
            err.to_string(),
            "Error response from daemon: No such container: a\n\
             Error response from daemon: No such container: b"
        );
        assert_eq!(StatusError::code(3).status, None);
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such socket");
        let connect = pouch_client::Error::Connect {
            host: "unix:///x".into(),
            source: Box::new(io),
        };
        assert!(!StatusError::from(connect).to_string().contains("caused by"));
        let api = pouch_client::Error::from_response(404, br#"{"message":"No such image: x"}"#);
        assert_eq!(
            StatusError::from(api).to_string(),
            "Error response from daemon: No such image: x"
        );
    }
}
