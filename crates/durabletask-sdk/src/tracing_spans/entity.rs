//! The span of one entity operation, `entity:{entity}:{operation}` (server), and the trace context of the
//! signals and orchestration starts it makes.

use tracing::field::Empty;

use super::context::{current_trace_context, parent_from_proto, set_parent};
use super::SPAN_TARGET;
use crate::proto;
use crate::proto::operation_action::OperationActionType;
use crate::proto::operation_result::ResultType;

/// The span of `operation` on the entity `instance_id` (`@name@key`), parented on the operation's
/// `traceContext` (what the client or orchestration that signalled it wrote). Enter it while the operation runs:
/// the actions the operation records take it as their parent.
pub fn operation_span(instance_id: &str, operation: &proto::OperationRequest) -> tracing::Span {
    let entity_name = super::entity_name(instance_id);
    let span = tracing::info_span!(
        target: SPAN_TARGET,
        "entity",
        otel.name = Empty,
        otel.kind = "server",
        otel.status_code = Empty,
        otel.status_message = Empty,
        "durabletask.type" = "entity",
        "durabletask.task.name" = entity_name,
        "durabletask.task.instance_id" = instance_id,
        "durabletask.entity.operation" = operation.operation.as_str(),
    );
    // Named only when someone listens: a batch runs one span per operation, and without a subscriber (tracing's
    // `log` compatibility then records every field) formatting the name was a third of an operation's cost.
    if !span.is_disabled() {
        span.record("otel.name", format!("entity:{entity_name}:{}", operation.operation));
        set_parent(&span, parent_from_proto(operation.trace_context.as_ref()));
    }
    span
}

/// Marks `span` as an error when the operation failed.
pub fn record_result(span: &tracing::Span, result: &proto::OperationResult) {
    if let Some(ResultType::Failure(failure)) = &result.result_type {
        span.record("otel.status_code", "ERROR");
        if let Some(details) = &failure.failure_details {
            span.record("otel.status_message", details.error_type.as_str());
        }
    }
}

/// Gives an action recorded by the running operation the current span (the operation's) as its parent, unless
/// it names one already.
pub(crate) fn stamp_action(action: &mut OperationActionType) {
    let slot = match action {
        OperationActionType::SendSignal(signal) => &mut signal.parent_trace_context,
        OperationActionType::StartNewOrchestration(start) => &mut start.parent_trace_context,
    };
    if slot.is_none() {
        *slot = current_trace_context();
    }
}
