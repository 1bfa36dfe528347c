//! The one conversion from the V2 entity request gRPC engines stream (`entityRequestV2`: operations as
//! `entityOperationSignaled` / `entityOperationCalled` history events) to the V1 batch the Durable Functions
//! extension sends an `entityTrigger` (`EntityBatchRequest`: operations as `OperationRequest`s), plus what the
//! V2 answer needs beyond the V1 one: where each operation's result goes (`operationInfos`).

use crate::proto;
use crate::proto::history_event::EventType;

/// A V2 entity request as a V1 batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvertedEntityRequest {
    /// The V1 batch: the instance id, the state, and one operation per signal or call, in order.
    pub batch: proto::EntityBatchRequest,
    /// One entry per operation, in the same order: its request id, and for a call the orchestration awaiting the
    /// result (a signal's result goes nowhere).
    pub operation_infos: Vec<proto::OperationInfo>,
    /// How many history events were neither signals nor calls (they are left out).
    pub skipped_events: usize,
}

/// Converts a V2 `EntityRequest` into the V1 `EntityBatchRequest` the Functions extension would send for the
/// same operations, with the `operationInfos` the engine expects back.
///
/// ```
/// use durabletask_sdk::entity::entity_batch_from_v2;
/// use durabletask_sdk::testing::entity;
///
/// let request = entity::request_v2(
///     "@counter@a",
///     Some("1"),
///     vec![entity::signal("s1", "@counter@a", "add", Some("5")), entity::call("c1", "@counter@a", "get", None, "orch-1")],
/// );
/// let converted = entity_batch_from_v2(&request);
/// assert_eq!(converted.batch.operations[0].operation, "add");
/// assert_eq!(converted.batch.operations[1].request_id, "c1");
/// assert_eq!(converted.operation_infos[1].response_destination.as_ref().unwrap().instance_id, "orch-1");
/// assert_eq!(converted.skipped_events, 0);
/// ```
pub fn entity_batch_from_v2(request: &proto::EntityRequest) -> ConvertedEntityRequest {
    let mut operations = Vec::with_capacity(request.operation_requests.len());
    let mut operation_infos = Vec::with_capacity(request.operation_requests.len());
    let mut skipped_events = 0;
    for event in &request.operation_requests {
        match &event.event_type {
            Some(EventType::EntityOperationSignaled(signal)) => {
                operations.push(operation(&signal.operation, &signal.request_id, &signal.input));
                operation_infos.push(proto::OperationInfo {
                    request_id: signal.request_id.clone(),
                    response_destination: None,
                });
            }
            Some(EventType::EntityOperationCalled(call)) => {
                operations.push(operation(&call.operation, &call.request_id, &call.input));
                operation_infos.push(proto::OperationInfo {
                    request_id: call.request_id.clone(),
                    response_destination: Some(proto::OrchestrationInstance {
                        instance_id: call.parent_instance_id.clone().unwrap_or_default(),
                        execution_id: call.parent_execution_id.clone(),
                    }),
                });
            }
            _ => skipped_events += 1,
        }
    }
    ConvertedEntityRequest {
        batch: proto::EntityBatchRequest {
            instance_id: request.instance_id.clone(),
            entity_state: request.entity_state.clone(),
            operations,
            ..Default::default()
        },
        operation_infos,
        skipped_events,
    }
}

fn operation(name: &str, request_id: &str, input: &Option<String>) -> proto::OperationRequest {
    proto::OperationRequest {
        operation: name.to_string(),
        request_id: request_id.to_string(),
        input: input.clone(),
        trace_context: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_that_are_not_operations_are_counted_and_left_out() {
        let unlock = proto::HistoryEvent {
            event_id: 3,
            timestamp: None,
            event_type: Some(EventType::EntityUnlockSent(Default::default())),
        };
        let request = proto::EntityRequest {
            instance_id: "@counter@a".into(),
            operation_requests: vec![unlock],
            ..Default::default()
        };
        let converted = entity_batch_from_v2(&request);
        assert!(converted.batch.operations.is_empty() && converted.operation_infos.is_empty());
        assert_eq!(converted.skipped_events, 1);
    }
}
