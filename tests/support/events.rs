//! Realistic return events (the bodies in `tests/fixtures/events`, shaped like `samples/messages.jsonl`) and the
//! domain objects built from them through the domain API, as the handler builds them.

use chrono::{DateTime, Duration, TimeZone, Utc};
use returns_aggregator::domain::{
    parse_event, DomainConfig, ReturnAggregate, ReturnEvent, ReturnId, ReturnStatus, ReturnStuckAlert,
};
use serde_json::{json, Value};

use super::host::fixture;

/// The return id the fixture events are about.
pub const FIXTURE_RETURN_ID: &str = "RET-2025-910001";

/// The four kinds of event body in the fixtures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `return_booked.json`: two lines, 2 × 24.99 and 1 × 49.99 EUR.
    Booked,
    /// `return_items_received.json`: every booked unit arrives (resellable or damaged).
    Received,
    /// `refund_issued.json`: the full 99.97 EUR.
    Refunded,
    /// `return_cancelled.json`.
    Cancelled,
}

impl Kind {
    fn file(self) -> &'static str {
        match self {
            Kind::Booked => "events/return_booked.json",
            Kind::Received => "events/return_items_received.json",
            Kind::Refunded => "events/refund_issued.json",
            Kind::Cancelled => "events/return_cancelled.json",
        }
    }
}

/// The body of a `kind` event about `return_id`.
pub fn body(kind: Kind, return_id: &str) -> Value {
    let mut body = fixture(kind.file());
    body["returnId"] = json!(return_id);
    body
}

/// The booked, received and refunded bodies about `return_id`: together they settle the return.
pub fn settling_bodies(return_id: &str) -> Vec<Value> {
    [Kind::Booked, Kind::Received, Kind::Refunded]
        .into_iter()
        .map(|kind| body(kind, return_id))
        .collect()
}

/// `raw` as a return id.
#[track_caller]
pub fn return_id(raw: &str) -> ReturnId {
    ReturnId::parse(raw).unwrap_or_else(|error| panic!("{raw:?} is not a valid return id: {error}"))
}

/// Parses `body` with the handler's parser (no hints: the body names its type and id).
#[track_caller]
pub fn event(body: &Value) -> ReturnEvent {
    parse_event(None, None, body.to_string().as_bytes()).unwrap_or_else(|error| panic!("invalid test event: {error}"))
}

/// A fixed processing time.
pub fn processing_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 15, 9, 0, 0).unwrap()
}

/// The aggregate of `return_id` after the booked, received and refunded events: settled.
pub fn settled_aggregate(return_id: &str) -> ReturnAggregate {
    let mut aggregate = ReturnAggregate::new(self::return_id(return_id));
    for (minutes, body) in settling_bodies(return_id).iter().enumerate() {
        let outcome = aggregate.apply(&event(body), processing_time() + Duration::minutes(minutes as i64));
        assert_eq!(
            outcome.disposition.label(),
            "applied",
            "fixture event {body} was not applied"
        );
    }
    assert_eq!(
        aggregate.status(),
        ReturnStatus::Settled,
        "the fixture events do not settle the return"
    );
    aggregate
}

/// The aggregate of `return_id` after the booking only: open.
pub fn open_aggregate(return_id: &str) -> ReturnAggregate {
    let mut aggregate = ReturnAggregate::new(self::return_id(return_id));
    let _ = aggregate.apply(&event(&body(Kind::Booked, return_id)), processing_time());
    aggregate
}

/// The stuck alert of a return that was booked and then nothing happened for longer than the deadline.
pub fn stuck_alert(return_id: &str) -> ReturnStuckAlert {
    let config = DomainConfig::default();
    open_aggregate(return_id)
        .check_stuck(processing_time() + Duration::days(31), &config)
        .expect("a return open past its deadline raises an alert")
}
