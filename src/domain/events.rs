//! The events about a return, schema version 1, as the rest of the app sees them once parsed.
//!
//! # Wire format
//!
//! Every event is one flat JSON object: the envelope fields and the fields of its type side by side.
//!
//! | field | type | |
//! |---|---|---|
//! | `eventId` | string, 1..=128 bytes of UTF-8, no whitespace or control characters | falls back to the Service Bus message id |
//! | `eventType` | string, see [aliases](EventType::from_name) | falls back to the message subject / properties |
//! | `schemaVersion` | `1`, `"1"` or `"1.<minor>"` | absent means 1; any other major version is rejected |
//! | `source` | string, 1..=128 bytes, optional | the producer; part of the de-duplication key |
//! | `occurredAt` | RFC 3339 timestamp | |
//! | `returnId` | 1..=100 characters of `[A-Za-z0-9._-]` | the aggregation key |
//! | `correlationId` | string, optional | |
//!
//! Then, per [`EventType`]:
//! - `ReturnBooked`: `orderId`, `customerId`, `market`?, `locale`?, `bookedAt`, `returnMethod`?,
//!   `items: [{lineId, sku, quantity (1..=10000), unitPrice: {amountMinor, currency}}]` (1..=100 items, distinct
//!   line ids, one currency).
//! - `ReturnItemsReceived` (one per parcel): `parcelId`, `warehouseId`, `receivedAt`,
//!   `items: [{lineId, sku, quantity (0..=10000), condition: Resellable|Damaged|Missing|WrongItem}]`.
//! - `RefundIssued`: `refundId`, `amount: {amountMinor, currency}`, `lines`?: `[{lineId, amountMinor}]` (their sum
//!   may not exceed the amount), `paymentReference`, `issuedAt`, `final`? (default `false`).
//! - `ReturnCancelled`: `reason`, `cancelledAt`.
//!
//! Identifiers (ids, SKUs, references, market, locale) hold 1..=128 bytes of UTF-8 without control characters; a
//! cancellation `reason` up to 500 bytes (see [`limits`](super::limits)). Unknown fields are ignored (minor
//! versions may add fields). [`parse_event`](super::parse_event) reads this format; [`ReturnEvent::to_wire_json`]
//! writes it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::identifiers::{EventKey, ReturnId};
use super::money::Money;

/// The schema major version this build reads and writes.
pub const SCHEMA_VERSION: u64 = 1;

/// The kinds of event folded into a return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// The customer booked the return (owned by the returns team).
    ReturnBooked,
    /// The warehouse processed one parcel of the return.
    ReturnItemsReceived,
    /// Payments issued (part of) the refund.
    RefundIssued,
    /// The return was cancelled before it was settled.
    ReturnCancelled,
}

impl EventType {
    /// Every event type, in lifecycle order.
    pub const ALL: [EventType; 4] = [
        EventType::ReturnBooked,
        EventType::ReturnItemsReceived,
        EventType::RefundIssued,
        EventType::ReturnCancelled,
    ];

    /// The canonical name, as written in `eventType`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ReturnBooked => "ReturnBooked",
            EventType::ReturnItemsReceived => "ReturnItemsReceived",
            EventType::RefundIssued => "RefundIssued",
            EventType::ReturnCancelled => "ReturnCancelled",
        }
    }

    /// Recognises an event type name and the major version it may carry.
    ///
    /// Accepted, case-insensitively, with `.`, `_` and `-` ignored and an optional trailing `.v<N>` version
    /// segment (returned as `Some(N)`):
    /// - `ReturnBooked`: `ReturnBooked`, `return.booked`, `returns.booked`;
    /// - `ReturnItemsReceived`: `ReturnItemsReceived`, `return.items_received`, `returns.items.received`,
    ///   `return.received`, `returns.received`;
    /// - `RefundIssued`: `RefundIssued`, `refund.issued`, `return.refund.issued`, `returns.refund_issued`;
    /// - `ReturnCancelled`: `ReturnCancelled`, `return.cancelled`, `returns.cancelled` (also spelt `canceled`).
    ///
    /// So `returns.booked.v1`, `RETURN_BOOKED` and `return-booked` all name `ReturnBooked`.
    pub fn from_name(name: &str) -> Option<(EventType, Option<u64>)> {
        let lowered = name.trim().to_ascii_lowercase();
        let mut segments: Vec<&str> = lowered.split(['.', '_', '-']).filter(|s| !s.is_empty()).collect();
        let version = match segments.as_slice() {
            [_, .., last] => parse_version_segment(last),
            _ => None,
        };
        if version.is_some() {
            segments.pop();
        }
        let event_type = match segments.concat().as_str() {
            "returnbooked" | "returnsbooked" => EventType::ReturnBooked,
            "returnitemsreceived" | "returnsitemsreceived" | "returnreceived" | "returnsreceived" => {
                EventType::ReturnItemsReceived
            }
            "refundissued" | "returnrefundissued" | "returnsrefundissued" => EventType::RefundIssued,
            "returncancelled" | "returnscancelled" | "returncanceled" | "returnscanceled" => EventType::ReturnCancelled,
            _ => return None,
        };
        Some((event_type, version))
    }
}

fn parse_version_segment(segment: &str) -> Option<u64> {
    let digits = segment.strip_prefix('v')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields every event carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// The producer's id of the event (or the Service Bus message id when the body has none).
    pub event_id: String,
    /// The producer, when named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When the producer says the event happened.
    #[serde(with = "super::timestamp_json")]
    pub occurred_at: DateTime<Utc>,
    /// The return the event is about: the aggregation key.
    pub return_id: ReturnId,
    /// The producer's correlation id, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

/// A parsed, validated event.
///
/// Its serde form is the canonical wire form without `schemaVersion` (envelope and payload fields side by side,
/// `eventType` naming the payload): what the Service Bus function signals to the entity, which reads it back with
/// serde instead of parsing it again. Only [`parse_event`](super::parse_event) validates: build events with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnEvent {
    /// The common fields.
    #[serde(flatten)]
    pub envelope: Envelope,
    /// The type-specific fields.
    #[serde(flatten)]
    pub payload: EventPayload,
}

/// The type-specific part of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "eventType")]
pub enum EventPayload {
    /// See [`ReturnBooked`].
    ReturnBooked(ReturnBooked),
    /// See [`ReturnItemsReceived`].
    ReturnItemsReceived(ReturnItemsReceived),
    /// See [`RefundIssued`].
    RefundIssued(RefundIssued),
    /// See [`ReturnCancelled`].
    ReturnCancelled(ReturnCancelled),
}

impl ReturnEvent {
    /// The type of the event.
    pub fn event_type(&self) -> EventType {
        match self.payload {
            EventPayload::ReturnBooked(_) => EventType::ReturnBooked,
            EventPayload::ReturnItemsReceived(_) => EventType::ReturnItemsReceived,
            EventPayload::RefundIssued(_) => EventType::RefundIssued,
            EventPayload::ReturnCancelled(_) => EventType::ReturnCancelled,
        }
    }

    /// The return the event is about.
    pub fn return_id(&self) -> &ReturnId {
        &self.envelope.return_id
    }

    /// The de-duplication key: source + event id (see [`EventKey`]).
    pub fn event_key(&self) -> EventKey {
        EventKey::new(self.envelope.source.as_deref(), &self.envelope.event_id)
    }

    /// The event in its canonical wire form (`eventType` and `schemaVersion` filled in), which
    /// [`parse_event`](super::parse_event) reads back to an equal event.
    pub fn to_wire_json(&self) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        object.insert("schemaVersion".into(), SCHEMA_VERSION.into());
        // Plain structs of strings, numbers and timestamps always serialise to an object.
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(self) {
            object.extend(fields);
        }
        serde_json::Value::Object(object)
    }
}

/// The customer booked a return of some order lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnBooked {
    /// The order the items were bought in.
    pub order_id: String,
    /// The customer (an opaque id; the only personal reference the domain keeps).
    pub customer_id: String,
    /// The market, e.g. `DE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    /// The customer's locale, e.g. `de-DE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The booked lines (at least one; distinct line ids; one currency).
    pub items: Vec<BookedItem>,
    /// When the return was booked.
    #[serde(with = "super::timestamp_json")]
    pub booked_at: DateTime<Utc>,
    /// How the parcel travels back (`DropOff`, `Courier`…), free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_method: Option<String>,
}

/// One booked order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookedItem {
    /// The order line id.
    pub line_id: String,
    /// The stock keeping unit.
    pub sku: String,
    /// How many units the customer sends back (at least 1).
    pub quantity: u32,
    /// The price paid per unit.
    pub unit_price: Money,
}

/// The warehouse processed one parcel of the return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnItemsReceived {
    /// The parcel (one event per parcel).
    pub parcel_id: String,
    /// The warehouse that processed it.
    pub warehouse_id: String,
    /// When it was processed.
    #[serde(with = "super::timestamp_json")]
    pub received_at: DateTime<Utc>,
    /// What was found, per line and condition (at least one entry).
    pub items: Vec<ReceivedItem>,
}

/// A count of units of one line found in one condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedItem {
    /// The order line id.
    pub line_id: String,
    /// The stock keeping unit.
    pub sku: String,
    /// How many units (may be 0).
    pub quantity: u32,
    /// Their condition.
    pub condition: ItemCondition,
}

/// The condition of received units, as the warehouse reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ItemCondition {
    /// Received and fit for resale.
    Resellable,
    /// Received damaged.
    Damaged,
    /// Not in the parcel: the warehouse reports the units missing.
    Missing,
    /// The parcel held something other than the booked item.
    WrongItem,
}

impl ItemCondition {
    /// Every condition.
    pub const ALL: [ItemCondition; 4] = [
        ItemCondition::Resellable,
        ItemCondition::Damaged,
        ItemCondition::Missing,
        ItemCondition::WrongItem,
    ];

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemCondition::Resellable => "Resellable",
            ItemCondition::Damaged => "Damaged",
            ItemCondition::Missing => "Missing",
            ItemCondition::WrongItem => "WrongItem",
        }
    }

    /// Recognises a condition name, case-insensitively (`_` and `-` ignored: `wrong_item` is `WrongItem`).
    pub fn from_name(name: &str) -> Option<ItemCondition> {
        let folded: String = name.chars().filter(|c| !matches!(c, '_' | '-')).collect();
        ItemCondition::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(&folded))
    }

    /// Whether units in this condition are owed a refund: the customer sent back the booked item
    /// (`Resellable`, `Damaged`). `Missing` and `WrongItem` units are accounted for but not refundable.
    pub fn is_refundable(self) -> bool {
        matches!(self, ItemCondition::Resellable | ItemCondition::Damaged)
    }

    /// Whether units in this condition physically arrived (everything but `Missing`).
    pub fn is_physically_received(self) -> bool {
        self != ItemCondition::Missing
    }
}

impl std::fmt::Display for ItemCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Payments issued (part of) the refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundIssued {
    /// The refund transaction.
    pub refund_id: String,
    /// The amount refunded.
    pub amount: Money,
    /// How the amount splits over order lines (may be empty; the sum never exceeds `amount`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<RefundLine>,
    /// The payment provider's reference.
    pub payment_reference: String,
    /// When it was issued.
    #[serde(with = "super::timestamp_json")]
    pub issued_at: DateTime<Utc>,
    /// Payments marks the last refund of a return as final: no further refund will follow.
    #[serde(rename = "final", default)]
    pub is_final: bool,
}

/// The part of a refund attributed to one order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundLine {
    /// The order line id.
    pub line_id: String,
    /// The amount in minor units of the refund's currency.
    pub amount_minor: i64,
}

/// The return was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnCancelled {
    /// Why (free text from the producer).
    pub reason: String,
    /// When.
    #[serde(with = "super::timestamp_json")]
    pub cancelled_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_round_trip() {
        for event_type in EventType::ALL {
            assert_eq!(EventType::from_name(event_type.as_str()), Some((event_type, None)));
        }
    }

    #[test]
    fn aliases_name_the_same_types() {
        let cases = [
            ("return.booked", EventType::ReturnBooked, None),
            ("returns.booked.v1", EventType::ReturnBooked, Some(1)),
            ("RETURN_BOOKED", EventType::ReturnBooked, None),
            ("returns.items.received.v1", EventType::ReturnItemsReceived, Some(1)),
            ("return.received", EventType::ReturnItemsReceived, None),
            ("refund.issued", EventType::RefundIssued, None),
            ("returns.refund_issued.v2", EventType::RefundIssued, Some(2)),
            ("return.canceled", EventType::ReturnCancelled, None),
        ];
        for (name, event_type, version) in cases {
            assert_eq!(EventType::from_name(name), Some((event_type, version)), "{name}");
        }
    }

    #[test]
    fn unknown_names_are_not_guessed() {
        for name in ["ReturnShipped", "booked", "v1", "", "returns.booked.vx", "refund"] {
            assert_eq!(EventType::from_name(name), None, "{name}");
        }
    }

    #[test]
    fn conditions_parse_case_insensitively_and_classify() {
        assert_eq!(ItemCondition::from_name("wrong_item"), Some(ItemCondition::WrongItem));
        assert_eq!(ItemCondition::from_name("DAMAGED"), Some(ItemCondition::Damaged));
        assert_eq!(ItemCondition::from_name("Broken"), None);
        let refundable: Vec<_> = ItemCondition::ALL.into_iter().filter(|c| c.is_refundable()).collect();
        assert_eq!(refundable, [ItemCondition::Resellable, ItemCondition::Damaged]);
        assert!(!ItemCondition::Missing.is_physically_received());
        assert!(ItemCondition::WrongItem.is_physically_received());
    }
}
