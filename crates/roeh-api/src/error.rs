//! The one place where error kinds become HTTP statuses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roeh_domain::ErrorKind;

/// An error leaving the API.
#[derive(Debug)]
pub struct ApiError {
    kind: ErrorKind,
    message: String,
}

impl ApiError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }

    /// What went wrong, in words.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// 400.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::InvalidArgument, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::NotFound, message)
    }

    /// A refused JSON body: 413 when over the size limit, else 400 with the parser's message.
    pub fn body(e: axum::extract::rejection::JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorKind::ResourceExhausted, "request body too large")
        } else {
            ApiError::invalid(e.body_text())
        }
    }

    fn status(&self) -> StatusCode {
        status_of(self.kind)
    }
}

/// The HTTP status an error of `kind` answers with (the login limiter alone answers
/// `ResourceExhausted` with 429 instead of 413).
pub(crate) fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::AlreadyExists | ErrorKind::FailedPrecondition => StatusCode::CONFLICT,
        ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::ResourceExhausted => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        // Internal details stay in the log; the client gets the kind and a short message.
        let message = if status.is_server_error() {
            tracing::warn!(kind = %self.kind, error = %self.message, "Request failed.");
            match self.kind {
                // A peer that did not answer in time: the message names the peer and the limit.
                ErrorKind::DeadlineExceeded => self.message,
                ErrorKind::Unavailable => "temporarily unavailable".to_string(),
                _ => "internal error".to_string(),
            }
        } else {
            self.message
        };
        let body =
            serde_json::json!({ "error": { "kind": self.kind.as_str(), "message": message } });
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"roeh\""),
            );
        }
        resp
    }
}

impl From<roeh_store::Error> for ApiError {
    fn from(e: roeh_store::Error) -> Self {
        ApiError::new(e.kind(), e.chain())
    }
}

impl From<roeh_domain::Error> for ApiError {
    fn from(e: roeh_domain::Error) -> Self {
        ApiError::new(e.kind(), e.message())
    }
}

impl From<roeh_outbound::Error> for ApiError {
    fn from(e: roeh_outbound::Error) -> Self {
        ApiError::new(e.kind(), e.message())
    }
}

impl From<roeh_mp4::Error> for ApiError {
    fn from(e: roeh_mp4::Error) -> Self {
        ApiError::new(e.kind(), e.chain())
    }
}

impl From<roeh_alerts::Error> for ApiError {
    fn from(e: roeh_alerts::Error) -> Self {
        ApiError::new(e.kind(), e.message())
    }
}
