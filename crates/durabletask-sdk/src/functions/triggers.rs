//! Ready-made handling of the three Durable Functions triggers: decode the invocation, run the executor, encode
//! the answer the extension expects. A custom handler routes `POST /{FunctionName}` to one of these.

use serde_json::Value;

use super::{EnvelopeError, FailureKind, InvokeRequest, InvokeResponse};
use crate::activity::{run_activity, ActivityContext};
use crate::entity::execute_entity_batch;
use crate::failure::FailureDetails;
use crate::orchestration::execute_orchestrator;
use crate::registry::Registry;
use crate::tracing_spans::activity;
use tracing::Instrument as _;

/// Runs one orchestration episode from an `orchestrationTrigger` invocation whose trigger binding is `binding`.
///
/// Orchestrator failures are inside the answer (a FAILED completion), so the handler answers 200 even then; only an
/// unreadable or empty payload is an error (a [`FailureKind::BadRequest`]: answer it with a 400).
pub fn handle_orchestrator(
    registry: &Registry,
    request: &InvokeRequest,
    binding: &str,
) -> Result<InvokeResponse, EnvelopeError> {
    let work = request.orchestrator_request(binding)?;
    let response = crate::tracing_spans::orchestration::run_episode(&work, || execute_orchestrator(registry, &work));
    Ok(InvokeResponse::durable(&response))
}

/// Runs one entity batch from an `entityTrigger` invocation whose trigger binding is `binding`.
pub fn handle_entity(
    registry: &Registry,
    request: &InvokeRequest,
    binding: &str,
) -> Result<InvokeResponse, EnvelopeError> {
    let batch = request.entity_batch_request(binding)?;
    Ok(InvokeResponse::durable(&execute_entity_batch(
        registry,
        &batch,
        chrono::Utc::now(),
    )))
}

/// Why an activity invocation did not succeed. Either way the extension records a failed task for the
/// orchestration's retry policy; [`kind`](Self::kind) says which status to answer with.
#[derive(Debug, thiserror::Error)]
pub enum ActivityInvocationError {
    /// The request is malformed: the trigger binding is missing or not the JSON text of an input.
    #[error("activity '{name}': {source}")]
    BadRequest {
        /// The activity (function) name.
        name: String,
        /// What could not be read.
        #[source]
        source: EnvelopeError,
    },
    /// The activity ran and failed (or could not decode its input into its input type).
    #[error("activity '{name}' failed: {details}")]
    Failed {
        /// The activity (function) name.
        name: String,
        /// What it reported.
        details: FailureDetails,
    },
}

impl ActivityInvocationError {
    /// [`FailureKind::BadRequest`] for a malformed request, [`FailureKind::HandlerFailed`] for a failed activity.
    pub fn kind(&self) -> FailureKind {
        match self {
            ActivityInvocationError::BadRequest { .. } => FailureKind::BadRequest,
            ActivityInvocationError::Failed { .. } => FailureKind::HandlerFailed,
        }
    }
}

/// Runs the activity registered as `function` from an `activityTrigger` invocation whose trigger binding is
/// `binding`: the result becomes `ReturnValue` (a natural JSON value) and values the activity set with
/// [`ActivityContext::set_output`] become `Outputs`.
pub async fn handle_activity(
    registry: &Registry,
    function: &str,
    request: &InvokeRequest,
    binding: &str,
) -> Result<InvokeResponse, ActivityInvocationError> {
    let bad_request = |source| ActivityInvocationError::BadRequest {
        name: function.to_string(),
        source,
    };
    let input = request.activity_input(binding).map_err(bad_request)?;
    let instance_id = request
        .metadata_string("instanceId")
        .map_err(bad_request)?
        .unwrap_or_default();
    let context = ActivityContext::new(instance_id.clone(), -1, function);
    let span = activity::activity_span(function, &instance_id, -1, activity::invocation_parent());
    let result = run_activity(registry, context.clone(), input)
        .instrument(span.clone())
        .await
        .map_err(|details| {
            activity::record_failure(&span, &details.error_type);
            ActivityInvocationError::Failed {
                name: function.to_string(),
                details,
            }
        })?;
    let return_value = match result {
        Some(json) => serde_json::from_str(&json).unwrap_or(Value::String(json)),
        None => Value::Null,
    };
    let mut answer = InvokeResponse::new().with_return_value(return_value);
    for (output, json) in context.take_outputs() {
        answer = answer.with_serialized_output(output, json);
    }
    Ok(answer)
}
