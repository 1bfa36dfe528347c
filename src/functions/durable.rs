//! The Durable Functions triggers: orchestrator, entity and activity invocations, run through the SDK's
//! executors. The payloads are base64 protobuf (orchestrators, entities) or JSON text (activities).

use durabletask::activity::{run_activity, ActivityContext};
use durabletask::entity::execute_entity_batch;
use durabletask::functions::{InvokeRequest, InvokeResponse};
use durabletask::orchestration::execute_orchestrator;
use serde_json::Value;

use crate::app::AppState;
use crate::error::AppError;

/// The trigger binding name of the orchestrator and entity functions (`function.json`).
pub const CONTEXT_BINDING: &str = "context";
/// The trigger binding name of the activity functions.
pub const ACTIVITY_BINDING: &str = "input";

/// Runs one orchestration episode. Orchestrator failures are reported inside the response (a FAILED completion),
/// never as a non-2xx, which would fail the instance with a useless message.
pub fn orchestrator(state: &AppState, request: &InvokeRequest) -> Result<InvokeResponse, AppError> {
    let work = request.orchestrator_request(CONTEXT_BINDING)?;
    let response = execute_orchestrator(&state.registry, &work);
    Ok(InvokeResponse::durable(&response))
}

/// Runs one entity batch; every operation gets its own result, failures included.
pub fn entity(state: &AppState, request: &InvokeRequest) -> Result<InvokeResponse, AppError> {
    let batch = request.entity_batch_request(CONTEXT_BINDING)?;
    let result = execute_entity_batch(&state.registry, &batch);
    Ok(InvokeResponse::durable(&result))
}

/// Runs one activity: its result is the return value, and what it set for output bindings goes to `Outputs`.
/// A failure answers 500, which the extension records as a failed task for the orchestration's retry policy.
pub async fn activity(state: &AppState, function: &str, request: &InvokeRequest) -> Result<InvokeResponse, AppError> {
    let input = request.activity_input(ACTIVITY_BINDING)?;
    let instance_id = request.metadata_string("instanceId")?.unwrap_or_default();
    let context = ActivityContext::new(instance_id, -1, function);
    let outcome = run_activity(&state.registry, context.clone(), input).await;
    match outcome {
        Ok(result) => {
            let return_value = match result {
                Some(json) => serde_json::from_str(&json).unwrap_or(Value::String(json)),
                None => Value::Null,
            };
            let mut answer = InvokeResponse::new().with_return_value(return_value);
            for (binding, value) in context.take_outputs() {
                answer = answer.with_output(binding, value);
            }
            Ok(answer)
        }
        Err(details) => Err(AppError::Activity {
            name: function.to_string(),
            message: details.to_string(),
        }),
    }
}
