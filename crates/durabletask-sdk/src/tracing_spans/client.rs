//! Spans of the client's calls that start work elsewhere (producer spans): `signal_entity:{entity}:{operation}`
//! and `create_orchestration:{name}`. Their context becomes the request's `parentTraceContext`.

use super::{span_name, SPAN_TARGET};

/// The span of signalling `operation` to the entity `instance_id`, a child of the caller's current span.
pub fn signal_entity_span(instance_id: &str, operation: &str) -> tracing::Span {
    let entity_name = super::entity_name(instance_id);
    tracing::info_span!(
        target: SPAN_TARGET,
        "signal_entity",
        otel.name = format!("signal_entity:{entity_name}:{operation}"),
        otel.kind = "producer",
        "durabletask.type" = "signal_entity",
        "durabletask.task.name" = entity_name,
        "durabletask.task.instance_id" = instance_id,
        "durabletask.entity.operation" = operation,
    )
}

/// The span of scheduling a new instance of the orchestration `name`, a child of the caller's current span.
pub fn create_orchestration_span(name: &str, version: Option<&str>, instance_id: &str) -> tracing::Span {
    tracing::info_span!(
        target: SPAN_TARGET,
        "create_orchestration",
        otel.name = span_name("create_orchestration", name, version),
        otel.kind = "producer",
        "durabletask.type" = "orchestration",
        "durabletask.task.name" = name,
        "durabletask.task.version" = version.unwrap_or(""),
        "durabletask.task.instance_id" = instance_id,
    )
}
