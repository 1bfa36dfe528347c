//! Entity locks: critical sections in which an orchestration holds a set of entities, so that no other
//! orchestration or signal touches them until it lets go.
//!
//! The protocol, as the engines and the official SDKs speak it:
//!
//! * [`OrchestrationContext::lock_entities`](super::OrchestrationContext::lock_entities) sends one
//!   `sendEntityMessage{entityLockRequested}` action at the next sequence number, with a new critical section id
//!   (a deterministic GUID), the orchestration as `parentInstanceId`, the entities' ids sorted as text and without
//!   duplicates as `lockSet` (a global order, so two orchestrations never wait for each other) and `position` 0.
//!   The engine records `entityLockRequested` with that event id, walks the lock set, and answers with
//!   `entityLockGranted{criticalSectionId}` (the Functions extension: an `eventRaised` named with the section id).
//! * Inside the section the orchestration may call each locked entity, one call at a time; it must not signal a
//!   locked entity, call an entity it did not lock, call any entity before the grant, or enter another section.
//!   Breaking a rule fails the orchestration (error type [`ENTITY_LOCKING_RULE`]), as the official SDKs do.
//! * Releasing sends one `sendEntityMessage{entityUnlockSent}` per locked entity, in lock-set order, each at the
//!   next sequence number; the engine records `entityUnlockSent`. An orchestration that completes, fails, is
//!   terminated or continues as new while holding locks releases them first.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::state::{ReplayState, SlotKey};
use crate::entity_id::EntityId;
use crate::failure::{FailureDetails, TaskError};
use crate::proto;
use crate::proto::orchestrator_action::OrchestratorActionType as Action;
use crate::proto::send_entity_message_action::EntityMessageType;

/// The error type an orchestration fails with when it breaks a locking rule.
pub const ENTITY_LOCKING_RULE: &str = "EntityLockingRuleError";

/// The critical section an orchestration is in (from its lock request on).
#[derive(Debug, Clone)]
pub(crate) struct CriticalSection {
    id: String,
    /// The locked entities, sorted as text.
    locks: Vec<String>,
    /// The locked entities no call is in flight to (only once granted).
    available: Vec<String>,
    acquisition_pending: bool,
}

/// Why a request inside (or into) a critical section is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockingRule {
    NoEntities,
    Nested,
    SignalLocked,
    CallBeforeGrant,
    CallInFlight,
    CallNotLocked,
}

impl LockingRule {
    fn message(self, entity: &str) -> String {
        match self {
            LockingRule::NoEntities => "lock_entities was given no entities to lock".to_string(),
            LockingRule::Nested => {
                "this orchestration already holds entity locks: critical sections cannot be nested".to_string()
            }
            LockingRule::SignalLocked => {
                format!("entity {entity} is locked by this orchestration: it cannot be signalled inside the critical section")
            }
            LockingRule::CallBeforeGrant => {
                format!("entity {entity} was called before the lock request was granted: await the lock first")
            }
            LockingRule::CallInFlight => format!(
                "entity {entity} is already being called inside this critical section: await that call before calling it again"
            ),
            LockingRule::CallNotLocked => {
                format!("entity {entity} is not locked by this critical section: only locked entities can be called inside it")
            }
        }
    }
}

impl ReplayState {
    /// True from the lock request until the locks are released.
    pub(crate) fn is_inside_critical_section(&self) -> bool {
        self.critical_section.is_some()
    }

    /// Fails the orchestration (after this poll) for breaking a locking rule about `entity`.
    pub(crate) fn break_locking_rule(&mut self, rule: LockingRule, entity: &str) {
        self.usage_error
            .get_or_insert_with(|| FailureDetails::new(ENTITY_LOCKING_RULE, rule.message(entity)));
    }

    /// Checks a signal to `entity` against the critical section.
    pub(crate) fn check_signal(&self, entity: &str) -> Result<(), LockingRule> {
        match &self.critical_section {
            Some(section) if section.locks.iter().any(|locked| locked == entity) => Err(LockingRule::SignalLocked),
            _ => Ok(()),
        }
    }

    /// Checks a call to `entity` against the critical section, taking the entity's lock for the call's duration.
    pub(crate) fn check_call(&mut self, entity: &str) -> Result<(), LockingRule> {
        let Some(section) = &mut self.critical_section else {
            return Ok(());
        };
        if let Some(position) = section.available.iter().position(|locked| locked == entity) {
            section.available.remove(position);
            return Ok(());
        }
        Err(if section.acquisition_pending {
            LockingRule::CallBeforeGrant
        } else if section.locks.iter().any(|locked| locked == entity) {
            LockingRule::CallInFlight
        } else {
            LockingRule::CallNotLocked
        })
    }

    /// An entity call finished: inside a critical section its entity may be called again.
    pub(crate) fn entity_call_finished(&mut self, task_id: i32) {
        if let Some(entity) = self.entity_call_targets.remove(&task_id) {
            if let Some(section) = &mut self.critical_section {
                section.available.push(entity);
            }
        }
    }

    /// Requests the locks of `entities` at the next sequence number and enters the critical section.
    /// The sequence number, and for a valid nesting the critical section id, are taken before the entities are
    /// checked, in the order the Python SDK takes them, so a refused request numbers what follows the same way.
    fn request_locks(&mut self, entities: &[EntityId]) -> Result<i32, LockingRule> {
        let id = self.next_sequence_number();
        if self.critical_section.is_some() {
            return Err(LockingRule::Nested);
        }
        let section_id = self.new_guid().to_string();
        let mut locks: Vec<String> = entities.iter().map(ToString::to_string).collect();
        if locks.is_empty() {
            return Err(LockingRule::NoEntities);
        }
        locks.sort();
        locks.dedup();
        let action = Action::SendEntityMessage(proto::SendEntityMessageAction {
            entity_message_type: Some(EntityMessageType::EntityLockRequested(
                proto::EntityLockRequestedEvent {
                    critical_section_id: section_id.clone(),
                    lock_set: locks.clone(),
                    position: 0,
                    parent_instance_id: Some(self.instance_id.clone()),
                },
            )),
        });
        self.add_action(
            proto::OrchestratorAction {
                id,
                orchestrator_action_type: Some(action),
            },
            true,
        );
        self.entity_lock_requests.insert(section_id.clone(), id);
        self.critical_section = Some(CriticalSection {
            id: section_id,
            locks,
            available: Vec::new(),
            acquisition_pending: true,
        });
        Ok(id)
    }

    /// The lock request of `section_id` was granted; returns the task to complete, if it is one of ours.
    pub(crate) fn lock_granted(&mut self, section_id: &str) -> Option<i32> {
        let task_id = self.entity_lock_requests.remove(section_id)?;
        if let Some(section) = &mut self.critical_section {
            if section.id == section_id {
                section.available = section.locks.clone();
                section.acquisition_pending = false;
            }
        }
        Some(task_id)
    }

    /// Leaves the critical section, if in one: one `entityUnlockSent` action per locked entity. After a misuse of
    /// the context the section is left to the executor, which releases it when it fails the orchestration.
    pub(crate) fn exit_critical_section(&mut self) {
        if self.usage_error.is_some() {
            return;
        }
        let Some(section) = self.critical_section.take() else {
            return;
        };
        for entity in section.locks {
            let id = self.next_sequence_number();
            let action = Action::SendEntityMessage(proto::SendEntityMessageAction {
                entity_message_type: Some(EntityMessageType::EntityUnlockSent(proto::EntityUnlockSentEvent {
                    critical_section_id: section.id.clone(),
                    parent_instance_id: Some(self.instance_id.clone()),
                    target_instance_id: Some(entity),
                })),
            });
            self.add_action(
                proto::OrchestratorAction {
                    id,
                    orchestrator_action_type: Some(action),
                },
                false,
            );
        }
    }

    /// History recorded the unlocks of `section_id`: they are no longer to be sent.
    pub(crate) fn unlocks_sent(&mut self, section_id: &str) {
        self.pending_actions.retain(|_, action| {
            !matches!(
                &action.orchestrator_action_type,
                Some(Action::SendEntityMessage(proto::SendEntityMessageAction {
                    entity_message_type: Some(EntityMessageType::EntityUnlockSent(unlock)),
                })) if unlock.critical_section_id == section_id
            )
        });
    }
}

/// Starts a lock request (see [`OrchestrationContext::lock_entities`](super::OrchestrationContext::lock_entities)).
pub(crate) fn lock(state: &Rc<RefCell<ReplayState>>, entities: &[EntityId]) -> LockTask {
    let requested = state.borrow_mut().request_locks(entities);
    match requested {
        Ok(task_id) => LockTask {
            state: state.clone(),
            key: Some(SlotKey::Sequence(task_id)),
        },
        Err(rule) => {
            let mut state_mut = state.borrow_mut();
            let named = entities.first().map(ToString::to_string).unwrap_or_default();
            state_mut.break_locking_rule(rule, &named);
            drop(state_mut);
            LockTask {
                state: state.clone(),
                key: None,
            }
        }
    }
}

/// A lock request: resolves to the [`EntityLock`] once the engine grants every lock.
#[must_use = "a lock request does nothing useful unless awaited"]
pub struct LockTask {
    state: Rc<RefCell<ReplayState>>,
    /// `None` when the request broke a locking rule: it never resolves, and the orchestration fails.
    key: Option<SlotKey>,
}

impl Future for LockTask {
    type Output = Result<EntityLock, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(key) = self.key else {
            return Poll::Pending;
        };
        match self.state.borrow_mut().poll_outcome(key, cx.waker()) {
            None => Poll::Pending,
            Some(Err(error)) => Poll::Ready(Err(error)),
            Some(Ok(_)) => Poll::Ready(Ok(EntityLock {
                state: self.state.clone(),
            })),
        }
    }
}

/// The entity locks an orchestration holds (a critical section). Release them with [`EntityLock::release`] (or use
/// [`OrchestrationContext::critical_section`](super::OrchestrationContext::critical_section)); locks still held
/// when the orchestration ends are released then.
///
/// Dropping an `EntityLock` does not release it: an episode that ends while the orchestrator waits inside the
/// critical section drops everything, and the locks must stay held across episodes.
#[must_use = "the locks stay held until released or until the orchestration ends"]
pub struct EntityLock {
    state: Rc<RefCell<ReplayState>>,
}

impl EntityLock {
    /// Releases every lock of the critical section (one unlock message per entity).
    pub fn release(self) {
        self.state.borrow_mut().exit_critical_section();
    }
}

impl std::fmt::Debug for EntityLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.borrow();
        let locks = state.critical_section.as_ref().map(|section| section.locks.clone());
        f.debug_struct("EntityLock").field("locks", &locks).finish()
    }
}
