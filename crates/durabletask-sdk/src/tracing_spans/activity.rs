//! The span of one activity execution, `activity:{name}` (server).

use std::future::Future;

use opentelemetry::Context;
use tracing::field::Empty;

use super::context::{parent_from_proto, parse_traceparent, set_parent};
use super::{span_name, SPAN_TARGET};
use crate::proto;
use opentelemetry::trace::TraceContextExt as _;

/// The span of the activity `name` of the orchestration `instance_id` (task `task_id`, `-1` when unknown),
/// parented on `parent`. Run the activity inside it (`tracing::Instrument`).
pub fn activity_span(name: &str, instance_id: &str, task_id: i32, parent: Option<Context>) -> tracing::Span {
    let span = tracing::info_span!(
        target: SPAN_TARGET,
        "activity",
        otel.name = span_name("activity", name, None),
        otel.kind = "server",
        otel.status_code = Empty,
        otel.status_message = Empty,
        "durabletask.type" = "activity",
        "durabletask.task.name" = name,
        "durabletask.task.instance_id" = instance_id,
        "durabletask.task.task_id" = task_id,
    );
    set_parent(&span, parent);
    span
}

/// The parent of an activity a gRPC engine sends: its `parentTraceContext`.
pub fn parent_of_request(request: &proto::ActivityRequest) -> Option<Context> {
    parent_from_proto(request.parent_trace_context.as_ref())
}

/// The parent an invocation's W3C headers name (under Functions, the host's `traceparent` of the activity's
/// execution, whose own parent is the orchestration episode that scheduled it).
pub fn parent_of_headers(traceparent: Option<&str>, tracestate: Option<&str>) -> Option<Context> {
    let span = parse_traceparent(traceparent?, tracestate)?;
    Some(Context::new().with_remote_span_context(span))
}

/// Marks `span` as an error (the activity failed with `error_type`).
pub fn record_failure(span: &tracing::Span, error_type: &str) {
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_message", error_type);
}

tokio::task_local! {
    static INVOCATION_PARENT: Option<Context>;
}

/// Runs `work` (one invocation from the Functions host) with the parent its W3C `traceparent` / `tracestate`
/// headers name: an activity it runs takes it as its parent (the protocol gives a Functions activity no trace
/// context of its own).
pub async fn with_invocation_headers<F: Future>(
    traceparent: Option<&str>,
    tracestate: Option<&str>,
    work: F,
) -> F::Output {
    INVOCATION_PARENT
        .scope(parent_of_headers(traceparent, tracestate), work)
        .await
}

/// The parent the current invocation's headers name (see [`with_invocation_headers`]).
pub fn invocation_parent() -> Option<Context> {
    INVOCATION_PARENT.try_with(Clone::clone).ok().flatten()
}
