//! The replay check: does the current code still replay the histories of instances already running (or recently
//! finished)? Run it before a deploy, over histories taken from the task hub, so that a change that would break
//! in-flight instances is caught with the instance and the step, not found in production as failed instances.
//!
//! It is pure: histories in, a report out. Each history is replayed through the registry's orchestrators with the
//! replay executor (no activity, entity or engine is called) and judged:
//!
//! - [`Verdict::Ok`]: every decision the history records is made again, in order; an instance that completed
//!   (or continued as new) also ends that way again.
//! - [`Verdict::Nondeterministic`]: at some sequence number the code now decides something else than history
//!   records (or nothing, or more after the recorded end) — deploying it fails the instance.
//! - [`Verdict::Failed`]: the code fails the instance where the recorded run did not (an input it can no longer
//!   read, a panic, an orchestrator no longer registered, a version the options fail).
//! - [`Verdict::Rejected`]: the registry's [versioning](crate::orchestration::versioning) options leave the
//!   instance to another deployment; not a break.
//!
//! Instances that failed or were terminated are checked up to their end, whatever the code does after it (a
//! host that crashed fails an instance its code never failed). Histories come from history files
//! ([`history_json`]: JSON lines, one instance per line, events in the protobuf JSON mapping) or from an engine
//! that serves `StreamInstanceHistory` ([`engine`]).
//!
//! ```
//! use durabletask_sdk::replay_check::{check_history, InstanceHistory, Verdict};
//! use durabletask_sdk::testing::history::*;
//! use durabletask_sdk::{Error, OrchestrationContext, Registry};
//!
//! // The history of version 1: it published at once.
//! let recorded = InstanceHistory::new("order-1", vec![
//!     orchestrator_started_now(),
//!     execution_started("Publish", "order-1", Some("\"hi\"")),
//!     task_scheduled(1, "Publish", Some("\"hi\"")),
//! ]);
//!
//! // Version 2 audits first, without a version guard.
//! async fn publish(ctx: OrchestrationContext, message: String) -> Result<(), Error> {
//!     ctx.call_activity::<()>("Audit", &message).await?;
//!     ctx.call_activity::<()>("Publish", &message).await?;
//!     Ok(())
//! }
//! let mut registry = Registry::new();
//! registry.add_orchestrator("Publish", publish).unwrap();
//!
//! let report = check_history(&registry, &recorded);
//! let Verdict::Nondeterministic(step) = &report.verdict else { panic!("{report}") };
//! assert_eq!(step.task_id, 1);
//! assert_eq!(report.to_string(), "BREAK order-1 (Publish, no version): non-deterministic at sequence number 1: \
//!     history records activity 'Publish', the code now schedules activity 'Audit'");
//! ```

pub mod engine;
pub mod history_json;

use std::fmt;

use crate::failure::{error_types, FailureDetails};
use crate::orchestration::{
    execute_and_diagnose, versioning, NondeterminismError, Recorded, ScheduledTask, TaskKind, VersionFailureStrategy,
    VersionMismatch,
};
use crate::proto;
use crate::proto::history_event::EventType;
use crate::proto::orchestrator_action::OrchestratorActionType as Action;
use crate::registry::Registry;

/// One instance's history, oldest event first, as the engine recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceHistory {
    /// The instance id.
    pub instance_id: String,
    /// The events.
    pub events: Vec<proto::HistoryEvent>,
}

impl InstanceHistory {
    /// The history `events` of `instance_id`.
    pub fn new(instance_id: impl Into<String>, events: Vec<proto::HistoryEvent>) -> Self {
        Self {
            instance_id: instance_id.into(),
            events,
        }
    }

    /// The orchestrator the instance runs (from `executionStarted`), if the history says.
    pub fn orchestrator(&self) -> Option<&str> {
        self.events.iter().find_map(|event| match &event.event_type {
            Some(EventType::ExecutionStarted(started)) => Some(started.name.as_str()),
            _ => None,
        })
    }

    /// The instance's version (from `executionStarted`), if it has one.
    pub fn version(&self) -> Option<&str> {
        versioning::history_version(&self.events)
    }
}

/// What the replay of one history found.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The code replays the history.
    Ok,
    /// The code decides differently from history at a sequence number.
    Nondeterministic(NondeterminismError),
    /// The code fails the instance where the recorded run did not.
    Failed(FailureDetails),
    /// The versioning options leave the instance to a deployment of its own version.
    Rejected(VersionMismatch),
}

/// The replay check of one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceReport {
    /// The instance id.
    pub instance_id: String,
    /// The orchestrator (empty when the history has no `executionStarted`).
    pub orchestrator: String,
    /// The instance's version.
    pub version: Option<String>,
    /// How many events were replayed.
    pub events: usize,
    /// What the replay found.
    pub verdict: Verdict,
}

impl InstanceReport {
    /// True when deploying the code breaks this instance (non-deterministic or failed).
    pub fn is_break(&self) -> bool {
        matches!(self.verdict, Verdict::Nondeterministic(_) | Verdict::Failed(_))
    }
}

impl fmt::Display for InstanceReport {
    /// One line: `ok <id> (<orchestrator>, version <v>): <n> events`, `BREAK <id> (...): <what>`, or
    /// `skipped <id> (...): <why>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let version = match &self.version {
            Some(version) => format!("version {version}"),
            None => "no version".to_string(),
        };
        let orchestrator = if self.orchestrator.is_empty() {
            "no executionStarted"
        } else {
            &self.orchestrator
        };
        let who = format!("{} ({orchestrator}, {version})", self.instance_id);
        match &self.verdict {
            Verdict::Ok => write!(f, "ok {who}: {} events replayed", self.events),
            Verdict::Nondeterministic(error) => write!(
                f,
                "BREAK {who}: non-deterministic at sequence number {}: history records {}, the code now {}",
                error.task_id,
                error.expected,
                describe_decision(error.actual.as_ref())
            ),
            Verdict::Failed(details) => write!(
                f,
                "BREAK {who}: the code fails the instance: {}: {}",
                details.error_type, details.message
            ),
            Verdict::Rejected(mismatch) => write!(f, "skipped {who}: {mismatch} (left to a deployment of its version)"),
        }
    }
}

fn describe_decision(decision: Option<&ScheduledTask>) -> String {
    match decision {
        Some(task) if task.kind == TaskKind::Completion => "completes".to_string(),
        Some(task) => format!("schedules {task}"),
        None => "decides nothing there".to_string(),
    }
}

/// The replay check of many instances.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplayReport {
    /// One report per instance, in the order the histories were given.
    pub instances: Vec<InstanceReport>,
}

impl ReplayReport {
    /// The instances the code breaks.
    pub fn breaks(&self) -> impl Iterator<Item = &InstanceReport> {
        self.instances.iter().filter(|report| report.is_break())
    }

    /// True when the code breaks no instance.
    pub fn passed(&self) -> bool {
        self.breaks().next().is_none()
    }

    /// `<n> instances: <ok> ok, <breaks> broken, <skipped> left to other versions`.
    pub fn summary(&self) -> String {
        let count = |wanted: fn(&Verdict) -> bool| self.instances.iter().filter(|r| wanted(&r.verdict)).count();
        format!(
            "{} instances: {} ok, {} broken, {} left to other versions",
            self.instances.len(),
            count(|v| matches!(v, Verdict::Ok)),
            count(|v| matches!(v, Verdict::Nondeterministic(_) | Verdict::Failed(_))),
            count(|v| matches!(v, Verdict::Rejected(_))),
        )
    }
}

/// Replays every history through `registry` (see the module docs).
pub fn check_histories<'h>(
    registry: &Registry,
    histories: impl IntoIterator<Item = &'h InstanceHistory>,
) -> ReplayReport {
    ReplayReport {
        instances: histories
            .into_iter()
            .map(|history| check_history(registry, history))
            .collect(),
    }
}

/// Replays one history through `registry` (see the module docs).
pub fn check_history(registry: &Registry, history: &InstanceHistory) -> InstanceReport {
    let verdict = judge(registry, history);
    InstanceReport {
        instance_id: history.instance_id.clone(),
        orchestrator: history.orchestrator().unwrap_or_default().to_string(),
        version: history.version().map(str::to_string),
        events: history.events.len(),
        verdict,
    }
}

fn judge(registry: &Registry, history: &InstanceHistory) -> Verdict {
    let request = proto::OrchestratorRequest {
        instance_id: history.instance_id.clone(),
        past_events: history.events.clone(),
        ..Default::default()
    };
    if let Some(Err(mismatch)) = registry.versioning().map(|options| options.check_request(&request)) {
        return match mismatch.failure_strategy {
            VersionFailureStrategy::Reject => Verdict::Rejected(mismatch),
            VersionFailureStrategy::Fail => Verdict::Failed(mismatch.failure_details()),
        };
    }
    let (response, nondeterminism) = execute_and_diagnose(registry, &request);
    let replayed = Replayed::of(&response);
    if let Some(error) = nondeterminism {
        // Whatever went wrong first decides: the code may have failed the instance (an input it cannot read)
        // before history went on to record decisions it no longer makes.
        return match replayed.completion {
            Some((proto::OrchestrationStatus::Failed, details))
                if details.error_type != error_types::NON_DETERMINISM =>
            {
                Verdict::Failed(details)
            }
            _ => Verdict::Nondeterministic(error),
        };
    }
    match recorded_end(&history.events) {
        // A host crash, a terminate or a bug since fixed may have ended these: only the recorded decisions count.
        RecordedEnd::Failed | RecordedEnd::Terminated => Verdict::Ok,
        RecordedEnd::Running => match replayed.completion {
            Some((proto::OrchestrationStatus::Failed, details)) => Verdict::Failed(details),
            _ => Verdict::Ok,
        },
        RecordedEnd::Finished(status) => match (replayed.completion, replayed.next_decision) {
            (_, Some((task_id, decision))) => Verdict::Nondeterministic(NondeterminismError {
                task_id,
                expected: Recorded::Task(ScheduledTask::new(TaskKind::Completion, "")),
                actual: Some(decision),
            }),
            (Some((proto::OrchestrationStatus::Failed, details)), None) => Verdict::Failed(details),
            (Some((replayed_status, _)), None) if replayed_status == status => Verdict::Ok,
            (Some(_), None) => Verdict::Failed(FailureDetails::new(
                "ReplayMismatch",
                format!("the recorded run ended {status:?}, the code now ends otherwise"),
            )),
            (None, None) => Verdict::Nondeterministic(NondeterminismError {
                task_id: next_sequence_number(&history.events),
                expected: Recorded::Task(ScheduledTask::new(TaskKind::Completion, "")),
                actual: None,
            }),
        },
    }
}

/// How the recorded run ended, as far as the history says.
enum RecordedEnd {
    /// No end recorded: the instance is in flight.
    Running,
    /// The code ended it: completed or continued as new.
    Finished(proto::OrchestrationStatus),
    /// It failed (by its code or by the host).
    Failed,
    /// A client terminated it.
    Terminated,
}

fn recorded_end(events: &[proto::HistoryEvent]) -> RecordedEnd {
    let mut end = RecordedEnd::Running;
    for event in events {
        match &event.event_type {
            Some(EventType::ExecutionTerminated(_)) => end = RecordedEnd::Terminated,
            Some(EventType::ExecutionCompleted(completed)) => {
                end = match proto::OrchestrationStatus::try_from(completed.orchestration_status) {
                    Ok(proto::OrchestrationStatus::Failed) => RecordedEnd::Failed,
                    Ok(proto::OrchestrationStatus::Terminated) => RecordedEnd::Terminated,
                    Ok(status) => RecordedEnd::Finished(status),
                    Err(_) => RecordedEnd::Failed,
                }
            }
            _ => {}
        }
    }
    end
}

/// The sequence number the code would take next: one past the highest decision history records.
fn next_sequence_number(events: &[proto::HistoryEvent]) -> i32 {
    let decided = events.iter().filter(|event| {
        matches!(
            event.event_type,
            Some(
                EventType::TaskScheduled(_)
                    | EventType::TimerCreated(_)
                    | EventType::SubOrchestrationInstanceCreated(_)
                    | EventType::EventSent(_)
                    | EventType::EntityOperationSignaled(_)
                    | EventType::EntityOperationCalled(_)
                    | EventType::EntityLockRequested(_)
            )
        )
    });
    decided.map(|event| event.event_id).max().unwrap_or(0) + 1
}

/// What the replayed code decided after the last recorded event.
struct Replayed {
    /// Its completion: the status, and the failure when it failed.
    completion: Option<(proto::OrchestrationStatus, FailureDetails)>,
    /// The first decision it made beyond history.
    next_decision: Option<(i32, ScheduledTask)>,
}

impl Replayed {
    fn of(response: &proto::OrchestratorResponse) -> Self {
        let mut replayed = Replayed {
            completion: None,
            next_decision: None,
        };
        for action in &response.actions {
            match &action.orchestrator_action_type {
                Some(Action::CompleteOrchestration(complete)) => {
                    let status = proto::OrchestrationStatus::try_from(complete.orchestration_status)
                        .unwrap_or(proto::OrchestrationStatus::Failed);
                    let details = complete
                        .failure_details
                        .as_ref()
                        .map(FailureDetails::from)
                        .unwrap_or_else(|| FailureDetails::new("", ""));
                    replayed.completion = Some((status, details));
                }
                _ if replayed.next_decision.is_none() => {
                    replayed.next_decision = Some((action.id, ScheduledTask::of_action(action)));
                }
                _ => {}
            }
        }
        replayed
    }
}
