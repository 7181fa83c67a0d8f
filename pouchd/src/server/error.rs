//! The one place where error kinds become HTTP statuses, in Docker's shape:
//! `{"message": "..."}`.

use crate::error::Error;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::InvalidParameter(_) => StatusCode::BAD_REQUEST,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::NotModified(_) => StatusCode::NOT_MODIFIED,
        Error::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::System(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = status_of(&self);
        if status == StatusCode::NOT_MODIFIED {
            // A 304 carries no body.
            return status.into_response();
        }
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, %status, "request refused");
        }
        let body = pouch_api::ErrorResponse {
            message: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}
