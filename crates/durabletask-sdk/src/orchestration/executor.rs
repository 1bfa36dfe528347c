//! The replay executor: a pure function from an `OrchestratorRequest` (past and new history) to an
//! `OrchestratorResponse` (the new actions, `completeOrchestration` last). No I/O, no clock, no threads.
//!
//! It re-runs the orchestrator from the start, feeding it the recorded results in history order. Each action the
//! orchestrator decides is matched against history by sequence number: a match means the action already happened
//! and is not returned again; a mismatch (a different kind or name at the same sequence number) means the code is
//! non-deterministic or changed, and the instance fails with a [`NondeterminismError`] naming both.

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures::future::LocalBoxFuture;
use futures::task::noop_waker_ref;

use super::context::OrchestrationContext;
use super::entity_response::EntityResponseMessage;
use super::event::Event;
use super::state::{Completion, ReplayState, SlotKey, TaskInfo};
use super::task_kind::{kind_and_name, NondeterminismError, Recorded, ScheduledTask, TaskKind};
use super::timer;
use crate::failure::{error_types, Error, FailureDetails, TaskError};
use crate::proto;
use crate::proto::history_event::EventType;
use crate::proto::orchestrator_action::OrchestratorActionType as Action;
use crate::proto::send_entity_message_action::EntityMessageType;
use crate::registry::Registry;

/// The id of the timer the Durable Task Framework inserts when it splits one episode's decisions across several
/// commits; it belongs to no orchestrator action and is skipped.
const SPLIT_DECISION_TIMER_ID: i32 = -100;

/// Executes one orchestration episode.
///
/// ```
/// use durabletask_sdk::testing::history;
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
    execute_and_diagnose(registry, request).0
}

/// Like [`execute_orchestrator`], also returning the first place where history and the orchestrator disagree
/// (the replay check reports it as it is, even after the orchestrator has finished).
pub(crate) fn execute_and_diagnose(
    registry: &Registry,
    request: &proto::OrchestratorRequest,
) -> (proto::OrchestratorResponse, Option<NondeterminismError>) {
    if super::rewind::is_rewind_request(request) {
        return (super::rewind::rewind_response(request), None);
    }
    let past = request.past_events.iter().map(|event| Ok(Event::of(event)));
    let new = request.new_events.iter().map(|event| Ok(Event::of(event)));
    match replay::<std::convert::Infallible>(registry, &request.instance_id, past, new) {
        Ok(episode) => episode,
        Err(never) => match never {},
    }
}

/// Replays `past` then runs `new`: one episode. Events are read as they are replayed; the first one that cannot be
/// read ends the episode with its error. Also returns the first place where history and the orchestrator disagree.
pub(super) fn replay<'r, E>(
    registry: &'r Registry,
    instance_id: &str,
    past: impl Iterator<Item = Result<Event<'r>, E>>,
    new: impl Iterator<Item = Result<Event<'r>, E>>,
) -> Result<(proto::OrchestratorResponse, Option<NondeterminismError>), E> {
    let mut replay = Replay::new(registry, instance_id);
    for event in past {
        replay.process(event?);
    }
    replay.state.borrow_mut().is_replaying = false;
    for event in new {
        replay.process(event?);
    }
    let nondeterminism = replay.nondeterminism.take();
    Ok((replay.into_response(), nondeterminism))
}

/// The outcome of applying one history event: it fits what the orchestrator decided, or it does not.
type Applied = Result<(), NondeterminismError>;

/// One episode in progress: the orchestrator's future and what history has told it so far.
struct Replay<'r> {
    registry: &'r Registry,
    state: Rc<RefCell<ReplayState>>,
    orchestrator: Option<LocalBoxFuture<'static, Result<Option<String>, Error>>>,
    completion: Option<Completion>,
    /// Events held back while the instance is suspended, replayed when it resumes.
    suspended: Option<Vec<Event<'r>>>,
    /// The first disagreement between history and the orchestrator.
    nondeterminism: Option<NondeterminismError>,
}

impl<'r> Replay<'r> {
    fn new(registry: &'r Registry, instance_id: &str) -> Self {
        let mut state = ReplayState::new(instance_id.to_string());
        state.maximum_timer_interval = registry.maximum_timer_interval();
        state.default_version = registry.default_version().map(str::to_owned);
        Self {
            registry,
            state: Rc::new(RefCell::new(state)),
            orchestrator: None,
            completion: None,
            suspended: None,
            nondeterminism: None,
        }
    }

    /// Applies one history event (or holds it back while suspended) and lets the orchestrator react to it.
    fn process(&mut self, event: Event<'r>) {
        if let Some(held) = &mut self.suspended {
            if !event.ends_suspension() {
                held.push(event);
                return;
            }
        }
        if let Err(error) = self.apply(&event) {
            self.fail(error.details());
            self.nondeterminism.get_or_insert(error);
        }
        if self.state.borrow().progressed {
            self.poll_orchestrator();
        }
    }

    /// The one dispatch point: each kind of history event goes to its handler.
    fn apply(&mut self, event: &Event<'r>) -> Applied {
        match *event {
            Event::OrchestratorStarted(timestamp) => self.on_orchestrator_started(timestamp.as_ref()),
            Event::TaskScheduled { id, name } => self.on_task_scheduled(id, name),
            Event::TaskCompleted { task_id, result } => self.on_task_completed(task_id, result),
            Event::TimerCreated { id } => self.on_timer_created(id),
            Event::TimerFired { timer_id, fire_at } => self.on_timer_fired(timer_id, fire_at.as_ref()),
            Event::Ignored => Ok(()),
            Event::Full(event) => self.apply_full(event),
            Event::Decoded(ref event) => self.apply_full(event),
        }
    }

    /// [`apply`](Self::apply) for an event in full.
    fn apply_full(&mut self, event: &proto::HistoryEvent) -> Applied {
        let id = event.event_id;
        let Some(event_type) = &event.event_type else {
            return Ok(());
        };
        match event_type {
            EventType::OrchestratorStarted(_) => self.on_orchestrator_started(event.timestamp.as_ref()),
            EventType::ExecutionStarted(started) => self.on_execution_started(started),
            EventType::TaskScheduled(scheduled) => self.on_task_scheduled(id, &scheduled.name),
            EventType::TaskCompleted(done) => self.on_task_completed(done.task_scheduled_id, done.result.as_deref()),
            EventType::TaskFailed(failed) => self.on_task_failed(failed),
            EventType::TimerCreated(_) => self.on_timer_created(id),
            EventType::TimerFired(fired) => self.on_timer_fired(fired.timer_id, fired.fire_at.as_ref()),
            EventType::SubOrchestrationInstanceCreated(created) => self.on_sub_orchestration_created(id, created),
            EventType::SubOrchestrationInstanceCompleted(done) => self.on_sub_orchestration_completed(done),
            EventType::SubOrchestrationInstanceFailed(failed) => self.on_sub_orchestration_failed(failed),
            EventType::EventSent(sent) => self.on_event_sent(id, sent),
            EventType::EventRaised(raised) => self.on_event_raised(raised),
            EventType::EntityOperationSignaled(signaled) => self.on_entity_operation_signaled(id, signaled),
            EventType::EntityOperationCalled(called) => self.on_entity_operation_called(id, called),
            EventType::EntityOperationCompleted(done) => self.on_entity_operation_completed(done),
            EventType::EntityOperationFailed(failed) => self.on_entity_operation_failed(failed),
            EventType::EntityLockRequested(_) => self.on_entity_lock_requested(id),
            EventType::EntityLockGranted(granted) => self.on_entity_lock_granted(&granted.critical_section_id),
            EventType::EntityUnlockSent(unlock) => self.on_entity_unlock_sent(unlock),
            EventType::ExecutionSuspended(_) => self.on_execution_suspended(),
            EventType::ExecutionResumed(_) => self.on_execution_resumed(),
            EventType::ExecutionTerminated(terminated) => self.on_execution_terminated(terminated),
            // Bookkeeping of the engine that changes nothing the orchestrator can observe.
            EventType::ExecutionCompleted(_)
            | EventType::OrchestratorCompleted(_)
            | EventType::GenericEvent(_)
            | EventType::HistoryState(_)
            | EventType::ContinueAsNew(_)
            | EventType::ExecutionRewound(_) => Ok(()),
        }
    }

    /// `orchestratorStarted`: a new episode begins; its timestamp is the orchestration's current time.
    fn on_orchestrator_started(&mut self, timestamp: Option<&prost_types::Timestamp>) -> Applied {
        if let Some(timestamp) = timestamp {
            self.state.borrow_mut().current_utc = truncate_to_micros(crate::time::to_datetime(timestamp));
        }
        Ok(())
    }

    /// `executionStarted`: starts the orchestrator function.
    fn on_execution_started(&mut self, started: &proto::ExecutionStartedEvent) -> Applied {
        if self.orchestrator.is_some() || self.completion.is_some() {
            return Ok(());
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
                error_types::ORCHESTRATOR_NOT_REGISTERED,
                format!("no orchestrator named '{}' is registered", started.name),
            ));
            return Ok(());
        };
        let context = OrchestrationContext::new(self.state.clone());
        match std::panic::catch_unwind(AssertUnwindSafe(|| orchestrator(context))) {
            Ok(future) => {
                self.orchestrator = Some(future);
                self.state.borrow_mut().progressed = true;
            }
            Err(payload) => self.fail(FailureDetails::from_panic(payload.as_ref())),
        }
        Ok(())
    }

    /// `taskScheduled`: confirms an activity call.
    fn on_task_scheduled(&mut self, id: i32, name: &str) -> Applied {
        self.confirm(id, TaskKind::Activity, name)
    }

    /// `taskCompleted`: an activity returned.
    fn on_task_completed(&mut self, task_id: i32, result: Option<&str>) -> Applied {
        self.finish(task_id, Ok(result.map(str::to_owned)));
        Ok(())
    }

    /// `taskFailed`: an activity failed.
    fn on_task_failed(&mut self, failed: &proto::TaskFailedEvent) -> Applied {
        let error = self.task_error(failed.task_scheduled_id, failure_of(failed.failure_details.as_ref()));
        self.finish(failed.task_scheduled_id, Err(error));
        Ok(())
    }

    /// `timerCreated`: confirms a timer (or one step of a long timer).
    fn on_timer_created(&mut self, id: i32) -> Applied {
        if id == SPLIT_DECISION_TIMER_ID {
            return Ok(());
        }
        self.confirm(id, TaskKind::Timer, "")
    }

    /// `timerFired`: a timer, or one step of a long timer, fired.
    fn on_timer_fired(&mut self, timer_id: i32, fire_at: Option<&prost_types::Timestamp>) -> Applied {
        if timer_id != SPLIT_DECISION_TIMER_ID {
            timer::on_fired(
                &mut self.state.borrow_mut(),
                timer_id,
                fire_at,
                self.completion.is_some(),
            );
        }
        Ok(())
    }

    /// `subOrchestrationInstanceCreated`: confirms a sub-orchestration.
    fn on_sub_orchestration_created(
        &mut self,
        id: i32,
        created: &proto::SubOrchestrationInstanceCreatedEvent,
    ) -> Applied {
        self.confirm(id, TaskKind::SubOrchestration, &created.name)
    }

    /// `subOrchestrationInstanceCompleted`: a sub-orchestration returned.
    fn on_sub_orchestration_completed(&mut self, done: &proto::SubOrchestrationInstanceCompletedEvent) -> Applied {
        self.finish(done.task_scheduled_id, Ok(done.result.clone()));
        Ok(())
    }

    /// `subOrchestrationInstanceFailed`: a sub-orchestration failed.
    fn on_sub_orchestration_failed(&mut self, failed: &proto::SubOrchestrationInstanceFailedEvent) -> Applied {
        let error = self.task_error(failed.task_scheduled_id, failure_of(failed.failure_details.as_ref()));
        self.finish(failed.task_scheduled_id, Err(error));
        Ok(())
    }

    /// `eventSent`: confirms a `sendEvent`, or an entity message the Functions extension translated into one.
    fn on_event_sent(&mut self, id: i32, sent: &proto::EventSentEvent) -> Applied {
        let action = self.state.borrow_mut().pending_actions.remove(id);
        let mismatch = |actual: Option<ScheduledTask>| NondeterminismError {
            task_id: id,
            expected: Recorded::EventSent {
                name: sent.name.clone(),
                instance_id: sent.instance_id.clone(),
            },
            actual,
        };
        let Some(action) = action else {
            return Err(mismatch(None));
        };
        let target = match &action.orchestrator_action_type {
            Some(Action::SendEvent(send)) => send.instance.as_ref().map(|i| i.instance_id.as_str()),
            Some(Action::SendEntityMessage(message)) => match &message.entity_message_type {
                Some(EntityMessageType::EntityOperationSignaled(signal)) => signal.target_instance_id.as_deref(),
                Some(EntityMessageType::EntityOperationCalled(call)) => call.target_instance_id.as_deref(),
                Some(EntityMessageType::EntityLockRequested(request)) => {
                    self.alias_lock_grant(&request.critical_section_id, sent.input.as_deref());
                    usize::try_from(request.position)
                        .ok()
                        .and_then(|position| request.lock_set.get(position))
                        .map(String::as_str)
                }
                Some(EntityMessageType::EntityUnlockSent(unlock)) => unlock.target_instance_id.as_deref(),
                None => None,
            },
            _ => None,
        };
        if target != Some(sent.instance_id.as_str()) {
            return Err(mismatch(Some(ScheduledTask::of_action(&action))));
        }
        self.state.borrow_mut().confirmed(id, action);
        Ok(())
    }

    /// The Functions extension grants a lock with an `eventRaised` named after the `id` of the request message it
    /// sent (the critical section id); a different id there is taken as the grant's name too.
    fn alias_lock_grant(&mut self, section_id: &str, sent_input: Option<&str>) {
        let id = sent_input
            .and_then(|input| serde_json::from_str::<serde_json::Value>(input).ok())
            .and_then(|message| message.get("id").and_then(|id| id.as_str()).map(str::to_string));
        let mut state = self.state.borrow_mut();
        if let (Some(id), Some(&task_id)) = (id, state.entity_lock_requests.get(section_id)) {
            if id != section_id {
                state.entity_lock_requests.insert(id, task_id);
            }
        }
    }

    /// `eventRaised`: the answer to an entity call (as the Functions extension delivers it, named with the call's
    /// request id), or an external event.
    fn on_event_raised(&mut self, raised: &proto::EventRaisedEvent) -> Applied {
        if self.state.borrow().entity_lock_requests.contains_key(&raised.name) {
            return self.on_entity_lock_granted(&raised.name);
        }
        let call = self.state.borrow_mut().entity_calls.remove(&raised.name);
        match call {
            Some(task_id) => {
                let outcome = EntityResponseMessage::parse(raised.input.as_deref())
                    .map_err(|invalid| invalid.failure_details())
                    .and_then(EntityResponseMessage::into_outcome)
                    .map_err(|details| self.task_error(task_id, details));
                self.finish(task_id, outcome);
            }
            None => {
                let accept = self.completion.is_none();
                self.state
                    .borrow_mut()
                    .raise_event(&raised.name, raised.input.clone(), accept);
            }
        }
        Ok(())
    }

    /// `entityOperationSignaled`: confirms an entity signal.
    fn on_entity_operation_signaled(&mut self, id: i32, signaled: &proto::EntityOperationSignaledEvent) -> Applied {
        let entity = signaled.target_instance_id.as_deref().unwrap_or_default();
        if self.is_signal_sent_as_event(id, entity) {
            // `signal_entity_as_event`: the host routed the event to the entity as a signal.
            self.state.borrow_mut().pending_actions.discard(id);
            return Ok(());
        }
        self.confirm(id, TaskKind::EntitySignal, entity)
    }

    /// Whether the action pending at `id` is an entity request event (`op`) sent to `entity`.
    fn is_signal_sent_as_event(&self, id: i32, entity: &str) -> bool {
        let state = self.state.borrow();
        let Some(Action::SendEvent(send)) = state
            .pending_actions
            .get(id)
            .and_then(|action| action.orchestrator_action_type.as_ref())
        else {
            return false;
        };
        send.instance
            .as_ref()
            .is_some_and(|target| target.instance_id == entity)
            && super::EntityRequestMessage::is_request_event(&send.name)
    }

    /// `entityOperationCalled`: confirms an entity call.
    fn on_entity_operation_called(&mut self, id: i32, called: &proto::EntityOperationCalledEvent) -> Applied {
        let entity = called.target_instance_id.as_deref().unwrap_or_default();
        self.confirm(id, TaskKind::EntityCall, entity)?;
        self.state
            .borrow_mut()
            .entity_calls
            .insert(called.request_id.clone(), id);
        Ok(())
    }

    /// `entityOperationCompleted`: an entity call returned.
    fn on_entity_operation_completed(&mut self, done: &proto::EntityOperationCompletedEvent) -> Applied {
        let task_id = self.state.borrow_mut().entity_calls.remove(&done.request_id);
        if let Some(task_id) = task_id {
            self.finish(task_id, Ok(done.output.clone()));
        }
        Ok(())
    }

    /// `entityOperationFailed`: an entity call failed.
    fn on_entity_operation_failed(&mut self, failed: &proto::EntityOperationFailedEvent) -> Applied {
        let task_id = self.state.borrow_mut().entity_calls.remove(&failed.request_id);
        if let Some(task_id) = task_id {
            let error = self.task_error(task_id, failure_of(failed.failure_details.as_ref()));
            self.finish(task_id, Err(error));
        }
        Ok(())
    }

    /// `entityLockRequested`: confirms a lock request.
    fn on_entity_lock_requested(&mut self, id: i32) -> Applied {
        self.confirm(id, TaskKind::EntityLockRequest, "")
    }

    /// `entityLockGranted` (or, from the Functions extension, an `eventRaised` named with the critical section
    /// id): the lock request of that section was granted.
    fn on_entity_lock_granted(&mut self, section_id: &str) -> Applied {
        let task_id = self.state.borrow_mut().lock_granted(section_id);
        if let Some(task_id) = task_id {
            self.finish(task_id, Ok(None));
        }
        Ok(())
    }

    /// `entityUnlockSent`: the section's unlock messages were sent (they are not sent again).
    fn on_entity_unlock_sent(&mut self, unlock: &proto::EntityUnlockSentEvent) -> Applied {
        self.state.borrow_mut().unlocks_sent(&unlock.critical_section_id);
        Ok(())
    }

    /// `executionSuspended`: hold back every event but resume and terminate until resumed.
    fn on_execution_suspended(&mut self) -> Applied {
        self.suspended = Some(self.suspended.take().unwrap_or_default());
        Ok(())
    }

    /// `executionResumed`: apply the events held back while suspended.
    fn on_execution_resumed(&mut self) -> Applied {
        if let Some(held) = self.suspended.take() {
            for event in held {
                self.process(event);
            }
        }
        Ok(())
    }

    /// `executionTerminated`: the instance ends as terminated, with the reason as its output.
    fn on_execution_terminated(&mut self, terminated: &proto::ExecutionTerminatedEvent) -> Applied {
        if self.completion.is_none() {
            self.state.borrow_mut().exit_critical_section();
            self.completion = Some(Completion::Terminated(terminated.input.clone()));
        }
        Ok(())
    }

    /// Checks that the orchestrator decided, at sequence number `id`, what history recorded there: a task of
    /// `kind` targeting `name` (an empty `name` matches any).
    fn confirm(&mut self, id: i32, kind: TaskKind, name: &str) -> Applied {
        let mut state = self.state.borrow_mut();
        let fits = state
            .pending_actions
            .get(id)
            .map(kind_and_name)
            .is_some_and(|(decided_kind, decided_name)| {
                decided_kind == kind && (name.is_empty() || decided_name == name)
            });
        if !fits {
            let action = state.pending_actions.remove(id);
            return Err(NondeterminismError {
                task_id: id,
                expected: Recorded::Task(ScheduledTask::new(kind, name)),
                actual: action.as_ref().map(ScheduledTask::of_action),
            });
        }
        state.confirm_pending(id);
        Ok(())
    }

    fn finish(&mut self, task_id: i32, outcome: Result<Option<String>, TaskError>) {
        self.state.borrow_mut().complete(SlotKey::Sequence(task_id), outcome);
    }

    /// The error an awaited task fails with, naming the task.
    fn task_error(&self, task_id: i32, details: FailureDetails) -> TaskError {
        match self.state.borrow().task_info(task_id) {
            Some(TaskInfo::SubOrchestration { name, instance_id }) => TaskError::SubOrchestrationFailed {
                name: name.clone(),
                instance_id: instance_id.clone(),
                task_id,
                details,
            },
            Some(TaskInfo::EntityCall { entity, operation }) => TaskError::EntityOperationFailed {
                entity: entity.clone(),
                operation: operation.clone(),
                details,
            },
            Some(TaskInfo::Activity(name)) => TaskError::ActivityFailed {
                name: name.clone(),
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
        let usage_error = {
            let mut state = self.state.borrow_mut();
            let encoding_error = state.encoding_error.take();
            let usage_error = state.usage_error.take();
            usage_error
                .or_else(|| encoding_error.map(|message| FailureDetails::new(error_types::INVALID_PAYLOAD, message)))
        };
        match (polled, usage_error) {
            (Err(payload), _) => self.fail(FailureDetails::from_panic(payload.as_ref())),
            (Ok(_), Some(details)) => self.fail(details),
            (Ok(Poll::Pending), None) => {}
            (Ok(Poll::Ready(outcome)), None) => {
                self.orchestrator = None;
                // Locks still held are released before the completion, as every official SDK does.
                self.state.borrow_mut().exit_critical_section();
                let continue_as_new = self.state.borrow_mut().continue_as_new.take();
                self.completion = Some(match (continue_as_new, outcome) {
                    (Some(request), _) => Completion::ContinuedAsNew(request),
                    (None, Ok(result)) => Completion::Completed(result),
                    (None, Err(error)) => Completion::Failed(error.into_details().into()),
                });
            }
        }
    }

    fn fail(&mut self, details: FailureDetails) {
        if self.completion.is_none() {
            self.orchestrator = None;
            self.state.borrow_mut().exit_critical_section();
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
            std::mem::take(&mut state.pending_actions).into_actions().collect();
        if let Some(completion) = completion {
            let id = state.next_sequence_number();
            let complete = complete_action(completion, &state);
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

/// The failure a task-failed event reports (events without details still fail the task, with a placeholder).
fn failure_of(details: Option<&proto::TaskFailureDetails>) -> FailureDetails {
    details
        .map(FailureDetails::from)
        .unwrap_or_else(|| FailureDetails::new(error_types::UNKNOWN, "the task failed without failure details"))
}

/// The `completeOrchestration` action for how the episode ended.
fn complete_action(completion: Completion, state: &ReplayState) -> proto::CompleteOrchestrationAction {
    let (status, result, failure_details, carryover_events) = match completion {
        Completion::Completed(result) => (proto::OrchestrationStatus::Completed, result, None, Vec::new()),
        Completion::Terminated(reason) => (proto::OrchestrationStatus::Terminated, reason, None, Vec::new()),
        Completion::Failed(details) => (proto::OrchestrationStatus::Failed, None, Some(details), Vec::new()),
        Completion::ContinuedAsNew(request) => {
            let carryover_events = if request.preserve_unprocessed_events {
                state.unprocessed_events()
            } else {
                Vec::new()
            };
            (
                proto::OrchestrationStatus::ContinuedAsNew,
                request.input,
                None,
                carryover_events,
            )
        }
    };
    proto::CompleteOrchestrationAction {
        orchestration_status: status as i32,
        result,
        failure_details,
        carryover_events,
        ..Default::default()
    }
}

/// Orchestration time has microsecond precision in every SDK (the Python SDK's clock is a `datetime`).
fn truncate_to_micros(time: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    let nanos = time.timestamp_subsec_nanos();
    time - chrono::Duration::nanoseconds(i64::from(nanos % 1_000))
}
