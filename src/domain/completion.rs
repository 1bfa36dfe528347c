//! The completion rule: when a return is settled, and what is still missing when it is not.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::aggregate::{ReturnAggregate, ReturnStatus};
use super::events::{EventType, ItemCondition};
use super::limits::Limit;
use super::money::Currency;

/// Whether the facts recorded in `aggregate` settle the return.
///
/// **settled ⇔ not held ∧ booked ∧ every line accounted for ∧ refund settled**, where
///
/// - *not held*: no conflict among the facts (two versions of the booking, a parcel, a refund, or of one event id)
///   and no cap reached ([`ReturnAggregate::is_held`]): the arrival order never picks a version;
/// - *booked*: one `ReturnBooked` was accepted;
/// - *line L accounted for*: over all counted parcels, units of L reported `Resellable`, `Damaged`, `WrongItem`
///   (received) or `Missing` (reported missing) add up to at least the booked quantity of L;
/// - *refund settled*: Σ counted refunds ≥ expected refund, **or** a counted refund is marked `final`;
/// - *expected refund* = Σ over booked lines of unit price × min(booked quantity, refundable units), where the
///   refundable units of a line are its `Resellable` and `Damaged` units (the customer sent the item back).
///   `Missing` and `WrongItem` units are accounted for but owed nothing;
/// - *currencies match*: only refunds in the booking currency are accepted (others are rejected as conflicts),
///   so every sum above is in one currency.
///
/// Consequences worth knowing: a return whose lines are all reported missing or wrong expects a refund of 0 and
/// settles without any `RefundIssued`; an over-refund (Σ refunds > expected) settles and the notification shows
/// both amounts. The rule reads facts only: it ignores the lifecycle status, so use
/// [`ReturnAggregate::status`] to know whether the return *was* settled.
pub fn ready_to_settle(aggregate: &ReturnAggregate) -> bool {
    !aggregate.is_held()
        && progress(aggregate)
            .is_some_and(|p| p.lines.iter().all(LineProgress::is_accounted_for) && p.refund.is_settled())
}

/// What is still needed before the return settles, led by the events the ingress accepted that the return never
/// recorded (listed whatever the status: a lost entity batch); once the return is closed, nothing else.
///
/// Used by the stuck alert and the status endpoint; for an open return it is empty exactly when
/// [`ready_to_settle`] holds.
pub fn missing_pieces(aggregate: &ReturnAggregate) -> Vec<MissingPiece> {
    let mut missing: Vec<MissingPiece> = aggregate
        .unrecorded_events()
        .iter()
        .map(|event| MissingPiece::EventNotRecorded {
            event_type: event.event_type,
            event_id: event.event_key.event_id().to_owned(),
            source: event.event_key.source().map(str::to_owned),
            message_id: event.message_id.clone(),
            accepted_at: event.accepted_at,
        })
        .collect();
    if aggregate.unrecorded_overflow() > 0 {
        missing.push(MissingPiece::MoreEventsNotRecorded {
            count: aggregate.unrecorded_overflow(),
        });
    }
    if aggregate.status() != ReturnStatus::Open {
        return missing;
    }
    missing.extend(aggregate.conflicts().iter().map(|conflict| MissingPiece::Conflict {
        description: conflict.to_string(),
    }));
    if let Some(limit) = aggregate.limit_reached() {
        missing.push(MissingPiece::LimitReached { limit });
    }
    let Some(progress) = progress(aggregate) else {
        if aggregate.bookings().is_empty() {
            missing.push(MissingPiece::BookingNotSeen);
        }
        return missing;
    };
    missing.extend(
        progress
            .lines
            .iter()
            .filter(|line| !line.is_accounted_for())
            .map(|line| MissingPiece::ItemsOutstanding {
                line_id: line.line_id.clone(),
                sku: line.sku.clone(),
                booked: line.booked,
                accounted: line.accounted(),
            }),
    );
    if !progress.refund.is_settled() {
        missing.push(MissingPiece::RefundOutstanding {
            currency: progress.refund.currency.clone(),
            expected_minor: progress.refund.expected_minor,
            refunded_minor: progress.refund.refunded_minor,
        });
    }
    missing
}

/// The accounting of a booked return: per line and for the refund. `None` before the booking is seen.
pub fn progress(aggregate: &ReturnAggregate) -> Option<Progress> {
    let booking = aggregate.booking()?;
    let parcels = aggregate.counted_parcels();
    let refunds = aggregate.counted_refunds();
    let lines: Vec<LineProgress> = booking
        .lines
        .iter()
        .map(|booked| {
            let mut line = LineProgress {
                line_id: booked.line_id.clone(),
                sku: booked.sku.clone(),
                booked: booked.quantity,
                unit_price_minor: booked.unit_price_minor,
                resellable: 0,
                damaged: 0,
                missing: 0,
                wrong_item: 0,
            };
            let reported = parcels
                .iter()
                .flat_map(|p| &p.lines)
                .filter(|r| r.line_id == booked.line_id);
            for received in reported {
                let count = match received.condition {
                    ItemCondition::Resellable => &mut line.resellable,
                    ItemCondition::Damaged => &mut line.damaged,
                    ItemCondition::Missing => &mut line.missing,
                    ItemCondition::WrongItem => &mut line.wrong_item,
                };
                *count = count.saturating_add(received.quantity);
            }
            line
        })
        .collect();
    let in_currency = || refunds.iter().filter(|r| r.currency == booking.currency);
    let refund = RefundProgress {
        currency: booking.currency.clone(),
        expected_minor: lines
            .iter()
            .map(LineProgress::expected_refund_minor)
            .fold(0, i64::saturating_add),
        refunded_minor: in_currency().map(|r| r.amount_minor).fold(0, i64::saturating_add),
        final_refund_seen: in_currency().any(|r| r.is_final),
    };
    Some(Progress { lines, refund })
}

/// The accounting of a booked return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// One entry per booked line, in booking order.
    pub lines: Vec<LineProgress>,
    /// The refund.
    pub refund: RefundProgress,
}

/// The units of one booked line, by reported condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineProgress {
    /// The order line id.
    pub line_id: String,
    /// The stock keeping unit.
    pub sku: String,
    /// Units booked.
    pub booked: u32,
    /// Price per unit in minor units.
    pub unit_price_minor: i64,
    /// Units received fit for resale.
    pub resellable: u32,
    /// Units received damaged.
    pub damaged: u32,
    /// Units reported missing.
    pub missing: u32,
    /// Units received as a wrong item.
    pub wrong_item: u32,
}

impl LineProgress {
    /// Units reported in `condition`.
    pub fn units(&self, condition: ItemCondition) -> u32 {
        match condition {
            ItemCondition::Resellable => self.resellable,
            ItemCondition::Damaged => self.damaged,
            ItemCondition::Missing => self.missing,
            ItemCondition::WrongItem => self.wrong_item,
        }
    }

    fn units_where(&self, include: impl Fn(ItemCondition) -> bool) -> u32 {
        ItemCondition::ALL
            .into_iter()
            .filter(|c| include(*c))
            .map(|c| self.units(c))
            .fold(0, u32::saturating_add)
    }

    /// Units that physically arrived (any condition but `Missing`).
    pub fn received(&self) -> u32 {
        self.units_where(ItemCondition::is_physically_received)
    }

    /// Units received or reported missing.
    pub fn accounted(&self) -> u32 {
        self.units_where(|_| true)
    }

    /// Whether every booked unit is received or reported missing.
    pub fn is_accounted_for(&self) -> bool {
        self.accounted() >= self.booked
    }

    /// Units owed a refund (the [refundable](ItemCondition::is_refundable) conditions `Resellable` and `Damaged`),
    /// at most the booked quantity.
    pub fn refundable(&self) -> u32 {
        self.units_where(ItemCondition::is_refundable).min(self.booked)
    }

    /// The refund owed for this line: unit price × refundable units.
    pub fn expected_refund_minor(&self) -> i64 {
        self.unit_price_minor.saturating_mul(i64::from(self.refundable()))
    }
}

/// The refund of a booked return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundProgress {
    /// The booking currency.
    pub currency: Currency,
    /// What the refundable units received so far are worth.
    pub expected_minor: i64,
    /// What accepted refunds add up to.
    pub refunded_minor: i64,
    /// Whether an accepted refund is marked final.
    pub final_refund_seen: bool,
}

impl RefundProgress {
    /// Refunded at least the expected amount, or payments said the last refund was issued.
    pub fn is_settled(&self) -> bool {
        self.refunded_minor >= self.expected_minor || self.final_refund_seen
    }

    /// What is still owed (0 when settled by amount).
    pub fn outstanding_minor(&self) -> i64 {
        self.expected_minor.saturating_sub(self.refunded_minor).max(0)
    }
}

/// Something a return still waits for (or that keeps it from settling by itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum MissingPiece {
    /// The ingress accepted this event and signalled it to the return, but the return never recorded it: the
    /// entity batch that held it was lost (a handler crash). Re-send it (README, "Recovering lost events").
    EventNotRecorded {
        /// Its type.
        event_type: EventType,
        /// Its id.
        event_id: String,
        /// Its producer, when named.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        /// The Service Bus message it came in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
        /// When the ingress accepted it.
        #[serde(with = "super::timestamp_json")]
        accepted_at: DateTime<Utc>,
    },
    /// More events like [`MissingPiece::EventNotRecorded`] than the return lists.
    MoreEventsNotRecorded {
        /// How many.
        count: u32,
    },
    /// Two versions of a fact (or of an event) are recorded: the return is held until a person decides.
    Conflict {
        /// The conflict in words.
        description: String,
    },
    /// The return reached a cap: it is held, and what did not fit is on the invalid-events queue.
    LimitReached {
        /// The cap.
        limit: Limit,
    },
    /// No booking was seen, so nothing else can be judged.
    BookingNotSeen,
    /// Units of a line are neither received nor reported missing.
    ItemsOutstanding {
        /// The line.
        line_id: String,
        /// Its SKU.
        sku: String,
        /// Units booked.
        booked: u32,
        /// Units received or reported missing so far.
        accounted: u32,
    },
    /// The refunds fall short of the expected amount and none is final.
    RefundOutstanding {
        /// The booking currency.
        currency: Currency,
        /// What is owed for the units received so far.
        expected_minor: i64,
        /// What was refunded.
        refunded_minor: i64,
    },
}

impl fmt::Display for MissingPiece {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MissingPiece::EventNotRecorded {
                event_type,
                event_id,
                message_id,
                accepted_at,
                ..
            } => {
                write!(f, "event {event_id} ({event_type}")?;
                if let Some(message_id) = message_id {
                    write!(f, ", message {message_id}")?;
                }
                write!(
                    f,
                    ") accepted at {} but never recorded",
                    accepted_at.to_rfc3339_opts(SecondsFormat::Secs, true)
                )
            }
            MissingPiece::MoreEventsNotRecorded { count } => {
                write!(f, "{count} more event(s) accepted but never recorded")
            }
            MissingPiece::Conflict { description } => write!(f, "conflict: {description}"),
            MissingPiece::LimitReached { limit } => write!(
                f,
                "limit: the return reached {limit}; what did not fit is kept on the invalid-events queue"
            ),
            MissingPiece::BookingNotSeen => f.write_str("booking: not seen"),
            MissingPiece::ItemsOutstanding {
                line_id,
                booked,
                accounted,
                ..
            } => {
                write!(
                    f,
                    "line {line_id}: {} of {booked} not received",
                    booked.saturating_sub(*accounted)
                )
            }
            MissingPiece::RefundOutstanding {
                currency,
                expected_minor,
                refunded_minor,
            } => write!(
                f,
                "refund: {} of {} outstanding",
                currency.format_number(expected_minor.saturating_sub(*refunded_minor)),
                currency.format_minor(*expected_minor)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(booked: u32, [resellable, damaged, missing, wrong_item]: [u32; 4]) -> LineProgress {
        LineProgress {
            line_id: "L1".into(),
            sku: "S1".into(),
            booked,
            unit_price_minor: 1000,
            resellable,
            damaged,
            missing,
            wrong_item,
        }
    }

    #[test]
    fn every_condition_accounts_for_units_but_only_sent_back_items_are_refundable() {
        let mixed = line(4, [1, 1, 1, 1]);
        assert_eq!((mixed.received(), mixed.accounted(), mixed.refundable()), (3, 4, 2));
        assert!(mixed.is_accounted_for());
        assert_eq!(mixed.expected_refund_minor(), 2000);
        assert!(!line(4, [1, 1, 1, 0]).is_accounted_for());
    }

    #[test]
    fn refundable_units_never_exceed_the_booking() {
        let over_received = line(1, [3, 0, 0, 0]);
        assert_eq!(
            (over_received.refundable(), over_received.expected_refund_minor()),
            (1, 1000)
        );
    }

    #[test]
    fn the_refund_settles_by_amount_or_by_a_final_refund() {
        let eur = Currency::parse("EUR").unwrap();
        let refund = |refunded_minor, final_refund_seen| RefundProgress {
            currency: eur.clone(),
            expected_minor: 4999,
            refunded_minor,
            final_refund_seen,
        };
        assert!(!refund(4998, false).is_settled());
        assert!(refund(4999, false).is_settled());
        assert!(refund(6000, false).is_settled());
        assert!(refund(100, true).is_settled());
        assert_eq!(
            (
                refund(3499, false).outstanding_minor(),
                refund(6000, false).outstanding_minor()
            ),
            (1500, 0)
        );
    }

    #[test]
    fn missing_pieces_read_as_sentences() {
        let pieces = [
            MissingPiece::BookingNotSeen,
            MissingPiece::ItemsOutstanding {
                line_id: "L1".into(),
                sku: "S1".into(),
                booked: 2,
                accounted: 1,
            },
            MissingPiece::RefundOutstanding {
                currency: Currency::parse("EUR").unwrap(),
                expected_minor: 4999,
                refunded_minor: 3499,
            },
        ];
        let text: Vec<String> = pieces.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "booking: not seen",
                "line L1: 1 of 2 not received",
                "refund: 15.00 of 49.99 EUR outstanding"
            ]
        );
    }
}
