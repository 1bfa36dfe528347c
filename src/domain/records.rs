//! The facts an aggregate keeps about a return, in the compact shape persisted as entity state.
//!
//! Records are decoupled from the wire events on purpose: the state schema can evolve without the event schema and
//! the other way round. Each record remembers the [`EventKey`] it came from (de-duplication and lineage).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::{EventType, ItemCondition, RefundIssued, ReturnBooked, ReturnCancelled, ReturnItemsReceived};
use super::identifiers::EventKey;
use super::limits::MAX_IDENTIFIER_BYTES;
use super::money::Currency;

/// The booking of the return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    /// The event it came from (the smallest key, when several events stated the same fact).
    pub event_key: EventKey,
    /// When the aggregate processed that event.
    #[serde(with = "super::timestamp_json")]
    pub processed_at: DateTime<Utc>,
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
    #[serde(with = "super::timestamp_json")]
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
    pub fn from_event(event_key: EventKey, event: &ReturnBooked, processed_at: DateTime<Utc>) -> Self {
        Self {
            event_key,
            processed_at,
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
}

/// One processed parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parcel {
    /// The event it came from (the smallest key, when several events stated the same fact).
    pub event_key: EventKey,
    /// When the aggregate processed that event.
    #[serde(with = "super::timestamp_json")]
    pub processed_at: DateTime<Utc>,
    /// The parcel id: the business key of the fact.
    pub parcel_id: String,
    /// The warehouse that processed it.
    pub warehouse_id: String,
    /// When.
    #[serde(with = "super::timestamp_json")]
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
    pub fn from_event(event_key: EventKey, event: &ReturnItemsReceived, processed_at: DateTime<Utc>) -> Self {
        Self {
            event_key,
            processed_at,
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
}

/// One issued refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// The event it came from (the smallest key, when several events stated the same fact).
    pub event_key: EventKey,
    /// When the aggregate processed that event.
    #[serde(with = "super::timestamp_json")]
    pub processed_at: DateTime<Utc>,
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
    #[serde(with = "super::timestamp_json")]
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
    pub fn from_event(event_key: EventKey, event: &RefundIssued, processed_at: DateTime<Utc>) -> Self {
        Self {
            event_key,
            processed_at,
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
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// The cancellation of the return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cancellation {
    /// The event it came from (the smallest key, when several events stated the same fact).
    pub event_key: EventKey,
    /// When the aggregate processed that event.
    #[serde(with = "super::timestamp_json")]
    pub processed_at: DateTime<Utc>,
    /// The producer's reason.
    pub reason: String,
    /// When.
    #[serde(with = "super::timestamp_json")]
    pub cancelled_at: DateTime<Utc>,
}

impl Cancellation {
    /// The record of a parsed cancellation.
    pub fn from_event(event_key: EventKey, event: &ReturnCancelled, processed_at: DateTime<Utc>) -> Self {
        Self {
            event_key,
            processed_at,
            reason: event.reason.clone(),
            cancelled_at: event.cancelled_at,
        }
    }
}

/// An event that does not count towards the return, with the reason, so support can see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedEvent {
    /// The event.
    pub event_key: EventKey,
    /// Its type.
    pub event_type: EventType,
    /// Why it does not count (the text of the [`Conflict`](super::aggregate::Conflict)).
    pub reason: String,
}

/// An event that arrived after the return closed: it changes nothing, but is recorded so it is not lost in
/// silence (a refund after the settlement, for example).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LateEvent {
    /// The event.
    pub event_key: EventKey,
    /// Its type.
    pub event_type: EventType,
    /// When the aggregate processed it.
    #[serde(with = "super::timestamp_json")]
    pub processed_at: DateTime<Utc>,
    /// What it said, in a few words (`refund R2: 5.00 EUR`).
    pub summary: String,
    /// The [fingerprint](Fact::fingerprint) of its fact (a redelivery is a duplicate, not another late event).
    pub fingerprint: String,
}

/// An event the ingress accepted and signalled to its return, as the ingress's later check names it: the check
/// asks the return whether it recorded the event, so a lost entity batch cannot lose an event in silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedEvent {
    /// The event.
    pub event_key: EventKey,
    /// Its type.
    pub event_type: EventType,
    /// The [fingerprint](Fact::fingerprint) of its fact (the same fact recorded under another key counts as
    /// recorded).
    pub fingerprint: String,
    /// The Service Bus `MessageId` it came in (cut to [`MAX_IDENTIFIER_BYTES`]), what an operator looks for in
    /// the audit copy of the events topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// When the ingress accepted it.
    #[serde(with = "super::timestamp_json")]
    pub accepted_at: DateTime<Utc>,
}

impl AcceptedEvent {
    /// The accepted event `event_key` of `event_type` stating the fact with `fingerprint`, received in
    /// `message_id` and accepted at `accepted_at`; the message id is cut to [`MAX_IDENTIFIER_BYTES`] (it is stored on
    /// the return when the event is not recorded, and a return's state is bounded).
    pub fn new(
        event_key: EventKey,
        event_type: EventType,
        fingerprint: String,
        message_id: Option<&str>,
        accepted_at: DateTime<Utc>,
    ) -> Self {
        let message_id = message_id.map(|id| {
            let mut end = id.len().min(MAX_IDENTIFIER_BYTES);
            while !id.is_char_boundary(end) {
                end -= 1;
            }
            id[..end].to_owned()
        });
        Self {
            event_key,
            event_type,
            fingerprint,
            message_id,
            accepted_at,
        }
    }
}

/// A fact the aggregate records: one per kind of event. Two records state the same fact when they differ only
/// in the event they came from and when it was processed.
pub trait Fact: Clone + Serialize {
    /// The event it came from.
    fn event_key(&self) -> &EventKey;
    /// When the aggregate processed that event.
    fn processed_at(&self) -> DateTime<Utc>;
    /// Points the record at `key`, processed at `processed_at`.
    fn restamp(&mut self, key: EventKey, processed_at: DateTime<Utc>);
    /// The business key: facts with the same one are versions of each other (the parcel id, the refund id; the
    /// empty string for the booking, of which a return has one).
    fn business_key(&self) -> &str;

    /// Whether `other` states the same fact.
    fn same_facts(&self, other: &Self) -> bool {
        self.canonical() == other.canonical()
    }

    /// A short fingerprint of [`canonical`](Self::canonical): equal for equal facts (a UUID v5, 32 hex digits).
    fn fingerprint(&self) -> String {
        fingerprint_of(&self.canonical())
    }

    /// The fact alone, as JSON text (without the event key and processing time): equal for equal facts, and a
    /// total order between versions.
    fn canonical(&self) -> String {
        let mut copy = self.clone();
        copy.restamp(EventKey::new(None, ""), DateTime::<Utc>::MIN_UTC);
        serde_json::to_string(&copy).unwrap_or_default()
    }
}

/// The namespace of fact fingerprints.
const FINGERPRINT_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6d1f_0a3c_52e4_4b8e_a1c7_93d2_5f08_be41);

fn fingerprint_of(canonical: &str) -> String {
    uuid::Uuid::new_v5(&FINGERPRINT_NAMESPACE, canonical.as_bytes())
        .simple()
        .to_string()
}

/// Implements [`Fact`] for a record with `event_key` and `processed_at` fields; `|record| <expr>` gives its
/// business key.
macro_rules! impl_fact {
    ($record:ty, |$this:ident| $business_key:expr) => {
        impl Fact for $record {
            fn event_key(&self) -> &EventKey {
                &self.event_key
            }
            fn processed_at(&self) -> DateTime<Utc> {
                self.processed_at
            }
            fn restamp(&mut self, key: EventKey, processed_at: DateTime<Utc>) {
                self.event_key = key;
                self.processed_at = processed_at;
            }
            fn business_key(&self) -> &str {
                let $this = self;
                $business_key
            }
        }
    };
}

impl_fact!(Booking, |_booking| "");
impl_fact!(Parcel, |parcel| &parcel.parcel_id);
impl_fact!(Refund, |refund| &refund.refund_id);
impl_fact!(Cancellation, |_cancellation| "");
