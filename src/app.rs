//! The HTTP face of the handler: the axum router the Functions host talks to.
//!
//! `GET /` answers readiness probes. `POST /{FunctionName}` is one invocation, served by the app model
//! ([`crate::function_app`]: the registry for durable triggers, the app's handlers for the others). The router
//! adds what the SDK's own router does not: the invocation body limit (413 naming it), body-read timeouts, and
//! memory handed back after large invocations.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

use durabletask_sdk::functions::{FunctionApp, InvokeRequest, InvokeResponse};
use http_body_util::BodyExt as _;

use crate::allocator;
use crate::error::AppError;
use crate::function_app::function_app;
use crate::state::AppState;
use crate::telemetry;

/// The largest Service Bus message: 100 MB, the Premium tier's maximum on AMQP (Standard allows 256 KB).
pub const MAX_SERVICE_BUS_MESSAGE_BYTES: usize = 100 * 1024 * 1024;

/// Room for everything in an invocation besides the message: its metadata (application properties, up to 64 KB
/// and sent twice, JSON-escaped) and the durable client binding.
const ENVELOPE_ALLOWANCE_BYTES: usize = 2 * 1024 * 1024;

/// The largest invocation body the handler reads: the largest Service Bus message, base64-encoded as the host
/// sends it for `"dataType": "binary"` (+33 %), and its envelope. 141,907,288 bytes (135.3 MiB); larger bodies are
/// answered 413 naming the limit. Orchestration histories and entity states are far smaller (the domain bounds
/// them).
pub const MAX_INVOCATION_BYTES: usize = MAX_SERVICE_BUS_MESSAGE_BYTES.div_ceil(3) * 4 + ENVELOPE_ALLOWANCE_BYTES;

/// The router over `state`.
///
/// # Panics
///
/// When the app's declarations and its registry disagree, a programming error that
/// `function_app::tests::the_declarations_and_the_registry_agree` rules out; `main` builds the model with
/// [`function_app`] first and reports it as a start-up error.
pub fn app(state: AppState) -> Router {
    let functions = function_app(&state).unwrap_or_else(|error| panic!("{error}"));
    router(Arc::new(functions))
}

/// The router serving `functions`.
pub fn router(functions: Arc<FunctionApp>) -> Router {
    Router::new()
        .route("/", get(ready))
        .route("/{function}", post(invoke))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(functions)
}

async fn ready() -> &'static str {
    "ready"
}

async fn invoke(
    State(functions): State<Arc<FunctionApp>>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (answer, body_bytes) = match read_body(&headers, body, MAX_INVOCATION_BYTES).await {
        Ok(body) => {
            let length = body.len();
            let work = dispatch(&functions, &function, body);
            (telemetry::invocation::scope(&function, &headers, work).await, length)
        }
        Err(error) => (Err(error), 0),
    };
    let response = match answer {
        Ok(answer) => ([(header::CONTENT_TYPE, "application/json")], answer.to_json_bytes()).into_response(),
        Err(error) => error.into_response(),
    };
    allocator::release_free_memory(body_bytes);
    response
}

/// Reads the whole body into one buffer (sized up front when the length is declared), refusing more than `limit`
/// bytes before reading them where it can.
async fn read_body(headers: &HeaderMap, mut body: Body, limit: usize) -> Result<Vec<u8>, AppError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(AppError::TooLarge { limit });
    }
    let mut bytes = Vec::with_capacity(declared.map_or(0, |length| length as usize));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| match error.into_inner() {
            source if source.is::<tower_http::timeout::TimeoutError>() => AppError::BodyStalled,
            source => AppError::BodyUnreadable(source.to_string()),
        })?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > limit {
                return Err(AppError::TooLarge { limit });
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

/// Decodes the envelope (then frees the body) and runs the function.
async fn dispatch(functions: &FunctionApp, function: &str, body: Vec<u8>) -> Result<InvokeResponse, AppError> {
    if functions.definition(function).is_none() {
        return Err(AppError::UnknownFunction(function.to_string()));
    }
    let request = InvokeRequest::from_slice(&body)?;
    drop(body);
    Ok(functions.invoke_request(function, request).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_limit_is_the_largest_service_bus_message_in_base64_and_its_envelope() {
        // The README states this figure.
        assert_eq!(MAX_INVOCATION_BYTES, 141_907_288);
    }
}
