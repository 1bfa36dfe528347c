//! Durable timers, long ones included: everything about them in one place.
//!
//! Engines limit how far ahead a timer may fire (Azure Storage cannot schedule a message further than a few days
//! out), so, as the official SDKs do, a timer due later than the maximum timer interval from now (by default
//! [`DEFAULT_MAXIMUM_TIMER_INTERVAL`]; see [`Registry::set_maximum_timer_interval`](crate::Registry::set_maximum_timer_interval))
//! is created as a chain of steps of at most that length: the first step is scheduled at once, and each step that fires before the
//! final time schedules the next one. The orchestrator awaits one task for the whole chain, keyed by the first
//! step's sequence number ([`SlotKey::LongTimer`]); it finishes when the step due at the final time fires.
//!
//! A chain goes on scheduling steps even when nobody awaits it any more (the orchestrator dropped the task, or a
//! `when_any` finished without it), as the other SDKs do; it stops once the orchestration has completed.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::state::{ReplayState, SlotKey};
use crate::proto;
use crate::proto::orchestrator_action::OrchestratorActionType as Action;

/// By default, timers longer than this are split into chained timers, as the official SDKs do (Azure Storage
/// limits how far ahead a message can be scheduled).
pub const DEFAULT_MAXIMUM_TIMER_INTERVAL: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// A long timer split into steps: the step currently scheduled belongs to this chain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimerChain {
    /// When the whole timer fires.
    pub final_fire_at: DateTime<Utc>,
    /// The task the orchestrator awaits (keyed by the first step's sequence number).
    pub key: SlotKey,
}

/// Creates a timer that fires at `fire_at` and returns the key of the task that finishes when it does.
pub(crate) fn create(state: &mut ReplayState, fire_at: DateTime<Utc>) -> SlotKey {
    let first_step = next_step(state.current_utc, fire_at, state.maximum_timer_interval);
    let id = schedule_step(state, first_step);
    if first_step >= fire_at {
        let key = SlotKey::Sequence(id);
        state.add_slot(key);
        return key;
    }
    let key = SlotKey::LongTimer(id);
    state.add_slot(key);
    state.timer_chains.insert(
        id,
        TimerChain {
            final_fire_at: fire_at,
            key,
        },
    );
    key
}

/// A timer (or one step of a chain) fired. The last step of a chain, or an ordinary timer, finishes its task;
/// an earlier step schedules the next one, unless the orchestration has completed (`completed`).
pub(crate) fn on_fired(
    state: &mut ReplayState,
    timer_id: i32,
    fire_at: Option<&prost_types::Timestamp>,
    completed: bool,
) {
    let Some(chain) = state.timer_chains.remove(&timer_id) else {
        state.complete(SlotKey::Sequence(timer_id), Ok(None));
        return;
    };
    let fired_at = fire_at.map(crate::time::to_datetime).unwrap_or(chain.final_fire_at);
    if fired_at >= chain.final_fire_at {
        state.complete(chain.key, Ok(None));
    } else if !completed {
        let step = next_step(fired_at, chain.final_fire_at, state.maximum_timer_interval);
        let id = schedule_step(state, step);
        state.timer_chains.insert(id, chain);
    }
}

/// The fire time of the next step of a timer due at `fire_at`, starting at `now`, with steps of at most `maximum`.
fn next_step(now: DateTime<Utc>, fire_at: DateTime<Utc>, maximum: Option<Duration>) -> DateTime<Utc> {
    let step = maximum
        .and_then(|maximum| chrono::Duration::from_std(maximum).ok())
        .and_then(|maximum| now.checked_add_signed(maximum));
    match step {
        Some(step) if step < fire_at => step,
        _ => fire_at,
    }
}

/// Records a `createTimer` action at a new sequence number; returns the number.
fn schedule_step(state: &mut ReplayState, fire_at: DateTime<Utc>) -> i32 {
    let id = state.next_sequence_number();
    let action = Action::CreateTimer(proto::CreateTimerAction {
        fire_at: Some(crate::time::to_timestamp(fire_at)),
    });
    state.add_action(
        proto::OrchestratorAction {
            id,
            orchestrator_action_type: Some(action),
        },
        false,
    );
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap()
    }

    #[test]
    fn steps_are_at_most_the_maximum_interval() {
        let days = chrono::Duration::days;
        let three_days = Some(DEFAULT_MAXIMUM_TIMER_INTERVAL);
        assert_eq!(next_step(t0(), t0() + days(7), three_days), t0() + days(3));
        assert_eq!(next_step(t0() + days(6), t0() + days(7), three_days), t0() + days(7));
        assert_eq!(next_step(t0(), t0() + days(3), three_days), t0() + days(3));
        assert_eq!(
            next_step(t0(), t0() + days(700), None),
            t0() + days(700),
            "no maximum, no steps"
        );
        let one_day = Some(Duration::from_secs(24 * 3600));
        assert_eq!(next_step(t0(), t0() + days(2), one_day), t0() + days(1));
    }

    #[test]
    fn a_chain_finishes_only_when_the_final_step_fires() {
        let mut state = ReplayState::new("i".into());
        state.current_utc = t0();
        state.maximum_timer_interval = Some(DEFAULT_MAXIMUM_TIMER_INTERVAL);
        let final_fire_at = t0() + chrono::Duration::days(4);
        let key = create(&mut state, final_fire_at);
        assert_eq!(key, SlotKey::LongTimer(1));
        let at = |time: DateTime<Utc>| Some(crate::time::to_timestamp(time));
        on_fired(&mut state, 1, at(t0() + chrono::Duration::days(3)).as_ref(), false);
        assert!(!state.progressed, "the first step does not finish the timer");
        assert!(state.pending_actions.contains(2), "the next step is scheduled");
        on_fired(&mut state, 2, at(final_fire_at).as_ref(), false);
        assert!(state.progressed);
    }
}
