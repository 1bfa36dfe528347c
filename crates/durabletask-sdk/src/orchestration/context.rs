//! [`OrchestrationContext`]: everything an orchestrator may do. Every method is deterministic: it reads time,
//! GUIDs and results from history, never from the machine, so each replay makes the same decisions.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::call::{Call, CallKind, CallTask, Tags};
use super::entity_lock::{self, LockTask};
use super::event_wait::TimedEventWait;
use super::handle::Callable;
use super::state::{ContinueAsNew, ReplayState, SlotKey, NEVER_FINISHES};
use super::task::DurableFuture;
use super::timer;
use crate::entity_id::EntityId;
use crate::failure::{error_types, Error};
use crate::json;
use crate::proto;
use crate::proto::orchestrator_action::OrchestratorActionType as Action;
use crate::proto::send_entity_message_action::EntityMessageType;

/// The context an orchestrator runs with. Cheap to clone; clones share the same episode.
///
/// ```
/// use durabletask_sdk::{Error, OrchestrationContext};
///
/// async fn greet_all(ctx: OrchestrationContext, cities: Vec<String>) -> Result<Vec<String>, Error> {
///     let mut greetings = Vec::new();
///     for city in &cities {
///         greetings.push(ctx.call_activity::<String>("SayHello", city).await?);
///     }
///     ctx.set_custom_status(&serde_json::json!({ "greeted": greetings.len() }))?;
///     Ok(greetings)
/// }
/// ```
#[derive(Clone)]
pub struct OrchestrationContext {
    state: Rc<RefCell<ReplayState>>,
}

impl OrchestrationContext {
    pub(crate) fn new(state: Rc<RefCell<ReplayState>>) -> Self {
        Self { state }
    }

    /// The orchestration instance id.
    pub fn instance_id(&self) -> String {
        self.state.borrow().instance_id.clone()
    }

    /// The orchestrator's registered name.
    pub fn name(&self) -> String {
        self.state.borrow().name.clone()
    }

    /// The version the instance was started with (`executionStarted.version`), if any. It never changes during the
    /// instance's life, so branching on it is deterministic: the way to change an orchestrator while instances of
    /// the old code are in flight (see [`compare_version`](Self::compare_version)).
    pub fn version(&self) -> Option<String> {
        self.state.borrow().version.clone()
    }

    /// How the instance's version compares with `other`, by the rules of every Durable Task SDK
    /// ([`compare_versions`](super::compare_versions)): an instance without a version is older than any version.
    ///
    /// ```
    /// use durabletask_sdk::prelude::*;
    ///
    /// async fn publish(ctx: OrchestrationContext, message: String) -> Result<(), Error> {
    ///     if ctx.compare_version("2.0").is_ge() {
    ///         // Added in 2.0: instances started by earlier deployments never take this step.
    ///         ctx.call_activity::<()>("Audit", &message).await?;
    ///     }
    ///     ctx.call_activity::<()>("Publish", &message).await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn compare_version(&self, other: &str) -> std::cmp::Ordering {
        super::compare_versions(self.state.borrow().version.as_deref(), Some(other))
    }

    /// The parent orchestration's instance id, when this is a sub-orchestration.
    pub fn parent_instance_id(&self) -> Option<String> {
        self.state.borrow().parent_instance_id.clone()
    }

    /// The orchestration input decoded from JSON (absent input decodes as `null`, so `Option<T>` and `()` work).
    pub fn input<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let state = self.state.borrow();
        json::decode(state.input.as_deref()).map_err(|e| {
            Error::new(
                error_types::INVALID_INPUT,
                format!("the input of orchestration '{}' could not be decoded: {e}", state.name),
            )
        })
    }

    /// The current time of the orchestration: when the current episode started, as recorded in history.
    pub fn current_utc_datetime(&self) -> DateTime<Utc> {
        self.state.borrow().current_utc
    }

    /// True while the orchestrator re-runs past history (see [`unless_replaying`](Self::unless_replaying) for logs).
    pub fn is_replaying(&self) -> bool {
        self.state.borrow().is_replaying
    }

    /// Runs `log` only when the orchestrator is not replaying, so each log line (or metric, or other side effect
    /// that must happen once) is written once per decision rather than once per replay. It runs inside a
    /// `tracing` span named `orchestration` carrying the instance id and the orchestrator's name.
    ///
    /// ```
    /// use durabletask_sdk::prelude::*;
    ///
    /// async fn publish(ctx: OrchestrationContext, order: String) -> Result<(), Error> {
    ///     ctx.unless_replaying(|| tracing::info!(%order, "publishing"));
    ///     ctx.call_activity::<()>("Publish", &order).await?;
    ///     ctx.unless_replaying(|| tracing::info!(%order, "published"));
    ///     Ok(())
    /// }
    /// ```
    pub fn unless_replaying<R>(&self, log: impl FnOnce() -> R) -> Option<R> {
        let state = self.state.borrow();
        if state.is_replaying {
            return None;
        }
        let span = tracing::info_span!("orchestration", instance_id = %state.instance_id, name = %state.name);
        drop(state);
        Some(span.in_scope(log))
    }

    /// A deterministic GUID: the same on every replay (see the module docs of `guid` for the scheme).
    pub fn new_guid(&self) -> uuid::Uuid {
        self.state.borrow_mut().new_guid()
    }

    /// Sets the custom status that clients see (any JSON value; `null` clears it).
    pub fn set_custom_status(&self, status: &impl Serialize) -> Result<(), Error> {
        let encoded = json::encode(status)?;
        let mut state = self.state.borrow_mut();
        // After a misuse of the context the episode only fails (see `ReplayState::add_action`).
        if state.usage_error.is_none() {
            state.custom_status = encoded;
        }
        Ok(())
    }

    /// Schedules activity `name` with JSON `input` and returns its task (await it, or retry it with
    /// [`CallTask::with_retry`]). With a typed [`ActivityHandle`](super::ActivityHandle), use [`call`](Self::call).
    pub fn call_activity<T: DeserializeOwned>(&self, name: &str, input: &impl Serialize) -> CallTask<T> {
        let input = self.encode_or_fail(input);
        self.schedule_activity(name, input)
    }

    /// Starts sub-orchestration `name` with JSON `input` on `instance_id` (default:
    /// `<parent id>:<task id as 4 hex digits>`) and returns its task (await it, or retry it with
    /// [`CallTask::with_retry`]; every attempt targets the same instance id). With a typed
    /// [`OrchestrationHandle`](super::OrchestrationHandle), use [`call`](Self::call).
    pub fn call_sub_orchestrator<T: DeserializeOwned>(
        &self,
        name: &str,
        input: &impl Serialize,
        instance_id: Option<&str>,
    ) -> CallTask<T> {
        let input = self.encode_or_fail(input);
        self.schedule_sub_orchestration(name, input, instance_id.map(str::to_string))
    }

    /// Calls what a typed handle names: an activity ([`ActivityHandle`](super::ActivityHandle)), or an
    /// orchestrator as a sub-orchestration ([`OrchestrationHandle`](super::OrchestrationHandle), optionally
    /// [`with_instance_id`](super::OrchestrationHandle::with_instance_id)). The input and output types are the
    /// handle's, so the compiler checks them against the registered function.
    pub fn call<C: Callable>(&self, target: C, input: &C::Input) -> CallTask<C::Output> {
        let input = self.encode_or_fail(input);
        target.schedule(self, input)
    }

    /// A durable timer that fires at `fire_at` (long timers are chained in steps of at most the maximum timer
    /// interval, three days unless [`Registry::set_maximum_timer_interval`](crate::Registry::set_maximum_timer_interval)
    /// says otherwise).
    pub fn create_timer(&self, fire_at: DateTime<Utc>) -> DurableFuture<()> {
        let key = timer::create(&mut self.state.borrow_mut(), fire_at);
        DurableFuture::new(self.state.clone(), key)
    }

    /// A durable timer that fires `delay` after the current orchestration time.
    pub fn create_timer_after(&self, delay: Duration) -> DurableFuture<()> {
        let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        let fire_at = self
            .current_utc_datetime()
            .checked_add_signed(delay)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.create_timer(fire_at)
    }

    /// Waits for an external event (names are case-insensitive); events that arrived earlier are delivered in
    /// arrival order, one per wait.
    pub fn wait_for_external_event<T: DeserializeOwned>(&self, name: &str) -> DurableFuture<T> {
        let key = self.state.borrow_mut().wait_for_event(name);
        DurableFuture::new(self.state.clone(), key)
    }

    /// Waits for an external event for at most `timeout` (in orchestration time): the event's payload, or
    /// [`TaskError::EventTimedOut`](crate::TaskError::EventTimedOut). When the timeout wins, the wait is withdrawn, so a later event of that name
    /// goes to the next wait. An event that already arrived is taken at once; a zero timeout without one times out
    /// at once; in both cases no timer is created. See [`TimedEventWait`] for how this compares with the other
    /// SDKs.
    ///
    /// ```
    /// # use std::time::Duration;
    /// use durabletask_sdk::prelude::*;
    ///
    /// async fn approval(ctx: OrchestrationContext, _: ()) -> Result<&'static str, Error> {
    ///     match ctx.wait_for_external_event_with_timeout::<bool>("Approval", Duration::from_secs(3600)).await {
    ///         Ok(true) => Ok("approved"),
    ///         Ok(false) => Ok("rejected"),
    ///         Err(TaskError::EventTimedOut { .. }) => Ok("escalated"),
    ///         Err(other) => Err(other.into()),
    ///     }
    /// }
    /// ```
    pub fn wait_for_external_event_with_timeout<T: DeserializeOwned>(
        &self,
        name: &str,
        timeout: Duration,
    ) -> TimedEventWait<T> {
        let buffered = self.state.borrow_mut().take_buffered_event(name);
        if let Some(payload) = buffered {
            let key = self.state.borrow_mut().add_finished_slot(Ok(payload));
            return TimedEventWait::new(Some(DurableFuture::new(self.state.clone(), key)), None, name, timeout);
        }
        if timeout.is_zero() {
            return TimedEventWait::new(None, None, name, timeout);
        }
        let event = self.wait_for_external_event(name);
        let timer = self.create_timer_after(timeout);
        TimedEventWait::new(Some(event), Some(timer), name, timeout)
    }

    /// Sends an event to another orchestration instance (fire and forget).
    pub fn send_event(&self, instance_id: &str, name: &str, data: &impl Serialize) {
        let data = self.encode_or_fail(data);
        let mut state = self.state.borrow_mut();
        let id = state.next_sequence_number();
        let action = Action::SendEvent(proto::SendEventAction {
            instance: Some(proto::OrchestrationInstance {
                instance_id: instance_id.to_string(),
                execution_id: None,
            }),
            name: name.to_string(),
            data,
        });
        state.add_action(new_action(id, action), false);
    }

    /// Signals an entity operation (fire and forget).
    pub fn signal_entity(&self, entity: &EntityId, operation: &str, input: &impl Serialize) {
        self.signal_entity_internal(entity, operation, input, None);
    }

    /// Signals an entity operation (fire and forget) as an event every Durable Functions extension release delivers:
    /// a `sendEvent` named `op` to the entity's instance id carrying the framework's request message (see
    /// [`EntityRequestMessage`](super::EntityRequestMessage)), instead of the `sendEntityMessage` action that only
    /// newer extension releases convert. On a gRPC engine that delivers only `sendEntityMessage` to entities (the
    /// local in-memory engine), the host in between must route the event, as the extension's framework does.
    pub fn signal_entity_as_event(&self, entity: &EntityId, operation: &str, input: &impl Serialize) {
        let input = self.encode_or_fail(input);
        let target = entity.to_string();
        let mut state = self.state.borrow_mut();
        if let Err(rule) = state.check_signal(&target) {
            // The sequence number is taken first, as for `signal_entity`.
            state.next_sequence_number();
            state.break_locking_rule(rule, &target);
            return;
        }
        let message = super::EntityRequestMessage {
            operation: operation.to_string(),
            is_signal: true,
            input,
            id: state.new_guid().to_string(),
        };
        drop(state);
        self.send_event(&target, super::ENTITY_REQUEST_EVENT, &message);
    }

    /// Signals an entity operation to be delivered at `at`.
    pub fn signal_entity_at(&self, entity: &EntityId, operation: &str, input: &impl Serialize, at: DateTime<Utc>) {
        self.signal_entity_internal(entity, operation, input, Some(at));
    }

    /// Calls an entity operation and waits for its result.
    pub fn call_entity<T: DeserializeOwned>(
        &self,
        entity: &EntityId,
        operation: &str,
        input: &impl Serialize,
    ) -> DurableFuture<T> {
        let input = self.encode_or_fail(input);
        let mut state = self.state.borrow_mut();
        let target = entity.to_string();
        // The sequence number is taken before the locking rules are checked, as the Python SDK takes it.
        let id = state.next_sequence_number();
        if let Err(rule) = state.check_call(&target) {
            state.break_locking_rule(rule, &target);
            drop(state);
            return DurableFuture::new(self.state.clone(), NEVER_FINISHES);
        }
        let request_id = state.new_guid().to_string();
        state.entity_call_targets.insert(id, target);
        let action = Action::SendEntityMessage(proto::SendEntityMessageAction {
            entity_message_type: Some(EntityMessageType::EntityOperationCalled(
                proto::EntityOperationCalledEvent {
                    request_id: request_id.clone(),
                    operation: operation.to_string(),
                    scheduled_time: None,
                    input,
                    parent_instance_id: Some(state.instance_id.clone()),
                    parent_execution_id: None,
                    target_instance_id: Some(entity.to_string()),
                },
            )),
        });
        state.entity_calls.insert(request_id, id);
        state.add_action(new_action(id, action), true);
        drop(state);
        DurableFuture::new(self.state.clone(), SlotKey::Sequence(id))
    }

    /// Locks `entities` for this orchestration (a critical section): resolves to the [`EntityLock`](super::EntityLock) once the engine
    /// has granted every lock. While it holds them, no other orchestration's call or lock and no signal reaches
    /// those entities; the orchestration itself may call each of them (one call at a time), and must not signal
    /// them, call other entities, or lock again. Breaking a rule fails the orchestration with
    /// [`ENTITY_LOCKING_RULE`](super::ENTITY_LOCKING_RULE). Locks are taken in one global order (the ids sorted as
    /// text), so two orchestrations locking overlapping sets never deadlock.
    ///
    /// ```
    /// use durabletask_sdk::prelude::*;
    ///
    /// /// Moves `amount` between two accounts with no other transfer in between.
    /// async fn transfer(ctx: OrchestrationContext, amount: i64) -> Result<(), Error> {
    ///     let (from, to) = (EntityId::new("account", "alice"), EntityId::new("account", "bob"));
    ///     let lock = ctx.lock_entities(&[from.clone(), to.clone()]).await?;
    ///     let balance: i64 = ctx.call_entity(&from, "get", &()).await?;
    ///     if balance >= amount {
    ///         ctx.call_entity::<()>(&from, "add", &-amount).await?;
    ///         ctx.call_entity::<()>(&to, "add", &amount).await?;
    ///     }
    ///     lock.release();
    ///     Ok(())
    /// }
    /// ```
    pub fn lock_entities(&self, entities: &[EntityId]) -> LockTask {
        entity_lock::lock(&self.state, entities)
    }

    /// Runs `body` holding the locks of `entities` (see [`lock_entities`](Self::lock_entities)) and releases them
    /// when it finishes, whatever it returns. `body` is a future that has not started yet (an `async` block), so
    /// it only runs once the locks are granted.
    pub async fn critical_section<F: std::future::Future>(
        &self,
        entities: &[EntityId],
        body: F,
    ) -> Result<F::Output, crate::TaskError> {
        let lock = self.lock_entities(entities).await?;
        let output = body.await;
        lock.release();
        Ok(output)
    }

    /// True while the orchestration holds (or has requested) entity locks.
    pub fn is_inside_critical_section(&self) -> bool {
        self.state.borrow().is_inside_critical_section()
    }

    /// Ends this execution and restarts the orchestration with `input` and a fresh history once the orchestrator
    /// returns. External events that arrived but were not awaited are dropped.
    pub fn continue_as_new(&self, input: &impl Serialize) {
        self.request_continue_as_new(input, false);
    }

    /// Like [`continue_as_new`](Self::continue_as_new), but external events that arrived and were not awaited are
    /// carried over to the new execution.
    pub fn continue_as_new_preserving_events(&self, input: &impl Serialize) {
        self.request_continue_as_new(input, true);
    }

    fn request_continue_as_new(&self, input: &impl Serialize, preserve_unprocessed_events: bool) {
        let input = self.encode_or_fail(input);
        let mut state = self.state.borrow_mut();
        if state.continue_as_new.is_none() {
            state.continue_as_new = Some(ContinueAsNew {
                input,
                preserve_unprocessed_events,
            });
        }
    }

    fn signal_entity_internal(
        &self,
        entity: &EntityId,
        operation: &str,
        input: &impl Serialize,
        at: Option<DateTime<Utc>>,
    ) {
        let input = self.encode_or_fail(input);
        let mut state = self.state.borrow_mut();
        let target = entity.to_string();
        let id = state.next_sequence_number();
        if let Err(rule) = state.check_signal(&target) {
            state.break_locking_rule(rule, &target);
            return;
        }
        let request_id = state.new_guid().to_string();
        let action = Action::SendEntityMessage(proto::SendEntityMessageAction {
            entity_message_type: Some(EntityMessageType::EntityOperationSignaled(
                proto::EntityOperationSignaledEvent {
                    request_id,
                    operation: operation.to_string(),
                    scheduled_time: at.map(crate::time::to_timestamp),
                    input,
                    target_instance_id: Some(entity.to_string()),
                },
            )),
        });
        state.add_action(new_action(id, action), false);
    }

    pub(crate) fn schedule_activity<T>(&self, name: &str, input: Option<String>) -> CallTask<T> {
        self.schedule_call(Action::ScheduleTask(proto::ScheduleTaskAction {
            name: name.to_string(),
            version: None,
            input,
            tags: Tags::new(),
            parent_trace_context: None,
        }))
    }

    pub(crate) fn schedule_sub_orchestration<T>(
        &self,
        name: &str,
        input: Option<String>,
        instance_id: Option<String>,
    ) -> CallTask<T> {
        let instance_id = instance_id.unwrap_or_else(|| {
            let state = self.state.borrow();
            // The default id uses the sequence number the call is about to take.
            format!("{}:{:04x}", state.instance_id, state.peek_sequence_number())
        });
        let version = self.state.borrow().default_version.clone();
        self.schedule_call(Action::CreateSubOrchestration(proto::CreateSubOrchestrationAction {
            instance_id,
            name: name.to_string(),
            version,
            input,
            parent_trace_context: None,
            tags: Tags::new(),
        }))
    }

    /// Makes `call` again (a retry) at the next sequence number.
    pub(crate) fn schedule<T>(&self, call: Call) -> CallTask<T> {
        let Call {
            kind,
            name,
            input,
            tags,
            version,
        } = call;
        self.schedule_call(match kind {
            CallKind::Activity => Action::ScheduleTask(proto::ScheduleTaskAction {
                name,
                version,
                input,
                tags,
                parent_trace_context: None,
            }),
            CallKind::SubOrchestration { instance_id } => {
                Action::CreateSubOrchestration(proto::CreateSubOrchestrationAction {
                    instance_id,
                    name,
                    version,
                    input,
                    parent_trace_context: None,
                    tags,
                })
            }
        })
    }

    /// Records a call's action at the next sequence number and returns its task.
    #[inline]
    fn schedule_call<T>(&self, action: Action) -> CallTask<T> {
        let mut state = self.state.borrow_mut();
        let id = state.next_sequence_number();
        state.add_action(new_action(id, action), true);
        drop(state);
        CallTask::new(DurableFuture::new(self.state.clone(), SlotKey::Sequence(id)))
    }

    /// What the call at `task_id` was, to make it again.
    pub(crate) fn call_recipe(&self, task_id: i32) -> Option<Call> {
        self.state.borrow().call_action(task_id).and_then(Call::of_action)
    }

    /// Adds tags to the call at `task_id`: to its action while that is still to be sent, and to what a retry
    /// makes again.
    pub(crate) fn add_tags(&self, task_id: i32, tags: Vec<(String, String)>) {
        let mut state = self.state.borrow_mut();
        let target = match state
            .call_action_mut(task_id)
            .and_then(|a| a.orchestrator_action_type.as_mut())
        {
            Some(Action::ScheduleTask(task)) => &mut task.tags,
            Some(Action::CreateSubOrchestration(create)) => &mut create.tags,
            _ => return,
        };
        target.extend(tags);
    }

    /// Sets the version of the call at `task_id`: on its action while that is still to be sent, and on what a retry
    /// makes again.
    pub(crate) fn set_call_version(&self, task_id: i32, version: String) {
        let mut state = self.state.borrow_mut();
        match state
            .call_action_mut(task_id)
            .and_then(|a| a.orchestrator_action_type.as_mut())
        {
            Some(Action::ScheduleTask(task)) => task.version = Some(version),
            Some(Action::CreateSubOrchestration(create)) => create.version = Some(version),
            _ => {}
        }
    }

    /// Encodes a value; an unencodable value fails the orchestration with a clear message rather than panicking.
    fn encode_or_fail(&self, value: &(impl Serialize + ?Sized)) -> Option<String> {
        match json::encode(value) {
            Ok(encoded) => encoded,
            Err(error) => {
                self.state
                    .borrow_mut()
                    .encoding_error
                    .get_or_insert_with(|| error.to_string());
                None
            }
        }
    }
}

fn new_action(id: i32, action: Action) -> proto::OrchestratorAction {
    proto::OrchestratorAction {
        id,
        orchestrator_action_type: Some(action),
    }
}
