//! Work scheduled for later: entity signals with a time (an entity or an orchestration signalling, such as a
//! deadline check), which the engine holds where its query API cannot see them, and orchestration timers. The
//! local host remembers the ones it passes on, to tell what the run still waits for and until when. A signal
//! counts as delivered when a batch of its entity with that operation arrives after it was due; a timer when its
//! `timerFired` reaches the orchestration.
//!
//! Signals a durable client schedules directly (`SignalEntity` with a time, from the handler) do not pass through
//! the local host and are not seen.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use durabletask_sdk::proto::{
    history_event::EventType, operation_action::OperationActionType, orchestrator_action::OrchestratorActionType,
    send_entity_message_action::EntityMessageType, HistoryEvent, OperationAction, OrchestratorAction,
};

/// A batch may arrive a little before the due time by our clock (the engine's clock and ours differ).
const DELIVERY_SLACK: Duration = Duration::seconds(2);
/// A signal this long overdue is taken as lost (the engine was restarted and forgot it).
const LOST_AFTER: Duration = Duration::seconds(60);

/// One signal or timer due later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Awaited {
    /// The target entity (`@name@key`) or orchestration instance.
    pub target: String,
    /// The operation of a signal, or `timer <id>`.
    pub what: String,
    /// When it is due.
    pub due: DateTime<Utc>,
}

/// What the run still waits for at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waiting {
    /// Signals due within the horizon (or overdue and not yet delivered).
    pub within: usize,
    /// The latest due time among them.
    pub until: Option<DateTime<Utc>>,
    /// Signals due after the horizon (not waited for).
    pub later: usize,
    /// The earliest due time among those.
    pub next_later: Option<DateTime<Utc>>,
}

/// The scheduled signals and timers seen so far and not yet delivered.
#[derive(Debug, Default)]
pub struct Scheduled {
    pending: Mutex<Vec<Awaited>>,
}

impl Scheduled {
    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<Awaited>> {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remembers the future signals among an entity batch's actions.
    pub fn from_entity_actions(&self, actions: &[OperationAction], now: DateTime<Utc>) {
        let signals = actions.iter().filter_map(|action| match &action.operation_action_type {
            Some(OperationActionType::SendSignal(signal)) => Some(Awaited {
                target: signal.instance_id.clone(),
                what: signal.name.clone(),
                due: timestamp(signal.scheduled_time.as_ref()?)?,
            }),
            _ => None,
        });
        self.remember(signals, now);
    }

    /// Remembers the timers and the future entity signals among the actions of an episode of `instance_id`.
    pub fn from_orchestrator_actions(&self, instance_id: &str, actions: &[OrchestratorAction], now: DateTime<Utc>) {
        let signals = actions
            .iter()
            .filter_map(|action| match &action.orchestrator_action_type {
                Some(OrchestratorActionType::CreateTimer(timer)) => Some(Awaited {
                    target: instance_id.to_owned(),
                    what: timer_name(action.id),
                    due: timestamp(timer.fire_at.as_ref()?)?,
                }),
                Some(OrchestratorActionType::SendEntityMessage(message)) => match &message.entity_message_type {
                    Some(EntityMessageType::EntityOperationSignaled(signal)) => Some(Awaited {
                        target: signal.target_instance_id.clone()?,
                        what: signal.operation.clone(),
                        due: timestamp(signal.scheduled_time.as_ref()?)?,
                    }),
                    _ => None,
                },
                _ => None,
            });
        self.remember(signals, now);
    }

    fn remember(&self, signals: impl Iterator<Item = Awaited>, now: DateTime<Utc>) {
        let future: Vec<Awaited> = signals.filter(|signal| signal.due > now).collect();
        if !future.is_empty() {
            self.pending().extend(future);
        }
    }

    /// An episode of `instance_id` with `new_events` arrived: the timers that fired in it are delivered.
    pub fn timers_fired(&self, instance_id: &str, new_events: &[HistoryEvent], now: DateTime<Utc>) {
        let fired: Vec<String> = new_events
            .iter()
            .filter_map(|event| match &event.event_type {
                Some(EventType::TimerFired(fired)) => Some(timer_name(fired.timer_id)),
                _ => None,
            })
            .collect();
        if !fired.is_empty() {
            self.delivered(instance_id, &fired, now);
        }
    }

    /// A batch of `entity` with `operations` arrived (or timers of an orchestration fired): each delivers the
    /// earliest due entry it matches.
    pub fn delivered(&self, target: &str, operations: &[String], now: DateTime<Utc>) {
        let mut pending = self.pending();
        for operation in operations {
            let due_by = now + DELIVERY_SLACK;
            let earliest = pending
                .iter()
                .enumerate()
                .filter(|(_, signal)| {
                    signal.target.eq_ignore_ascii_case(target) && &signal.what == operation && signal.due <= due_by
                })
                .min_by_key(|(_, signal)| signal.due)
                .map(|(index, _)| index);
            if let Some(index) = earliest {
                pending.swap_remove(index);
            }
        }
    }

    /// What is still awaited, split at `now + horizon`; signals overdue for long are forgotten (with a warning).
    pub fn waiting(&self, now: DateTime<Utc>, horizon: Duration) -> Waiting {
        let mut pending = self.pending();
        pending.retain(|signal| {
            let lost = signal.due + LOST_AFTER < now;
            if lost {
                tracing::warn!(
                    target = %signal.target,
                    "{} due at {} never arrived; no longer waiting for it",
                    signal.what,
                    signal.due
                );
            }
            !lost
        });
        let limit = now + horizon;
        let mut waiting = Waiting::default();
        for signal in pending.iter() {
            if signal.due <= limit {
                waiting.within += 1;
                waiting.until = waiting.until.max(Some(signal.due));
            } else {
                waiting.later += 1;
                waiting.next_later = Some(waiting.next_later.map_or(signal.due, |next| next.min(signal.due)));
            }
        }
        waiting
    }
}

fn timer_name(id: i32) -> String {
    format!("timer {id}")
}

fn timestamp(time: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(time.seconds, u32::try_from(time.nanos).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use durabletask_sdk::proto::{
        CreateTimerAction, EntityOperationSignaledEvent, SendEntityMessageAction, SendSignalAction, TimerFiredEvent,
    };

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn signal_action(entity: &str, operation: &str, due: Option<DateTime<Utc>>) -> OperationAction {
        OperationAction {
            id: 0,
            operation_action_type: Some(OperationActionType::SendSignal(SendSignalAction {
                instance_id: entity.into(),
                name: operation.into(),
                scheduled_time: due.map(|due| prost_types::Timestamp {
                    seconds: due.timestamp(),
                    nanos: 0,
                }),
                ..SendSignalAction::default()
            })),
        }
    }

    #[test]
    fn future_signals_are_awaited_until_their_entity_gets_them() {
        let signals = Scheduled::default();
        signals.from_entity_actions(
            &[
                signal_action("@e@1", "checkDeadline", Some(at(20))),
                signal_action("@e@1", "expire", Some(at(3_000_000))),
                signal_action("@e@2", "now", None),
                signal_action("@e@2", "past", Some(at(-5))),
            ],
            at(0),
        );
        let horizon = Duration::seconds(60);
        assert_eq!(
            signals.waiting(at(0), horizon),
            Waiting {
                within: 1,
                until: Some(at(20)),
                later: 1,
                next_later: Some(at(3_000_000))
            }
        );
        // Too early for the signal: another batch of the same entity does not deliver it.
        signals.delivered("@e@1", &["checkDeadline".into()], at(5));
        assert_eq!(signals.waiting(at(5), horizon).within, 1);
        signals.delivered("@E@1", &["apply".into(), "checkDeadline".into()], at(19));
        assert_eq!(signals.waiting(at(19), horizon).within, 0);
    }

    #[test]
    fn orchestrations_schedule_entity_signals_too_and_lost_ones_are_forgotten() {
        let signals = Scheduled::default();
        let action = OrchestratorAction {
            id: 1,
            orchestrator_action_type: Some(OrchestratorActionType::SendEntityMessage(SendEntityMessageAction {
                entity_message_type: Some(EntityMessageType::EntityOperationSignaled(
                    EntityOperationSignaledEvent {
                        operation: "remind".into(),
                        target_instance_id: Some("@e@3".into()),
                        scheduled_time: Some(prost_types::Timestamp {
                            seconds: at(10).timestamp(),
                            nanos: 0,
                        }),
                        ..EntityOperationSignaledEvent::default()
                    },
                )),
            })),
        };
        let timer = OrchestratorAction {
            id: 4,
            orchestrator_action_type: Some(OrchestratorActionType::CreateTimer(CreateTimerAction {
                fire_at: Some(prost_types::Timestamp {
                    seconds: at(30).timestamp(),
                    nanos: 0,
                }),
            })),
        };
        signals.from_orchestrator_actions("orch-1", &[action, timer], at(0));
        assert_eq!(signals.waiting(at(0), Duration::seconds(60)).within, 2);
        let fired = HistoryEvent {
            event_id: -1,
            timestamp: None,
            event_type: Some(EventType::TimerFired(TimerFiredEvent {
                fire_at: None,
                timer_id: 4,
            })),
        };
        signals.timers_fired("orch-1", &[fired], at(30));
        assert_eq!(signals.waiting(at(30), Duration::seconds(60)).within, 1);
        assert_eq!(signals.waiting(at(100), Duration::seconds(60)), Waiting::default());
    }
}
