//! The properties every decoder and executor answer must have, checked after each fuzz input.
//!
//! A failed check panics, which libFuzzer reports as a crash with the input that caused it.

use std::fmt::Display;

use durabletask_sdk::proto;
use durabletask_sdk::proto::operation_result::ResultType;
use durabletask_sdk::proto::orchestrator_action::OrchestratorActionType;

/// The error explains itself: its message is not blank.
pub fn clear_error(error: &impl Display) {
    let message = error.to_string();
    assert!(!message.trim().is_empty(), "an error with a blank message");
}

/// A failure reported to the engine names its type and says what happened.
pub fn clear_failure(details: &proto::TaskFailureDetails) {
    assert!(
        !details.error_type.trim().is_empty(),
        "a failure without a type: {details:?}"
    );
    assert!(
        !details.error_message.trim().is_empty(),
        "a failure without a message: {details:?}"
    );
}

/// An orchestrator response answers the request's instance, completes at most once and last, and explains every
/// failure.
pub fn orchestrator_response(request: &proto::OrchestratorRequest, response: &proto::OrchestratorResponse) {
    assert_eq!(
        response.instance_id, request.instance_id,
        "the response names another instance"
    );
    let completions: Vec<(usize, &proto::CompleteOrchestrationAction)> = response
        .actions
        .iter()
        .enumerate()
        .filter_map(|(index, action)| match &action.orchestrator_action_type {
            Some(OrchestratorActionType::CompleteOrchestration(complete)) => Some((index, complete)),
            _ => None,
        })
        .collect();
    assert!(completions.len() <= 1, "more than one completion: {response:?}");
    if let Some((index, complete)) = completions.first() {
        assert_eq!(
            *index + 1,
            response.actions.len(),
            "the completion is not the last action"
        );
        if complete.orchestration_status == proto::OrchestrationStatus::Failed as i32 {
            let details = complete
                .failure_details
                .as_ref()
                .expect("a FAILED completion without details");
            clear_failure(details);
        }
    }
    for action in &response.actions {
        assert!(
            action.orchestrator_action_type.is_some(),
            "an action without a type: {response:?}"
        );
    }
}

/// An entity batch result has one result per operation (or a batch-level failure that explains itself), and
/// every failed operation explains itself.
pub fn entity_batch_result(request: &proto::EntityBatchRequest, result: &proto::EntityBatchResult) {
    if let Some(details) = &result.failure_details {
        clear_failure(details);
        return;
    }
    assert_eq!(
        result.results.len(),
        request.operations.len(),
        "one result per operation"
    );
    for operation in &result.results {
        match &operation.result_type {
            Some(ResultType::Success(_)) => {}
            Some(ResultType::Failure(failure)) => {
                clear_failure(
                    failure
                        .failure_details
                        .as_ref()
                        .expect("a failed operation without details"),
                );
            }
            None => panic!("an operation result without an outcome: {result:?}"),
        }
    }
}
