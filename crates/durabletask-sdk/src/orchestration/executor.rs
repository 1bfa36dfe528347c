//! The replay executor: a pure function from an `OrchestratorRequest` (past and new history) to an
//! `OrchestratorResponse` (the new actions, `completeOrchestration` last). No I/O, no clock, no threads.
//!
//! It re-runs the orchestrator from the start, feeding it the recorded results in history order. Each action the
//! orchestrator decides is matched against history by sequence number: a match means the action already happened
//! and is not returned again; a mismatch (a different kind or name at the same sequence number) means the code is
//! non-deterministic or changed, and the instance fails with a [`NondeterminismError`] naming both.

use std::borrow::Cow;
use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures::future::LocalBoxFuture;
use futures::task::noop_waker_ref;
use rustc_hash::FxHashMap;
use serde_json::Value;

use super::context::OrchestrationContext;
use super::state::{Completion, ReplayState, SlotKey};
use crate::failure::{Error, FailureDetails, TaskError};
use crate::proto;
use crate::proto::history_event::EventType;
use crate::proto::orchestrator_action::OrchestratorActionType as Action;
use crate::proto::send_entity_message_action::EntityMessageType;
use crate::registry::Registry;

/// The id of the timer the Durable Task Framework inserts when it splits one episode's decisions across several
/// commits; it belongs to no orchestrator action and is skipped.
const SPLIT_DECISION_TIMER_ID: i32 = -100;

/// History and the orchestrator disagree about what happened at a sequence number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "non-deterministic orchestration: history records {expected} at sequence number {task_id}, but the orchestrator \
     now {actual} there (the orchestration code changed, or it made a decision without the context, e.g. from the \
     clock or a random number)"
)]
pub struct NondeterminismError {
    /// The sequence number (task id) where they disagree.
    pub task_id: i32,
    /// What history says happened, e.g. `activity 'Publish'`.
    pub expected: String,
    /// What the orchestrator did instead, e.g. `schedules activity 'Notify'` or `schedules nothing`.
    pub actual: String,
}

impl NondeterminismError {
    fn details(&self) -> FailureDetails {
        let mut details = FailureDetails::new("NonDeterminismError", self.to_string());
        details.is_non_retriable = true;
        details
    }
}

/// Executes one orchestration episode.
///
/// ```
/// use durabletask_sdk::history;
/// use durabletask_sdk::orchestration::execute_orchestrator;
/// use durabletask_sdk::proto::{self, orchestrator_action::OrchestratorActionType as Action};
/// use durabletask_sdk::{Error, OrchestrationContext, Registry};
///
/// async fn hello(ctx: OrchestrationContext, city: String) -> Result<String, Error> {
///     Ok(ctx.call_activity("SayHello", &city).await?)
/// }
/// let mut registry = Registry::new();
/// registry.add_orchestrator("Hello", hello).unwrap();
///
/// let request = proto::OrchestratorRequest {
///     instance_id: "abc".into(),
///     new_events: vec![history::orchestrator_started_now(), history::execution_started("Hello", "abc", Some("\"Tokyo\""))],
///     ..Default::default()
/// };
/// let response = execute_orchestrator(&registry, &request);
/// assert!(matches!(response.actions[0].orchestrator_action_type, Some(Action::ScheduleTask(_))));
/// ```
pub fn execute_orchestrator(registry: &Registry, request: &proto::OrchestratorRequest) -> proto::OrchestratorResponse {
    let mut replay = Replay::new(registry, &request.instance_id);
    for event in &request.past_events {
        replay.process(event);
    }
    replay.state.borrow_mut().is_replaying = false;
    for event in &request.new_events {
        replay.process(event);
    }
    replay.into_response()
}

/// What history says a sequence number was used for.
struct Recorded<'a> {
    kind: &'static str,
    name: &'a str,
}

impl Recorded<'_> {
    fn describe(&self) -> String {
        if self.name.is_empty() {
            self.kind.to_string()
        } else {
            format!("{} '{}'", self.kind, self.name)
        }
    }
}

/// What an awaited task was, for error messages when it fails.
enum TaskInfo<'r> {
    Activity(&'r str),
    SubOrchestration {
        name: &'r str,
        instance_id: &'r str,
    },
    EntityCall {
        entity: Cow<'r, str>,
        operation: Cow<'r, str>,
    },
}

struct Replay<'r> {
    registry: &'r Registry,
    state: Rc<RefCell<ReplayState>>,
    orchestrator: Option<LocalBoxFuture<'static, Result<Option<String>, Error>>>,
    completion: Option<Completion>,
    suspended: Option<Vec<&'r proto::HistoryEvent>>,
    tasks: FxHashMap<i32, TaskInfo<'r>>,
}

impl<'r> Replay<'r> {
    fn new(registry: &'r Registry, instance_id: &str) -> Self {
        Self {
            registry,
            state: Rc::new(RefCell::new(ReplayState::new(instance_id.to_string()))),
            orchestrator: None,
            completion: None,
            suspended: None,
            tasks: FxHashMap::default(),
        }
    }

    fn process(&mut self, event: &'r proto::HistoryEvent) {
        let Some(event_type) = &event.event_type else { return };
        if let Some(buffer) = &mut self.suspended {
            if !matches!(
                event_type,
                EventType::ExecutionResumed(_) | EventType::ExecutionTerminated(_)
            ) {
                buffer.push(event);
                return;
            }
        }
        if let Err(error) = self.apply(event, event_type) {
            self.fail(error.details());
        }
        if self.state.borrow().progressed {
            self.poll_orchestrator();
        }
    }

    fn apply(&mut self, event: &'r proto::HistoryEvent, event_type: &'r EventType) -> Result<(), NondeterminismError> {
        let id = event.event_id;
        match event_type {
            EventType::OrchestratorStarted(_) => {
                if let Some(timestamp) = &event.timestamp {
                    self.state.borrow_mut().current_utc = truncate_to_micros(crate::time::to_datetime(timestamp));
                }
            }
            EventType::ExecutionStarted(started) => self.start(started),
            EventType::TaskScheduled(scheduled) => {
                self.confirm(
                    id,
                    Recorded {
                        kind: "activity",
                        name: &scheduled.name,
                    },
                )?;
                self.tasks.insert(id, TaskInfo::Activity(&scheduled.name));
            }
            EventType::TimerCreated(_) if id == SPLIT_DECISION_TIMER_ID => {}
            EventType::TimerCreated(_) => self.confirm(
                id,
                Recorded {
                    kind: "timer",
                    name: "",
                },
            )?,
            EventType::SubOrchestrationInstanceCreated(created) => {
                self.confirm(
                    id,
                    Recorded {
                        kind: "sub-orchestration",
                        name: &created.name,
                    },
                )?;
                self.tasks.insert(
                    id,
                    TaskInfo::SubOrchestration {
                        name: &created.name,
                        instance_id: &created.instance_id,
                    },
                );
            }
            EventType::EventSent(sent) => self.confirm_event_sent(id, sent)?,
            EventType::EntityOperationSignaled(signaled) => {
                let name = signaled.target_instance_id.as_deref().unwrap_or_default();
                self.confirm(
                    id,
                    Recorded {
                        kind: "entity signal",
                        name,
                    },
                )?;
            }
            EventType::EntityOperationCalled(called) => {
                let entity = called.target_instance_id.as_deref().unwrap_or_default();
                self.confirm(
                    id,
                    Recorded {
                        kind: "entity call",
                        name: entity,
                    },
                )?;
                self.state
                    .borrow_mut()
                    .entity_calls
                    .insert(called.request_id.clone(), id);
                self.tasks.insert(
                    id,
                    TaskInfo::EntityCall {
                        entity: Cow::Borrowed(entity),
                        operation: Cow::Borrowed(&called.operation),
                    },
                );
            }
            EventType::EntityLockRequested(_) => self.confirm(
                id,
                Recorded {
                    kind: "entity lock request",
                    name: "",
                },
            )?,
            EventType::TaskCompleted(done) => self.finish(done.task_scheduled_id, Ok(done.result.clone())),
            EventType::TaskFailed(failed) => {
                let error = self.task_error(failed.task_scheduled_id, failed.failure_details.as_ref());
                self.finish(failed.task_scheduled_id, Err(error));
            }
            EventType::SubOrchestrationInstanceCompleted(done) => {
                self.finish(done.task_scheduled_id, Ok(done.result.clone()))
            }
            EventType::SubOrchestrationInstanceFailed(failed) => {
                let error = self.task_error(failed.task_scheduled_id, failed.failure_details.as_ref());
                self.finish(failed.task_scheduled_id, Err(error));
            }
            EventType::TimerFired(fired) if fired.timer_id == SPLIT_DECISION_TIMER_ID => {}
            EventType::TimerFired(fired) => self.timer_fired(fired),
            EventType::EventRaised(raised) => self.event_raised(raised),
            EventType::EntityOperationCompleted(done) => {
                let task_id = self.state.borrow_mut().entity_calls.remove(&done.request_id);
                if let Some(task_id) = task_id {
                    self.finish(task_id, Ok(done.output.clone()));
                }
            }
            EventType::EntityOperationFailed(failed) => {
                let task_id = self.state.borrow_mut().entity_calls.remove(&failed.request_id);
                if let Some(task_id) = task_id {
                    let error = self.task_error(task_id, failed.failure_details.as_ref());
                    self.finish(task_id, Err(error));
                }
            }
            EventType::ExecutionSuspended(_) => self.suspended = Some(self.suspended.take().unwrap_or_default()),
            EventType::ExecutionResumed(_) => {
                if let Some(buffered) = self.suspended.take() {
                    for event in &buffered {
                        self.process(event);
                    }
                }
            }
            EventType::ExecutionTerminated(terminated) => {
                if self.completion.is_none() {
                    self.completion = Some(Completion::Finished {
                        status: proto::OrchestrationStatus::Terminated,
                        result: terminated.input.clone(),
                    });
                }
            }
            EventType::ExecutionCompleted(_)
            | EventType::OrchestratorCompleted(_)
            | EventType::GenericEvent(_)
            | EventType::HistoryState(_)
            | EventType::ContinueAsNew(_)
            | EventType::ExecutionRewound(_)
            | EventType::EntityLockGranted(_)
            | EventType::EntityUnlockSent(_) => {}
        }
        Ok(())
    }

    /// Starts the orchestrator function for an `executionStarted` event.
    fn start(&mut self, started: &proto::ExecutionStartedEvent) {
        if self.orchestrator.is_some() || self.completion.is_some() {
            return;
        }
        {
            let mut state = self.state.borrow_mut();
            state.name = started.name.clone();
            state.input = started.input.clone();
            state.version = started.version.clone();
            state.parent_instance_id = started
                .parent_instance
                .as_ref()
                .and_then(|parent| parent.orchestration_instance.as_ref())
                .map(|instance| instance.instance_id.clone());
        }
        let Some(orchestrator) = self.registry.orchestrator(&started.name) else {
            self.fail(FailureDetails::new(
                "OrchestratorNotRegisteredError",
                format!("no orchestrator named '{}' is registered", started.name),
            ));
            return;
        };
        let context = OrchestrationContext::new(self.state.clone());
        match std::panic::catch_unwind(AssertUnwindSafe(|| orchestrator(context))) {
            Ok(future) => {
                self.orchestrator = Some(future);
                self.state.borrow_mut().progressed = true;
            }
            Err(payload) => self.fail(FailureDetails::from_panic(payload.as_ref())),
        }
    }

    /// Checks that the orchestrator decided, at sequence number `id`, what history recorded there.
    fn confirm(&mut self, id: i32, recorded: Recorded) -> Result<(), NondeterminismError> {
        let action = self.state.borrow_mut().pending_actions.remove(&id);
        let mismatch = |actual: String| NondeterminismError {
            task_id: id,
            expected: recorded.describe(),
            actual,
        };
        let Some(action) = action else {
            return Err(mismatch("schedules nothing".to_string()));
        };
        let (kind, name) = describe_action(&action);
        if kind != recorded.kind || (!recorded.name.is_empty() && name != recorded.name) {
            return Err(mismatch(format!("schedules {}", Recorded { kind, name }.describe())));
        }
        Ok(())
    }

    /// An `eventSent` confirms a `sendEvent`, or an entity message the Functions extension translated into one.
    fn confirm_event_sent(&mut self, id: i32, sent: &proto::EventSentEvent) -> Result<(), NondeterminismError> {
        let action = self.state.borrow_mut().pending_actions.remove(&id);
        let recorded = format!("an event '{}' sent to '{}'", sent.name, sent.instance_id);
        let mismatch = |actual: String| NondeterminismError {
            task_id: id,
            expected: recorded.clone(),
            actual,
        };
        let Some(action) = action else {
            return Err(mismatch("schedules nothing".to_string()));
        };
        let target = match &action.orchestrator_action_type {
            Some(Action::SendEvent(send)) => send.instance.as_ref().map(|i| i.instance_id.clone()),
            Some(Action::SendEntityMessage(message)) => match &message.entity_message_type {
                Some(EntityMessageType::EntityOperationSignaled(signal)) => signal.target_instance_id.clone(),
                Some(EntityMessageType::EntityOperationCalled(call)) => {
                    self.tasks.insert(
                        id,
                        TaskInfo::EntityCall {
                            entity: Cow::Owned(call.target_instance_id.clone().unwrap_or_default()),
                            operation: Cow::Owned(call.operation.clone()),
                        },
                    );
                    call.target_instance_id.clone()
                }
                _ => None,
            },
            _ => None,
        };
        if target.as_deref() != Some(sent.instance_id.as_str()) {
            let (kind, name) = describe_action(&action);
            return Err(mismatch(format!("schedules {}", Recorded { kind, name }.describe())));
        }
        Ok(())
    }

    /// A timer step fired: a long timer schedules its next step at once (even if the orchestrator stopped
    /// awaiting it, as the other SDKs do); the last step, or an ordinary timer, finishes the task.
    fn timer_fired(&mut self, fired: &proto::TimerFiredEvent) {
        let mut state = self.state.borrow_mut();
        let Some(chain) = state.timer_chains.remove(&fired.timer_id) else {
            drop(state);
            self.finish(fired.timer_id, Ok(None));
            return;
        };
        let fired_at = fired
            .fire_at
            .as_ref()
            .map(crate::time::to_datetime)
            .unwrap_or(chain.final_fire_at);
        if fired_at >= chain.final_fire_at {
            state.complete(chain.key, Ok(None));
        } else if self.completion.is_none() {
            let step = super::context::next_timer_step(fired_at, chain.final_fire_at);
            let id = super::context::schedule_timer_action(&mut state, step);
            state.timer_chains.insert(id, chain);
        }
    }

    fn finish(&mut self, task_id: i32, outcome: Result<Option<String>, TaskError>) {
        self.state.borrow_mut().complete(SlotKey::Sequence(task_id), outcome);
    }

    fn task_error(&self, task_id: i32, details: Option<&proto::TaskFailureDetails>) -> TaskError {
        let details = details
            .map(FailureDetails::from)
            .unwrap_or_else(|| FailureDetails::new("UnknownError", "the task failed without failure details"));
        match self.tasks.get(&task_id) {
            Some(TaskInfo::SubOrchestration { name, instance_id }) => TaskError::SubOrchestrationFailed {
                name: name.to_string(),
                instance_id: instance_id.to_string(),
                task_id,
                details,
            },
            Some(TaskInfo::EntityCall { entity, operation }) => TaskError::EntityOperationFailed {
                entity: entity.to_string(),
                operation: operation.to_string(),
                details,
            },
            Some(TaskInfo::Activity(name)) => TaskError::ActivityFailed {
                name: name.to_string(),
                task_id,
                details,
            },
            None => TaskError::ActivityFailed {
                name: String::new(),
                task_id,
                details,
            },
        }
    }

    /// An `eventRaised` is either the answer to an entity call (as the Functions extension delivers it, named
    /// with the call's request id) or an external event.
    fn event_raised(&mut self, raised: &proto::EventRaisedEvent) {
        let call = self.state.borrow_mut().entity_calls.remove(&raised.name);
        match call {
            Some(task_id) => {
                let outcome = self.entity_response(task_id, raised.input.as_deref());
                self.finish(task_id, outcome);
            }
            None => {
                let accept = self.completion.is_none();
                self.state
                    .borrow_mut()
                    .raise_event(&raised.name, raised.input.clone(), accept);
            }
        }
    }

    /// Decodes the extension's entity `ResponseMessage`: `{"result": "<json>"}`, or a failure carrying
    /// `exceptionType` and/or `failureDetails`.
    // The outcome type of every task; it is built once per answer, so its size does not matter here.
    #[allow(clippy::result_large_err)]
    fn entity_response(&self, task_id: i32, input: Option<&str>) -> Result<Option<String>, TaskError> {
        let response: Value = input
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null);
        let field = |name: &str| {
            response.as_object().and_then(|object| {
                object
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(name))
                    .map(|(_, value)| value)
            })
        };
        let failed = field("exceptionType").is_some_and(|v| !v.is_null())
            || field("failureDetails").is_some_and(|v| !v.is_null());
        if failed {
            let details = field("failureDetails").and_then(Value::as_object);
            let text = |name: &str| {
                details
                    .and_then(|d| d.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let error_type = text("errorType")
                .or_else(|| field("exceptionType").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| "EntityOperationFailed".to_string());
            let message = text("errorMessage")
                .or_else(|| field("result").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_default();
            let details = proto::TaskFailureDetails {
                error_type,
                error_message: message,
                ..Default::default()
            };
            return Err(self.task_error(task_id, Some(&details)));
        }
        Ok(match field("result") {
            Some(Value::String(serialized)) => Some(serialized.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        })
    }

    fn poll_orchestrator(&mut self) {
        self.state.borrow_mut().progressed = false;
        if self.completion.is_some() {
            return;
        }
        let Some(future) = self.orchestrator.as_mut() else {
            return;
        };
        let mut cx = Context::from_waker(noop_waker_ref());
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)));
        let encoding_error = self.state.borrow_mut().encoding_error.take();
        match (polled, encoding_error) {
            (Err(payload), _) => self.fail(FailureDetails::from_panic(payload.as_ref())),
            (Ok(_), Some(message)) => self.fail(FailureDetails::new("InvalidPayloadError", message)),
            (Ok(Poll::Pending), None) => {}
            (Ok(Poll::Ready(outcome)), None) => {
                self.orchestrator = None;
                if self.state.borrow().continue_as_new.is_some() {
                    self.completion = Some(Completion::Finished {
                        status: proto::OrchestrationStatus::ContinuedAsNew,
                        result: None,
                    });
                    return;
                }
                self.completion = Some(match outcome {
                    Ok(result) => Completion::Finished {
                        status: proto::OrchestrationStatus::Completed,
                        result,
                    },
                    Err(error) => Completion::Failed(error.into_details().into()),
                });
            }
        }
    }

    fn fail(&mut self, details: FailureDetails) {
        if self.completion.is_none() {
            self.orchestrator = None;
            self.completion = Some(Completion::Failed(details.into()));
        }
    }

    fn into_response(self) -> proto::OrchestratorResponse {
        let Replay {
            state,
            completion,
            orchestrator,
            ..
        } = self;
        drop(orchestrator);
        let mut state = Rc::try_unwrap(state).map(RefCell::into_inner).unwrap_or_else(|shared| {
            // A context clone escaped the orchestrator (e.g. stored in a thread-local); copy what we need.
            let mut borrowed = shared.borrow_mut();
            std::mem::replace(&mut *borrowed, ReplayState::new(String::new()))
        });
        let mut actions: Vec<proto::OrchestratorAction> =
            std::mem::take(&mut state.pending_actions).into_values().collect();
        if let Some(completion) = completion {
            let id = state.next_sequence_number();
            let complete = match completion {
                Completion::Finished {
                    status: proto::OrchestrationStatus::ContinuedAsNew,
                    ..
                } => {
                    let request = state.continue_as_new.take().expect("continue-as-new was requested");
                    let carryover_events = if request.preserve_unprocessed_events {
                        state.unprocessed_events()
                    } else {
                        Vec::new()
                    };
                    proto::CompleteOrchestrationAction {
                        orchestration_status: proto::OrchestrationStatus::ContinuedAsNew as i32,
                        result: request.input,
                        carryover_events,
                        ..Default::default()
                    }
                }
                Completion::Finished { status, result } => proto::CompleteOrchestrationAction {
                    orchestration_status: status as i32,
                    result,
                    ..Default::default()
                },
                Completion::Failed(details) => proto::CompleteOrchestrationAction {
                    orchestration_status: proto::OrchestrationStatus::Failed as i32,
                    failure_details: Some(details),
                    ..Default::default()
                },
            };
            actions.push(proto::OrchestratorAction {
                id,
                orchestrator_action_type: Some(Action::CompleteOrchestration(complete)),
            });
        }
        proto::OrchestratorResponse {
            instance_id: state.instance_id,
            actions,
            custom_status: state.custom_status,
            ..Default::default()
        }
    }
}

/// The kind and name of an action, in the words used by [`NondeterminismError`].
fn describe_action(action: &proto::OrchestratorAction) -> (&'static str, &str) {
    match &action.orchestrator_action_type {
        Some(Action::ScheduleTask(task)) => ("activity", &task.name),
        Some(Action::CreateTimer(_)) => ("timer", ""),
        Some(Action::CreateSubOrchestration(sub)) => ("sub-orchestration", &sub.name),
        Some(Action::SendEvent(send)) => ("event", &send.name),
        Some(Action::SendEntityMessage(message)) => match &message.entity_message_type {
            Some(EntityMessageType::EntityOperationSignaled(signal)) => (
                "entity signal",
                signal.target_instance_id.as_deref().unwrap_or_default(),
            ),
            Some(EntityMessageType::EntityOperationCalled(call)) => {
                ("entity call", call.target_instance_id.as_deref().unwrap_or_default())
            }
            Some(EntityMessageType::EntityLockRequested(_)) => ("entity lock request", ""),
            Some(EntityMessageType::EntityUnlockSent(_)) => ("entity unlock", ""),
            None => ("entity message", ""),
        },
        Some(Action::CompleteOrchestration(_)) => ("completion", ""),
        Some(Action::TerminateOrchestration(_)) => ("termination", ""),
        Some(Action::RewindOrchestration(_)) => ("rewind", ""),
        None => ("unknown action", ""),
    }
}

/// Orchestration time has microsecond precision in every SDK (the Python SDK's clock is a `datetime`).
fn truncate_to_micros(time: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    let nanos = time.timestamp_subsec_nanos();
    time - chrono::Duration::nanoseconds(i64::from(nanos % 1_000))
}
