//! Builders for history events, for tests of orchestrators and for tools that fabricate requests.
//!
//! Event ids follow the engine's conventions: events that confirm an action carry the action's sequence number;
//! all others carry -1.

use chrono::{DateTime, Utc};

use crate::proto::{self, history_event::EventType};
use crate::time::to_timestamp;

fn event(event_id: i32, timestamp: Option<DateTime<Utc>>, event_type: EventType) -> proto::HistoryEvent {
    proto::HistoryEvent {
        event_id,
        timestamp: timestamp.map(to_timestamp),
        event_type: Some(event_type),
    }
}

/// `orchestratorStarted` at `time`: the start of an episode; sets the orchestration's current time.
pub fn orchestrator_started(time: DateTime<Utc>) -> proto::HistoryEvent {
    event(
        -1,
        Some(time),
        EventType::OrchestratorStarted(proto::OrchestratorStartedEvent {}),
    )
}

/// `orchestratorStarted` at a fixed time (2024-01-01T00:00:00Z), for examples and tests.
pub fn orchestrator_started_now() -> proto::HistoryEvent {
    orchestrator_started(DateTime::from_timestamp(1_704_067_200, 0).expect("valid time"))
}

/// `orchestratorCompleted`: the end of an episode.
pub fn orchestrator_completed() -> proto::HistoryEvent {
    event(
        -1,
        None,
        EventType::OrchestratorCompleted(proto::OrchestratorCompletedEvent {}),
    )
}

/// `executionStarted` of orchestrator `name` for `instance_id` with JSON `input`.
pub fn execution_started(name: &str, instance_id: &str, input: Option<&str>) -> proto::HistoryEvent {
    event(
        -1,
        None,
        EventType::ExecutionStarted(Box::new(proto::ExecutionStartedEvent {
            name: name.to_string(),
            input: input.map(str::to_string),
            orchestration_instance: Some(proto::OrchestrationInstance {
                instance_id: instance_id.to_string(),
                execution_id: Some("execution-1".to_string()),
            }),
            ..Default::default()
        })),
    )
}

/// `executionStarted` of orchestrator `name` for `instance_id` with JSON `input`, started at `version`.
pub fn execution_started_with_version(
    name: &str,
    instance_id: &str,
    input: Option<&str>,
    version: &str,
) -> proto::HistoryEvent {
    let mut started = execution_started(name, instance_id, input);
    if let Some(EventType::ExecutionStarted(event)) = &mut started.event_type {
        event.version = Some(version.to_string());
    }
    started
}

/// `executionCompleted`: the instance ended with `status` and the encoded `result` (as engines record it).
pub fn execution_completed(status: proto::OrchestrationStatus, result: Option<&str>) -> proto::HistoryEvent {
    event(
        -1,
        None,
        EventType::ExecutionCompleted(Box::new(proto::ExecutionCompletedEvent {
            orchestration_status: status as i32,
            result: result.map(str::to_string),
            failure_details: None,
        })),
    )
}

/// `taskScheduled` confirming activity `name` at sequence number `id`.
pub fn task_scheduled(id: i32, name: &str, input: Option<&str>) -> proto::HistoryEvent {
    event(
        id,
        None,
        EventType::TaskScheduled(Box::new(proto::TaskScheduledEvent {
            name: name.to_string(),
            input: input.map(str::to_string),
            ..Default::default()
        })),
    )
}

/// `taskCompleted` for the activity scheduled at `id`, with JSON `result`.
pub fn task_completed(id: i32, result: Option<&str>) -> proto::HistoryEvent {
    event(
        -1,
        None,
        EventType::TaskCompleted(proto::TaskCompletedEvent {
            task_scheduled_id: id,
            result: result.map(str::to_string),
        }),
    )
}

/// `taskFailed` for the activity scheduled at `id`.
pub fn task_failed(id: i32, error_type: &str, message: &str) -> proto::HistoryEvent {
    event(
        -1,
        None,
        EventType::TaskFailed(Box::new(proto::TaskFailedEvent {
            task_scheduled_id: id,
            failure_details: Some(proto::TaskFailureDetails {
                error_type: error_type.to_string(),
                error_message: message.to_string(),
                ..Default::default()
            }),
        })),
    )
}

/// `timerCreated` confirming the timer at sequence number `id`.
pub fn timer_created(id: i32, fire_at: DateTime<Utc>) -> proto::HistoryEvent {
    event(
        id,
        None,
        EventType::TimerCreated(proto::TimerCreatedEvent {
            fire_at: Some(to_timestamp(fire_at)),
        }),
    )
}

/// `timerFired` for the timer created at `id`.
pub fn timer_fired(id: i32, fire_at: DateTime<Utc>) -> proto::HistoryEvent {
    event(
        -1,
        None,
        EventType::TimerFired(proto::TimerFiredEvent {
            fire_at: Some(to_timestamp(fire_at)),
            timer_id: id,
        }),
    )
}

/// `eventRaised`: an external event `name` with JSON `input`.
pub fn event_raised(name: &str, input: Option<&str>) -> proto::HistoryEvent {
    event(
        -1,
        None,
        EventType::EventRaised(proto::EventRaisedEvent {
            name: name.to_string(),
            input: input.map(str::to_string),
        }),
    )
}

/// `subOrchestrationInstanceCreated` confirming sub-orchestration `name` at `id`.
pub fn sub_orchestration_created(id: i32, name: &str, instance_id: &str) -> proto::HistoryEvent {
    event(
        id,
        None,
        EventType::SubOrchestrationInstanceCreated(Box::new(proto::SubOrchestrationInstanceCreatedEvent {
            instance_id: instance_id.to_string(),
            name: name.to_string(),
            ..Default::default()
        })),
    )
}

/// `subOrchestrationInstanceCompleted` for the sub-orchestration created at `id`.
pub fn sub_orchestration_completed(id: i32, result: Option<&str>) -> proto::HistoryEvent {
    event(
        -1,
        None,
        EventType::SubOrchestrationInstanceCompleted(proto::SubOrchestrationInstanceCompletedEvent {
            task_scheduled_id: id,
            result: result.map(str::to_string),
        }),
    )
}

/// `subOrchestrationInstanceFailed` for the sub-orchestration created at `id`.
pub fn sub_orchestration_failed(id: i32, error_type: &str, message: &str) -> proto::HistoryEvent {
    event(
        -1,
        None,
        EventType::SubOrchestrationInstanceFailed(Box::new(proto::SubOrchestrationInstanceFailedEvent {
            task_scheduled_id: id,
            failure_details: Some(proto::TaskFailureDetails {
                error_type: error_type.to_string(),
                error_message: message.to_string(),
                ..Default::default()
            }),
        })),
    )
}

/// `executionSuspended`.
pub fn execution_suspended() -> proto::HistoryEvent {
    event(
        -1,
        None,
        EventType::ExecutionSuspended(proto::ExecutionSuspendedEvent { input: None }),
    )
}

/// `executionResumed`.
pub fn execution_resumed() -> proto::HistoryEvent {
    event(
        -1,
        None,
        EventType::ExecutionResumed(proto::ExecutionResumedEvent { input: None }),
    )
}

/// `executionTerminated` with a JSON reason.
pub fn execution_terminated(reason: Option<&str>) -> proto::HistoryEvent {
    event(
        -1,
        None,
        EventType::ExecutionTerminated(proto::ExecutionTerminatedEvent {
            input: reason.map(str::to_string),
            recurse: false,
        }),
    )
}

/// `entityOperationCalled` confirming an entity call at `id`.
pub fn entity_operation_called(id: i32, request_id: &str, entity: &str, operation: &str) -> proto::HistoryEvent {
    event(
        id,
        None,
        EventType::EntityOperationCalled(Box::new(proto::EntityOperationCalledEvent {
            request_id: request_id.to_string(),
            operation: operation.to_string(),
            target_instance_id: Some(entity.to_string()),
            ..Default::default()
        })),
    )
}

/// `eventSent` confirming a `sendEvent` at `id` (also how the Functions extension records entity messages).
pub fn event_sent(id: i32, instance_id: &str, name: &str, input: Option<&str>) -> proto::HistoryEvent {
    event(
        id,
        None,
        EventType::EventSent(proto::EventSentEvent {
            instance_id: instance_id.to_string(),
            name: name.to_string(),
            input: input.map(str::to_string),
        }),
    )
}

/// `entityOperationSignaled` confirming an entity signal at `id`.
pub fn entity_operation_signaled(id: i32, request_id: &str, entity: &str, operation: &str) -> proto::HistoryEvent {
    event(
        id,
        None,
        EventType::EntityOperationSignaled(proto::EntityOperationSignaledEvent {
            request_id: request_id.to_string(),
            operation: operation.to_string(),
            target_instance_id: Some(entity.to_string()),
            ..Default::default()
        }),
    )
}

/// `entityOperationCompleted`: the answer to an entity call.
pub fn entity_operation_completed(request_id: &str, output: Option<&str>) -> proto::HistoryEvent {
    event(
        -1,
        None,
        EventType::EntityOperationCompleted(proto::EntityOperationCompletedEvent {
            request_id: request_id.to_string(),
            output: output.map(str::to_string),
        }),
    )
}

/// `entityLockRequested` confirming a lock request at `id`: critical section `section_id`, the entities
/// `lock_set` (sorted, as the request sends them), asked for by orchestration `parent_instance_id`.
pub fn entity_lock_requested(
    id: i32,
    section_id: &str,
    lock_set: &[String],
    parent_instance_id: &str,
) -> proto::HistoryEvent {
    event(
        id,
        None,
        EventType::EntityLockRequested(proto::EntityLockRequestedEvent {
            critical_section_id: section_id.to_string(),
            lock_set: lock_set.to_vec(),
            position: 0,
            parent_instance_id: Some(parent_instance_id.to_string()),
        }),
    )
}

/// `entityLockGranted`: every lock of critical section `section_id` is held.
pub fn entity_lock_granted(section_id: &str) -> proto::HistoryEvent {
    event(
        -1,
        None,
        EventType::EntityLockGranted(proto::EntityLockGrantedEvent {
            critical_section_id: section_id.to_string(),
        }),
    )
}

/// `entityUnlockSent` confirming the unlock of `entity` at `id`, for critical section `section_id` of orchestration
/// `parent_instance_id`.
pub fn entity_unlock_sent(id: i32, section_id: &str, entity: &str, parent_instance_id: &str) -> proto::HistoryEvent {
    event(
        id,
        None,
        EventType::EntityUnlockSent(proto::EntityUnlockSentEvent {
            critical_section_id: section_id.to_string(),
            parent_instance_id: Some(parent_instance_id.to_string()),
            target_instance_id: Some(entity.to_string()),
        }),
    )
}
