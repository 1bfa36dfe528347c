//! Rewinding a failed orchestration: its history without the failure, so that it runs again from where it
//! failed — activities and sub-orchestrations that completed are not run again, failed ones are.
//!
//! Where the rewrite happens depends on the engine. The Durable Task Framework (the Durable Functions extension)
//! rewrites the history itself (`TaskOrchestrationDispatcher.ProcessRewindOrchestrationDecision`) and never asks the
//! worker. durabletask's in-memory engine (and the Durable Task Scheduler) leave it to the worker: after a client's
//! `RewindInstance`, the failed instance's next work item carries an `executionRewound` event, and the worker
//! answers with a `rewindOrchestration` action holding the new history; the engine then runs the instance again on
//! that history. [`execute_orchestrator`](super::execute_orchestrator) does so, and so does a host playing the
//! framework (local-host) with [`rewind_response`].
//!
//! The rewrite is the framework's and durabletask-python's: the `taskFailed` events go, with the `taskScheduled`
//! events of the failed activities (so they are scheduled again); `subOrchestrationInstanceFailed` goes (the
//! engine rewinds the child); `executionCompleted` goes; `executionStarted` gets a new execution id (and, for a
//! rewound child, its parent's new one). Everything else stays, the `executionRewound` event included.
//!
//! The limit these rules share (durabletask-python and .NET note it too): the timers between the attempts of a call
//! retried with a [`RetryPolicy`](super::RetryPolicy) stay in the history while the failed attempts go, so a
//! rewound instance whose retried call failed for good meets those timers where it now schedules the call again
//! and fails with a nondeterminism error. Restart such an instance instead.

use std::collections::HashSet;

use crate::proto;
use crate::proto::history_event::EventType;
use crate::proto::orchestrator_action::OrchestratorActionType as Action;

/// The namespace of the execution ids a rewind gives (UUID v5, so that the executor stays deterministic).
const EXECUTION_ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6d1f_3a2c_7b4e_4f90_a1c8_2e5b_9d70_43f6);

/// True when `request` asks the worker to rewind the instance: an `executionRewound` among the new events of an
/// instance whose history has ended (`executionCompleted`). Once the engine applied the rewind, the history has no
/// end any more and the `executionRewound` event merely wakes the instance up for an ordinary replay.
pub fn is_rewind_request(request: &proto::OrchestratorRequest) -> bool {
    let rewound = request
        .new_events
        .iter()
        .any(|event| matches!(event.event_type, Some(EventType::ExecutionRewound(_))));
    rewound
        && request
            .past_events
            .iter()
            .any(|event| matches!(event.event_type, Some(EventType::ExecutionCompleted(_))))
}

/// The worker's answer to a rewind request: one `rewindOrchestration` action with the rewritten history.
pub fn rewind_response(request: &proto::OrchestratorRequest) -> proto::OrchestratorResponse {
    proto::OrchestratorResponse {
        instance_id: request.instance_id.clone(),
        actions: vec![proto::OrchestratorAction {
            id: -1,
            orchestrator_action_type: Some(Action::RewindOrchestration(proto::RewindOrchestrationAction {
                new_history: rewound_history(request),
            })),
        }],
        ..Default::default()
    }
}

/// The history of a rewound instance (see the module docs): past and new events of `request`, rewritten.
pub fn rewound_history(request: &proto::OrchestratorRequest) -> Vec<proto::HistoryEvent> {
    let events = || request.past_events.iter().chain(&request.new_events);
    let failed_tasks: HashSet<i32> = events()
        .filter_map(|event| match &event.event_type {
            Some(EventType::TaskFailed(failed)) => Some(failed.task_scheduled_id),
            _ => None,
        })
        .collect();
    let rewind = events().find_map(|event| match &event.event_type {
        Some(EventType::ExecutionRewound(rewound)) => Some(rewound.as_ref()),
        _ => None,
    });
    let new_execution_id = new_execution_id(request);
    events()
        .filter(|event| match &event.event_type {
            Some(EventType::TaskScheduled(_)) => !failed_tasks.contains(&event.event_id),
            Some(
                EventType::TaskFailed(_)
                | EventType::SubOrchestrationInstanceFailed(_)
                | EventType::ExecutionCompleted(_),
            ) => false,
            _ => true,
        })
        .map(|event| {
            let mut event = event.clone();
            if let Some(EventType::ExecutionStarted(started)) = &mut event.event_type {
                if let Some(instance) = &mut started.orchestration_instance {
                    instance.execution_id = Some(new_execution_id.clone());
                }
                let parent_execution = rewind
                    .and_then(|r| r.parent_execution_id.clone())
                    .filter(|id| !id.is_empty());
                if let (Some(parent_execution), Some(parent)) = (parent_execution, &mut started.parent_instance) {
                    if let Some(instance) = &mut parent.orchestration_instance {
                        instance.execution_id = Some(parent_execution);
                    }
                }
            }
            event
        })
        .collect()
}

/// A new execution id for the rewound instance, derived from the instance and its history so far.
fn new_execution_id(request: &proto::OrchestratorRequest) -> String {
    let previous = request
        .past_events
        .iter()
        .find_map(|event| match &event.event_type {
            Some(EventType::ExecutionStarted(started)) => started
                .orchestration_instance
                .as_ref()
                .and_then(|instance| instance.execution_id.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let name = format!(
        "{}\n{previous}\n{}",
        request.instance_id,
        request.past_events.len() + request.new_events.len()
    );
    uuid::Uuid::new_v5(&EXECUTION_ID_NAMESPACE, name.as_bytes())
        .simple()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{canned, history};

    fn rewound_event() -> proto::HistoryEvent {
        proto::HistoryEvent {
            event_id: -1,
            timestamp: None,
            event_type: Some(EventType::ExecutionRewound(Box::new(proto::ExecutionRewoundEvent {
                reason: Some("operator".into()),
                ..Default::default()
            }))),
        }
    }

    fn request(past: Vec<proto::HistoryEvent>) -> proto::OrchestratorRequest {
        proto::OrchestratorRequest {
            instance_id: "i".into(),
            past_events: past,
            new_events: vec![history::orchestrator_started(canned::t0()), rewound_event()],
            ..Default::default()
        }
    }

    #[test]
    fn failed_activities_are_scheduled_again_and_the_end_removed() {
        let mut past = canned::started("O", "i", None);
        past.extend([
            history::task_scheduled(1, "ok", None),
            history::task_scheduled(2, "bad", None),
            history::task_completed(1, Some("1")),
            history::task_failed(2, "Boom", "it broke"),
            history::execution_completed(proto::OrchestrationStatus::Failed, None),
        ]);
        let request = request(past);
        assert!(is_rewind_request(&request));
        let rewritten = rewound_history(&request);
        let kinds: Vec<&str> = rewritten
            .iter()
            .map(|event| match &event.event_type {
                Some(EventType::OrchestratorStarted(_)) => "started",
                Some(EventType::ExecutionStarted(_)) => "execution",
                Some(EventType::TaskScheduled(t)) if t.name == "ok" => "scheduled ok",
                Some(EventType::TaskCompleted(_)) => "completed",
                Some(EventType::ExecutionRewound(_)) => "rewound",
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "started",
                "execution",
                "scheduled ok",
                "completed",
                "started",
                "rewound"
            ]
        );
        let Some(EventType::ExecutionStarted(started)) = &rewritten[1].event_type else {
            panic!()
        };
        let new_id = started
            .orchestration_instance
            .as_ref()
            .unwrap()
            .execution_id
            .clone()
            .unwrap();
        assert_ne!(new_id, "execution-1");
        assert_eq!(rewound_history(&request), rewritten, "deterministic");
    }

    #[test]
    fn a_crashed_instance_keeps_everything_but_its_end() {
        let mut past = canned::started("O", "i", None);
        past.extend([
            history::task_scheduled(1, "publish", None),
            history::task_completed(1, Some("\"sent\"")),
            history::execution_completed(proto::OrchestrationStatus::Failed, None),
        ]);
        let request = request(past.clone());
        let rewritten = rewound_history(&request);
        assert_eq!(rewritten.len(), past.len() - 1 + 2);
        assert!(matches!(rewritten[3].event_type, Some(EventType::TaskCompleted(_))));
        let response = rewind_response(&request);
        assert_eq!(response.actions.len(), 1);
        assert!(matches!(
            response.actions[0].orchestrator_action_type,
            Some(Action::RewindOrchestration(_))
        ));
    }

    #[test]
    fn a_failed_sub_orchestration_keeps_its_creation_and_loses_its_failure() {
        let mut past = canned::started("Parent", "i", None);
        past.extend([
            history::sub_orchestration_created(1, "Child", "i:child"),
            history::sub_orchestration_failed(1, "Boom", "the child broke"),
            history::execution_completed(proto::OrchestrationStatus::Failed, None),
        ]);
        let rewritten = rewound_history(&request(past));
        assert!(rewritten
            .iter()
            .any(|event| matches!(event.event_type, Some(EventType::SubOrchestrationInstanceCreated(_)))));
        assert!(!rewritten.iter().any(|event| matches!(
            event.event_type,
            Some(EventType::SubOrchestrationInstanceFailed(_) | EventType::ExecutionCompleted(_))
        )));
    }

    fn started_of(history: &[proto::HistoryEvent]) -> &proto::ExecutionStartedEvent {
        history
            .iter()
            .find_map(|event| match &event.event_type {
                Some(EventType::ExecutionStarted(started)) => Some(started.as_ref()),
                _ => None,
            })
            .expect("an executionStarted event")
    }

    #[test]
    fn a_rewound_child_takes_its_parents_new_execution_id_and_a_top_level_instance_gets_no_parent() {
        let mut child_started = history::execution_started("Child", "i", None);
        if let Some(EventType::ExecutionStarted(started)) = &mut child_started.event_type {
            started.parent_instance = Some(proto::ParentInstanceInfo {
                orchestration_instance: Some(proto::OrchestrationInstance {
                    instance_id: "parent".into(),
                    execution_id: Some("parent-old".into()),
                }),
                ..Default::default()
            });
        }
        let past = vec![
            history::orchestrator_started(canned::t0()),
            child_started,
            history::execution_completed(proto::OrchestrationStatus::Failed, None),
        ];
        let mut child = request(past);
        if let Some(EventType::ExecutionRewound(rewound)) = &mut child.new_events[1].event_type {
            rewound.parent_execution_id = Some("parent-new".into());
        }
        let rewritten = rewound_history(&child);
        let parent = started_of(&rewritten).parent_instance.as_ref().unwrap();
        let parent_execution = parent.orchestration_instance.as_ref().unwrap().execution_id.as_deref();
        assert_eq!(parent_execution, Some("parent-new"));

        let mut top = canned::started("O", "i", None);
        top.push(history::execution_completed(proto::OrchestrationStatus::Failed, None));
        let mut top = request(top);
        if let Some(EventType::ExecutionRewound(rewound)) = &mut top.new_events[1].event_type {
            rewound.parent_execution_id = Some("nobody".into());
        }
        assert!(started_of(&rewound_history(&top)).parent_instance.is_none());
    }

    /// Two activities; the second fails the first time it runs.
    async fn two_steps(ctx: crate::OrchestrationContext, _: ()) -> Result<String, crate::Error> {
        let first: String = ctx.call_activity("First", &()).await?;
        let second: String = ctx.call_activity("Second", &()).await?;
        Ok(format!("{first}+{second}"))
    }

    #[test]
    fn the_executor_answers_a_rewind_and_the_rewritten_history_runs_the_failed_step_again() {
        let mut registry = crate::Registry::new();
        registry.add_orchestrator("TwoSteps", two_steps).unwrap();
        let mut past = canned::started("TwoSteps", "i", Some("null"));
        past.extend([
            history::task_scheduled(1, "First", None),
            history::orchestrator_completed(),
            history::orchestrator_started(canned::t0()),
            history::task_completed(1, Some("\"a\"")),
            history::task_scheduled(2, "Second", None),
            history::orchestrator_completed(),
            history::orchestrator_started(canned::t0()),
            history::task_failed(2, "Boom", "it broke"),
            history::execution_completed(proto::OrchestrationStatus::Failed, None),
            history::orchestrator_completed(),
        ]);
        let rewind = request(past);
        let response = crate::orchestration::execute_orchestrator(&registry, &rewind);
        assert_eq!(
            response,
            rewind_response(&rewind),
            "the executor answers with the rewritten history"
        );
        let Some(Action::RewindOrchestration(action)) = &response.actions[0].orchestrator_action_type else {
            panic!("{response:?}")
        };

        // What the engine does next: the rewritten history as the past, a new episode to run it.
        let again = crate::testing::replay(
            &registry,
            "i",
            action.new_history.clone(),
            vec![history::orchestrator_started(canned::t0())],
        );
        let view = crate::testing::ResponseView::new(&again);
        assert_eq!(
            view.scheduled_activities(),
            [(2, "Second")],
            "only the failed step runs again"
        );
        assert!(view.completion().is_none());

        let mut rewound = action.new_history.clone();
        rewound.extend([
            history::orchestrator_started(canned::t0()),
            history::task_scheduled(2, "Second", None),
            history::orchestrator_completed(),
        ]);
        let done = crate::testing::replay(
            &registry,
            "i",
            rewound,
            vec![
                history::orchestrator_started(canned::t0()),
                history::task_completed(2, Some("\"b\"")),
            ],
        );
        let view = crate::testing::ResponseView::new(&done);
        assert_eq!(view.status(), Some(proto::OrchestrationStatus::Completed));
        assert_eq!(view.result(), Some("\"a+b\""));
    }

    /// One activity, retried once after a second.
    async fn retried(ctx: crate::OrchestrationContext, _: ()) -> Result<String, crate::Error> {
        let policy = crate::orchestration::RetryPolicy::new(2, std::time::Duration::from_secs(1));
        Ok(ctx.call_activity("Flaky", &()).with_retry(policy).await?)
    }

    #[test]
    fn a_retried_call_that_failed_for_good_cannot_be_rewound() {
        let mut registry = crate::Registry::new();
        registry.add_orchestrator("Retried", retried).unwrap();
        let retry_at = canned::t0() + chrono::Duration::seconds(1);
        let mut past = canned::started("Retried", "i", Some("null"));
        past.extend([
            history::task_scheduled(1, "Flaky", None),
            history::task_failed(1, "Boom", "first"),
            history::timer_created(2, retry_at),
            history::timer_fired(2, retry_at),
            history::task_scheduled(3, "Flaky", None),
            history::task_failed(3, "Boom", "second"),
            history::execution_completed(proto::OrchestrationStatus::Failed, None),
        ]);
        let rewritten = rewound_history(&request(past));
        let again = crate::testing::replay(
            &registry,
            "i",
            rewritten,
            vec![history::orchestrator_started(canned::t0())],
        );
        let view = crate::testing::ResponseView::new(&again);
        assert_eq!(view.status(), Some(proto::OrchestrationStatus::Failed), "{again:?}");
        assert_eq!(view.failure().unwrap().error_type, "NonDeterminismError");
    }

    #[test]
    fn a_rewound_event_after_the_rewrite_is_no_rewind_request() {
        let past = canned::started("O", "i", None);
        assert!(!is_rewind_request(&request(past)));
    }
}
