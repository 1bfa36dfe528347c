//! The span of one orchestration episode, `orchestration:{name}` (server), and the trace context of the actions
//! the episode adds.

use std::sync::OnceLock;

use opentelemetry::metrics::Counter;
use opentelemetry::KeyValue;
use tracing::field::Empty;

use super::context::{lower_hex, parent_from_proto, set_parent, span_context_of, to_proto};
use super::{span_name, SPAN_TARGET};
use crate::proto;
use crate::proto::history_event::EventType;
use crate::proto::orchestrator_action::OrchestratorActionType as Action;

/// Runs one episode (`run`, the executor over `request`) inside its span, parented on the instance's
/// `executionStarted.parentTraceContext`, and writes the span's context into the `parentTraceContext` of the
/// activities and sub-orchestrations the episode schedules (only new actions: replay adds nothing). A FAILED
/// completion marks the span as an error.
///
/// The response carries the request's `orchestrationTraceContext` back (or this episode's span id and start, on
/// the first episode) so that engines keeping it see the same orchestration span across episodes.
pub fn run_episode(
    request: &proto::OrchestratorRequest,
    run: impl FnOnce() -> proto::OrchestratorResponse,
) -> proto::OrchestratorResponse {
    let started = execution_started(request);
    let name = started.map_or("", |started| started.name.as_str());
    let version = started.and_then(|started| started.version.as_deref());
    let execution_id = request.execution_id.as_deref().unwrap_or("");
    let span = tracing::info_span!(
        target: SPAN_TARGET,
        "orchestration",
        otel.name = span_name("orchestration", name, version),
        otel.kind = "server",
        otel.status_code = Empty,
        otel.status_message = Empty,
        "durabletask.type" = "orchestration",
        "durabletask.task.name" = name,
        "durabletask.task.version" = version.unwrap_or(""),
        "durabletask.task.instance_id" = request.instance_id.as_str(),
        "durabletask.task.execution_id" = execution_id,
        "durabletask.task.status" = Empty,
    );
    set_parent(
        &span,
        parent_from_proto(started.and_then(|started| started.parent_trace_context.as_ref())),
    );
    let mut response = span.in_scope(run);
    if let Some(span_context) = span_context_of(&span) {
        let context = to_proto(&span_context);
        for action in &mut response.actions {
            match &mut action.orchestrator_action_type {
                Some(Action::ScheduleTask(task)) if task.parent_trace_context.is_none() => {
                    task.parent_trace_context = Some(context.clone());
                }
                Some(Action::CreateSubOrchestration(sub)) if sub.parent_trace_context.is_none() => {
                    sub.parent_trace_context = Some(context.clone());
                }
                _ => {}
            }
        }
        if response.orchestration_trace_context.is_none() {
            response.orchestration_trace_context = request.orchestration_trace_context.clone().or_else(|| {
                Some(proto::OrchestrationTraceContext {
                    span_id: Some(lower_hex(&span_context.span_id().to_bytes())),
                    span_start_time: Some(crate::time::to_timestamp(chrono::Utc::now())),
                })
            });
        }
    }
    record_completion(&span, name, &response);
    response
}

/// The OpenTelemetry metric name of orchestrations that failed (by `orchestration`), on the meter
/// `Microsoft.DurableTask` of the global meter provider (nothing is counted without one).
pub const FAILED_METRIC: &str = "durabletask.orchestrations.failed";

fn failed_counter() -> &'static Counter<u64> {
    static COUNTER: OnceLock<Counter<u64>> = OnceLock::new();
    COUNTER.get_or_init(|| {
        opentelemetry::global::meter(super::TRACER_NAME)
            .u64_counter(FAILED_METRIC)
            .with_description("orchestrations that ended FAILED")
            .build()
    })
}

/// The instance's `executionStarted` event (in the past events, or new on the first episode).
fn execution_started(request: &proto::OrchestratorRequest) -> Option<&proto::ExecutionStartedEvent> {
    request
        .past_events
        .iter()
        .chain(&request.new_events)
        .find_map(|event| match &event.event_type {
            Some(EventType::ExecutionStarted(started)) => Some(started.as_ref()),
            _ => None,
        })
}

fn record_completion(span: &tracing::Span, name: &str, response: &proto::OrchestratorResponse) {
    let completion = response
        .actions
        .iter()
        .find_map(|action| match &action.orchestrator_action_type {
            Some(Action::CompleteOrchestration(done)) => Some(done),
            _ => None,
        });
    let Some(done) = completion else { return };
    let status = proto::OrchestrationStatus::try_from(done.orchestration_status)
        .map(|status| status.as_str_name().trim_start_matches("ORCHESTRATION_STATUS_"))
        .unwrap_or("UNKNOWN");
    span.record("durabletask.task.status", status);
    if status == "FAILED" {
        failed_counter().add(1, &[KeyValue::new("orchestration", name.to_owned())]);
        span.record("otel.status_code", "ERROR");
        if let Some(details) = &done.failure_details {
            span.record("otel.status_message", details.error_type.as_str());
        }
    }
}
