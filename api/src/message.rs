//! Streamed JSON progress messages (Go: `jsonmessage.JSONMessage`), as sent
//! by `POST /images/load`, `POST /images/create` (pull), push and build:
//! a sequence of JSON objects, usually one per line.

use serde::{Deserialize, Serialize};

use crate::de::{is_zero, null_default};

/// Error carried inside a message stream.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct JsonError {
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_zero")]
    pub code: i64,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub message: String,
}

/// Progress counters of a message.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct JsonProgress {
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_zero")]
    pub current: i64,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_zero")]
    pub total: i64,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_zero")]
    pub start: i64,
    #[serde(
        rename = "hidecounts",
        deserialize_with = "null_default",
        skip_serializing_if = "crate::de::is_false"
    )]
    pub hide_counts: bool,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub units: String,
}

/// One message of a JSON progress stream. Every field is optional on the
/// wire; empty ones are omitted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct JsonMessage {
    /// Free text output, e.g. `"Loaded image: busybox:latest\n"`.
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub stream: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub status: String,
    #[serde(rename = "progressDetail", skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<JsonProgress>,
    /// Pre-rendered progress bar (deprecated by Docker, still sent).
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub progress: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub id: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub from: String,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_zero")]
    pub time: i64,
    #[serde(
        rename = "timeNano",
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero"
    )]
    pub time_nano: i64,
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<JsonError>,
    /// Error text (deprecated by Docker in favour of `errorDetail`, still
    /// sent alongside it).
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub error: String,
    /// Out-of-band data, e.g. `{"ID": "sha256:..."}` after a build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux: Option<serde_json::Value>,
}

impl JsonMessage {
    /// A message with only `stream` set.
    pub fn stream(text: impl Into<String>) -> Self {
        Self {
            stream: text.into(),
            ..Self::default()
        }
    }

    /// An error message, with both `errorDetail` and `error` set as Docker
    /// does.
    pub fn error(message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            error_detail: Some(JsonError {
                code: 0,
                message: message.clone(),
            }),
            error: message,
            ..Self::default()
        }
    }

    /// The error this message carries, if any (`errorDetail.message`
    /// first, then `error`).
    pub fn error_message(&self) -> Option<&str> {
        match &self.error_detail {
            Some(d) if !d.message.is_empty() => Some(&d.message),
            _ if !self.error.is_empty() => Some(&self.error),
            Some(_) => Some(""),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_message() {
        let m = JsonMessage::stream("Loaded image: busybox:latest\n");
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(s, r#"{"stream":"Loaded image: busybox:latest\n"}"#);
        assert_eq!(serde_json::from_str::<JsonMessage>(&s).unwrap(), m);
        assert_eq!(m.error_message(), None);
    }

    #[test]
    fn error_message() {
        let m = JsonMessage::error("unexpected EOF");
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(
            s,
            r#"{"errorDetail":{"message":"unexpected EOF"},"error":"unexpected EOF"}"#
        );
        let back: JsonMessage = serde_json::from_str(r#"{"error":"boom"}"#).unwrap();
        assert_eq!(back.error_message(), Some("boom"));
    }

    #[test]
    fn progress() {
        let m: JsonMessage = serde_json::from_str(
            r#"{"status":"Loading layer","progressDetail":{"current":32768,"total":1454080},"progress":"[>   ]","id":"abc"}"#,
        )
        .unwrap();
        assert_eq!(m.progress_detail.unwrap().total, 1454080);
    }
}
