//! How invocation failures become HTTP answers to the Functions host.
//!
//! Any non-2xx answer fails the invocation: the host retries Service Bus messages (then dead-letters them) and
//! logs the failure for other triggers. So only problems worth retrying or keeping are errors here; invalid events
//! are answered 2xx and kept on the invalid-events queue instead (see `functions::service_bus`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use durabletask_sdk::client::ClientError;
use durabletask_sdk::functions::{ActivityInvocationError, EnvelopeError, FailureKind, InvocationError};
use serde_json::json;

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The host sent something the handler cannot read (a protocol problem, not bad business data).
    #[error("the invocation payload could not be read: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The invocation body is larger than the handler reads.
    #[error(
        "the invocation body is larger than the handler's limit of {limit} bytes (a 100 MB Service Bus message, \
         base64-encoded as the host sends it, and its metadata)"
    )]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The invocation body stopped arriving before its end.
    #[error("the invocation body stopped arriving before its end (nothing received within the body-read timeout)")]
    BodyStalled,
    /// The invocation body could not be read (the connection failed).
    #[error("the invocation body could not be read: {0}")]
    BodyUnreadable(String),
    /// The host called a function the handler does not have.
    #[error("no function named '{0}' is served by this handler")]
    UnknownFunction(String),
    /// The durable engine could not be reached or answered with an error; the host should retry.
    #[error("the durable engine call failed: {0}")]
    Engine(#[from] ClientError),
    /// An activity invocation failed, its request malformed (400) or the activity itself (500); either way the
    /// orchestration's retry policy decides what happens next.
    #[error(transparent)]
    Activity(#[from] ActivityInvocationError),
    /// A function of the app model failed: a durable trigger's request could not be read, or a handler's own
    /// failure, classified by its [`FailureKind`].
    #[error(transparent)]
    Invocation(#[from] InvocationError),
}

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            AppError::Envelope(_) | AppError::BodyUnreadable(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::BodyStalled => StatusCode::REQUEST_TIMEOUT,
            AppError::UnknownFunction(_) => StatusCode::NOT_FOUND,
            AppError::Engine(error) if error.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Engine(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Activity(error) => status_of(error.kind()),
            AppError::Invocation(error) => status_of(error.kind()),
        }
    }

    /// Whose fault the failure is, for the SDK's [`InvocationError`]: the kind whose status is this error's
    /// (413 and 408 come from reading the body, before any function runs, and never reach a function).
    pub fn failure_kind(&self) -> FailureKind {
        match self.status() {
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT => {
                FailureKind::BadRequest
            }
            StatusCode::NOT_FOUND => FailureKind::NotFound,
            StatusCode::SERVICE_UNAVAILABLE => FailureKind::Unavailable,
            _ => FailureKind::HandlerFailed,
        }
    }

    /// This failure as the SDK's invocation error: the same message, and the failure kind of the same status.
    pub fn into_invocation_error(self) -> InvocationError {
        match self {
            AppError::Invocation(error) => error,
            other => InvocationError::new(other.failure_kind(), other),
        }
    }
}

/// The status the SDK's classification of a failed invocation asks for.
fn status_of(kind: FailureKind) -> StatusCode {
    StatusCode::from_u16(kind.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        tracing::warn!(status = status.as_u16(), error = %self, "invocation failed");
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}
