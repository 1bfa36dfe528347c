//! Builders for entity requests in both shapes: the V1 batch the Functions extension sends
//! ([`batch`] of [`operation`]s) and the V2 request gRPC engines stream ([`request_v2`] of [`signal`] and [`call`]
//! events).

use crate::proto::{self, history_event::EventType};

/// One V1 operation: `name` with JSON `input`, identified by `request_id`.
pub fn operation(name: &str, request_id: &str, input: Option<&str>) -> proto::OperationRequest {
    proto::OperationRequest {
        operation: name.to_string(),
        request_id: request_id.to_string(),
        input: input.map(str::to_string),
        trace_context: None,
    }
}

/// A V1 batch of `operations` against `instance_id` (`@name@key`) whose stored state is the JSON `state`.
pub fn batch(
    instance_id: &str,
    state: Option<&str>,
    operations: Vec<proto::OperationRequest>,
) -> proto::EntityBatchRequest {
    proto::EntityBatchRequest {
        instance_id: instance_id.to_string(),
        entity_state: state.map(str::to_string),
        operations,
        ..Default::default()
    }
}

/// A V2 request: the `events` (signals and calls) against `instance_id` whose stored state is the JSON `state`.
pub fn request_v2(instance_id: &str, state: Option<&str>, events: Vec<proto::HistoryEvent>) -> proto::EntityRequest {
    proto::EntityRequest {
        instance_id: instance_id.to_string(),
        entity_state: state.map(str::to_string),
        operation_requests: events,
        ..Default::default()
    }
}

/// A V2 signal: `operation` with JSON `input` on `entity`, identified by `request_id`.
pub fn signal(request_id: &str, entity: &str, operation: &str, input: Option<&str>) -> proto::HistoryEvent {
    engine_event(EventType::EntityOperationSignaled(
        proto::EntityOperationSignaledEvent {
            request_id: request_id.to_string(),
            operation: operation.to_string(),
            input: input.map(str::to_string),
            target_instance_id: Some(entity.to_string()),
            ..Default::default()
        },
    ))
}

/// A V2 call: `operation` with JSON `input` on `entity`, identified by `request_id`, whose result goes to the
/// orchestration `parent`.
pub fn call(request_id: &str, entity: &str, operation: &str, input: Option<&str>, parent: &str) -> proto::HistoryEvent {
    call_from_execution(request_id, entity, operation, input, parent, None)
}

/// Like [`call`], naming the parent's execution id too.
pub fn call_from_execution(
    request_id: &str,
    entity: &str,
    operation: &str,
    input: Option<&str>,
    parent: &str,
    parent_execution: Option<&str>,
) -> proto::HistoryEvent {
    engine_event(EventType::EntityOperationCalled(Box::new(
        proto::EntityOperationCalledEvent {
            request_id: request_id.to_string(),
            operation: operation.to_string(),
            input: input.map(str::to_string),
            parent_instance_id: Some(parent.to_string()),
            parent_execution_id: parent_execution.map(str::to_string),
            target_instance_id: Some(entity.to_string()),
            ..Default::default()
        },
    )))
}

fn engine_event(event_type: EventType) -> proto::HistoryEvent {
    proto::HistoryEvent {
        event_id: -1,
        timestamp: None,
        event_type: Some(event_type),
    }
}
