//! What a sequence number was used for: [`TaskKind`] and [`ScheduledTask`], in the words of
//! [`NondeterminismError`], the failure raised when history and the orchestrator disagree about it.

use std::fmt;

use crate::failure::{error_types, FailureDetails};
use crate::proto;
use crate::proto::orchestrator_action::OrchestratorActionType as Action;
use crate::proto::send_entity_message_action::EntityMessageType;

/// The kind of a decision an orchestrator makes at a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskKind {
    /// An activity call (`scheduleTask` / `taskScheduled`).
    Activity,
    /// A durable timer (`createTimer` / `timerCreated`).
    Timer,
    /// A sub-orchestration (`createSubOrchestration` / `subOrchestrationInstanceCreated`).
    SubOrchestration,
    /// An event sent to another instance (`sendEvent` / `eventSent`).
    Event,
    /// A signal to an entity (fire and forget).
    EntitySignal,
    /// A call to an entity (awaits the operation's result).
    EntityCall,
    /// A request to lock entities.
    EntityLockRequest,
    /// The release of entity locks.
    EntityUnlock,
    /// An entity message of no known kind.
    EntityMessage,
    /// The end of the orchestration (`completeOrchestration`).
    Completion,
    /// The termination of another instance.
    Termination,
    /// A rewind of the orchestration.
    Rewind,
    /// An action without a kind.
    Unknown,
}

impl TaskKind {
    /// The words used in messages, e.g. `sub-orchestration`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Activity => "activity",
            TaskKind::Timer => "timer",
            TaskKind::SubOrchestration => "sub-orchestration",
            TaskKind::Event => "event",
            TaskKind::EntitySignal => "entity signal",
            TaskKind::EntityCall => "entity call",
            TaskKind::EntityLockRequest => "entity lock request",
            TaskKind::EntityUnlock => "entity unlock",
            TaskKind::EntityMessage => "entity message",
            TaskKind::Completion => "completion",
            TaskKind::Termination => "termination",
            TaskKind::Rewind => "rewind",
            TaskKind::Unknown => "unknown action",
        }
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decision at a sequence number: its kind and, when it has one, the name it targets (the activity or
/// orchestrator name, the entity instance id, the event name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledTask {
    /// The kind of decision.
    pub kind: TaskKind,
    /// The name it targets; empty when the kind has none (timers).
    pub name: String,
}

impl ScheduledTask {
    pub(crate) fn new(kind: TaskKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }

    /// The decision an orchestrator action stands for.
    pub(crate) fn of_action(action: &proto::OrchestratorAction) -> Self {
        let (kind, name) = kind_and_name(action);
        Self::new(kind, name)
    }
}

impl fmt::Display for ScheduledTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{} '{}'", self.kind, self.name)
        }
    }
}

/// The kind of an action and the name it targets, borrowed (for comparisons that must not allocate).
pub(crate) fn kind_and_name(action: &proto::OrchestratorAction) -> (TaskKind, &str) {
    match &action.orchestrator_action_type {
        Some(Action::ScheduleTask(task)) => (TaskKind::Activity, &task.name),
        Some(Action::CreateTimer(_)) => (TaskKind::Timer, ""),
        Some(Action::CreateSubOrchestration(sub)) => (TaskKind::SubOrchestration, &sub.name),
        Some(Action::SendEvent(send)) => (TaskKind::Event, &send.name),
        Some(Action::SendEntityMessage(message)) => match &message.entity_message_type {
            Some(EntityMessageType::EntityOperationSignaled(signal)) => (
                TaskKind::EntitySignal,
                signal.target_instance_id.as_deref().unwrap_or_default(),
            ),
            Some(EntityMessageType::EntityOperationCalled(call)) => (
                TaskKind::EntityCall,
                call.target_instance_id.as_deref().unwrap_or_default(),
            ),
            Some(EntityMessageType::EntityLockRequested(_)) => (TaskKind::EntityLockRequest, ""),
            Some(EntityMessageType::EntityUnlockSent(_)) => (TaskKind::EntityUnlock, ""),
            None => (TaskKind::EntityMessage, ""),
        },
        Some(Action::CompleteOrchestration(_)) => (TaskKind::Completion, ""),
        Some(Action::TerminateOrchestration(_)) => (TaskKind::Termination, ""),
        Some(Action::RewindOrchestration(_)) => (TaskKind::Rewind, ""),
        None => (TaskKind::Unknown, ""),
    }
}

/// What history recorded at a sequence number, compared with what the orchestrator decided there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A task of this kind with this name (an empty name matches any).
    Task(ScheduledTask),
    /// An event sent to an instance (an `eventSent`, which also confirms entity messages the Functions
    /// extension translated into events).
    EventSent {
        /// The event name.
        name: String,
        /// The target instance id.
        instance_id: String,
    },
}

impl fmt::Display for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recorded::Task(task) => write!(f, "{task}"),
            Recorded::EventSent { name, instance_id } => write!(f, "an event '{name}' sent to '{instance_id}'"),
        }
    }
}

/// History and the orchestrator disagree about what happened at a sequence number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "non-deterministic orchestration: history records {expected} at sequence number {task_id}, but the orchestrator \
     now {} there (the orchestration code changed, or it made a decision without the context, e.g. from the \
     clock or a random number)",
    describe_decision(.actual)
)]
pub struct NondeterminismError {
    /// The sequence number (task id) where they disagree.
    pub task_id: i32,
    /// What history says happened, e.g. `activity 'Publish'`.
    pub expected: Recorded,
    /// What the orchestrator decided there instead; `None` when it decided nothing.
    pub actual: Option<ScheduledTask>,
}

fn describe_decision(actual: &Option<ScheduledTask>) -> String {
    match actual {
        Some(task) => format!("schedules {task}"),
        None => "schedules nothing".to_string(),
    }
}

impl NondeterminismError {
    pub(crate) fn details(&self) -> FailureDetails {
        let mut details = FailureDetails::new(error_types::NON_DETERMINISM, self.to_string());
        details.is_non_retriable = true;
        details
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_task_id_and_both_decisions() {
        let error = NondeterminismError {
            task_id: 3,
            expected: Recorded::Task(ScheduledTask::new(TaskKind::Activity, "Publish")),
            actual: Some(ScheduledTask::new(TaskKind::Timer, "")),
        };
        let message = error.to_string();
        assert!(message.contains("activity 'Publish' at sequence number 3"), "{message}");
        assert!(message.contains("now schedules timer there"), "{message}");
        let nothing = NondeterminismError { actual: None, ..error };
        assert!(nothing.to_string().contains("schedules nothing"));
    }

    #[test]
    fn sent_events_are_described_with_their_target() {
        let recorded = Recorded::EventSent {
            name: "op".into(),
            instance_id: "@counter@a".into(),
        };
        assert_eq!(recorded.to_string(), "an event 'op' sent to '@counter@a'");
    }
}
