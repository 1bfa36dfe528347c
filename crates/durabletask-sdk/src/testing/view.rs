//! Views of an executor's answer for assertions: what a test wants to know, without matching on protobuf
//! `oneof`s.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::orchestration::ScheduledTask;
use crate::proto::operation_action::OperationActionType;
use crate::proto::operation_result::ResultType;
use crate::proto::orchestrator_action::OrchestratorActionType as Action;
use crate::proto::send_entity_message_action::EntityMessageType;
use crate::proto::{self, OrchestrationStatus};

/// An [`OrchestratorResponse`](proto::OrchestratorResponse) seen the way a test asks about it.
#[derive(Clone, Copy)]
pub struct ResponseView<'a> {
    response: &'a proto::OrchestratorResponse,
}

impl<'a> ResponseView<'a> {
    /// A view of `response`.
    pub fn new(response: &'a proto::OrchestratorResponse) -> Self {
        Self { response }
    }

    /// Every action with its sequence number and what it is (`activity 'A'`, `timer`, …), in order.
    pub fn decisions(&self) -> Vec<(i32, ScheduledTask)> {
        self.response
            .actions
            .iter()
            .map(|action| (action.id, ScheduledTask::of_action(action)))
            .collect()
    }

    /// The `completeOrchestration` action, when the episode ended the orchestration (it is always the last).
    pub fn completion(&self) -> Option<&'a proto::CompleteOrchestrationAction> {
        match self.response.actions.last()?.orchestrator_action_type.as_ref()? {
            Action::CompleteOrchestration(complete) => Some(complete),
            _ => None,
        }
    }

    /// The `completeOrchestration` action.
    ///
    /// # Panics
    ///
    /// When the episode did not end the orchestration; the message lists what it decided instead.
    pub fn expect_completion(&self) -> &'a proto::CompleteOrchestrationAction {
        self.completion()
            .unwrap_or_else(|| panic!("expected the orchestration to end, but it decided {self}"))
    }

    /// How the orchestration ended, when it did.
    pub fn status(&self) -> Option<OrchestrationStatus> {
        let complete = self.completion()?;
        OrchestrationStatus::try_from(complete.orchestration_status).ok()
    }

    /// The JSON result (or termination reason, or continue-as-new input) of the ended orchestration.
    pub fn result(&self) -> Option<&'a str> {
        self.completion()?.result.as_deref()
    }

    /// Why the orchestration failed, when it did.
    pub fn failure(&self) -> Option<&'a proto::TaskFailureDetails> {
        self.completion()?.failure_details.as_ref()
    }

    /// The activities scheduled: sequence number and name, in order.
    pub fn scheduled_activities(&self) -> Vec<(i32, &'a str)> {
        self.filter(|action| match action {
            Action::ScheduleTask(task) => Some(task.name.as_str()),
            _ => None,
        })
    }

    /// The timers created: sequence number and fire time, in order.
    pub fn timers(&self) -> Vec<(i32, DateTime<Utc>)> {
        self.filter(|action| match action {
            Action::CreateTimer(timer) => {
                Some(timer.fire_at.as_ref().map(crate::time::to_datetime).unwrap_or_default())
            }
            _ => None,
        })
    }

    /// The sub-orchestrations started, with their sequence numbers.
    pub fn sub_orchestrations(&self) -> Vec<(i32, &'a proto::CreateSubOrchestrationAction)> {
        self.filter(|action| match action {
            Action::CreateSubOrchestration(create) => Some(create),
            _ => None,
        })
    }

    /// The entity calls made, with their sequence numbers.
    pub fn entity_calls(&self) -> Vec<(i32, &'a proto::EntityOperationCalledEvent)> {
        self.filter(|action| match action {
            Action::SendEntityMessage(message) => match message.entity_message_type.as_ref()? {
                EntityMessageType::EntityOperationCalled(call) => Some(call),
                _ => None,
            },
            _ => None,
        })
    }

    /// The entity signals sent, with their sequence numbers.
    pub fn entity_signals(&self) -> Vec<(i32, &'a proto::EntityOperationSignaledEvent)> {
        self.filter(|action| match action {
            Action::SendEntityMessage(message) => match message.entity_message_type.as_ref()? {
                EntityMessageType::EntityOperationSignaled(signal) => Some(signal),
                _ => None,
            },
            _ => None,
        })
    }

    fn filter<T>(&self, pick: impl Fn(&'a Action) -> Option<T>) -> Vec<(i32, T)> {
        self.response
            .actions
            .iter()
            .filter_map(|action| Some((action.id, pick(action.orchestrator_action_type.as_ref()?)?)))
            .collect()
    }
}

impl fmt::Display for ResponseView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decisions = self.decisions();
        if decisions.is_empty() {
            return f.write_str("nothing");
        }
        for (index, (id, task)) in decisions.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "#{id} {task}")?;
        }
        Ok(())
    }
}

/// The outcome of one entity operation: its JSON result, or its failure's error type and message.
pub type EntityOutcome<'a> = Result<Option<&'a str>, (&'a str, &'a str)>;

/// An [`EntityBatchResult`](proto::EntityBatchResult) seen the way a test asks about it.
#[derive(Clone, Copy)]
pub struct EntityResultView<'a> {
    result: &'a proto::EntityBatchResult,
}

impl<'a> EntityResultView<'a> {
    /// A view of `result`.
    pub fn new(result: &'a proto::EntityBatchResult) -> Self {
        Self { result }
    }

    /// Each operation's outcome, in order (an operation without a result type reads as a failure).
    pub fn outcomes(&self) -> Vec<EntityOutcome<'a>> {
        self.result
            .results
            .iter()
            .map(|result| match result.result_type.as_ref() {
                Some(ResultType::Success(success)) => Ok(success.result.as_deref()),
                Some(ResultType::Failure(failure)) => match failure.failure_details.as_ref() {
                    Some(details) => Err((details.error_type.as_str(), details.error_message.as_str())),
                    None => Err(("", "")),
                },
                None => Err(("", "the operation has no result")),
            })
            .collect()
    }

    /// The entity's state after the batch (`None`: the entity has no state and is deleted).
    pub fn state(&self) -> Option<&'a str> {
        self.result.entity_state.as_deref()
    }

    /// The signals the batch sends, in order.
    pub fn signals(&self) -> Vec<&'a proto::SendSignalAction> {
        self.actions(|action| match action {
            OperationActionType::SendSignal(signal) => Some(signal),
            _ => None,
        })
    }

    /// The orchestrations the batch starts, in order.
    pub fn started_orchestrations(&self) -> Vec<&'a proto::StartNewOrchestrationAction> {
        self.actions(|action| match action {
            OperationActionType::StartNewOrchestration(start) => Some(start),
            _ => None,
        })
    }

    fn actions<T>(&self, pick: impl Fn(&'a OperationActionType) -> Option<T>) -> Vec<T> {
        self.result
            .actions
            .iter()
            .filter_map(|action| pick(action.operation_action_type.as_ref()?))
            .collect()
    }
}
