//! Completing a large orchestration episode in chunks: an `OrchestratorResponse` whose actions exceed the chunk size
//! is sent as several, each flagged `isPartial` (all but the last) with its `chunkIndex`, as the official .NET worker
//! does and the Durable Task Scheduler reassembles. An action that alone exceeds the chunk size cannot be sent at all;
//! the instance then fails with a failure that says so, instead of the engine refusing the completion again and
//! again.

use prost::Message;

use crate::proto::{self, orchestrator_action::OrchestratorActionType as Action};

/// The default largest completion message: the .NET worker's 3.9 MB, below the 4 MiB gRPC limit of the Durable
/// Task Scheduler with room for the message's other fields.
pub const DEFAULT_COMPLETION_CHUNK_SIZE: usize = 4_089_446;
/// The smallest chunk size accepted (1 MiB, the .NET worker's lower bound).
pub const MIN_COMPLETION_CHUNK_SIZE: usize = 1024 * 1024;

/// What to send for one episode: one response when it fits in `max_bytes`, several chunks when it does not, or a
/// failure of the instance when one action alone is larger than `max_bytes`.
pub(super) fn completion_messages(
    response: proto::OrchestratorResponse,
    max_bytes: usize,
) -> Vec<proto::OrchestratorResponse> {
    if response.encoded_len() <= max_bytes {
        return vec![response];
    }
    if let Some(failure) = oversized_action(&response, max_bytes) {
        return vec![failed(response, failure)];
    }
    split(response, max_bytes)
}

/// A failure naming the first action that does not fit in a chunk on its own.
fn oversized_action(response: &proto::OrchestratorResponse, max_bytes: usize) -> Option<proto::TaskFailureDetails> {
    let action = response
        .actions
        .iter()
        .find(|action| action.encoded_len() > max_bytes)?;
    Some(proto::TaskFailureDetails {
        error_type: "ActionTooLarge".to_string(),
        error_message: format!(
            "the {} action with id {} is {} bytes, above the worker's completion chunk size of {max_bytes} bytes; \
             make its payload smaller (large-payload externalisation is not supported by this SDK)",
            action_kind(action),
            action.id,
            action.encoded_len()
        ),
        is_non_retriable: true,
        ..Default::default()
    })
}

/// The episode replaced by a failure of the instance.
fn failed(response: proto::OrchestratorResponse, failure: proto::TaskFailureDetails) -> proto::OrchestratorResponse {
    proto::OrchestratorResponse {
        instance_id: response.instance_id,
        completion_token: response.completion_token,
        orchestration_trace_context: response.orchestration_trace_context,
        actions: vec![proto::OrchestratorAction {
            id: -1,
            orchestrator_action_type: Some(Action::CompleteOrchestration(proto::CompleteOrchestrationAction {
                orchestration_status: proto::OrchestrationStatus::Failed as i32,
                failure_details: Some(failure),
                ..Default::default()
            })),
        }],
        ..Default::default()
    }
}

/// The actions in order, packed into chunks of at most `max_bytes` of actions each (every action fits alone).
#[allow(deprecated)] // isPartial and chunkIndex are deprecated in the proto but are how engines reassemble chunks.
fn split(response: proto::OrchestratorResponse, max_bytes: usize) -> Vec<proto::OrchestratorResponse> {
    let mut groups: Vec<Vec<proto::OrchestratorAction>> = vec![Vec::new()];
    let mut current_size = 0;
    for action in response.actions {
        let size = action.encoded_len();
        if current_size + size > max_bytes && current_size > 0 {
            groups.push(Vec::new());
            current_size = 0;
        }
        current_size += size;
        groups.last_mut().expect("one group at least").push(action);
    }
    let last = groups.len() - 1;
    groups
        .into_iter()
        .enumerate()
        .map(|(index, actions)| {
            let first = index == 0;
            proto::OrchestratorResponse {
                instance_id: response.instance_id.clone(),
                actions,
                custom_status: response.custom_status.clone(),
                completion_token: response.completion_token.clone(),
                // The first chunk accounts for the work item's events; the others for none.
                num_events_processed: if first { response.num_events_processed } else { Some(0) },
                orchestration_trace_context: if first {
                    response.orchestration_trace_context.clone()
                } else {
                    None
                },
                requires_history: response.requires_history,
                is_partial: index < last,
                // A lone chunk (a large custom status, say) goes without an index, as the .NET worker sends it:
                // index 0 without `isPartial` is what engines have trouble with.
                chunk_index: (last > 0).then(|| i32::try_from(index).unwrap_or(i32::MAX)),
            }
        })
        .collect()
}

fn action_kind(action: &proto::OrchestratorAction) -> &'static str {
    match &action.orchestrator_action_type {
        Some(Action::ScheduleTask(_)) => "scheduleTask",
        Some(Action::CreateSubOrchestration(_)) => "createSubOrchestration",
        Some(Action::CreateTimer(_)) => "createTimer",
        Some(Action::SendEvent(_)) => "sendEvent",
        Some(Action::CompleteOrchestration(_)) => "completeOrchestration",
        Some(Action::TerminateOrchestration(_)) => "terminateOrchestration",
        Some(Action::SendEntityMessage(_)) => "sendEntityMessage",
        Some(Action::RewindOrchestration(_)) => "rewindOrchestration",
        None => "empty",
    }
}

#[cfg(test)]
#[allow(deprecated)]
mod tests {
    use super::*;

    fn schedule(id: i32, payload_bytes: usize) -> proto::OrchestratorAction {
        proto::OrchestratorAction {
            id,
            orchestrator_action_type: Some(Action::ScheduleTask(proto::ScheduleTaskAction {
                name: "echo".into(),
                input: Some("x".repeat(payload_bytes)),
                ..Default::default()
            })),
        }
    }

    fn response(actions: Vec<proto::OrchestratorAction>) -> proto::OrchestratorResponse {
        proto::OrchestratorResponse {
            instance_id: "big".into(),
            actions,
            custom_status: Some("\"busy\"".into()),
            completion_token: "token-7".into(),
            orchestration_trace_context: Some(proto::OrchestrationTraceContext {
                span_id: Some("span".into()),
                span_start_time: None,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_response_that_fits_is_sent_whole() {
        let whole = response(vec![schedule(1, 100), schedule(2, 100)]);
        assert_eq!(completion_messages(whole.clone(), MIN_COMPLETION_CHUNK_SIZE), [whole]);
    }

    #[test]
    fn a_large_response_is_split_in_order_into_flagged_chunks() {
        // 10 actions of ~300 KB: 3 fit in 1 MiB, so 4 chunks (3, 3, 3, 1).
        let actions: Vec<_> = (1..=10).map(|id| schedule(id, 300 * 1024)).collect();
        let chunks = completion_messages(response(actions.clone()), MIN_COMPLETION_CHUNK_SIZE);
        assert_eq!(chunks.len(), 4);
        assert_eq!(chunks.iter().map(|c| c.actions.len()).collect::<Vec<_>>(), [3, 3, 3, 1]);
        let rejoined: Vec<_> = chunks.iter().flat_map(|c| c.actions.clone()).collect();
        assert_eq!(rejoined, actions, "every action once, in order");
        assert_eq!(
            chunks.iter().map(|c| c.is_partial).collect::<Vec<_>>(),
            [true, true, true, false]
        );
        assert_eq!(
            chunks.iter().map(|c| c.chunk_index).collect::<Vec<_>>(),
            [Some(0), Some(1), Some(2), Some(3)]
        );
        for (index, chunk) in chunks.iter().enumerate() {
            assert!(
                chunk.encoded_len() <= MIN_COMPLETION_CHUNK_SIZE + 1024,
                "chunk {index} too large"
            );
            assert_eq!(chunk.completion_token, "token-7");
            assert_eq!(chunk.instance_id, "big");
            assert_eq!(chunk.custom_status.as_deref(), Some("\"busy\""));
            assert_eq!(chunk.num_events_processed, if index == 0 { None } else { Some(0) });
            assert_eq!(chunk.orchestration_trace_context.is_some(), index == 0);
        }
    }

    #[test]
    fn an_action_larger_than_a_chunk_fails_the_instance() {
        let chunks = completion_messages(
            response(vec![schedule(1, 10), schedule(2, 2 * 1024 * 1024)]),
            MIN_COMPLETION_CHUNK_SIZE,
        );
        assert_eq!(chunks.len(), 1);
        let Some(Action::CompleteOrchestration(complete)) = &chunks[0].actions[0].orchestrator_action_type else {
            panic!("{:?}", chunks[0])
        };
        assert_eq!(complete.orchestration_status, proto::OrchestrationStatus::Failed as i32);
        let failure = complete.failure_details.as_ref().unwrap();
        assert!(failure.is_non_retriable);
        assert!(
            failure.error_message.contains("scheduleTask action with id 2"),
            "{}",
            failure.error_message
        );
        assert_eq!(chunks[0].completion_token, "token-7");
    }
}
