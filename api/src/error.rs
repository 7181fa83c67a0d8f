//! The error body Docker returns with every 4xx/5xx status.

use serde::{Deserialize, Serialize};

/// `{"message": "..."}` (note the lowercase key, as Docker).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ErrorResponse {
    #[serde(deserialize_with = "crate::de::null_default")]
    pub message: String,
}

impl ErrorResponse {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let e = ErrorResponse::new("No such container: x");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"message":"No such container: x"}"#
        );
        let back: ErrorResponse = serde_json::from_str(r#"{"message":"boom"}"#).unwrap();
        assert_eq!(back.message, "boom");
    }
}
