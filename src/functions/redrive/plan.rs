//! What re-driving a return's notification does, decided from what the return's entity and the engine know. Pure:
//! the function in [`super`] reads the entity, the notification orchestration and (for a failed run) its history,
//! and carries out the step decided here.
//!
//! The one rule: never a second email. The entity's record (`notificationPublishedAt`) is proof that the email
//! went out, but its absence is not proof that it did not: the orchestrator reports the publication (a signal
//! before version 2.0, a call from 2.0) *after* the activity published, so a handler crash (or an extension that
//! cannot convert the report) between the two fails the run with the email sent and the entity unaware. That is
//! why the entity does not start a fresh notification by itself, and why a failed run is only started again
//! ([`Redrive::Restart`]) when its history shows that the publishing activity never completed. Where the engine does not serve histories (the Durable
//! Functions extension answers `StreamInstanceHistory` with `UNIMPLEMENTED`), the run is rewound instead
//! ([`Redrive::Rewind`]): the extension rewinds in its storage provider, which keeps every completed task and turns
//! only the failed ones and the failed `ExecutionCompleted` into `GenericEvent`s ("Rewound: …") before the instance
//! runs again (Azure/azure-functions-durable-extension `TaskHubGrpcServer.RewindInstance` → `RewindAsync`;
//! Azure/durabletask `DurableTask.AzureStorage` `AzureTableTrackingStore.RewindHistoryAsync`), so a completed
//! publication is replayed, not repeated.

use chrono::{DateTime, Utc};
use durabletask_sdk::client::OrchestrationStatus;
use durabletask_sdk::proto;
use durabletask_sdk::proto::history_event::EventType;

use crate::domain::ReturnStatus;
use crate::durable::AggregateEntityState;

/// What re-driving does (or why it does nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redrive {
    /// The return has no state: never received, or purged after its retention.
    NoReturn,
    /// The return is open or cancelled: there is no notification to send.
    NotSettled(ReturnStatus),
    /// The entity recorded the publication: nothing to do.
    AlreadyNotified(DateTime<Utc>),
    /// The notification orchestration has not finished: nothing to do yet.
    InProgress(OrchestrationStatus),
    /// No notification orchestration is on record although the return settled (purged): whether an email went out
    /// cannot be told, so nothing is sent.
    NoRunOnRecord,
    /// The orchestration ended in `status` and whether it published cannot be told (a terminated run where the
    /// engine serves no history): nothing is sent.
    CannotTell(OrchestrationStatus),
    /// The email went out (the run completed, or its history holds the completed publication) but the entity never
    /// heard of it: tell the entity, send nothing.
    RecordPublished(DateTime<Utc>),
    /// The run failed or was terminated before its publication completed: start it again under the same instance id.
    Restart,
    /// The run failed and the engine serves no history: rewind it, so that completed steps are replayed.
    Rewind,
}

/// What the first look decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstLook {
    /// Decided.
    Decided(Redrive),
    /// The run ended in this status without completing: its history decides ([`after_history`]).
    AskHistory(OrchestrationStatus),
}

/// The first look: the entity's state and the notification orchestration's status (`None`: no such instance).
pub fn first_look(state: Option<&AggregateEntityState>, run: Option<&RunSnapshot>) -> FirstLook {
    let decided = FirstLook::Decided;
    let Some(state) = state else {
        return decided(Redrive::NoReturn);
    };
    if let Some(at) = state.notification_published_at {
        return decided(Redrive::AlreadyNotified(at));
    }
    let status = state.aggregate.status();
    if status != ReturnStatus::Settled {
        return decided(Redrive::NotSettled(status));
    }
    let Some(run) = run else {
        return decided(Redrive::NoRunOnRecord);
    };
    match run.status {
        OrchestrationStatus::Completed => decided(Redrive::RecordPublished(run.finished_at)),
        ended @ (OrchestrationStatus::Failed | OrchestrationStatus::Terminated | OrchestrationStatus::Canceled) => {
            FirstLook::AskHistory(ended)
        }
        other => decided(Redrive::InProgress(other)),
    }
}

/// The decision for a run that ended in `status` without completing, from what its history says.
pub fn after_history(status: OrchestrationStatus, history: &History) -> Redrive {
    match history {
        History::Read(events) => match completed_publication(events) {
            Some(at) => Redrive::RecordPublished(at),
            None => Redrive::Restart,
        },
        History::NotServed if status == OrchestrationStatus::Failed => Redrive::Rewind,
        History::NotServed => Redrive::CannotTell(status),
    }
}

/// The notification orchestration as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSnapshot {
    /// Its runtime status.
    pub status: OrchestrationStatus,
    /// When it reached that status (completion time, else its last update).
    pub finished_at: DateTime<Utc>,
}

/// The history of a run that ended without completing.
#[derive(Debug, Clone, PartialEq)]
pub enum History {
    /// The events the engine recorded.
    Read(Vec<proto::HistoryEvent>),
    /// The engine does not serve histories (`UNIMPLEMENTED`).
    NotServed,
}

/// When the history's publishing activity completed, if it did: a `taskCompleted` answering a `taskScheduled` of
/// [`PUBLISH_NOTIFICATION`](crate::durable::contract::PUBLISH_NOTIFICATION). Once the host has the activity's
/// result, its output binding has been flushed: the message is on the notifications topic.
pub fn completed_publication(events: &[proto::HistoryEvent]) -> Option<DateTime<Utc>> {
    let publishing: Vec<i32> = events
        .iter()
        .filter_map(|event| match &event.event_type {
            Some(EventType::TaskScheduled(scheduled))
                if scheduled.name == crate::durable::contract::PUBLISH_NOTIFICATION =>
            {
                Some(event.event_id)
            }
            _ => None,
        })
        .collect();
    events.iter().find_map(|event| match &event.event_type {
        Some(EventType::TaskCompleted(completed)) if publishing.contains(&completed.task_scheduled_id) => Some(
            event
                .timestamp
                .as_ref()
                .map_or(DateTime::UNIX_EPOCH, durabletask_sdk::time::to_datetime),
        ),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{parse_event, ReturnAggregate, ReturnId};
    use durabletask_sdk::testing::history::{
        execution_started, orchestrator_started, task_completed, task_failed, task_scheduled,
    };

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    /// The fixture events that settle return `RET-2025-910001`.
    const SETTLING: [&str; 3] = [
        include_str!("../../../tests/fixtures/events/return_booked.json"),
        include_str!("../../../tests/fixtures/events/return_items_received.json"),
        include_str!("../../../tests/fixtures/events/refund_issued.json"),
    ];

    fn state(settled: bool, notified: Option<&str>) -> AggregateEntityState {
        let mut aggregate = ReturnAggregate::new(ReturnId::parse("RET-2025-910001").unwrap());
        if settled {
            for body in SETTLING {
                let event = parse_event(None, None, body.as_bytes()).unwrap();
                let _ = aggregate.apply(&event, at("2025-03-20T10:00:00Z"));
            }
            assert_eq!(aggregate.status(), ReturnStatus::Settled);
        }
        AggregateEntityState {
            aggregate,
            notification_published_at: notified.map(at),
            alert_published_at: None,
        }
    }

    fn run(status: OrchestrationStatus) -> RunSnapshot {
        RunSnapshot {
            status,
            finished_at: at("2025-03-20T10:00:05Z"),
        }
    }

    #[test]
    fn nothing_is_sent_for_a_return_that_is_unknown_open_or_already_notified() {
        assert_eq!(first_look(None, None), FirstLook::Decided(Redrive::NoReturn));
        assert_eq!(
            first_look(Some(&state(false, None)), None),
            FirstLook::Decided(Redrive::NotSettled(ReturnStatus::Open))
        );
        let failed = run(OrchestrationStatus::Failed);
        assert_eq!(
            first_look(Some(&state(true, Some("2025-03-20T10:00:03Z"))), Some(&failed)),
            FirstLook::Decided(Redrive::AlreadyNotified(at("2025-03-20T10:00:03Z")))
        );
    }

    #[test]
    fn a_run_in_progress_is_left_alone_and_a_missing_run_cannot_be_judged() {
        let settled = state(true, None);
        for status in [
            OrchestrationStatus::Pending,
            OrchestrationStatus::Running,
            OrchestrationStatus::Suspended,
        ] {
            assert_eq!(
                first_look(Some(&settled), Some(&run(status))),
                FirstLook::Decided(Redrive::InProgress(status))
            );
        }
        assert_eq!(
            first_look(Some(&settled), None),
            FirstLook::Decided(Redrive::NoRunOnRecord)
        );
    }

    #[test]
    fn a_completed_run_published_and_the_entity_is_told() {
        let completed = run(OrchestrationStatus::Completed);
        assert_eq!(
            first_look(Some(&state(true, None)), Some(&completed)),
            FirstLook::Decided(Redrive::RecordPublished(completed.finished_at))
        );
        assert_eq!(
            first_look(Some(&state(true, None)), Some(&run(OrchestrationStatus::Failed))),
            FirstLook::AskHistory(OrchestrationStatus::Failed),
            "a failed run needs its history"
        );
    }

    #[test]
    fn a_failed_run_is_restarted_only_if_its_history_shows_no_completed_publication() {
        let published_at = at("2025-03-20T10:00:02Z");
        let mut completed = task_completed(0, Some("{}"));
        completed.timestamp = Some(durabletask_sdk::time::to_timestamp(published_at));
        let started = [
            orchestrator_started(at("2025-03-20T10:00:00Z")),
            execution_started("Orchestrator", "returns-settled-RET-2025-910001", None),
        ];
        let published: Vec<_> = started
            .iter()
            .cloned()
            .chain([task_scheduled(0, "PublishNotification", None), completed])
            .collect();
        let failed_activity: Vec<_> = started
            .iter()
            .cloned()
            .chain([
                task_scheduled(0, "PublishNotification", None),
                task_failed(0, "Error", "topic down"),
            ])
            .collect();
        let other_activity: Vec<_> = started
            .iter()
            .cloned()
            .chain([task_scheduled(0, "PublishAlert", None), task_completed(0, None)])
            .collect();
        let status = OrchestrationStatus::Failed;
        assert_eq!(
            after_history(status, &History::Read(published)),
            Redrive::RecordPublished(published_at)
        );
        assert_eq!(
            after_history(status, &History::Read(started.to_vec())),
            Redrive::Restart
        );
        assert_eq!(after_history(status, &History::Read(failed_activity)), Redrive::Restart);
        assert_eq!(after_history(status, &History::Read(other_activity)), Redrive::Restart);
    }

    #[test]
    fn without_a_history_a_failed_run_is_rewound_and_a_terminated_one_is_not_judged() {
        assert_eq!(
            after_history(OrchestrationStatus::Failed, &History::NotServed),
            Redrive::Rewind
        );
        assert_eq!(
            after_history(OrchestrationStatus::Terminated, &History::NotServed),
            Redrive::CannotTell(OrchestrationStatus::Terminated)
        );
    }
}
