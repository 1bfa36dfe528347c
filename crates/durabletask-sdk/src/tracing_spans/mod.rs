//! Distributed tracing: spans for the SDK's work and W3C trace context in the protocol fields the official
//! Durable Task SDKs use, so that one business operation is one trace across client, entity, orchestration and
//! activities.
//!
//! The spans are [`tracing`] spans carrying the OpenTelemetry names, kinds and attributes of the official SDKs
//! (tracer `Microsoft.DurableTask`, span names `{type}:{name}` such as `orchestration:Greet`, attributes
//! `durabletask.type`, `durabletask.task.name`, `durabletask.task.instance_id`, …). They become OpenTelemetry
//! spans when the application installs a `tracing-opentelemetry` layer. An application that exports nothing
//! installs [`TraceIdsLayer`] instead: the spans get trace and span ids (so trace context still travels) and
//! nothing else. With neither, they cost what a disabled `tracing` span costs and no trace context is written.
//!
//! Where trace context travels:
//!
//! | span | parent read from | context written to |
//! |---|---|---|
//! | `signal_entity:{entity}:{operation}` (client, producer) | the caller's current span | `SignalEntityRequest.parentTraceContext` |
//! | `create_orchestration:{name}` (client, producer) | the caller's current span | `CreateInstanceRequest.parentTraceContext` |
//! | `entity:{entity}:{operation}` (server), one per operation | `OperationRequest.traceContext` | its `SendSignalAction` / `StartNewOrchestrationAction` `parentTraceContext` |
//! | `orchestration:{name}` (server), one per episode | `ExecutionStartedEvent.parentTraceContext` | the episode's new `ScheduleTaskAction` / `CreateSubOrchestrationAction` / `SendEntityMessage` contexts |
//! | `activity:{name}` (server) | `ActivityRequest.parentTraceContext`, or the invocation's `traceparent` header under Functions | — |
//!
//! Replay emits nothing twice: an episode's span covers only that episode, and only the actions it adds (the new
//! ones) get a context.

pub mod activity;
pub mod client;
pub mod context;
pub mod entity;
pub mod ids;
pub mod orchestration;

pub use context::{
    current_trace_context, format_traceparent, hex_ids, ids_of_span, lower_hex, parent_from_proto, parse_traceparent,
    set_parent, span_context_by_id, span_context_of, to_proto, trace_context_of_span,
};
pub use ids::TraceIdsLayer;

/// The OpenTelemetry instrumentation scope of the official SDKs, kept for cross-language consistency.
pub const TRACER_NAME: &str = "Microsoft.DurableTask";

/// The `tracing` target of every span this module makes: filter on it to export only the durable spans.
pub const SPAN_TARGET: &str = "durabletask_sdk::spans";

/// Span attribute names, as the official SDKs spell them.
pub mod attributes {
    /// `orchestration`, `activity`, `entity`, `signal_entity`, `create_orchestration`.
    pub const TYPE: &str = "durabletask.type";
    /// The orchestration, activity or entity name.
    pub const TASK_NAME: &str = "durabletask.task.name";
    /// The orchestration or activity version.
    pub const TASK_VERSION: &str = "durabletask.task.version";
    /// The orchestration or entity instance id.
    pub const INSTANCE_ID: &str = "durabletask.task.instance_id";
    /// The orchestration's execution id.
    pub const EXECUTION_ID: &str = "durabletask.task.execution_id";
    /// The orchestration's status at the end of the episode (when it ended).
    pub const STATUS: &str = "durabletask.task.status";
    /// The activity's sequence number in its orchestration.
    pub const TASK_ID: &str = "durabletask.task.task_id";
    /// The entity operation.
    pub const ENTITY_OPERATION: &str = "durabletask.entity.operation";
}

/// `{kind}:{name}`, or `{kind}:{name}@({version})` when there is a version: the official span names.
pub fn span_name(kind: &str, name: &str, version: Option<&str>) -> String {
    match version.filter(|version| !version.is_empty()) {
        Some(version) => format!("{kind}:{name}@({version})"),
        None => format!("{kind}:{name}"),
    }
}

/// The entity name of an entity instance id (`@name@key`), or the whole id when it is not one.
fn entity_name(instance_id: &str) -> &str {
    instance_id
        .strip_prefix('@')
        .and_then(|rest| rest.split_once('@'))
        .map_or(instance_id, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_names_follow_the_official_sdks() {
        assert_eq!(span_name("orchestration", "Greet", None), "orchestration:Greet");
        assert_eq!(span_name("activity", "Say", Some("2.0")), "activity:Say@(2.0)");
        assert_eq!(span_name("activity", "Say", Some("")), "activity:Say");
    }
}
