//! The HTTP face of the handler: the axum router the Functions host talks to.
//!
//! `GET /` answers readiness probes. `POST /{FunctionName}` is one invocation; the function's trigger kind (from
//! [`FUNCTIONS`]) picks the code that serves it, so another Service Bus source is one more folder and one more
//! line in the table.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use durabletask_sdk::functions::{InvokeRequest, InvokeResponse};
use http_body_util::BodyExt as _;

use crate::allocator;
use crate::error::AppError;
use crate::function_folders::TriggerKind;
use crate::functions;
use crate::state::AppState;

/// Every function this handler serves, with its trigger kind. Checked against the function folders at start-up.
pub const FUNCTIONS: &[(&str, TriggerKind)] = &[
    ("ServiceBusTrigger", TriggerKind::ServiceBus),
    ("EntityFunction", TriggerKind::Entity),
    ("Orchestrator", TriggerKind::Orchestration),
    ("PublishNotification", TriggerKind::Activity),
    ("PublishAlert", TriggerKind::Activity),
    ("PublishInvalidEvent", TriggerKind::Activity),
    ("PurgeTimer", TriggerKind::Timer),
    ("ReturnStatus", TriggerKind::Http),
    ("ResendEvents", TriggerKind::Http),
    ("RedriveNotification", TriggerKind::Http),
];

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

/// The router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(ready))
        .route("/{function}", post(invoke))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn ready() -> &'static str {
    "ready"
}

async fn invoke(
    State(state): State<AppState>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (answer, body_bytes) = match read_body(&headers, body, MAX_INVOCATION_BYTES).await {
        Ok(body) => {
            let length = body.len();
            (dispatch(&state, &function, body).await, length)
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
async fn dispatch(state: &AppState, function: &str, body: Vec<u8>) -> Result<InvokeResponse, AppError> {
    let kind = FUNCTIONS
        .iter()
        .find(|(name, _)| *name == function)
        .map(|(_, kind)| *kind)
        .ok_or_else(|| AppError::UnknownFunction(function.to_string()))?;
    let request = InvokeRequest::from_slice(&body)?;
    drop(body);
    match kind {
        TriggerKind::ServiceBus => functions::service_bus::handle(state, request).await,
        TriggerKind::Entity => functions::durable::entity(state, &request),
        TriggerKind::Orchestration => functions::durable::orchestrator(state, &request),
        TriggerKind::Activity => functions::durable::activity(state, function, &request).await,
        TriggerKind::Timer => functions::purge::handle(state, &request).await,
        TriggerKind::Http if function == "ResendEvents" => functions::resend::handle(state, &request).await,
        TriggerKind::Http if function == "RedriveNotification" => functions::redrive::handle(state, &request).await,
        TriggerKind::Http => functions::status::handle(state, &request).await,
    }
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
