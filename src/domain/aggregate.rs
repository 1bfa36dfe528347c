//! The return aggregate: the facts known about one return, recorded from its events in any order.
//!
//! # How events are recorded
//!
//! - **Facts, not steps.** Each event states one fact: the booking, a parcel (keyed by `parcelId`), a refund (keyed
//!   by `refundId`) or the cancellation. Facts are kept sorted (by business key, event key, content), and
//!   everything else is derived from them, so the state is a function of the *set* of events seen, never of their
//!   order (up to the caps of [`limits`](super::limits): which event is the one too many depends on order).
//! - **Duplicates.** An event stating a fact already recorded, under the same event key or another one (a producer
//!   republishing under a new id), changes nothing; the fact keeps the smallest of the keys.
//! - **Versions and conflicts.** Two different facts under one business key (two bookings, parcel `P1` with two
//!   contents, refund `R1` with two amounts), or one event key carrying two different facts, are *versions*: every
//!   version is recorded, none counts, and the return is in [conflict](ReturnAggregate::conflicts). A return in
//!   conflict never settles by itself; its status and stuck alert name the conflict. So the arrival order cannot
//!   decide which content wins.
//! - **Checks against the booking are derived.** A parcel or refund naming a line the booking lacks, or a refund in
//!   another currency, is recorded but does not count; it is listed in [`ReturnAggregate::rejected`] while the
//!   booking says so. Versions contradicted by the booking are not in conflict (a corrected resubmission under the
//!   same id replaces a refused one in effect, whatever the order).
//! - **Refused, not recorded.** An event about another return, or one a capped return has no room for, is refused:
//!   its key and reason are listed (the first [`MAX_LISTED_EVENTS`]; beyond, counted) and the caller keeps the event
//!   itself on the invalid-events queue. A cap reached puts the return on hold for good.
//!
//! The lifecycle (open → settled or cancelled, late events, the tombstone) is in [`lifecycle`](super::lifecycle),
//! which evaluates the [completion rule](super::completion) after each recorded fact.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::events::{EventPayload, EventType, ReturnEvent};
use super::identifiers::{EventKey, ReturnId};
use super::limits::{Limit, MAX_LISTED_EVENTS, MAX_RECORDED_LINES};
use super::money::Currency;
use super::records::{AcceptedEvent, Booking, Cancellation, Fact, LateEvent, Parcel, Refund, RejectedEvent};
use super::tombstone::Tombstone;

/// Where a return is in its lifecycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReturnStatus {
    /// Collecting events.
    #[default]
    Open,
    /// The completion rule held; the notification was triggered. Terminal.
    Settled,
    /// Cancelled before settling; no notification. Terminal.
    Cancelled,
}

impl ReturnStatus {
    /// Whether the return accepts no more facts (settled or cancelled).
    pub fn is_closed(self) -> bool {
        self != ReturnStatus::Open
    }

    /// The status name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnStatus::Open => "Open",
            ReturnStatus::Settled => "Settled",
            ReturnStatus::Cancelled => "Cancelled",
        }
    }
}

/// The state of one return, persisted as the entity state (camelCase JSON, empty parts omitted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnAggregate {
    pub(super) return_id: ReturnId,
    #[serde(default)]
    pub(super) status: ReturnStatus,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::timestamp_json::option"
    )]
    pub(super) first_seen_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::timestamp_json::option"
    )]
    pub(super) closed_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::timestamp_json::option"
    )]
    pub(super) stuck_alerted_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) notification_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) bookings: Vec<Booking>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) parcels: Vec<Parcel>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) refunds: Vec<Refund>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) cancellation: Option<Cancellation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) refused: Vec<RejectedEvent>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(super) refused_overflow: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) limit_reached: Option<Limit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) late: Vec<LateEvent>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(super) late_overflow: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) tombstone: Option<Tombstone>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::timestamp_json::option"
    )]
    pub(super) last_event_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) unrecorded: Vec<AcceptedEvent>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(super) unrecorded_overflow: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// Why an event does not count towards its return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// The event names another return (a routing bug upstream). Refused.
    #[error("the event is about return {event} but reached the aggregate of return {aggregate}")]
    WrongReturn {
        /// The event's return id.
        event: ReturnId,
        /// This aggregate's return id.
        aggregate: ReturnId,
    },
    /// The return holds as many records of a kind as it may. Refused.
    #[error("the return reached {0}")]
    LimitReached(Limit),
    /// Two different bookings are recorded.
    #[error("the booking has {versions} different versions (events {})", join(.events))]
    ConflictingBooking {
        /// How many versions.
        versions: usize,
        /// The events of the versions.
        events: Vec<EventKey>,
    },
    /// One parcel is recorded with different contents.
    #[error("parcel {parcel_id} has {versions} different versions (events {})", join(.events))]
    ConflictingParcel {
        /// The parcel.
        parcel_id: String,
        /// How many versions.
        versions: usize,
        /// The events of the versions.
        events: Vec<EventKey>,
    },
    /// One refund is recorded with different contents.
    #[error("refund {refund_id} has {versions} different versions (events {})", join(.events))]
    ConflictingRefund {
        /// The refund.
        refund_id: String,
        /// How many versions.
        versions: usize,
        /// The events of the versions.
        events: Vec<EventKey>,
    },
    /// One event id arrived with different contents.
    #[error("event {event} arrived with different contents")]
    ConflictingEvent {
        /// The event.
        event: EventKey,
    },
    /// A parcel or refund names a line the booking does not contain.
    #[error("{subject} names line {line_id}, which the booking does not contain")]
    UnknownLine {
        /// `parcel <id>` or `refund <id>`.
        subject: String,
        /// The unknown line.
        line_id: String,
    },
    /// A refund is not in the currency of the booking.
    #[error("refund {refund_id} is in {found} but the return is booked in {expected}")]
    CurrencyMismatch {
        /// The refund.
        refund_id: String,
        /// Its currency.
        found: Currency,
        /// The booking's currency.
        expected: Currency,
    },
}

fn join(keys: &[EventKey]) -> String {
    keys.iter().map(EventKey::as_str).collect::<Vec<_>>().join(", ")
}

/// What [`ReturnAggregate::seen`] knows of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The event was recorded (or refused) with this content: a redelivery.
    Same,
    /// The event key was recorded with other contents.
    OtherContent,
    /// The event is new.
    Never,
}

/// The fingerprint of the fact `event` states (see [`Fact::fingerprint`]).
pub fn fact_fingerprint(event: &ReturnEvent) -> String {
    let key = event.event_key();
    let at = DateTime::<Utc>::MIN_UTC;
    match &event.payload {
        EventPayload::ReturnBooked(booked) => Booking::from_event(key, booked, at).fingerprint(),
        EventPayload::ReturnItemsReceived(parcel) => Parcel::from_event(key, parcel, at).fingerprint(),
        EventPayload::RefundIssued(refund) => Refund::from_event(key, refund, at).fingerprint(),
        EventPayload::ReturnCancelled(cancelled) => Cancellation::from_event(key, cancelled, at).fingerprint(),
    }
}

/// What the ingress accepted: `event`, received in `message_id`, at `accepted_at` (see [`AcceptedEvent`]).
pub fn accepted_event(event: &ReturnEvent, message_id: Option<&str>, accepted_at: DateTime<Utc>) -> AcceptedEvent {
    AcceptedEvent::new(
        event.event_key(),
        event.event_type(),
        fact_fingerprint(event),
        message_id,
        accepted_at,
    )
}

/// What [`ReturnAggregate::record`] did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A new fact (or a new version of one).
    New,
    /// The fact was already recorded, or the event already refused: nothing changed (but the smallest key).
    AlreadyKnown,
    /// The event is not recorded; the caller keeps it on the invalid-events queue.
    Refused(Conflict),
}

impl ReturnAggregate {
    /// An empty, open aggregate for `return_id` (the state of an entity that has seen nothing yet).
    pub fn new(return_id: ReturnId) -> Self {
        Self {
            return_id,
            status: ReturnStatus::Open,
            first_seen_at: None,
            closed_at: None,
            stuck_alerted_at: None,
            notification_id: None,
            bookings: Vec::new(),
            parcels: Vec::new(),
            refunds: Vec::new(),
            cancellation: None,
            refused: Vec::new(),
            refused_overflow: 0,
            limit_reached: None,
            late: Vec::new(),
            late_overflow: 0,
            tombstone: None,
            last_event_at: None,
            unrecorded: Vec::new(),
            unrecorded_overflow: 0,
        }
    }

    /// Records the fact `event` states, processed at `now` (see the module documentation). Pure bookkeeping: the
    /// lifecycle's [`apply`](Self::apply) decides what follows.
    pub fn record(&mut self, event: &ReturnEvent, now: DateTime<Utc>) -> Recorded {
        if *event.return_id() != self.return_id {
            return Recorded::Refused(Conflict::WrongReturn {
                event: event.return_id().clone(),
                aggregate: self.return_id.clone(),
            });
        }
        let key = event.event_key();
        if self.refused.iter().any(|refused| refused.event_key == key) {
            return Recorded::AlreadyKnown;
        }
        let lines_left = MAX_RECORDED_LINES.saturating_sub(self.recorded_lines());
        let recorded = match &event.payload {
            EventPayload::ReturnBooked(booked) => record_fact(
                &mut self.bookings,
                Booking::from_event(key, booked, now),
                Limit::BookingVersions,
                0,
                usize::MAX,
            ),
            EventPayload::ReturnItemsReceived(received) => record_fact(
                &mut self.parcels,
                Parcel::from_event(key, received, now),
                Limit::Parcels,
                received.items.len(),
                lines_left,
            ),
            EventPayload::RefundIssued(refund) => record_fact(
                &mut self.refunds,
                Refund::from_event(key, refund, now),
                Limit::Refunds,
                refund.lines.len(),
                lines_left,
            ),
            EventPayload::ReturnCancelled(cancelled) => match &self.cancellation {
                Some(existing) if existing.event_key == key => Recorded::AlreadyKnown,
                _ => {
                    self.cancellation = Some(Cancellation::from_event(key, cancelled, now));
                    Recorded::New
                }
            },
        };
        if let Recorded::Refused(Conflict::LimitReached(limit)) = &recorded {
            self.limit_reached.get_or_insert(*limit);
        }
        if let Recorded::Refused(conflict) = &recorded {
            self.remember_refusal(event.event_key(), event.event_type(), conflict);
        }
        recorded
    }

    fn remember_refusal(&mut self, event_key: EventKey, event_type: EventType, conflict: &Conflict) {
        if self.refused.len() >= MAX_LISTED_EVENTS {
            self.refused_overflow = self.refused_overflow.saturating_add(1);
            return;
        }
        let at = self.refused.partition_point(|r| r.event_key < event_key);
        self.refused.insert(
            at,
            RejectedEvent {
                event_key,
                event_type,
                reason: conflict.to_string(),
            },
        );
    }

    /// Lines recorded over all parcels and refunds (bounded by [`MAX_RECORDED_LINES`]).
    pub fn recorded_lines(&self) -> usize {
        let parcel_lines: usize = self.parcels.iter().map(|p| p.lines.len()).sum();
        let refund_lines: usize = self.refunds.iter().map(|r| r.lines.len()).sum();
        parcel_lines + refund_lines
    }

    /// What the aggregate knows of an event with `key` whose fact has `fingerprint`: a recorded fact (under any
    /// key) or a refused event, another content under a recorded key, or nothing.
    pub fn seen(&self, key: &EventKey, fingerprint: &str) -> Seen {
        let mut versions: Vec<&str> = Vec::new();
        let mut add = |event_key: &EventKey, version: String| {
            if version == fingerprint {
                versions.push("same");
            } else if event_key == key {
                versions.push("other");
            }
        };
        self.bookings.iter().for_each(|f| add(&f.event_key, f.fingerprint()));
        self.parcels.iter().for_each(|f| add(&f.event_key, f.fingerprint()));
        self.refunds.iter().for_each(|f| add(&f.event_key, f.fingerprint()));
        self.cancellation
            .iter()
            .for_each(|f| add(&f.event_key, f.fingerprint()));
        self.late.iter().for_each(|l| add(&l.event_key, l.fingerprint.clone()));
        if let Some(tombstone) = &self.tombstone {
            tombstone
                .events
                .iter()
                .for_each(|t| add(&t.event_key, t.fingerprint.clone()));
        }
        let refused = self.refused.iter().map(|r| &r.event_key);
        let refused = refused.chain(self.tombstone.iter().flat_map(Tombstone::rejected_keys));
        if versions.contains(&"same") || refused.into_iter().any(|k| k == key) {
            Seen::Same
        } else if versions.is_empty() {
            Seen::Never
        } else {
            Seen::OtherContent
        }
    }

    /// The booking, when exactly one version is recorded.
    pub fn booking(&self) -> Option<&Booking> {
        match self.bookings.as_slice() {
            [booking] => Some(booking),
            _ => None,
        }
    }

    /// Every recorded version of the booking (one, normally).
    pub fn bookings(&self) -> &[Booking] {
        &self.bookings
    }

    /// Every recorded parcel (versions included), by parcel id.
    pub fn parcels(&self) -> &[Parcel] {
        &self.parcels
    }

    /// Every recorded refund (versions included), by refund id.
    pub fn refunds(&self) -> &[Refund] {
        &self.refunds
    }

    /// The parcels that count towards the return: not contradicted by the booking, not in conflict.
    pub fn counted_parcels(&self) -> Vec<&Parcel> {
        let conflicted = self.conflicted_keys();
        self.parcels
            .iter()
            .filter(|p| self.parcel_contradiction(p).is_none() && !conflicted.contains(&p.event_key))
            .collect()
    }

    /// The refunds that count towards the return: in the booking's currency, naming its lines, not in conflict.
    pub fn counted_refunds(&self) -> Vec<&Refund> {
        let conflicted = self.conflicted_keys();
        self.refunds
            .iter()
            .filter(|r| self.refund_contradiction(r).is_none() && !conflicted.contains(&r.event_key))
            .collect()
    }

    fn parcel_contradiction(&self, parcel: &Parcel) -> Option<Conflict> {
        let booking = self.booking()?;
        let line = parcel.lines.iter().find(|line| booking.line(&line.line_id).is_none())?;
        Some(Conflict::UnknownLine {
            subject: format!("parcel {}", parcel.parcel_id),
            line_id: line.line_id.clone(),
        })
    }

    fn refund_contradiction(&self, refund: &Refund) -> Option<Conflict> {
        let booking = self.booking()?;
        if refund.currency != booking.currency {
            return Some(Conflict::CurrencyMismatch {
                refund_id: refund.refund_id.clone(),
                found: refund.currency.clone(),
                expected: booking.currency.clone(),
            });
        }
        let line = refund.lines.iter().find(|line| booking.line(&line.line_id).is_none())?;
        Some(Conflict::UnknownLine {
            subject: format!("refund {}", refund.refund_id),
            line_id: line.line_id.clone(),
        })
    }

    /// Why the fact recorded from `key` does not count, if it does not (contradicted by the booking, or in
    /// conflict).
    pub fn why_not_counted(&self, key: &EventKey) -> Option<Conflict> {
        let contradiction = self
            .parcels
            .iter()
            .filter(|p| p.event_key == *key)
            .find_map(|p| self.parcel_contradiction(p))
            .or_else(|| {
                self.refunds
                    .iter()
                    .filter(|r| r.event_key == *key)
                    .find_map(|r| self.refund_contradiction(r))
            });
        contradiction.or_else(|| {
            self.conflicts()
                .into_iter()
                .find(|conflict| conflict_keys(conflict).contains(&key))
        })
    }

    /// The conflicts among the recorded facts: versions of the booking, of a parcel or refund (contradicted
    /// versions left out), or one event key carrying different facts. Sorted, derived from the facts alone.
    pub fn conflicts(&self) -> Vec<Conflict> {
        let mut conflicts = Vec::new();
        if self.bookings.len() > 1 {
            conflicts.push(Conflict::ConflictingBooking {
                versions: self.bookings.len(),
                events: sorted_keys(self.bookings.iter().map(|b| &b.event_key)),
            });
        }
        let parcels = self.parcels.iter().filter(|p| self.parcel_contradiction(p).is_none());
        for (parcel_id, versions, events) in versions_of(parcels) {
            conflicts.push(Conflict::ConflictingParcel {
                parcel_id,
                versions,
                events,
            });
        }
        let refunds = self.refunds.iter().filter(|r| self.refund_contradiction(r).is_none());
        for (refund_id, versions, events) in versions_of(refunds) {
            conflicts.push(Conflict::ConflictingRefund {
                refund_id,
                versions,
                events,
            });
        }
        // One event key stating facts of different kinds or business keys (versions of one fact are named above).
        let mut subjects: BTreeMap<&EventKey, Vec<(EventType, &str)>> = BTreeMap::new();
        let booking_subjects = self
            .bookings
            .iter()
            .map(|b| (&b.event_key, (EventType::ReturnBooked, "")));
        let parcel_subjects = self
            .parcels
            .iter()
            .filter(|p| self.parcel_contradiction(p).is_none())
            .map(|p| (&p.event_key, (EventType::ReturnItemsReceived, p.parcel_id.as_str())));
        let refund_subjects = self
            .refunds
            .iter()
            .filter(|r| self.refund_contradiction(r).is_none())
            .map(|r| (&r.event_key, (EventType::RefundIssued, r.refund_id.as_str())));
        for (key, subject) in booking_subjects.chain(parcel_subjects).chain(refund_subjects) {
            let seen = subjects.entry(key).or_default();
            if !seen.contains(&subject) {
                seen.push(subject);
            }
        }
        conflicts.extend(
            subjects
                .into_iter()
                .filter(|(_, subjects)| subjects.len() > 1)
                .map(|(key, _)| Conflict::ConflictingEvent { event: key.clone() }),
        );
        conflicts
    }

    fn conflicted_keys(&self) -> Vec<EventKey> {
        self.conflicts()
            .iter()
            .flat_map(|conflict| conflict_keys(conflict).into_iter().cloned())
            .collect()
    }

    /// The cap the return reached, if it did: it refuses what does not fit and never settles by itself.
    pub fn limit_reached(&self) -> Option<Limit> {
        self.limit_reached
    }

    /// Whether the return is on hold: in conflict or at a cap. A held return never settles by itself; its status
    /// and stuck alert say why.
    pub fn is_held(&self) -> bool {
        self.limit_reached.is_some() || !self.conflicts().is_empty()
    }

    /// The events that do not count, with their reasons, by event key: facts contradicted by the booking, and
    /// refused events (the first [`MAX_LISTED_EVENTS`]; see [`rejected_overflow`](Self::rejected_overflow)).
    pub fn rejected(&self) -> Vec<RejectedEvent> {
        let parcels = self.parcels.iter().filter_map(|p| {
            self.parcel_contradiction(p).map(|c| RejectedEvent {
                event_key: p.event_key.clone(),
                event_type: EventType::ReturnItemsReceived,
                reason: c.to_string(),
            })
        });
        let refunds = self.refunds.iter().filter_map(|r| {
            self.refund_contradiction(r).map(|c| RejectedEvent {
                event_key: r.event_key.clone(),
                event_type: EventType::RefundIssued,
                reason: c.to_string(),
            })
        });
        let mut rejected: Vec<RejectedEvent> = parcels.chain(refunds).chain(self.refused.iter().cloned()).collect();
        if let Some(tombstone) = &self.tombstone {
            rejected.extend(tombstone.rejected.iter().cloned());
        }
        rejected.sort_by(|a, b| a.event_key.cmp(&b.event_key));
        rejected.dedup();
        rejected
    }

    /// How many more events were refused than [`rejected`](Self::rejected) lists.
    pub fn rejected_overflow(&self) -> u32 {
        self.refused_overflow
    }

    /// The events that arrived after the return closed (the first [`MAX_LISTED_EVENTS`]).
    pub fn late_events(&self) -> &[LateEvent] {
        &self.late
    }

    /// How many more late events arrived than [`late_events`](Self::late_events) lists.
    pub fn late_overflow(&self) -> u32 {
        self.late_overflow
    }

    /// The events the ingress accepted but the return has not recorded (a lost entity batch), the first
    /// [`MAX_LISTED_EVENTS`]; each leaves the list when it is recorded.
    pub fn unrecorded_events(&self) -> &[AcceptedEvent] {
        &self.unrecorded
    }

    /// How many more unrecorded events were found than [`unrecorded_events`](Self::unrecorded_events) lists.
    pub fn unrecorded_overflow(&self) -> u32 {
        self.unrecorded_overflow
    }

    /// When the last event (of any disposition) was processed.
    pub fn last_event_at(&self) -> Option<DateTime<Utc>> {
        self.last_event_at
    }

    /// The cancellation, if the return was cancelled.
    pub fn cancellation(&self) -> Option<&Cancellation> {
        self.cancellation.as_ref()
    }

    /// The return this aggregate is about.
    pub fn return_id(&self) -> &ReturnId {
        &self.return_id
    }

    /// Where the return is in its lifecycle.
    pub fn status(&self) -> ReturnStatus {
        self.status
    }

    /// When the first event was processed (the start of the stuck deadline), if any was.
    pub fn first_seen_at(&self) -> Option<DateTime<Utc>> {
        self.first_seen_at
    }

    /// When the return was settled or cancelled.
    pub fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.closed_at
    }

    /// When the stuck alert was raised, if it was.
    pub fn stuck_alerted_at(&self) -> Option<DateTime<Utc>> {
        self.stuck_alerted_at
    }

    /// The id of the settled notification, once settled (deterministic: derived from the return id).
    pub fn notification_id(&self) -> Option<Uuid> {
        self.notification_id
    }

    /// The summary kept when the details were dropped ([compaction](Self::compact)).
    pub fn tombstone(&self) -> Option<&Tombstone> {
        self.tombstone.as_ref()
    }

    /// Whether the aggregate was compacted to a tombstone.
    pub fn is_compacted(&self) -> bool {
        self.tombstone.is_some()
    }
}

/// Adds `fact` to `list` (kept sorted) unless it restates a recorded fact; refuses it when `list` is at `limit` or
/// its `lines` do not fit in `lines_left`.
fn record_fact<F: Fact>(list: &mut Vec<F>, fact: F, limit: Limit, lines: usize, lines_left: usize) -> Recorded {
    let canonical = fact.canonical();
    // The business key is one of the fact's fields: facts with different keys never state the same fact, so
    // their canonical text need not be built.
    let restates = |known: &F| known.business_key() == fact.business_key() && known.canonical() == canonical;
    if let Some(known) = list.iter_mut().find(|known| restates(known)) {
        if fact.event_key() < known.event_key() {
            known.restamp(fact.event_key().clone(), fact.processed_at());
        }
        return Recorded::AlreadyKnown;
    }
    if list.len() >= limit.cap() {
        return Recorded::Refused(Conflict::LimitReached(limit));
    }
    if lines > lines_left {
        return Recorded::Refused(Conflict::LimitReached(Limit::RecordedLines));
    }
    // Ordered by business key, event key, then canonical text (built only when the other two are equal).
    let precedes = |known: &F| {
        let order = known.business_key().cmp(fact.business_key());
        let order = order.then_with(|| known.event_key().cmp(fact.event_key()));
        order.then_with(|| known.canonical().cmp(&canonical)) == std::cmp::Ordering::Less
    };
    let at = list.partition_point(precedes);
    list.insert(at, fact);
    Recorded::New
}

/// The business keys with more than one version among `facts`: the key, how many versions, their event keys.
fn versions_of<'a, F: Fact + 'a>(facts: impl Iterator<Item = &'a F>) -> Vec<(String, usize, Vec<EventKey>)> {
    let mut by_key: BTreeMap<&str, Vec<&EventKey>> = BTreeMap::new();
    for fact in facts {
        by_key.entry(fact.business_key()).or_default().push(fact.event_key());
    }
    by_key
        .into_iter()
        .filter(|(_, keys)| keys.len() > 1)
        .map(|(business_key, keys)| (business_key.to_owned(), keys.len(), sorted_keys(keys.into_iter())))
        .collect()
}

fn sorted_keys<'a>(keys: impl Iterator<Item = &'a EventKey>) -> Vec<EventKey> {
    let mut keys: Vec<EventKey> = keys.cloned().collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The event keys a conflict names.
pub fn conflict_keys(conflict: &Conflict) -> Vec<&EventKey> {
    match conflict {
        Conflict::ConflictingBooking { events, .. }
        | Conflict::ConflictingParcel { events, .. }
        | Conflict::ConflictingRefund { events, .. } => events.iter().collect(),
        Conflict::ConflictingEvent { event } => vec![event],
        _ => Vec::new(),
    }
}
