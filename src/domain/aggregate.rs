//! The return aggregate: the facts known about one return, folded from its events in any order.
//!
//! # How events are folded
//!
//! - **Facts, not steps.** Each event adds one fact: the booking, a parcel (keyed by `parcelId`), a refund (keyed by
//!   `refundId`) or the cancellation. Parcels and refunds are kept sorted by their business key and rejected events
//!   by event key, so the state is a function of the *set* of events seen, not of their order.
//! - **Two layers of de-duplication.** An event whose [`EventKey`] was seen is a [`Disposition::Duplicate`]; so is an
//!   event under a new key that restates a recorded fact exactly (a producer republishing under a new id). The seen
//!   keys are the keys of the recorded facts and rejections, so they stay as small as the return itself.
//! - **Whole events.** An event is applied whole or rejected whole. A rejected event is recorded with its reason
//!   ([`ReturnAggregate::rejected`]) so support can see the conflict; it never counts towards completion.
//! - **Checks against the booking are order-free.** A parcel or refund naming a line the booking lacks, or a refund in
//!   another currency, is rejected when it arrives after the booking, and moved to the rejected list when the
//!   booking arrives after it: either way the final state is the same.
//! - **Competing versions of a fact** (a second, different booking; parcel `P1` restated with other contents): the
//!   first one recorded wins and the later one is rejected. Only here does arrival order matter, and only for
//!   producers that contradict themselves.
//! - **Closing.** After each applied event the [completion rule](super::completion::ready_to_settle) is evaluated;
//!   the first time it holds the aggregate becomes [`ReturnStatus::Settled`] and the outcome says so, exactly once.
//!   A cancellation closes an open return as [`ReturnStatus::Cancelled`], which sends no notification. Every event
//!   after closing is [`Disposition::IgnoredAfterCompletion`] (tombstone behaviour).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::completion;
use super::events::{EventPayload, EventType, ReturnEvent};
use super::identifiers::{EventKey, ReturnId};
use super::lifecycle::ReturnStatus;
use super::money::Currency;
use super::notification::settled_notification_id;
use super::records::{Booking, Cancellation, Parcel, Refund, RejectedEvent};

/// The most parcels one return may record.
pub const MAX_PARCELS: usize = 50;
/// The most refunds one return may record.
pub const MAX_REFUNDS: usize = 50;
/// The most rejected events recorded in full; later ones are only counted.
pub const MAX_RECORDED_REJECTIONS: usize = 20;

/// The state of one return, persisted as the entity state (camelCase JSON, empty parts omitted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnAggregate {
    pub(super) return_id: ReturnId,
    #[serde(default)]
    pub(super) status: ReturnStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) first_seen_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) closed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) stuck_alerted_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) notification_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) booking: Option<Booking>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) parcels: Vec<Parcel>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) refunds: Vec<Refund>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) cancellation: Option<Cancellation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) rejected: Vec<RejectedEvent>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(super) rejected_overflow: u32,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(super) compacted: bool,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

fn is_false(value: &bool) -> bool {
    !*value
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
}

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// The event added a fact.
    Applied,
    /// The event (same key, or the same fact under another key) was already recorded: nothing changed.
    Duplicate,
    /// The return is closed (settled or cancelled): the event is ignored.
    IgnoredAfterCompletion,
    /// The event contradicts what is known; it is recorded in [`ReturnAggregate::rejected`] and otherwise ignored.
    Rejected(Conflict),
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
            Disposition::IgnoredAfterCompletion => "ignored_after_completion",
            Disposition::Rejected(_) => "rejected",
        }
    }
}

/// Why an event was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// The event names another return (a routing bug upstream).
    #[error("the event is about return {event} but reached the aggregate of return {aggregate}")]
    WrongReturn {
        /// The event's return id.
        event: ReturnId,
        /// This aggregate's return id.
        aggregate: ReturnId,
    },
    /// A booking with other contents is already recorded.
    #[error("a different booking is already recorded (event {existing})")]
    ConflictingBooking {
        /// The event of the recorded booking.
        existing: EventKey,
    },
    /// The parcel is already recorded with other contents.
    #[error("parcel {parcel_id} is already recorded with different contents (event {existing})")]
    ConflictingParcel {
        /// The parcel.
        parcel_id: String,
        /// The event of the recorded parcel.
        existing: EventKey,
    },
    /// The refund is already recorded with other contents.
    #[error("refund {refund_id} is already recorded with different contents (event {existing})")]
    ConflictingRefund {
        /// The refund.
        refund_id: String,
        /// The event of the recorded refund.
        existing: EventKey,
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
    /// The return already holds the most parcels or refunds allowed.
    #[error("the return already has {limit} {what}, the most one return may have")]
    TooMany {
        /// `parcels` or `refunds`.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
}

/// Whether a fact was new or a restatement of one already recorded.
enum Recorded {
    New,
    AlreadyKnown,
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
            booking: None,
            parcels: Vec::new(),
            refunds: Vec::new(),
            cancellation: None,
            rejected: Vec::new(),
            rejected_overflow: 0,
            compacted: false,
        }
    }

    /// Folds one event into the aggregate; `now` is the processing time (used for first-seen and closing times).
    ///
    /// Never fails: every event ends as applied, duplicate, ignored or rejected-and-recorded. The outcome says
    /// whether the return just settled, which happens at most once in the life of the aggregate.
    pub fn apply(&mut self, event: &ReturnEvent, now: DateTime<Utc>) -> ApplyOutcome {
        if self.status.is_closed() {
            return ApplyOutcome {
                disposition: Disposition::IgnoredAfterCompletion,
                first_event: false,
                transition: None,
            };
        }
        let key = event.event_key();
        if self.has_seen(&key) {
            return ApplyOutcome {
                disposition: Disposition::Duplicate,
                first_event: false,
                transition: None,
            };
        }
        let first_event = self.first_seen_at.is_none();
        if first_event {
            self.first_seen_at = Some(now);
        }
        let disposition = match self.record(key.clone(), event) {
            Ok(Recorded::New) => Disposition::Applied,
            Ok(Recorded::AlreadyKnown) => Disposition::Duplicate,
            Err(conflict) => {
                self.remember_rejection(key, event.event_type(), &conflict);
                Disposition::Rejected(conflict)
            }
        };
        let transition = match disposition {
            Disposition::Applied => self.close_if_done(now),
            _ => None,
        };
        ApplyOutcome {
            disposition,
            first_event,
            transition,
        }
    }

    fn has_seen(&self, key: &EventKey) -> bool {
        let recorded = self.booking.iter().map(|b| &b.event_key);
        let recorded = recorded.chain(self.parcels.iter().map(|p| &p.event_key));
        let recorded = recorded.chain(self.refunds.iter().map(|r| &r.event_key));
        let recorded = recorded.chain(self.cancellation.iter().map(|c| &c.event_key));
        let mut recorded = recorded.chain(self.rejected.iter().map(|r| &r.event_key));
        recorded.any(|seen| seen == key)
    }

    fn record(&mut self, key: EventKey, event: &ReturnEvent) -> Result<Recorded, Conflict> {
        if *event.return_id() != self.return_id {
            return Err(Conflict::WrongReturn {
                event: event.return_id().clone(),
                aggregate: self.return_id.clone(),
            });
        }
        match &event.payload {
            EventPayload::ReturnBooked(booked) => self.record_booking(Booking::from_event(key, booked)),
            EventPayload::ReturnItemsReceived(parcel) => self.record_parcel(Parcel::from_event(key, parcel)),
            EventPayload::RefundIssued(refund) => self.record_refund(Refund::from_event(key, refund)),
            EventPayload::ReturnCancelled(cancelled) => {
                self.cancellation = Some(Cancellation::from_event(key, cancelled));
                Ok(Recorded::New)
            }
        }
    }

    fn record_booking(&mut self, booking: Booking) -> Result<Recorded, Conflict> {
        if let Some(existing) = &self.booking {
            return if existing.same_facts(&booking) {
                Ok(Recorded::AlreadyKnown)
            } else {
                Err(Conflict::ConflictingBooking {
                    existing: existing.event_key.clone(),
                })
            };
        }
        self.booking = Some(booking);
        self.reject_pending_facts_that_contradict_the_booking();
        Ok(Recorded::New)
    }

    fn record_parcel(&mut self, parcel: Parcel) -> Result<Recorded, Conflict> {
        if let Some(existing) = self.parcels.iter().find(|p| p.parcel_id == parcel.parcel_id) {
            return if existing.same_facts(&parcel) {
                Ok(Recorded::AlreadyKnown)
            } else {
                Err(Conflict::ConflictingParcel {
                    parcel_id: parcel.parcel_id,
                    existing: existing.event_key.clone(),
                })
            };
        }
        if self.parcels.len() >= MAX_PARCELS {
            return Err(Conflict::TooMany {
                what: "parcels",
                limit: MAX_PARCELS,
            });
        }
        if let Some(booking) = &self.booking {
            check_parcel(booking, &parcel)?;
        }
        let at = self.parcels.partition_point(|p| p.parcel_id < parcel.parcel_id);
        self.parcels.insert(at, parcel);
        Ok(Recorded::New)
    }

    fn record_refund(&mut self, refund: Refund) -> Result<Recorded, Conflict> {
        if let Some(existing) = self.refunds.iter().find(|r| r.refund_id == refund.refund_id) {
            return if existing.same_facts(&refund) {
                Ok(Recorded::AlreadyKnown)
            } else {
                Err(Conflict::ConflictingRefund {
                    refund_id: refund.refund_id,
                    existing: existing.event_key.clone(),
                })
            };
        }
        if self.refunds.len() >= MAX_REFUNDS {
            return Err(Conflict::TooMany {
                what: "refunds",
                limit: MAX_REFUNDS,
            });
        }
        if let Some(booking) = &self.booking {
            check_refund(booking, &refund)?;
        }
        let at = self.refunds.partition_point(|r| r.refund_id < refund.refund_id);
        self.refunds.insert(at, refund);
        Ok(Recorded::New)
    }

    /// Parcels and refunds recorded before the booking could not be checked against it; check them now and move
    /// the ones that contradict it to the rejected list, exactly as if they had arrived after the booking.
    fn reject_pending_facts_that_contradict_the_booking(&mut self) {
        let Some(booking) = self.booking.clone() else {
            return;
        };
        for parcel in std::mem::take(&mut self.parcels) {
            match check_parcel(&booking, &parcel) {
                Ok(()) => self.parcels.push(parcel),
                Err(conflict) => self.remember_rejection(parcel.event_key, EventType::ReturnItemsReceived, &conflict),
            }
        }
        for refund in std::mem::take(&mut self.refunds) {
            match check_refund(&booking, &refund) {
                Ok(()) => self.refunds.push(refund),
                Err(conflict) => self.remember_rejection(refund.event_key, EventType::RefundIssued, &conflict),
            }
        }
    }

    fn remember_rejection(&mut self, event_key: EventKey, event_type: EventType, conflict: &Conflict) {
        if self.rejected.len() >= MAX_RECORDED_REJECTIONS {
            self.rejected_overflow = self.rejected_overflow.saturating_add(1);
            return;
        }
        let at = self.rejected.partition_point(|r| r.event_key < event_key);
        self.rejected.insert(
            at,
            RejectedEvent {
                event_key,
                event_type,
                reason: conflict.to_string(),
            },
        );
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

    /// The booking, once seen (gone after [compaction](Self::compact)).
    pub fn booking(&self) -> Option<&Booking> {
        self.booking.as_ref()
    }

    /// The accepted parcels, by parcel id.
    pub fn parcels(&self) -> &[Parcel] {
        &self.parcels
    }

    /// The accepted refunds, by refund id.
    pub fn refunds(&self) -> &[Refund] {
        &self.refunds
    }

    /// The cancellation, if the return was cancelled.
    pub fn cancellation(&self) -> Option<&Cancellation> {
        self.cancellation.as_ref()
    }

    /// The rejected events, by event key (at most [`MAX_RECORDED_REJECTIONS`]).
    pub fn rejected(&self) -> &[RejectedEvent] {
        &self.rejected
    }

    /// How many more events were rejected than [`rejected`](Self::rejected) lists.
    pub fn rejected_overflow(&self) -> u32 {
        self.rejected_overflow
    }

    /// Whether the aggregate was compacted to a tombstone.
    pub fn is_compacted(&self) -> bool {
        self.compacted
    }
}

fn check_parcel(booking: &Booking, parcel: &Parcel) -> Result<(), Conflict> {
    match parcel.lines.iter().find(|line| booking.line(&line.line_id).is_none()) {
        Some(line) => Err(Conflict::UnknownLine {
            subject: format!("parcel {}", parcel.parcel_id),
            line_id: line.line_id.clone(),
        }),
        None => Ok(()),
    }
}

fn check_refund(booking: &Booking, refund: &Refund) -> Result<(), Conflict> {
    if refund.currency != booking.currency {
        return Err(Conflict::CurrencyMismatch {
            refund_id: refund.refund_id.clone(),
            found: refund.currency.clone(),
            expected: booking.currency.clone(),
        });
    }
    match refund.lines.iter().find(|line| booking.line(&line.line_id).is_none()) {
        Some(line) => Err(Conflict::UnknownLine {
            subject: format!("refund {}", refund.refund_id),
            line_id: line.line_id.clone(),
        }),
        None => Ok(()),
    }
}
