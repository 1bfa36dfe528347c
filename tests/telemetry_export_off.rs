//! The handler's telemetry with no OTLP endpoint (the default): nothing is exported, yet trace context still
//! travels — an entity operation signalled under a trace continues it, the orchestration it starts is parented on
//! the operation, the notification names the trace, and the JSON log lines carry the trace and span ids.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use durabletask_sdk::proto::operation_action::OperationActionType;
use durabletask_sdk::proto::{self, OperationRequest};
use durabletask_sdk::tracing_spans::parse_traceparent;
use returns_aggregator::durable::Publication;
use returns_aggregator::telemetry::{LogFormat, Telemetry, TelemetrySettings};
use serde_json::Value;
use support::events::{event, settling_bodies};
use support::host::{entity_invocation, entity_result};
use support::router::{invoke, router};

const SIGNAL_PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// The log lines written so far, shared with the subscriber.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn without_an_endpoint_trace_context_still_reaches_the_orchestration_the_notification_and_the_logs() {
    let settings = TelemetrySettings {
        log_filter: "info".into(),
        log_format: LogFormat::Json,
        otlp_endpoint: None,
        service_name: "test".into(),
        span_queue_size: 16,
    };
    let lines = Lines::default();
    let writer = lines.clone();
    let (_telemetry, dispatch) = Telemetry::build(&settings, move || writer.clone()).expect("telemetry");
    let _default = tracing::dispatcher::set_default(&dispatch);

    let return_id = "RET-2025-910901";
    let mut operations: Vec<OperationRequest> = settling_bodies(return_id)
        .iter()
        .map(|body| OperationRequest {
            operation: "apply".into(),
            request_id: uuid::Uuid::new_v4().to_string(),
            input: Some(event(body).to_wire_json().to_string()),
            ..Default::default()
        })
        .collect();
    operations.last_mut().unwrap().trace_context = Some(proto::TraceContext {
        trace_parent: SIGNAL_PARENT.into(),
        ..Default::default()
    });
    let request = proto::EntityBatchRequest {
        instance_id: format!("@entityfunction@{return_id}"),
        operations,
        ..Default::default()
    };
    let answer = invoke(&router(&[]), "EntityFunction", &entity_invocation(&request)).await;
    answer.expect_success();
    let batch = entity_result(answer.return_value());

    let start = batch
        .actions
        .iter()
        .find_map(|action| match &action.operation_action_type {
            Some(OperationActionType::StartNewOrchestration(start)) => Some(start),
            _ => None,
        })
        .expect("the settling operation starts the orchestration");
    let parent = parse_traceparent(
        &start
            .parent_trace_context
            .as_ref()
            .expect("a parent trace context")
            .trace_parent,
        None,
    )
    .expect("a valid traceparent");
    assert_eq!(parent.trace_id().to_string(), TRACE_ID);
    assert_ne!(
        parent.span_id().to_string(),
        "00f067aa0ba902b7",
        "the parent is the entity operation's own span"
    );
    let Ok(Publication::Settled(notification)) = serde_json::from_str(start.input.as_deref().unwrap()) else {
        panic!("not the settled notification: {:?}", start.input)
    };
    assert_eq!(notification.trace_id.as_deref(), Some(TRACE_ID));

    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let traced: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .filter(|line| line["trace_id"] == TRACE_ID)
        .collect();
    assert!(!traced.is_empty(), "no log line names the trace: {text}");
    assert!(traced
        .iter()
        .all(|line| line["span_id"].as_str().is_some_and(|id| id.len() == 16)));
}
