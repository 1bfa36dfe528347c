//! The mutable state of one replay: pending actions, outstanding tasks and buffered events.
//!
//! The orchestrator's futures and the executor share this state through `Rc<RefCell<_>>`; both run on the one
//! thread that executes the episode, and no borrow is ever held across a call into user code.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use rustc_hash::FxHashMap;
use std::task::Waker;

use chrono::{DateTime, Utc};

use super::entity_lock::CriticalSection;
use super::timer::TimerChain;
use crate::failure::{FailureDetails, TaskError};
use crate::proto;
use crate::proto::history_event::EventType;
use crate::proto::orchestrator_action::OrchestratorActionType as Action;
use crate::proto::send_entity_message_action::EntityMessageType;

/// What a finished task produced: its JSON-encoded result, or why it failed.
pub(crate) type TaskOutcome = Result<Option<String>, TaskError>;

/// Identifies a task the orchestrator may await.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SlotKey {
    /// A task with a sequence number: activity, timer, sub-orchestration or entity call.
    Sequence(i32),
    /// A wait for an external event (these take no sequence number).
    Event(u64),
    /// A timer split into steps, by the sequence number of its first step; it finishes when the last step fires.
    LongTimer(i32),
}

/// The key of a task that never finishes (a request refused before any action was decided); no slot ever has it,
/// since event wait numbers start at 1.
pub(crate) const NEVER_FINISHES: SlotKey = SlotKey::Event(0);

/// How the episode ended, when it did.
#[derive(Debug, Clone)]
pub(crate) enum Completion {
    /// The orchestrator returned this encoded result.
    Completed(Option<String>),
    /// The orchestrator failed.
    Failed(proto::TaskFailureDetails),
    /// The orchestrator returned after asking to restart with new input.
    ContinuedAsNew(ContinueAsNew),
    /// A client terminated the instance, giving this encoded reason as the output.
    Terminated(Option<String>),
}

/// A request to restart the orchestration with new input.
#[derive(Debug, Clone)]
pub(crate) struct ContinueAsNew {
    pub input: Option<String>,
    pub preserve_unprocessed_events: bool,
}

/// One outstanding task: its outcome once known, who to wake when it is, and what it is once history confirmed it.
#[derive(Default)]
struct Slot {
    outcome: Option<TaskOutcome>,
    waker: Option<Waker>,
    about: Option<TaskInfo>,
}

/// What a task that can fail is, to name it when it does: taken out of its action once history confirms it.
#[derive(Debug)]
pub(crate) enum TaskInfo {
    Activity(String),
    SubOrchestration { name: String, instance_id: String },
    EntityCall { entity: String, operation: String },
}

impl TaskInfo {
    /// What `action` calls, when it is a task that can fail; takes the strings out of the action.
    fn take_from(action: &mut proto::OrchestratorAction) -> Option<Self> {
        match action.orchestrator_action_type.as_mut()? {
            Action::ScheduleTask(task) => Some(TaskInfo::Activity(std::mem::take(&mut task.name))),
            Action::CreateSubOrchestration(create) => Some(TaskInfo::SubOrchestration {
                name: std::mem::take(&mut create.name),
                instance_id: std::mem::take(&mut create.instance_id),
            }),
            Action::SendEntityMessage(proto::SendEntityMessageAction {
                entity_message_type: Some(EntityMessageType::EntityOperationCalled(call)),
            }) => Some(TaskInfo::EntityCall {
                entity: call.target_instance_id.take().unwrap_or_default(),
                operation: std::mem::take(&mut call.operation),
            }),
            _ => None,
        }
    }
}

/// Whether `action` is a call `with_retry` can make again.
fn is_call(action: &proto::OrchestratorAction) -> bool {
    matches!(
        action.orchestrator_action_type,
        Some(Action::ScheduleTask(_) | Action::CreateSubOrchestration(_))
    )
}

/// Actions decided but not yet confirmed by history, by sequence number.
///
/// Sequence numbers are handed out in increasing order and history confirms them in about the same order, so the
/// actions live in a queue indexed by sequence number: adding, finding and removing one is O(1) and allocates
/// nothing once the queue has grown, and the actions come out in the order they were decided.
#[derive(Debug, Default)]
pub(crate) struct PendingActions {
    /// The sequence number of the queue's front.
    first: i32,
    actions: VecDeque<Option<proto::OrchestratorAction>>,
}

impl PendingActions {
    /// Adds the action decided at `action.id`, replacing one decided there before.
    #[inline]
    pub fn insert(&mut self, action: proto::OrchestratorAction) {
        let id = action.id;
        if self.actions.is_empty() {
            self.first = id;
        }
        // Numbers only grow, so this is only for completeness.
        while id < self.first {
            self.actions.push_front(None);
            self.first -= 1;
        }
        let index = (i64::from(id) - i64::from(self.first)) as usize;
        if index == self.actions.len() {
            self.actions.push_back(Some(action));
            return;
        }
        if index > self.actions.len() {
            self.actions.resize_with(index + 1, || None);
        }
        self.actions[index] = Some(action);
    }

    fn index(&self, id: i32) -> Option<usize> {
        let index = usize::try_from(i64::from(id) - i64::from(self.first)).ok()?;
        (index < self.actions.len()).then_some(index)
    }

    /// The action decided at `id`, if it is still pending.
    pub fn get(&self, id: i32) -> Option<&proto::OrchestratorAction> {
        self.actions.get(self.index(id)?)?.as_ref()
    }

    /// Like [`get`](Self::get), to change it.
    pub fn get_mut(&mut self, id: i32) -> Option<&mut proto::OrchestratorAction> {
        let index = self.index(id)?;
        self.actions.get_mut(index)?.as_mut()
    }

    /// Whether an action decided at `id` is pending.
    #[cfg(test)]
    pub fn contains(&self, id: i32) -> bool {
        self.get(id).is_some()
    }

    /// Takes the action decided at `id` (history confirmed it).
    pub fn remove(&mut self, id: i32) -> Option<proto::OrchestratorAction> {
        let index = self.index(id)?;
        let taken = self.actions[index].take();
        self.shrink();
        taken
    }

    /// Drops the action decided at `id` where it is, without moving it out.
    pub fn discard(&mut self, id: i32) {
        if let Some(index) = self.index(id) {
            self.actions[index] = None;
            self.shrink();
        }
    }

    /// Keeps only the actions for which `keep` (given the sequence number and the action) is true.
    pub fn retain(&mut self, mut keep: impl FnMut(i32, &proto::OrchestratorAction) -> bool) {
        for slot in &mut self.actions {
            if slot.as_ref().is_some_and(|action| !keep(action.id, action)) {
                *slot = None;
            }
        }
        self.shrink();
    }

    /// Drops the empty places at both ends.
    fn shrink(&mut self) {
        while matches!(self.actions.front(), Some(None)) {
            self.actions.pop_front();
            self.first += 1;
        }
        while matches!(self.actions.back(), Some(None)) {
            self.actions.pop_back();
        }
    }

    /// The pending actions in the order they were decided.
    pub fn into_actions(self) -> impl Iterator<Item = proto::OrchestratorAction> {
        self.actions.into_iter().flatten()
    }
}

/// Everything one replay knows.
pub(crate) struct ReplayState {
    pub instance_id: String,
    pub name: String,
    pub input: Option<String>,
    pub version: Option<String>,
    /// The version new sub-orchestrations get when the call names none (the registry's versioning options).
    pub default_version: Option<String>,
    pub parent_instance_id: Option<String>,
    pub current_utc: DateTime<Utc>,
    pub is_replaying: bool,
    /// How far ahead one timer may fire; longer timers are chained (see `timer`).
    pub maximum_timer_interval: Option<std::time::Duration>,
    sequence: i32,
    guid_counter: u32,
    event_waits: u64,
    /// Actions decided but not yet confirmed by history, by sequence number (so output order is deterministic).
    pub pending_actions: PendingActions,
    /// Activity and sub-orchestration actions confirmed by history whose task is still unfinished: what a retry
    /// asked for later makes again (see `CallTask::with_retry`).
    pub confirmed_calls: FxHashMap<i32, proto::OrchestratorAction>,
    /// Outstanding tasks; the outcome is filled in when history says the task finished.
    slots: FxHashMap<SlotKey, Slot>,
    /// Entity calls by request id → the sequence number of the call.
    pub entity_calls: HashMap<String, i32>,
    /// Waiters for external events, by case-folded event name, in the order they started waiting.
    event_waiters: HashMap<String, VecDeque<u64>>,
    /// External events nobody waited for yet, by case-folded name: (arrival order, raw payload).
    buffered_events: HashMap<String, VecDeque<(u64, Option<String>)>>,
    arrivals: u64,
    pub custom_status: Option<String>,
    pub continue_as_new: Option<ContinueAsNew>,
    /// Set when a task finished since the orchestrator was last polled.
    pub progressed: bool,
    /// The first value the orchestrator asked to send that could not be encoded as JSON.
    pub encoding_error: Option<String>,
    /// Timers longer than the engine's maximum, by the sequence number of their current step (see `timer`).
    pub timer_chains: FxHashMap<i32, TimerChain>,
    /// A misuse of the context that fails the orchestration after this poll (a broken entity locking rule).
    pub usage_error: Option<FailureDetails>,
    /// The critical section the orchestration is in, from its lock request until it releases (see `entity_lock`).
    pub critical_section: Option<CriticalSection>,
    /// Lock requests not granted yet: critical section id → the request's sequence number.
    pub entity_lock_requests: HashMap<String, i32>,
    /// Entity calls not finished yet: sequence number → the entity (`@name@key`), for the locking rules.
    pub entity_call_targets: FxHashMap<i32, String>,
}

impl ReplayState {
    pub fn new(instance_id: String) -> Self {
        Self {
            instance_id,
            name: String::new(),
            input: None,
            version: None,
            default_version: None,
            parent_instance_id: None,
            current_utc: DateTime::UNIX_EPOCH,
            is_replaying: true,
            maximum_timer_interval: Some(super::timer::DEFAULT_MAXIMUM_TIMER_INTERVAL),
            sequence: 0,
            guid_counter: 0,
            event_waits: 0,
            pending_actions: PendingActions::default(),
            confirmed_calls: FxHashMap::default(),
            slots: FxHashMap::default(),
            entity_calls: HashMap::new(),
            event_waiters: HashMap::new(),
            buffered_events: HashMap::new(),
            arrivals: 0,
            custom_status: None,
            continue_as_new: None,
            progressed: false,
            encoding_error: None,
            timer_chains: FxHashMap::default(),
            usage_error: None,
            critical_section: None,
            entity_lock_requests: HashMap::new(),
            entity_call_targets: FxHashMap::default(),
        }
    }

    /// The sequence number the next decision will take.
    pub fn peek_sequence_number(&self) -> i32 {
        self.sequence + 1
    }

    /// The next sequence number (the first is 1, as in the Python SDK).
    pub fn next_sequence_number(&mut self) -> i32 {
        // After a misuse of the context nothing more is numbered (see `add_action`): the official SDKs stop there.
        if self.usage_error.is_none() {
            self.sequence += 1;
        }
        self.sequence
    }

    /// The next deterministic GUID.
    pub fn new_guid(&mut self) -> uuid::Uuid {
        let guid = super::guid::deterministic_guid(&self.instance_id, self.current_utc, self.guid_counter);
        self.guid_counter += 1;
        guid
    }

    /// Records a new action and, when `awaitable`, an outstanding task for it.
    ///
    /// After a misuse of the context ([`usage_error`](Self::usage_error)) nothing more is decided: the official
    /// SDKs raise at the misuse, so the orchestrator code after it never runs; here it runs until its next await, and
    /// its decisions are dropped (its tasks never finish).
    #[inline]
    pub fn add_action(&mut self, action: proto::OrchestratorAction, awaitable: bool) {
        if self.usage_error.is_some() {
            return;
        }
        if awaitable {
            self.slots.insert(SlotKey::Sequence(action.id), Slot::default());
        }
        self.pending_actions.insert(action);
    }

    /// The action of the call at `task_id`, pending or confirmed, while its task is unfinished.
    pub fn call_action(&self, task_id: i32) -> Option<&proto::OrchestratorAction> {
        self.pending_actions
            .get(task_id)
            .or_else(|| self.confirmed_calls.get(&task_id))
    }

    /// Like [`call_action`](Self::call_action), to change it.
    pub fn call_action_mut(&mut self, task_id: i32) -> Option<&mut proto::OrchestratorAction> {
        match self.pending_actions.get_mut(task_id) {
            Some(action) => Some(action),
            None => self.confirmed_calls.get_mut(&task_id),
        }
    }

    /// Records that history confirmed `action`, decided at `task_id`: its task keeps what it is, to be named if it
    /// fails. The whole action of a call is kept (see `confirmed_calls`) while its task is unfinished and has not
    /// been awaited yet, as `with_retry` may still be asked of it; a call awaited at once, the common case, is not
    /// kept, and a call awaited before history confirms it is asked for its retry within the same poll on every
    /// run.
    pub fn confirmed(&mut self, task_id: i32, mut action: proto::OrchestratorAction) {
        let Some(slot) = self.slots.get_mut(&SlotKey::Sequence(task_id)) else {
            return; // nobody waits for it any more
        };
        if is_call(&action) && slot.waker.is_none() && slot.outcome.is_none() {
            slot.about = TaskInfo::take_from(&mut action.clone());
            self.confirmed_calls.insert(task_id, action);
        } else {
            slot.about = TaskInfo::take_from(&mut action);
        }
    }

    /// [`confirmed`](Self::confirmed) for the action still pending at `task_id`, which it takes from there (in
    /// place: an action is large, and most are dropped at once).
    pub fn confirm_pending(&mut self, task_id: i32) {
        let slot = self.slots.get_mut(&SlotKey::Sequence(task_id));
        match (self.pending_actions.get_mut(task_id), slot) {
            (Some(action), Some(slot)) if is_call(action) && slot.waker.is_none() && slot.outcome.is_none() => {
                if let Some(action) = self.pending_actions.remove(task_id) {
                    self.confirmed(task_id, action);
                }
                return;
            }
            (Some(action), Some(slot)) => slot.about = TaskInfo::take_from(action),
            _ => {}
        }
        self.pending_actions.discard(task_id);
    }

    /// What the task at `task_id` is, once history confirmed it, while it is awaited.
    pub fn task_info(&self, task_id: i32) -> Option<&TaskInfo> {
        self.slots.get(&SlotKey::Sequence(task_id))?.about.as_ref()
    }

    /// Starts waiting for the task `key`.
    pub fn add_slot(&mut self, key: SlotKey) {
        self.slots.insert(key, Slot::default());
    }

    /// Records the outcome of a task, if the orchestrator is (or was) waiting for it and it has no outcome yet, and
    /// wakes whoever polled it last. Returns whether the outcome was recorded.
    pub fn complete(&mut self, key: SlotKey, outcome: TaskOutcome) -> bool {
        if let SlotKey::Sequence(task_id) = key {
            if !self.entity_call_targets.is_empty() {
                self.entity_call_finished(task_id);
            }
        }
        match self.slots.get_mut(&key) {
            Some(slot) if slot.outcome.is_none() => {
                slot.outcome = Some(outcome);
                if let Some(waker) = slot.waker.take() {
                    waker.wake();
                }
                self.progressed = true;
                true
            }
            _ => false,
        }
    }

    /// Takes a finished task's outcome; while it is still running, remembers `waker` to wake when it finishes.
    pub fn poll_outcome(&mut self, key: SlotKey, waker: &Waker) -> Option<TaskOutcome> {
        let Entry::Occupied(mut slot) = self.slots.entry(key) else {
            return None;
        };
        if slot.get().outcome.is_some() {
            let outcome = slot.remove().outcome;
            self.forget_call(key);
            return outcome;
        }
        let slot = slot.get_mut();
        if !slot.waker.as_ref().is_some_and(|known| known.will_wake(waker)) {
            slot.waker = Some(waker.clone());
        }
        None
    }

    /// A task that has already finished with `outcome` (an event taken from the buffer).
    pub fn add_finished_slot(&mut self, outcome: TaskOutcome) -> SlotKey {
        self.event_waits += 1;
        let key = SlotKey::Event(self.event_waits);
        self.slots.insert(
            key,
            Slot {
                outcome: Some(outcome),
                ..Slot::default()
            },
        );
        key
    }

    /// Starts waiting for an external event, consuming a buffered one if it already arrived.
    pub fn wait_for_event(&mut self, name: &str) -> SlotKey {
        let folded = name.to_lowercase();
        if let Some(payload) = self.take_buffered(&folded) {
            return self.add_finished_slot(Ok(payload));
        }
        self.event_waits += 1;
        let key = SlotKey::Event(self.event_waits);
        self.slots.insert(key, Slot::default());
        self.event_waiters
            .entry(folded)
            .or_default()
            .push_back(self.event_waits);
        key
    }

    /// Takes the oldest buffered event named `name` (any letter case), if one arrived and nobody took it yet.
    pub fn take_buffered_event(&mut self, name: &str) -> Option<Option<String>> {
        self.take_buffered(&name.to_lowercase())
    }

    fn take_buffered(&mut self, folded: &str) -> Option<Option<String>> {
        let queue = self.buffered_events.get_mut(folded)?;
        let (_, payload) = queue.pop_front()?;
        if queue.is_empty() {
            self.buffered_events.remove(folded);
        }
        Some(payload)
    }

    /// Stops waiting for the task `key`, because its future was dropped (Rust's cancellation): an outcome that
    /// arrives later is ignored, and an external event goes to the next waiter, or is buffered for a later wait,
    /// instead of being swallowed by a wait nobody will ever poll.
    ///
    /// A dropped event wait stays in `event_waiters` until an event of its name comes by: [`raise_event`]
    /// passes over waiters without a slot.
    ///
    /// [`raise_event`]: Self::raise_event
    pub fn release(&mut self, key: SlotKey) {
        if self.slots.remove(&key).is_some() {
            self.forget_call(key);
        }
    }

    /// Drops the kept action of a finished or abandoned call.
    fn forget_call(&mut self, key: SlotKey) {
        if let SlotKey::Sequence(task_id) = key {
            if !self.confirmed_calls.is_empty() {
                self.confirmed_calls.remove(&task_id);
            }
        }
    }

    /// Delivers an external event to the oldest waiter still waiting, or buffers it.
    pub fn raise_event(&mut self, name: &str, payload: Option<String>, accept_waiters: bool) {
        let folded = name.to_lowercase();
        if accept_waiters {
            // Waits that were dropped (see `release`) have no slot any more and are passed over.
            while let Some(waiter) = self.event_waiters.get_mut(&folded).and_then(VecDeque::pop_front) {
                let key = SlotKey::Event(waiter);
                if self.slots.get(&key).is_some_and(|slot| slot.outcome.is_none()) {
                    self.complete(key, Ok(payload));
                    return;
                }
            }
        }
        self.arrivals += 1;
        self.buffered_events
            .entry(folded)
            .or_default()
            .push_back((self.arrivals, payload));
    }

    /// The buffered (unprocessed) external events in arrival order, as `eventRaised` history events named with
    /// their case-folded names (event names are case-insensitive).
    pub fn unprocessed_events(&self) -> Vec<proto::HistoryEvent> {
        let mut events: Vec<(u64, &str, Option<&str>)> = self
            .buffered_events
            .iter()
            .flat_map(|(name, queue)| {
                queue
                    .iter()
                    .map(move |(arrival, payload)| (*arrival, name.as_str(), payload.as_deref()))
            })
            .collect();
        events.sort_by_key(|(arrival, _, _)| *arrival);
        events
            .into_iter()
            .map(|(_, name, payload)| proto::HistoryEvent {
                event_id: -1,
                timestamp: None,
                event_type: Some(EventType::EventRaised(proto::EventRaisedEvent {
                    name: name.to_string(),
                    input: payload.map(str::to_string),
                })),
            })
            .collect()
    }
}
