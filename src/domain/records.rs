//! The facts an aggregate keeps about a return, in the compact shape persisted as entity state.
//!
//! Records are decoupled from the wire events on purpose: the state schema can evolve without the event schema and
//! the other way round. Each record remembers the [`EventKey`] it came from (de-duplication and lineage).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::{EventType, ItemCondition, RefundIssued, ReturnBooked, ReturnCancelled, ReturnItemsReceived};
use super::identifiers::EventKey;
use super::money::Currency;

/// The booking of the return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    /// The event it came from.
    pub event_key: EventKey,
    /// The order.
    pub order_id: String,
    /// The customer (opaque id).
    pub customer_id: String,
    /// The market, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    /// The customer's locale, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// How the parcel travels back, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_method: Option<String>,
    /// When the return was booked.
    pub booked_at: DateTime<Utc>,
    /// The one currency of the return.
    pub currency: Currency,
    /// The booked lines, in booking order.
    pub lines: Vec<BookedLine>,
}

/// One booked line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookedLine {
    /// The order line id.
    pub line_id: String,
    /// The stock keeping unit.
    pub sku: String,
    /// Units booked for return.
    pub quantity: u32,
    /// Price per unit in minor units of the booking currency.
    pub unit_price_minor: i64,
}

impl Booking {
    /// The record of a parsed booking (the parser guarantees at least one item and a single currency).
    pub fn from_event(event_key: EventKey, event: &ReturnBooked) -> Self {
        Self {
            event_key,
            order_id: event.order_id.clone(),
            customer_id: event.customer_id.clone(),
            market: event.market.clone(),
            locale: event.locale.clone(),
            return_method: event.return_method.clone(),
            booked_at: event.booked_at,
            currency: event.items[0].unit_price.currency.clone(),
            lines: event
                .items
                .iter()
                .map(|item| BookedLine {
                    line_id: item.line_id.clone(),
                    sku: item.sku.clone(),
                    quantity: item.quantity,
                    unit_price_minor: item.unit_price.amount_minor,
                })
                .collect(),
        }
    }

    /// The booked line `line_id`, if any.
    pub fn line(&self, line_id: &str) -> Option<&BookedLine> {
        self.lines.iter().find(|line| line.line_id == line_id)
    }

    /// Whether `other` states the same booking (whatever event it came in).
    pub fn same_facts(&self, other: &Self) -> bool {
        *self
            == Self {
                event_key: self.event_key.clone(),
                ..other.clone()
            }
    }
}

/// One processed parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parcel {
    /// The event it came from.
    pub event_key: EventKey,
    /// The parcel id: the business key of the fact.
    pub parcel_id: String,
    /// The warehouse that processed it.
    pub warehouse_id: String,
    /// When.
    pub received_at: DateTime<Utc>,
    /// Units per line and condition, in the order reported.
    pub lines: Vec<ReceivedLine>,
}

/// Units of one line found in one condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedLine {
    /// The order line id.
    pub line_id: String,
    /// How many units.
    pub quantity: u32,
    /// In which condition.
    pub condition: ItemCondition,
}

impl Parcel {
    /// The record of a parsed parcel.
    pub fn from_event(event_key: EventKey, event: &ReturnItemsReceived) -> Self {
        Self {
            event_key,
            parcel_id: event.parcel_id.clone(),
            warehouse_id: event.warehouse_id.clone(),
            received_at: event.received_at,
            lines: event
                .items
                .iter()
                .map(|item| ReceivedLine {
                    line_id: item.line_id.clone(),
                    quantity: item.quantity,
                    condition: item.condition,
                })
                .collect(),
        }
    }

    /// Whether `other` states the same parcel.
    pub fn same_facts(&self, other: &Self) -> bool {
        *self
            == Self {
                event_key: self.event_key.clone(),
                ..other.clone()
            }
    }
}

/// One issued refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// The event it came from.
    pub event_key: EventKey,
    /// The refund id: the business key of the fact.
    pub refund_id: String,
    /// The amount in minor units.
    pub amount_minor: i64,
    /// Its currency.
    pub currency: Currency,
    /// Amounts per line, when payments split them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<RefundedLine>,
    /// The payment provider's reference.
    pub payment_reference: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// Payments marked it as the last refund of the return.
    #[serde(rename = "final", default, skip_serializing_if = "is_false")]
    pub is_final: bool,
}

/// The part of a refund attributed to a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundedLine {
    /// The order line id.
    pub line_id: String,
    /// The amount in minor units.
    pub amount_minor: i64,
}

impl Refund {
    /// The record of a parsed refund.
    pub fn from_event(event_key: EventKey, event: &RefundIssued) -> Self {
        Self {
            event_key,
            refund_id: event.refund_id.clone(),
            amount_minor: event.amount.amount_minor,
            currency: event.amount.currency.clone(),
            lines: event
                .lines
                .iter()
                .map(|line| RefundedLine {
                    line_id: line.line_id.clone(),
                    amount_minor: line.amount_minor,
                })
                .collect(),
            payment_reference: event.payment_reference.clone(),
            issued_at: event.issued_at,
            is_final: event.is_final,
        }
    }

    /// Whether `other` states the same refund.
    pub fn same_facts(&self, other: &Self) -> bool {
        *self
            == Self {
                event_key: self.event_key.clone(),
                ..other.clone()
            }
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// The cancellation of the return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cancellation {
    /// The event it came from.
    pub event_key: EventKey,
    /// The producer's reason.
    pub reason: String,
    /// When.
    pub cancelled_at: DateTime<Utc>,
}

impl Cancellation {
    /// The record of a parsed cancellation.
    pub fn from_event(event_key: EventKey, event: &ReturnCancelled) -> Self {
        Self {
            event_key,
            reason: event.reason.clone(),
            cancelled_at: event.cancelled_at,
        }
    }
}

/// An event the aggregate refused, kept so support can see the conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedEvent {
    /// The refused event.
    pub event_key: EventKey,
    /// Its type.
    pub event_type: EventType,
    /// Why it was refused (the text of the [`Conflict`](super::aggregate::Conflict)).
    pub reason: String,
}
