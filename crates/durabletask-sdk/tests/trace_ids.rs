//! `TraceIdsLayer`: the SDK's spans get trace ids without an OpenTelemetry pipeline, so trace context travels
//! through the protocol as it does with the bridge: parents read from the protocol fields, the episode's and the
//! operation's own span ids written to what they start, new traces for work without a parent.

use durabletask_sdk::entity::execute_entity_batch;
use durabletask_sdk::orchestration::execute_orchestrator;
use durabletask_sdk::proto::history_event::EventType;
use durabletask_sdk::proto::operation_action::OperationActionType;
use durabletask_sdk::proto::orchestrator_action::OrchestratorActionType as Action;
use durabletask_sdk::testing::history;
use durabletask_sdk::tracing_spans::{
    self, orchestration::run_episode, parse_traceparent, set_parent, span_context_of, TraceIdsLayer, SPAN_TARGET,
};
use durabletask_sdk::{proto, EntityContext, Error, OrchestrationContext, Registry};
use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceId};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::Layer as _;

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Runs `work` under a registry with the ids layer, filtered to the SDK's spans as the app filters it.
fn with_ids<T>(work: impl FnOnce() -> T) -> T {
    let layer = TraceIdsLayer::new().with_filter(filter_fn(|metadata| metadata.target().starts_with(SPAN_TARGET)));
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), work)
}

fn parent() -> SpanContext {
    parse_traceparent(PARENT, None).unwrap()
}

fn written(context: &Option<proto::TraceContext>) -> SpanContext {
    parse_traceparent(&context.as_ref().expect("a trace context").trace_parent, None).expect("a valid traceparent")
}

async fn greet(ctx: OrchestrationContext, name: String) -> Result<String, Error> {
    Ok(ctx.call_activity("SayHello", &name).await?)
}

#[test]
fn an_episode_continues_its_starters_trace_and_parents_its_activities() {
    let mut registry = Registry::new();
    registry.add_orchestrator("Greet", greet).unwrap();
    let mut started = history::execution_started("Greet", "greet-1", Some("\"Ada\""));
    if let Some(EventType::ExecutionStarted(event)) = &mut started.event_type {
        event.parent_trace_context = Some(proto::TraceContext {
            trace_parent: PARENT.into(),
            ..Default::default()
        });
    }
    let request = proto::OrchestratorRequest {
        instance_id: "greet-1".into(),
        new_events: vec![history::orchestrator_started_now(), started],
        ..Default::default()
    };
    let response = with_ids(|| run_episode(&request, || execute_orchestrator(&registry, &request)));

    let Some(Action::ScheduleTask(task)) = &response.actions[0].orchestrator_action_type else {
        panic!("{:?}", response.actions)
    };
    let task_parent = written(&task.parent_trace_context);
    assert_eq!(task_parent.trace_id(), parent().trace_id());
    assert_ne!(
        task_parent.span_id(),
        parent().span_id(),
        "the episode's own span, not its starter"
    );
    assert!(task_parent.is_sampled());
    let kept = response
        .orchestration_trace_context
        .as_ref()
        .expect("orchestration trace context");
    assert_eq!(
        kept.span_id.as_deref(),
        Some(task_parent.span_id().to_string().as_str())
    );
}

#[test]
fn each_operation_parents_what_it_starts_on_its_signals_trace() {
    let mut registry = Registry::new();
    registry
        .add_entity("counter", |ctx: &mut EntityContext| {
            ctx.start_new_orchestration("Greet", &"Ada", Some("greet-1"))?;
            Ok(None::<()>)
        })
        .unwrap();
    let operation = |id: &str, trace_context: Option<proto::TraceContext>| proto::OperationRequest {
        operation: "start".into(),
        request_id: id.into(),
        trace_context,
        ..Default::default()
    };
    let signalled = Some(proto::TraceContext {
        trace_parent: PARENT.into(),
        ..Default::default()
    });
    let request = proto::EntityBatchRequest {
        instance_id: "@counter@k".into(),
        operations: vec![operation("r1", signalled), operation("r2", None)],
        ..Default::default()
    };
    let result = with_ids(|| execute_entity_batch(&registry, &request, chrono::Utc::now()));
    let starts: Vec<SpanContext> = result
        .actions
        .iter()
        .map(|action| match &action.operation_action_type {
            Some(OperationActionType::StartNewOrchestration(start)) => written(&start.parent_trace_context),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(starts[0].trace_id(), parent().trace_id());
    assert_ne!(
        starts[1].trace_id(),
        parent().trace_id(),
        "an unsignalled operation starts its own trace"
    );
    assert_ne!(starts[1].trace_id(), TraceId::INVALID);
}

#[test]
fn children_share_their_parents_trace_across_spans_the_layer_does_not_see() {
    with_ids(|| {
        let root = tracing::info_span!(target: SPAN_TARGET, "root");
        let root_context = span_context_of(&root).expect("the root has ids");
        assert!(root_context.is_sampled() && root_context.is_valid());
        let child = root.in_scope(|| {
            // Not an SDK span: filtered out, so the next SDK span below it is the root's child.
            let between = tracing::info_span!(target: "elsewhere", "between");
            assert!(span_context_of(&between).is_none());
            between.in_scope(|| tracing::info_span!(target: SPAN_TARGET, "child"))
        });
        let child_context = span_context_of(&child).expect("the child has ids");
        assert_eq!(child_context.trace_id(), root_context.trace_id());
        assert_ne!(child_context.span_id(), root_context.span_id());

        let adopted = tracing::info_span!(target: SPAN_TARGET, "adopted");
        let own_span_id = span_context_of(&adopted).unwrap().span_id();
        set_parent(
            &adopted,
            Some(opentelemetry::Context::new().with_remote_span_context(parent())),
        );
        let adopted_context = span_context_of(&adopted).unwrap();
        assert_eq!(adopted_context.trace_id(), parent().trace_id());
        assert_eq!(adopted_context.span_id(), own_span_id);
        assert_eq!(
            tracing_spans::trace_context_of_span(&adopted).unwrap().trace_parent,
            format!("00-{}-{}-01", parent().trace_id(), own_span_id)
        );
    });
}
