//! The messages the domain publishes: the consolidated "return settled" notification (the email trigger), the
//! "return stuck" alert, and the follow-up alert about an event that reached a closed return (a refund after the
//! settlement, for example).
//!
//! Both carry deterministic ids derived from the return id (UUID v5), so a re-run of the publishing activity
//! publishes a message downstream consumers recognise as the same one. Neither carries personal data beyond the
//! opaque customer id (and the alert not even that).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::aggregate::{ReturnAggregate, ReturnStatus};
use super::completion::{missing_pieces, progress, MissingPiece};
use super::events::{EventType, ItemCondition};
use super::identifiers::{EventKey, ReturnId};
use super::lifecycle::DomainConfig;
use super::money::Currency;
use super::records::{AcceptedEvent, LateEvent, RejectedEvent};

/// The schema version of the published messages.
pub const NOTIFICATION_SCHEMA_VERSION: u32 = 1;

pub use super::identifiers::{late_event_alert_id, settled_notification_id, stuck_alert_id, unrecorded_alert_id};

/// The kind of a published message (its `kind` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageKind {
    /// [`ReturnSettledNotification`] (`settled` in reports of earlier builds).
    #[serde(alias = "settled")]
    ReturnSettled,
    /// [`ReturnStuckAlert`] (`stuck` in reports of earlier builds).
    #[serde(alias = "stuck")]
    ReturnStuck,
    /// [`ReturnLateEventAlert`].
    ReturnLateEvent,
}

/// Why a settled notification cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// The return is not settled.
    #[error("return {return_id} is {status}, not settled", status = .status.as_str())]
    NotSettled {
        /// The return.
        return_id: ReturnId,
        /// Its status.
        status: ReturnStatus,
    },
    /// The aggregate was compacted: the details are gone.
    #[error("return {0} was compacted to a tombstone: its details are gone")]
    Compacted(ReturnId),
}

/// The one consolidated message sent when a return settles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnSettledNotification {
    /// Deterministic id ([`settled_notification_id`]).
    pub notification_id: Uuid,
    /// Always [`MessageKind::ReturnSettled`].
    pub kind: MessageKind,
    /// [`NOTIFICATION_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The return.
    pub return_id: ReturnId,
    /// Its order.
    pub order_id: String,
    /// The customer (opaque id; the email service looks up the address).
    pub customer_id: String,
    /// The market, when booked with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    /// The locale, when booked with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// One entry per booked line.
    pub items: Vec<SettledItem>,
    /// The refund.
    pub refund: RefundSummary,
    /// When things happened.
    pub timestamps: SettlementTimestamps,
    /// The events the notification was built from (booking, parcels, refunds).
    pub source_events: Vec<SourceEvent>,
    /// The W3C trace id of the message whose event settled the return (lineage: the trace of this notification
    /// in Application Insights or any OpenTelemetry backend). Absent when no trace was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// A booked line as settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettledItem {
    /// The order line id.
    pub line_id: String,
    /// The stock keeping unit.
    pub sku: String,
    /// Units booked.
    pub quantity_booked: u32,
    /// Units that arrived (any condition but `Missing`).
    pub quantity_received: u32,
    /// Units reported missing.
    pub quantity_missing: u32,
    /// Units owed a refund (`Resellable` + `Damaged`, at most booked).
    pub quantity_refundable: u32,
    /// Price per unit in minor units.
    pub unit_price_minor: i64,
    /// Units per reported condition (conditions with no units omitted).
    pub conditions: Vec<ConditionCount>,
}

/// Units in one condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionCount {
    /// The condition.
    pub condition: ItemCondition,
    /// How many units.
    pub quantity: u32,
}

/// The refund of a settled return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundSummary {
    /// The currency of every amount.
    pub currency: Currency,
    /// What the refundable units are worth.
    pub expected_minor: i64,
    /// What was refunded (may exceed the expected amount, or fall short when a refund was final).
    pub total_minor: i64,
    /// Each refund, by refund id.
    pub refunds: Vec<RefundDetail>,
}

/// One refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundDetail {
    /// The refund id.
    pub refund_id: String,
    /// The amount in minor units.
    pub amount_minor: i64,
    /// The payment provider's reference.
    pub payment_reference: String,
    /// When it was issued.
    #[serde(with = "super::timestamp_json")]
    pub issued_at: DateTime<Utc>,
    /// Whether payments marked it final.
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// When things happened to a settled return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettlementTimestamps {
    /// When it was booked.
    #[serde(with = "super::timestamp_json")]
    pub booked_at: DateTime<Utc>,
    /// The earliest parcel.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::timestamp_json::option"
    )]
    pub first_received_at: Option<DateTime<Utc>>,
    /// The latest parcel.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::timestamp_json::option"
    )]
    pub last_received_at: Option<DateTime<Utc>>,
    /// The latest refund (absent when nothing was owed).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::timestamp_json::option"
    )]
    pub refunded_at: Option<DateTime<Utc>>,
    /// When the aggregate settled.
    #[serde(with = "super::timestamp_json")]
    pub settled_at: DateTime<Utc>,
}

/// One source event (lineage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceEvent {
    /// Its type.
    pub event_type: EventType,
    /// Its id.
    pub event_id: String,
    /// Its producer, when named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl SourceEvent {
    fn new(event_type: EventType, key: &EventKey) -> Self {
        Self {
            event_type,
            event_id: key.event_id().to_owned(),
            source: key.source().map(str::to_owned),
        }
    }
}

impl ReturnSettledNotification {
    /// Builds the notification of a settled (and not yet compacted) aggregate.
    pub fn from_aggregate(aggregate: &ReturnAggregate) -> Result<Self, NotificationError> {
        let return_id = aggregate.return_id().clone();
        if aggregate.is_compacted() {
            return Err(NotificationError::Compacted(return_id));
        }
        let not_settled = || NotificationError::NotSettled {
            return_id: return_id.clone(),
            status: aggregate.status(),
        };
        if aggregate.status() != ReturnStatus::Settled {
            return Err(not_settled());
        }
        let (Some(booking), Some(progress), Some(settled_at)) =
            (aggregate.booking(), progress(aggregate), aggregate.closed_at())
        else {
            return Err(not_settled());
        };
        let items = progress
            .lines
            .iter()
            .map(|line| SettledItem {
                line_id: line.line_id.clone(),
                sku: line.sku.clone(),
                quantity_booked: line.booked,
                quantity_received: line.received(),
                quantity_missing: line.missing,
                quantity_refundable: line.refundable(),
                unit_price_minor: line.unit_price_minor,
                conditions: ItemCondition::ALL
                    .into_iter()
                    .map(|condition| ConditionCount {
                        condition,
                        quantity: line.units(condition),
                    })
                    .filter(|count| count.quantity > 0)
                    .collect(),
            })
            .collect();
        let refunds = aggregate.counted_refunds();
        let parcels = aggregate.counted_parcels();
        let mut source_events = vec![SourceEvent::new(EventType::ReturnBooked, &booking.event_key)];
        source_events.extend(
            parcels
                .iter()
                .map(|p| SourceEvent::new(EventType::ReturnItemsReceived, &p.event_key)),
        );
        source_events.extend(
            refunds
                .iter()
                .map(|r| SourceEvent::new(EventType::RefundIssued, &r.event_key)),
        );
        Ok(Self {
            notification_id: aggregate
                .notification_id()
                .unwrap_or_else(|| settled_notification_id(&return_id)),
            kind: MessageKind::ReturnSettled,
            schema_version: NOTIFICATION_SCHEMA_VERSION,
            return_id,
            order_id: booking.order_id.clone(),
            customer_id: booking.customer_id.clone(),
            market: booking.market.clone(),
            locale: booking.locale.clone(),
            items,
            refund: RefundSummary {
                currency: progress.refund.currency,
                expected_minor: progress.refund.expected_minor,
                total_minor: progress.refund.refunded_minor,
                refunds: refunds
                    .iter()
                    .map(|r| RefundDetail {
                        refund_id: r.refund_id.clone(),
                        amount_minor: r.amount_minor,
                        payment_reference: r.payment_reference.clone(),
                        issued_at: r.issued_at,
                        is_final: r.is_final,
                    })
                    .collect(),
            },
            timestamps: SettlementTimestamps {
                booked_at: booking.booked_at,
                first_received_at: parcels.iter().map(|p| p.received_at).min(),
                last_received_at: parcels.iter().map(|p| p.received_at).max(),
                refunded_at: refunds.iter().map(|r| r.issued_at).max(),
                settled_at,
            },
            source_events,
            trace_id: None,
        })
    }

    /// When the first of the return's events happened (the earliest of its timestamps).
    pub fn first_event_at(&self) -> DateTime<Utc> {
        let times = &self.timestamps;
        [Some(times.booked_at), times.first_received_at, times.refunded_at]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(times.booked_at)
    }
}

/// The alert raised once when a return is still open at its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnStuckAlert {
    /// Deterministic id ([`stuck_alert_id`]).
    pub alert_id: Uuid,
    /// Always [`MessageKind::ReturnStuck`].
    pub kind: MessageKind,
    /// [`NOTIFICATION_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The return.
    pub return_id: ReturnId,
    /// Its order, when the booking was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// When the first event was processed.
    #[serde(with = "super::timestamp_json")]
    pub first_event_at: DateTime<Utc>,
    /// When the return became stuck (first event + `stuck_after`).
    #[serde(with = "super::timestamp_json")]
    pub deadline: DateTime<Utc>,
    /// When the alert was raised.
    #[serde(with = "super::timestamp_json")]
    pub raised_at: DateTime<Utc>,
    /// What is missing.
    pub missing: Vec<MissingPiece>,
    /// The missing pieces in words, `; `-separated ("line L1: 1 of 2 not received; refund: …").
    pub summary: String,
    /// Rejected events that may explain the gap.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected_events: Vec<RejectedEvent>,
}

/// The follow-up alert about an event that reached a return after it closed. The event changes nothing (the
/// notification already went out), so a person must decide what it means — a refund after the `final` one, for
/// example, is money the customer's notification did not mention. The app raises one per late event listed on a
/// settled return (see [`MAX_LISTED_EVENTS`](super::limits::MAX_LISTED_EVENTS)); redeliveries raise nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnLateEventAlert {
    /// Deterministic id ([`late_event_alert_id`]).
    pub alert_id: Uuid,
    /// Always [`MessageKind::ReturnLateEvent`].
    pub kind: MessageKind,
    /// [`NOTIFICATION_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The return.
    pub return_id: ReturnId,
    /// Its order, when the booking is still known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// How the return closed: `Settled` or `Cancelled`.
    pub return_status: ReturnStatus,
    /// When it closed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::timestamp_json::option"
    )]
    pub closed_at: Option<DateTime<Utc>>,
    /// The late event.
    pub event_key: EventKey,
    /// Its type.
    pub event_type: EventType,
    /// What it said, in a few words (`refund R2: 5.00 EUR`).
    pub summary: String,
    /// When the return processed it.
    #[serde(with = "super::timestamp_json")]
    pub processed_at: DateTime<Utc>,
}

impl ReturnAggregate {
    /// The follow-up alert about `late`, an event this (closed) return listed as late.
    pub fn late_event_alert(&self, late: &LateEvent) -> ReturnLateEventAlert {
        ReturnLateEventAlert {
            alert_id: late_event_alert_id(self.return_id(), &late.event_key),
            kind: MessageKind::ReturnLateEvent,
            schema_version: NOTIFICATION_SCHEMA_VERSION,
            return_id: self.return_id().clone(),
            order_id: self.booking().map(|booking| booking.order_id.clone()),
            return_status: self.status(),
            closed_at: self.closed_at(),
            event_key: late.event_key.clone(),
            event_type: late.event_type,
            summary: late.summary.clone(),
            processed_at: late.processed_at,
        }
    }
}

impl ReturnAggregate {
    /// Raises the stuck alert if it is due (see [`ReturnAggregate::take_stuck_alert`]): once, for an open return
    /// whose deadline passed or that reached a cap. Call it from the scheduled deadline check.
    pub fn check_stuck(&mut self, now: DateTime<Utc>, config: &DomainConfig) -> Option<ReturnStuckAlert> {
        let deadline = self.take_stuck_alert(now, config)?;
        Some(ReturnStuckAlert::build(self, deadline, now))
    }
}

impl ReturnAggregate {
    /// The alert naming `accepted`, an event the ingress accepted that the return did not record, when the return's
    /// stuck alert went out before (or the return is closed): the same message as the stuck alert, with its own id
    /// ([`unrecorded_alert_id`]), the check's deadline, and what is missing now (led by the unrecorded events).
    pub fn unrecorded_alert(
        &self,
        accepted: &AcceptedEvent,
        now: DateTime<Utc>,
        config: &DomainConfig,
    ) -> ReturnStuckAlert {
        let mut alert = ReturnStuckAlert::build(self, accepted.accepted_at + config.stuck_after, now);
        alert.alert_id = unrecorded_alert_id(self.return_id(), &accepted.event_key);
        alert
    }
}

impl ReturnStuckAlert {
    /// The alert for `aggregate` with the given deadline, raised at `now` (see
    /// [`ReturnAggregate::check_stuck`], which decides whether it is due).
    pub fn build(aggregate: &ReturnAggregate, deadline: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        let missing = missing_pieces(aggregate);
        let summary = missing.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        Self {
            alert_id: stuck_alert_id(aggregate.return_id()),
            kind: MessageKind::ReturnStuck,
            schema_version: NOTIFICATION_SCHEMA_VERSION,
            return_id: aggregate.return_id().clone(),
            order_id: aggregate.booking().map(|b| b.order_id.clone()),
            first_event_at: aggregate.first_seen_at().unwrap_or(deadline),
            deadline,
            raised_at: now,
            missing,
            summary,
            rejected_events: aggregate.rejected(),
        }
    }
}
