//! The read model of one return for the status endpoint: what support needs to see (what arrived and when, what
//! is missing or why the return is held, how it ended), nothing personal. A closed return tells the same story
//! from its [tombstone](super::tombstone) once its details are dropped. Amounts read in major units.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::aggregate::{ReturnAggregate, ReturnStatus};
use super::completion::{missing_pieces, progress, MissingPiece, Progress};
use super::events::EventType;
use super::identifiers::ReturnId;
use super::lifecycle::DomainConfig;
use super::records::{LateEvent, RejectedEvent};
use super::tombstone::{RefundTotals, UnitTotals};

/// The status of one return (no customer id: this view may be logged or shown to support tools).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnStatusReport {
    /// The return.
    pub return_id: ReturnId,
    /// Its status.
    pub status: ReturnStatus,
    /// Whether only the tombstone is left (the details were dropped; the story below is kept).
    pub compacted: bool,
    /// Its order, when the booking is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// When the first event was processed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::timestamp_json::option"
    )]
    pub first_seen_at: Option<DateTime<Utc>>,
    /// When an open return counts as stuck.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::timestamp_json::option"
    )]
    pub stuck_deadline: Option<DateTime<Utc>>,
    /// When the stuck alert was raised.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::timestamp_json::option"
    )]
    pub stuck_alerted_at: Option<DateTime<Utc>>,
    /// When it was settled or cancelled.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::timestamp_json::option"
    )]
    pub closed_at: Option<DateTime<Utc>>,
    /// When its tombstone may be purged.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::timestamp_json::option"
    )]
    pub purge_at: Option<DateTime<Utc>>,
    /// The settled notification, once triggered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<Uuid>,
    /// Every recorded event, in the order it was processed.
    pub events: Vec<ReceivedEvent>,
    /// The refund, with amounts in words (`64.98 of 64.98 EUR refunded`), when the booking is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund: Option<RefundReport>,
    /// Units booked, received and reported missing, when the booking is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<UnitTotals>,
    /// Per-line and refund accounting, while the details are kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// What an open return still waits for, or what holds it.
    pub missing: Vec<MissingPiece>,
    /// [`missing`](Self::missing) in words, `; `-separated, as the stuck alert says it.
    pub summary: String,
    /// Why the return is (or was) held: its conflicts and the cap it reached.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held_because: Vec<String>,
    /// Events that do not count, with their reasons.
    pub rejected: Vec<RejectedEvent>,
    /// Refused events beyond those listed.
    pub rejected_overflow: u32,
    /// Events that arrived after the return closed (a refund after the settlement, say).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub late_events: Vec<LateEvent>,
    /// Late events beyond those listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub late_overflow: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// One recorded event, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedEvent {
    /// Its type.
    pub event_type: EventType,
    /// Its id.
    pub event_id: String,
    /// Its producer, when named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When the return processed it.
    #[serde(with = "super::timestamp_json")]
    pub processed_at: DateTime<Utc>,
}

/// The refund of a return, in numbers and in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundReport {
    /// The numbers (minor units).
    #[serde(flatten)]
    pub totals: RefundTotals,
    /// `"<refunded> of <expected> <currency> refunded"` in major units.
    pub text: String,
}

impl RefundReport {
    fn of(totals: RefundTotals) -> Self {
        let text = format!(
            "{} of {} refunded",
            totals.currency.format_number(totals.refunded_minor),
            totals.currency.format_minor(totals.expected_minor)
        );
        Self { totals, text }
    }
}

impl ReturnStatusReport {
    /// The report of `aggregate` under `config`.
    pub fn of(aggregate: &ReturnAggregate, config: &DomainConfig) -> Self {
        let open = aggregate.status() == ReturnStatus::Open;
        let tombstone = aggregate.tombstone();
        let progress = progress(aggregate);
        let refund = match (&progress, tombstone) {
            (Some(progress), _) => Some(RefundTotals {
                currency: progress.refund.currency.clone(),
                expected_minor: progress.refund.expected_minor,
                refunded_minor: progress.refund.refunded_minor,
            }),
            (None, Some(tombstone)) => tombstone.refund.clone(),
            (None, None) => None,
        };
        let units = match (&progress, tombstone) {
            (Some(progress), _) => Some(UnitTotals {
                booked: progress.lines.iter().map(|l| u64::from(l.booked)).sum(),
                received: progress.lines.iter().map(|l| u64::from(l.received())).sum(),
                missing: progress.lines.iter().map(|l| u64::from(l.missing)).sum(),
            }),
            (None, Some(tombstone)) => tombstone.units,
            (None, None) => None,
        };
        let held_because = match tombstone {
            Some(tombstone) => tombstone.held_because.clone(),
            None => {
                let conflicts = aggregate
                    .conflicts()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>();
                let limit = aggregate
                    .limit_reached()
                    .map(|limit| format!("the return reached {limit}"));
                conflicts.into_iter().chain(limit).collect()
            }
        };
        let missing = missing_pieces(aggregate);
        let summary = missing.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        Self {
            return_id: aggregate.return_id().clone(),
            status: aggregate.status(),
            compacted: aggregate.is_compacted(),
            order_id: aggregate
                .booking()
                .map(|b| b.order_id.clone())
                .or_else(|| tombstone.and_then(|t| t.order_id.clone())),
            first_seen_at: aggregate.first_seen_at(),
            stuck_deadline: aggregate.stuck_deadline(config).filter(|_| open),
            stuck_alerted_at: aggregate.stuck_alerted_at(),
            closed_at: aggregate.closed_at(),
            purge_at: aggregate.purge_at(config),
            notification_id: aggregate.notification_id(),
            events: aggregate
                .events_received()
                .into_iter()
                .map(|trace| ReceivedEvent {
                    event_type: trace.event_type,
                    event_id: trace.event_key.event_id().to_owned(),
                    source: trace.event_key.source().map(str::to_owned),
                    processed_at: trace.processed_at,
                })
                .collect(),
            refund: refund.map(RefundReport::of),
            units,
            progress,
            missing,
            summary,
            held_because,
            rejected: aggregate.rejected(),
            rejected_overflow: aggregate.rejected_overflow(),
            late_events: aggregate.late_events().to_vec(),
            late_overflow: aggregate.late_overflow(),
        }
    }
}
