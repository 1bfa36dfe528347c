//! The lifecycle of a return aggregate: applying an event (record it, then settle or cancel), late events, the
//! stuck deadline, the tombstone and its retention.
//!
//! ```text
//!             completion rule holds                 compact()                closed_at + tombstone_retention
//!   Open ───────────────────────────▶ Settled ─────────────▶ tombstone ─────────────────────────────▶ purged
//!     │  (notification started once)                                    (late events: recorded, change nothing)
//!     │ ReturnCancelled
//!     └─────────────────────────────▶ Cancelled ────────────▶ tombstone ─────────────────────────────▶ purged
//!        (no notification)
//!
//!   Open, first event + stuck_after passed, or a cap reached: one stuck alert (the return stays Open).
//! ```
//!
//! A cancelled return is closed like a settled one (late events change nothing, the tombstone is purged after the
//! same retention) but produces no notification: the customer was not owed a "return settled" email.

use chrono::{DateTime, Duration, Utc};

use super::aggregate::{fact_fingerprint, Conflict, Recorded, ReturnAggregate, ReturnStatus, Seen};
use super::completion::{self, progress};
use super::events::{EventPayload, EventType, ReturnEvent};
use super::identifiers::settled_notification_id;
use super::limits::MAX_LISTED_EVENTS;
use super::records::{AcceptedEvent, Fact, LateEvent};
use super::tombstone::{EventTrace, RefundTotals, Tombstone, UnitTotals};

/// The time rules of the domain (from app settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainConfig {
    /// How long after its first event an open return is declared stuck.
    pub stuck_after: Duration,
    /// How long the tombstone of a closed return is kept to refuse late events before it may be purged.
    pub tombstone_retention: Duration,
}

impl Default for DomainConfig {
    /// 30 days to settle, 90 days of tombstone.
    fn default() -> Self {
        Self {
            stuck_after: Duration::days(30),
            tombstone_retention: Duration::days(90),
        }
    }
}

/// How long after the ingress's check of a return's last event is due the state of a closed return is still kept:
/// room for clock differences between instances and for a backlog of due signals.
pub const CHECK_GRACE: Duration = Duration::days(1);

/// What [`ReturnAggregate::note_accepted`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptedCheck {
    /// The event (or the same fact under another key) is recorded.
    Recorded,
    /// The event is not recorded and was already listed as such (a second check of a redelivered message).
    AlreadyListed,
    /// The event is not recorded: it is listed now (or counted, beyond the list), and an alert must name it.
    NotRecorded,
}

/// What [`ReturnAggregate::apply`] did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ApplyOutcome {
    /// What happened to the event itself.
    pub disposition: Disposition,
    /// The event was the first one this aggregate processed: start the stuck-deadline clock
    /// ([`ReturnAggregate::stuck_deadline`]).
    pub first_event: bool,
    /// The lifecycle change the event caused, if any.
    pub transition: Option<Transition>,
    /// The event made the return reach one of its caps: raise its stuck alert now.
    pub limit_reached: bool,
    /// The event reached the return after it closed and was listed on it: raise its follow-up alert
    /// ([`ReturnAggregate::late_event_alert`]). `None` for every other event, and for late events beyond the
    /// listed ones (counted only).
    pub late_event: Option<LateEvent>,
}

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// The event added a fact that counts.
    Applied,
    /// The event (same key, or the same fact under another key) was already recorded: nothing changed.
    Duplicate,
    /// The event's fact is recorded but does not count (contradicted by the booking, or in conflict with another
    /// version); the return's status and alert show why.
    Rejected(Conflict),
    /// The event is not recorded (another return's, or no room left): keep it on the invalid-events queue.
    Refused(Conflict),
    /// The return is closed: the event changes nothing, and is recorded as late.
    Late,
}

/// A lifecycle change caused by an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The completion rule now holds: start the notification orchestration (this happens once per return).
    Settled,
    /// The return was cancelled: it is closed and no notification is sent.
    Cancelled,
}

impl ApplyOutcome {
    /// Whether this event made the return settled: the caller starts the notification orchestration.
    pub fn became_settled(&self) -> bool {
        self.transition == Some(Transition::Settled)
    }

    /// Whether this event closed the return (settled or cancelled).
    pub fn became_closed(&self) -> bool {
        self.transition.is_some()
    }
}

impl Disposition {
    /// A short stable label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Disposition::Applied => "applied",
            Disposition::Duplicate => "duplicate",
            Disposition::Rejected(_) => "rejected",
            Disposition::Refused(_) => "refused",
            Disposition::Late => "late",
        }
    }
}

impl ReturnAggregate {
    /// Folds one event into the aggregate; `now` is the processing time (first-seen, closing and record times).
    ///
    /// Never fails: every event ends as applied, duplicate, rejected-and-recorded, refused (the caller keeps it) or
    /// late-and-recorded. The outcome says whether the return just settled, which happens at most once in the life
    /// of the aggregate.
    pub fn apply(&mut self, event: &ReturnEvent, now: DateTime<Utc>) -> ApplyOutcome {
        let outcome = |disposition, first_event, transition, limit_reached| ApplyOutcome {
            disposition,
            first_event,
            transition,
            limit_reached,
            late_event: None,
        };
        let key = event.event_key();
        self.last_event_at = Some(self.last_event_at.map_or(now, |last| last.max(now)));
        if self.status.is_closed() {
            let fingerprint = fact_fingerprint(event);
            let applied = match self.seen(&key, &fingerprint) {
                Seen::Same => outcome(Disposition::Duplicate, false, None, false),
                seen => ApplyOutcome {
                    late_event: self.note_late(event, now, fingerprint, seen == Seen::OtherContent),
                    ..outcome(Disposition::Late, false, None, false)
                },
            };
            self.forget_recorded_unrecorded();
            return applied;
        }
        let first_event = self.first_seen_at.is_none();
        if first_event {
            self.first_seen_at = Some(now);
        }
        let had_limit = self.limit_reached.is_some();
        let disposition = match self.record(event, now) {
            Recorded::AlreadyKnown => Disposition::Duplicate,
            Recorded::Refused(conflict) => Disposition::Refused(conflict),
            Recorded::New => match self.why_not_counted(&key) {
                Some(conflict) => Disposition::Rejected(conflict),
                None => Disposition::Applied,
            },
        };
        let transition = match disposition {
            Disposition::Applied | Disposition::Rejected(_) => self.close_if_done(now),
            _ => None,
        };
        let limit_reached = !had_limit && self.limit_reached.is_some();
        self.forget_recorded_unrecorded();
        outcome(disposition, first_event, transition, limit_reached)
    }

    /// Answers the ingress's check of an event it accepted (see [`AcceptedEvent`]): was it recorded? An event
    /// that was not (its entity batch was lost) is listed on the return until it is recorded (the first
    /// [`MAX_LISTED_EVENTS`]; beyond, counted), and the return counts as known since the event was accepted, so
    /// its stuck alert is due at once ([`take_stuck_alert`](Self::take_stuck_alert)).
    pub fn note_accepted(&mut self, accepted: &AcceptedEvent) -> AcceptedCheck {
        if self.seen(&accepted.event_key, &accepted.fingerprint) == Seen::Same {
            return AcceptedCheck::Recorded;
        }
        let listed =
            |known: &AcceptedEvent| known.event_key == accepted.event_key && known.fingerprint == accepted.fingerprint;
        if self.unrecorded.iter().any(listed) {
            return AcceptedCheck::AlreadyListed;
        }
        self.first_seen_at = Some(
            self.first_seen_at
                .map_or(accepted.accepted_at, |first| first.min(accepted.accepted_at)),
        );
        if self.unrecorded.len() >= MAX_LISTED_EVENTS {
            self.unrecorded_overflow = self.unrecorded_overflow.saturating_add(1);
            return AcceptedCheck::NotRecorded;
        }
        let order = |event: &AcceptedEvent| (event.accepted_at, event.event_key.clone());
        let at = self.unrecorded.partition_point(|known| order(known) < order(accepted));
        self.unrecorded.insert(at, accepted.clone());
        AcceptedCheck::NotRecorded
    }

    /// Drops the unrecorded events that are recorded by now (an operator re-sent them).
    fn forget_recorded_unrecorded(&mut self) {
        if self.unrecorded.is_empty() {
            return;
        }
        let unrecorded = std::mem::take(&mut self.unrecorded);
        self.unrecorded = unrecorded
            .into_iter()
            .filter(|event| self.seen(&event.event_key, &event.fingerprint) != Seen::Same)
            .collect();
    }

    fn close_if_done(&mut self, now: DateTime<Utc>) -> Option<Transition> {
        let transition = if self.cancellation.is_some() {
            self.status = ReturnStatus::Cancelled;
            Transition::Cancelled
        } else if completion::ready_to_settle(self) {
            self.status = ReturnStatus::Settled;
            self.notification_id = Some(settled_notification_id(&self.return_id));
            Transition::Settled
        } else {
            return None;
        };
        self.closed_at = Some(now);
        Some(transition)
    }

    /// Lists a late event on the return (the first [`MAX_LISTED_EVENTS`]; beyond, counted) and returns what was
    /// listed.
    fn note_late(
        &mut self,
        event: &ReturnEvent,
        now: DateTime<Utc>,
        fingerprint: String,
        other_content: bool,
    ) -> Option<LateEvent> {
        if self.late.len() >= MAX_LISTED_EVENTS {
            self.late_overflow = self.late_overflow.saturating_add(1);
            return None;
        }
        let summary = match &event.payload {
            EventPayload::ReturnBooked(booked) => format!("booking of order {}", booked.order_id),
            EventPayload::ReturnItemsReceived(parcel) => {
                let units: u64 = parcel.items.iter().map(|item| u64::from(item.quantity)).sum();
                format!("parcel {}: {units} unit(s)", parcel.parcel_id)
            }
            EventPayload::RefundIssued(refund) => format!(
                "refund {}: {}{}",
                refund.refund_id,
                refund.amount.currency.format_minor(refund.amount.amount_minor),
                if refund.is_final { ", final" } else { "" }
            ),
            EventPayload::ReturnCancelled(_) => "cancellation".to_owned(),
        };
        let summary = if other_content {
            format!("{summary} (a second content under a recorded event id)")
        } else {
            summary
        };
        let late = LateEvent {
            event_key: event.event_key(),
            event_type: event.event_type(),
            processed_at: now,
            summary,
            fingerprint,
        };
        self.late.push(late.clone());
        Some(late)
    }

    /// When the return counts as stuck: first event + `stuck_after`. `None` before any event.
    pub fn stuck_deadline(&self, config: &DomainConfig) -> Option<DateTime<Utc>> {
        self.first_seen_at.map(|first| first + config.stuck_after)
    }

    /// When the state of a closed return may be deleted: closed + `tombstone_retention`, but not before the
    /// ingress's check of the last event processed is due (its acceptance + `stuck_after`, see
    /// [`AcceptedEvent`]) and [`CHECK_GRACE`] has passed, so a check never finds the state of a recorded event
    /// gone. `None` while open.
    pub fn purge_at(&self, config: &DomainConfig) -> Option<DateTime<Utc>> {
        let retained = self.closed_at.map(|closed| closed + config.tombstone_retention)?;
        let checked = self.last_event_at.map(|last| last + config.stuck_after + CHECK_GRACE);
        Some(checked.map_or(retained, |checked| retained.max(checked)))
    }

    /// Whether the state may be deleted at `now`.
    pub fn is_purgeable(&self, now: DateTime<Utc>, config: &DomainConfig) -> bool {
        self.purge_at(config).is_some_and(|at| now >= at)
    }

    /// Whether the stuck alert is due at `now`: the return is open, was not alerted, and its deadline has passed,
    /// it reached a cap, or an event accepted for it was not recorded. If so, marks it alerted (the alert fires once) and returns the deadline.
    pub fn take_stuck_alert(&mut self, now: DateTime<Utc>, config: &DomainConfig) -> Option<DateTime<Utc>> {
        let deadline = self.stuck_deadline(config)?;
        let lost_events = !self.unrecorded.is_empty() || self.unrecorded_overflow > 0;
        let due = now >= deadline || self.limit_reached.is_some() || lost_events;
        if self.status.is_closed() || self.stuck_alerted_at.is_some() || !due {
            return None;
        }
        self.stuck_alerted_at = Some(now);
        Some(deadline)
    }

    /// Every recorded event (facts, not refusals or late events), in the order it was processed; from the
    /// tombstone once the details are dropped.
    pub fn events_received(&self) -> Vec<EventTrace> {
        if let Some(tombstone) = &self.tombstone {
            return tombstone.events.clone();
        }
        let mut events: Vec<EventTrace> = Vec::new();
        events.extend(self.bookings.iter().map(|b| trace(EventType::ReturnBooked, b)));
        events.extend(self.parcels.iter().map(|p| trace(EventType::ReturnItemsReceived, p)));
        events.extend(self.refunds.iter().map(|r| trace(EventType::RefundIssued, r)));
        events.extend(self.cancellation.iter().map(|c| trace(EventType::ReturnCancelled, c)));
        events.sort_by(|a, b| (a.processed_at, &a.event_key).cmp(&(b.processed_at, &b.event_key)));
        events
    }

    /// Shrinks a closed aggregate to its [`Tombstone`]: the times, the notification id, what arrived and when, the
    /// totals, what did not count and why the return was held; enough to refuse redeliveries and to answer the
    /// status endpoint. Returns `false` (and changes nothing) while the return is open.
    pub fn compact(&mut self) -> bool {
        if !self.status.is_closed() {
            return false;
        }
        if self.tombstone.is_some() {
            return true;
        }
        let events = self.events_received();
        let progress = progress(self);
        let mut rejected = self.rejected();
        rejected.truncate(MAX_LISTED_EVENTS);
        let mut held_because: Vec<String> = self.conflicts().iter().map(ToString::to_string).collect();
        held_because.extend(self.limit_reached.map(|limit| format!("the return reached {limit}")));
        held_because.truncate(MAX_LISTED_EVENTS);
        let tombstone = Tombstone {
            order_id: self.booking().map(|b| b.order_id.clone()),
            events,
            refund: progress.as_ref().map(|p| RefundTotals {
                currency: p.refund.currency.clone(),
                expected_minor: p.refund.expected_minor,
                refunded_minor: p.refund.refunded_minor,
            }),
            units: progress.as_ref().map(|p| UnitTotals {
                booked: p.lines.iter().map(|l| u64::from(l.booked)).sum(),
                received: p.lines.iter().map(|l| u64::from(l.received())).sum(),
                missing: p.lines.iter().map(|l| u64::from(l.missing)).sum(),
            }),
            rejected,
            held_because,
        };
        *self = Self {
            status: self.status,
            first_seen_at: self.first_seen_at,
            closed_at: self.closed_at,
            stuck_alerted_at: self.stuck_alerted_at,
            notification_id: self.notification_id,
            refused_overflow: self.refused_overflow,
            limit_reached: self.limit_reached,
            late: std::mem::take(&mut self.late),
            late_overflow: self.late_overflow,
            tombstone: Some(tombstone),
            last_event_at: self.last_event_at,
            unrecorded: std::mem::take(&mut self.unrecorded),
            unrecorded_overflow: self.unrecorded_overflow,
            ..Self::new(self.return_id.clone())
        };
        true
    }
}

fn trace<F: Fact>(event_type: EventType, fact: &F) -> EventTrace {
    EventTrace {
        event_type,
        event_key: fact.event_key().clone(),
        processed_at: fact.processed_at(),
        fingerprint: fact.fingerprint(),
    }
}
