//! The SDK's spans and the trace context it writes into the protocol, through a real OpenTelemetry SDK with an
//! in-memory exporter: parents read from the protocol fields, contexts written to the actions, one span per
//! episode and none repeated on replay, errors marked.

use durabletask_sdk::entity::execute_entity_batch;
use durabletask_sdk::orchestration::execute_orchestrator;
use durabletask_sdk::proto::history_event::EventType;
use durabletask_sdk::proto::operation_action::OperationActionType;
use durabletask_sdk::proto::orchestrator_action::OrchestratorActionType as Action;
use durabletask_sdk::testing::history;
use durabletask_sdk::tracing_spans::{self, orchestration::run_episode, parse_traceparent};
use durabletask_sdk::{proto, EntityContext, Error, OrchestrationContext, Registry};
use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt as _;

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const OTHER_PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// Runs `work` with the tracing bridge to an in-memory exporter and returns what it made and the spans.
fn traced<T>(work: impl FnOnce() -> T) -> (T, Vec<SpanData>) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(tracing_spans::TRACER_NAME));
    let subscriber = tracing_subscriber::registry().with(layer);
    let output = tracing::subscriber::with_default(subscriber, work);
    provider.force_flush().expect("flush");
    (output, exporter.get_finished_spans().expect("spans"))
}

fn trace_context(traceparent: &str) -> proto::TraceContext {
    proto::TraceContext {
        trace_parent: traceparent.into(),
        ..Default::default()
    }
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

async fn greet(ctx: OrchestrationContext, name: String) -> Result<String, Error> {
    Ok(ctx.call_activity("SayHello", &name).await?)
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.add_orchestrator("Greet", greet).unwrap();
    registry
        .add_entity("counter", |ctx: &mut EntityContext| {
            match ctx.operation() {
                "start" => {
                    ctx.start_new_orchestration("Greet", &"Ada", Some("greet-1"))?;
                }
                "fail" => return Err(Error::new("Boom", "no")),
                _ => {}
            }
            Ok(None::<()>)
        })
        .unwrap();
    registry
}

fn started_with_parent() -> proto::HistoryEvent {
    let mut started = history::execution_started("Greet", "greet-1", Some("\"Ada\""));
    if let Some(EventType::ExecutionStarted(event)) = &mut started.event_type {
        event.parent_trace_context = Some(trace_context(PARENT));
    }
    started
}

#[test]
fn an_episode_is_one_server_span_under_the_starter_and_parents_the_activities_it_schedules() {
    let registry = registry();
    let request = proto::OrchestratorRequest {
        instance_id: "greet-1".into(),
        new_events: vec![history::orchestrator_started_now(), started_with_parent()],
        ..Default::default()
    };
    let (response, spans) = traced(|| run_episode(&request, || execute_orchestrator(&registry, &request)));

    assert_eq!(spans.len(), 1, "{spans:?}");
    let span = &spans[0];
    assert_eq!(span.name, "orchestration:Greet");
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(span.instrumentation_scope.name(), tracing_spans::TRACER_NAME);
    let parent = parse_traceparent(PARENT, None).unwrap();
    assert_eq!(span.span_context.trace_id(), parent.trace_id());
    assert_eq!(span.parent_span_id, parent.span_id());
    assert_eq!(attribute(span, "durabletask.type").as_deref(), Some("orchestration"));
    assert_eq!(
        attribute(span, "durabletask.task.instance_id").as_deref(),
        Some("greet-1")
    );

    let Some(Action::ScheduleTask(task)) = &response.actions[0].orchestrator_action_type else {
        panic!("{:?}", response.actions)
    };
    let written = parse_traceparent(&task.parent_trace_context.as_ref().unwrap().trace_parent, None).unwrap();
    assert_eq!(written.trace_id(), parent.trace_id());
    assert_eq!(written.span_id(), span.span_context.span_id());
    let kept = response
        .orchestration_trace_context
        .as_ref()
        .expect("orchestration trace context");
    assert_eq!(
        kept.span_id.as_deref(),
        Some(span.span_context.span_id().to_string().as_str())
    );
}

#[test]
fn a_replayed_episode_adds_one_span_and_no_context_to_past_work() {
    let registry = registry();
    let request = proto::OrchestratorRequest {
        instance_id: "greet-1".into(),
        past_events: vec![
            history::orchestrator_started_now(),
            started_with_parent(),
            history::task_scheduled(1, "SayHello", Some("\"Ada\"")),
            history::orchestrator_completed(),
        ],
        new_events: vec![
            history::orchestrator_started_now(),
            history::task_completed(1, Some("\"Hello\"")),
        ],
        ..Default::default()
    };
    let (response, spans) = traced(|| run_episode(&request, || execute_orchestrator(&registry, &request)));
    assert_eq!(spans.len(), 1, "one span for this episode only: {spans:?}");
    assert_eq!(
        attribute(&spans[0], "durabletask.task.status").as_deref(),
        Some("COMPLETED")
    );
    assert_eq!(response.actions.len(), 1, "only the completion is new");
}

#[test]
fn a_failed_episode_is_an_error_span() {
    async fn fails(_: OrchestrationContext, _: String) -> Result<String, Error> {
        Err(Error::new("Broken", "it broke"))
    }
    let mut registry = Registry::new();
    registry.add_orchestrator("Greet", fails).unwrap();
    let request = proto::OrchestratorRequest {
        instance_id: "greet-1".into(),
        new_events: vec![history::orchestrator_started_now(), started_with_parent()],
        ..Default::default()
    };
    let (_, spans) = traced(|| run_episode(&request, || execute_orchestrator(&registry, &request)));
    assert_eq!(
        attribute(&spans[0], "durabletask.task.status").as_deref(),
        Some("FAILED")
    );
    assert!(matches!(spans[0].status, Status::Error { .. }), "{:?}", spans[0].status);
}

#[test]
fn each_entity_operation_is_a_span_under_its_signal_and_parents_what_it_starts() {
    let registry = registry();
    let operation = |name: &str, id: &str, parent: &str| proto::OperationRequest {
        operation: name.into(),
        request_id: id.into(),
        trace_context: Some(trace_context(parent)),
        ..Default::default()
    };
    let request = proto::EntityBatchRequest {
        instance_id: "@counter@k".into(),
        operations: vec![operation("start", "r1", PARENT), operation("fail", "r2", OTHER_PARENT)],
        ..Default::default()
    };
    let (result, spans) = traced(|| execute_entity_batch(&registry, &request, chrono::Utc::now()));

    assert_eq!(spans.len(), 2, "{spans:?}");
    let start = spans
        .iter()
        .find(|s| s.name == "entity:counter:start")
        .expect("start span");
    let fail = spans
        .iter()
        .find(|s| s.name == "entity:counter:fail")
        .expect("fail span");
    assert_eq!(start.parent_span_id, parse_traceparent(PARENT, None).unwrap().span_id());
    assert_eq!(
        fail.span_context.trace_id(),
        parse_traceparent(OTHER_PARENT, None).unwrap().trace_id()
    );
    assert!(matches!(fail.status, Status::Error { .. }));
    assert_eq!(
        attribute(start, "durabletask.task.instance_id").as_deref(),
        Some("@counter@k")
    );

    let Some(OperationActionType::StartNewOrchestration(started)) = &result.actions[0].operation_action_type else {
        panic!("{:?}", result.actions)
    };
    let written = parse_traceparent(&started.parent_trace_context.as_ref().unwrap().trace_parent, None).unwrap();
    assert_eq!(written.span_id(), start.span_context.span_id());
}

#[test]
fn without_a_tracing_layer_nothing_is_written() {
    let registry = registry();
    let request = proto::OrchestratorRequest {
        instance_id: "greet-1".into(),
        new_events: vec![history::orchestrator_started_now(), started_with_parent()],
        ..Default::default()
    };
    let response = run_episode(&request, || execute_orchestrator(&registry, &request));
    let Some(Action::ScheduleTask(task)) = &response.actions[0].orchestrator_action_type else {
        panic!()
    };
    assert!(task.parent_trace_context.is_none());
    assert!(response.orchestration_trace_context.is_none());
}
