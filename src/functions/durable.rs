//! The Durable Functions triggers: orchestrator, entity and activity invocations, run through the SDK's
//! executors. The payloads are base64 protobuf (orchestrators, entities) or JSON text (activities).

use durabletask_sdk::functions::{handle_activity, handle_entity, handle_orchestrator};
use durabletask_sdk::functions::{InvokeRequest, InvokeResponse};

use crate::error::AppError;
use crate::state::AppState;

pub use crate::durable::contract::{ACTIVITY_BINDING, CONTEXT_BINDING};

/// Runs one orchestration episode. Orchestrator failures are reported inside the response (a FAILED completion),
/// never as a non-2xx, which would fail the instance with a useless message.
pub fn orchestrator(state: &AppState, request: &InvokeRequest) -> Result<InvokeResponse, AppError> {
    Ok(handle_orchestrator(&state.registry, request, CONTEXT_BINDING)?)
}

/// Runs one entity batch; every operation gets its own result, failures included.
pub fn entity(state: &AppState, request: &InvokeRequest) -> Result<InvokeResponse, AppError> {
    Ok(handle_entity(&state.registry, request, CONTEXT_BINDING)?)
}

/// Runs one activity: its result is the return value, and what it set for output bindings goes to `Outputs`.
/// A failure answers 500 (400 for a malformed request), which the extension records as a failed task for the
/// orchestration's retry policy.
pub async fn activity(state: &AppState, function: &str, request: &InvokeRequest) -> Result<InvokeResponse, AppError> {
    Ok(handle_activity(&state.registry, function, request, ACTIVITY_BINDING).await?)
}
