//! The limits of one event and of one return, and what happens at them (the README's "Limits" table states the
//! same).
//!
//! Identifiers and texts are limited in **bytes** of UTF-8, not characters, and a return holds a bounded number of
//! records, so no sequence of valid events can grow a return's stored state, or any message built from it, past
//! [`MAX_STATE_BYTES`] (`tests/domain_limits.rs` proves it): far below the 4 MiB a gRPC message may carry.
//!
//! - A field over its limit makes the event invalid at ingress: it is kept on the invalid-events queue.
//! - A return at one of its caps refuses the event (kept on the invalid-events queue with reason
//!   `ReturnTooLarge`), stops settling by itself, and raises its stuck alert at once, naming the cap.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest identifier (order id, SKU, parcel id, event id…), in bytes of UTF-8.
pub const MAX_IDENTIFIER_BYTES: usize = 128;
/// The longest `source` of an event, in bytes of UTF-8.
pub const MAX_SOURCE_BYTES: usize = 128;
/// The longest free text (a cancellation reason), in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 500;
/// The most lines (booked items, received items, refund lines) one event may list.
pub const MAX_LINES_PER_EVENT: usize = 100;
/// The most versions of the booking one return records (two different bookings are a conflict; a third is refused).
pub const MAX_BOOKING_VERSIONS: usize = 2;
/// The most parcels one return records (versions included).
pub const MAX_PARCELS: usize = 100;
/// The most refunds one return records (versions included).
pub const MAX_REFUNDS: usize = 100;
/// The most lines one return records over all its parcels and refunds.
pub const MAX_RECORDED_LINES: usize = 1_000;
/// The most refused, or late, events listed one by one on a return; beyond, they are counted.
pub const MAX_LISTED_EVENTS: usize = 20;
/// The bound on a return's stored state, and on every message built from it (notification, alert, kept event),
/// in bytes of JSON.
pub const MAX_STATE_BYTES: usize = 1024 * 1024;

/// A cap of one return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Limit {
    /// [`MAX_BOOKING_VERSIONS`].
    BookingVersions,
    /// [`MAX_PARCELS`].
    Parcels,
    /// [`MAX_REFUNDS`].
    Refunds,
    /// [`MAX_RECORDED_LINES`].
    RecordedLines,
}

impl Limit {
    /// The number the cap allows.
    pub fn cap(self) -> usize {
        match self {
            Limit::BookingVersions => MAX_BOOKING_VERSIONS,
            Limit::Parcels => MAX_PARCELS,
            Limit::Refunds => MAX_REFUNDS,
            Limit::RecordedLines => MAX_RECORDED_LINES,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Limit::BookingVersions => "booking versions",
            Limit::Parcels => "parcels",
            Limit::Refunds => "refunds",
            Limit::RecordedLines => "recorded lines",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the cap of {} {} per return", self.cap(), self.what())
    }
}
