//! Whole histories for the situations most orchestrator tests start from. Each function's documentation lists
//! the events it returns, in order; combine them with the single-event builders of [`history`](super::history).
//!
//! Histories are laid out as the Durable Task Framework records them: an episode starts with
//! `orchestratorStarted` (which sets the orchestration's current time) and ends with `orchestratorCompleted`, and
//! an episode's decisions are recorded (with their sequence numbers as event ids) before its end.

use chrono::{DateTime, TimeZone, Utc};

use super::history;
use crate::proto::HistoryEvent;

/// The time canned histories start at: 2024-05-01T10:00:00Z.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0)
        .single()
        .expect("a valid date")
}

/// The first episode's events: `orchestratorStarted` at [`t0`], then `executionStarted` of `orchestrator` on
/// `instance_id` with JSON `input`.
pub fn started(orchestrator: &str, instance_id: &str, input: Option<&str>) -> Vec<HistoryEvent> {
    vec![
        history::orchestrator_started(t0()),
        history::execution_started(orchestrator, instance_id, input),
    ]
}

/// A later episode's events: `orchestratorStarted` at `at`, then `events`.
pub fn episode(at: DateTime<Utc>, events: impl IntoIterator<Item = HistoryEvent>) -> Vec<HistoryEvent> {
    std::iter::once(history::orchestrator_started(at))
        .chain(events)
        .collect()
}

/// An orchestration whose first episode scheduled one activity: [`started`], `taskScheduled` of `activity`
/// with JSON `activity_input` at sequence number 1, `orchestratorCompleted`.
pub fn activity_scheduled(
    orchestrator: &str,
    instance_id: &str,
    input: Option<&str>,
    activity: &str,
    activity_input: Option<&str>,
) -> Vec<HistoryEvent> {
    let mut events = started(orchestrator, instance_id, input);
    events.extend([
        history::task_scheduled(1, activity, activity_input),
        history::orchestrator_completed(),
    ]);
    events
}

/// An orchestration whose first episode created one timer: [`started`], `timerCreated` firing at `fire_at` at
/// sequence number 1, `orchestratorCompleted`.
pub fn timer_created(
    orchestrator: &str,
    instance_id: &str,
    input: Option<&str>,
    fire_at: DateTime<Utc>,
) -> Vec<HistoryEvent> {
    let mut events = started(orchestrator, instance_id, input);
    events.extend([history::timer_created(1, fire_at), history::orchestrator_completed()]);
    events
}

/// An orchestration whose first episode started one sub-orchestration: [`started`],
/// `subOrchestrationInstanceCreated` of `child` on `child_instance_id` at sequence number 1,
/// `orchestratorCompleted`.
pub fn sub_orchestration_created(
    orchestrator: &str,
    instance_id: &str,
    input: Option<&str>,
    child: &str,
    child_instance_id: &str,
) -> Vec<HistoryEvent> {
    let mut events = started(orchestrator, instance_id, input);
    events.extend([
        history::sub_orchestration_created(1, child, child_instance_id),
        history::orchestrator_completed(),
    ]);
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::history_event::EventType;

    #[test]
    fn histories_open_with_the_episode_start_and_close_with_its_end() {
        let events = activity_scheduled("O", "i", None, "A", None);
        assert!(matches!(events[0].event_type, Some(EventType::OrchestratorStarted(_))));
        assert!(matches!(
            events.last().unwrap().event_type,
            Some(EventType::OrchestratorCompleted(_))
        ));
        assert_eq!(events[2].event_id, 1);
    }
}
