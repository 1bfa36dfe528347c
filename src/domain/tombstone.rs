//! What a closed return keeps once its details are dropped: enough to refuse redeliveries and to tell support its
//! story (what arrived and when, how it ended, what did not count), bounded by the return's own
//! [limits](super::limits).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::EventType;
use super::identifiers::EventKey;
use super::money::Currency;
use super::records::RejectedEvent;

/// The compact summary of a closed return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tombstone {
    /// The order of the return, when the booking was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Every recorded event, in the order it was processed.
    pub events: Vec<EventTrace>,
    /// The refund totals, when the booking was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<RefundTotals>,
    /// Units booked, received and reported missing, when the booking was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<UnitTotals>,
    /// Events that did not count, with their reasons (contradicted by the booking, refused, in conflict).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<RejectedEvent>,
    /// The conflicts and the cap that held the return, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_because: Vec<String>,
}

/// One recorded event: its type, its key and when it was processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTrace {
    /// The event's type.
    pub event_type: EventType,
    /// Its key (source and id).
    pub event_key: EventKey,
    /// When the aggregate processed it.
    #[serde(with = "super::timestamp_json")]
    pub processed_at: DateTime<Utc>,
    /// The [fingerprint](super::records::Fact::fingerprint) of its fact.
    pub fingerprint: String,
}

/// The refund of a closed return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundTotals {
    /// The booking currency.
    pub currency: Currency,
    /// What the refundable units were worth, in minor units.
    pub expected_minor: i64,
    /// What the counted refunds added up to, in minor units.
    pub refunded_minor: i64,
}

/// The units of a closed return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitTotals {
    /// Units booked.
    pub booked: u64,
    /// Units that arrived.
    pub received: u64,
    /// Units reported missing.
    pub missing: u64,
}

impl Tombstone {
    /// The keys of the rejected events (redeliveries of them are duplicates).
    pub fn rejected_keys(&self) -> impl Iterator<Item = &EventKey> {
        self.rejected.iter().map(|rejected| &rejected.event_key)
    }
}
