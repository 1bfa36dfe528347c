//! Bounded state: no sequence of valid events takes a return's stored state, or any message the handler sends
//! about it (the orchestration input: notification, alert or kept event), past `MAX_STATE_BYTES` (1 MiB), far below
//! the 4 MiB a gRPC message may carry.
//!
//! The events are the largest ingress accepts: every identifier 128 bytes of `"` (each escaped to two bytes in
//! JSON), 100 lines per event, every cap of the return filled and overrun.

use std::collections::HashMap;

use durabletask_sdk::entity::execute_entity_batch;
use durabletask_sdk::proto::operation_action::OperationActionType;
use durabletask_sdk::proto::{EntityBatchRequest, OperationRequest};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use returns_aggregator::config::Config;
use returns_aggregator::domain::limits::{
    MAX_BOOKING_VERSIONS, MAX_IDENTIFIER_BYTES, MAX_LINES_PER_EVENT, MAX_PARCELS, MAX_RECORDED_LINES, MAX_REFUNDS,
    MAX_SOURCE_BYTES, MAX_STATE_BYTES, MAX_TEXT_BYTES,
};
use returns_aggregator::domain::{
    parse_event, DomainConfig, InvalidEventRecord, KeptBody, Limit, ReturnAggregate, ReturnEvent, ReturnId,
    ReturnSettledNotification, ReturnStatus,
};
use returns_aggregator::durable::{self, AggregateOperation};
use serde_json::{json, Value};

const RETURN_ID: &str = "RET-2025-LIMITS";

/// An identifier of `bytes` bytes: `tag`, then `"` (two bytes once escaped in JSON).
fn id(tag: &str, bytes: usize) -> String {
    format!("{tag}{}", "\"".repeat(bytes.saturating_sub(tag.len())))
}

fn timestamp() -> &'static str {
    "2025-03-01T08:00:00.123456789+01:00"
}

/// The envelope of event `n` from the largest source.
fn envelope(event_type: &str, n: usize, size: usize) -> Value {
    json!({
        "eventId": id(&format!("e{n}-"), size), "eventType": event_type, "schemaVersion": "1.9",
        "source": id("src-", size.min(MAX_SOURCE_BYTES)), "occurredAt": timestamp(), "returnId": RETURN_ID,
        "correlationId": id("corr-", size),
    })
}

fn merge(mut base: Value, extra: Value) -> Value {
    base.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    base
}

fn line_id(line: usize, size: usize) -> String {
    id(&format!("L{line}-"), size)
}

/// A booking of 100 lines; `version` changes one quantity, so two versions conflict.
fn booking(n: usize, version: u32, size: usize) -> Value {
    let items: Vec<Value> = (0..MAX_LINES_PER_EVENT)
        .map(|line| {
            json!({"lineId": line_id(line, size), "sku": id(&format!("S{line}-"), size),
                   "quantity": 10_000 - version * u32::from(line == 0),
                   "unitPrice": {"amountMinor": 1_000_000_000_000i64, "currency": "KWD"}})
        })
        .collect();
    merge(
        envelope("ReturnBooked", n, size),
        json!({"orderId": id("O-", size), "customerId": id("C-", size), "market": id("M-", size),
               "locale": id("loc-", size), "returnMethod": id("rm-", size), "bookedAt": timestamp(), "items": items}),
    )
}

/// Parcel `n` with `lines` lines for booked lines starting at `first_line` (or unknown lines when `stray`).
fn parcel(n: usize, lines: usize, first_line: usize, stray: bool, size: usize) -> Value {
    let items: Vec<Value> = (0..lines)
        .map(|i| {
            let (line, condition) = if stray {
                (id(&format!("X{n}-{i}-"), size), "WrongItem")
            } else {
                (line_id((first_line + i) % MAX_LINES_PER_EVENT, size), "Damaged")
            };
            json!({"lineId": line, "sku": id("S-", size), "quantity": 10_000, "condition": condition})
        })
        .collect();
    merge(
        envelope("ReturnItemsReceived", n, size),
        json!({"parcelId": id(&format!("P{n}-"), size), "warehouseId": id("W-", size), "receivedAt": timestamp(),
               "items": items}),
    )
}

fn refund(n: usize, lines: usize, is_final: bool, size: usize) -> Value {
    let lines: Vec<Value> = (0..lines)
        .map(|i| json!({"lineId": line_id(i, size), "amountMinor": 1}))
        .collect();
    merge(
        envelope("RefundIssued", n, size),
        json!({"refundId": id(&format!("R{n}-"), size), "amount": {"amountMinor": 1_000_000_000_000i64, "currency": "KWD"},
               "lines": lines, "paymentReference": id("PSP-", size), "issuedAt": timestamp(), "final": is_final}),
    )
}

fn cancellation(n: usize, size: usize) -> Value {
    let reason = "\"".repeat(MAX_TEXT_BYTES.min(size * 4));
    merge(
        envelope("ReturnCancelled", n, size),
        json!({"reason": reason, "cancelledAt": timestamp()}),
    )
}

fn parse(body: &Value) -> ReturnEvent {
    parse_event(None, None, body.to_string().as_bytes()).unwrap_or_else(|e| panic!("not a valid event: {e}"))
}

/// Every message the entity would hand to an orchestration about `aggregate` now, as JSON text.
fn messages_about(aggregate: &ReturnAggregate, events: &[ReturnEvent]) -> Vec<(String, usize)> {
    let mut sizes = Vec::new();
    if aggregate.status() == ReturnStatus::Settled && !aggregate.is_compacted() {
        let notification = ReturnSettledNotification::from_aggregate(aggregate).unwrap();
        let publication = durable::Publication::Settled(Box::new(notification));
        sizes.push((
            "notification".into(),
            serde_json::to_string(&publication).unwrap().len(),
        ));
    }
    let mut probe = aggregate.clone();
    let far_future = chrono::DateTime::<chrono::Utc>::MAX_UTC - chrono::Duration::days(400);
    if let Some(alert) = probe.check_stuck(far_future, &DomainConfig::default()) {
        let publication = durable::Publication::Stuck(Box::new(alert));
        sizes.push(("alert".into(), serde_json::to_string(&publication).unwrap().len()));
    }
    // The largest event as the Service Bus function signals it, and as the entity would keep it if it refused it.
    if let Some(largest) = events.iter().max_by_key(|e| e.to_wire_json().to_string().len()) {
        let signal = AggregateOperation::Apply(Box::new(largest.clone())).input().to_string();
        sizes.push(("apply signal".into(), signal.len()));
        let record = InvalidEventRecord {
            reason: "ReturnTooLarge".into(),
            field: "body".into(),
            error: format!("body: the return reached {}", Limit::RecordedLines),
            message_id: None,
            subject: None,
            delivery_count: None,
            return_id: Some(RETURN_ID.into()),
            rejected_by: Some("EntityFunction".into()),
            rejected_at: chrono::Utc::now(),
            body: KeptBody::Text(largest.to_wire_json().to_string()),
        };
        let publication = durable::Publication::InvalidEvent(Box::new(record));
        sizes.push(("kept event".into(), serde_json::to_string(&publication).unwrap().len()));
    }
    sizes
}

/// The stored state as the entity stores it (the aggregate and the publication times), in bytes.
fn stored_size(aggregate: &ReturnAggregate) -> usize {
    let state = json!({
        "aggregate": aggregate,
        "notificationPublishedAt": "2025-03-01T08:00:00.123456789Z",
        "alertPublishedAt": "2025-03-01T08:00:00.123456789Z",
    });
    serde_json::to_string(&state).unwrap().len()
}

/// Applies `bodies` in order and checks every bound after every event; returns the largest sizes seen.
fn check_bounds(bodies: &[Value]) -> (ReturnAggregate, usize, usize) {
    let events: Vec<ReturnEvent> = bodies.iter().map(parse).collect();
    let mut aggregate = ReturnAggregate::new(ReturnId::parse(RETURN_ID).unwrap());
    let (mut largest_state, mut largest_message) = (0, 0);
    let at = chrono::Utc::now();
    for (n, event) in events.iter().enumerate() {
        let outcome = aggregate.apply(event, at);
        if let Some(late) = &outcome.late_event {
            let alert = serde_json::to_vec(&aggregate.late_event_alert(late)).unwrap().len();
            assert!(alert <= MAX_STATE_BYTES, "the late-event alert is {alert} bytes");
            largest_message = largest_message.max(alert);
        }
        if outcome.became_settled() {
            for (what, size) in messages_about(&aggregate, &events) {
                assert!(size <= MAX_STATE_BYTES, "{what} is {size} bytes");
                largest_message = largest_message.max(size);
            }
        }
        if outcome.became_closed() && n % 2 == 0 {
            aggregate.compact();
        }
        let size = stored_size(&aggregate);
        assert!(size <= MAX_STATE_BYTES, "the state is {size} bytes after event {n}");
        largest_state = largest_state.max(size);
    }
    for (what, size) in messages_about(&aggregate, &events) {
        assert!(size <= MAX_STATE_BYTES, "{what} is {size} bytes");
        largest_message = largest_message.max(size);
    }
    (aggregate, largest_state, largest_message)
}

/// Every cap filled with the largest events, then overrun; a second booking; a settlement with a final refund.
fn worst_case(settle: bool) -> Vec<Value> {
    let size = MAX_IDENTIFIER_BYTES;
    let mut bodies = vec![booking(0, 0, size)];
    if !settle {
        bodies.push(booking(1, 1, size));
    }
    // Settling: exactly the caps, the last refund final; then the overruns arrive late. Held: overruns at once.
    let over = if settle { 0 } else { 5 };
    let lines_per_parcel = MAX_RECORDED_LINES / MAX_PARCELS;
    for n in 0..MAX_PARCELS + over {
        bodies.push(parcel(100 + n, lines_per_parcel, n * lines_per_parcel, false, size));
    }
    for n in 0..MAX_REFUNDS + over {
        bodies.push(refund(300 + n, 0, settle && n + 1 == MAX_REFUNDS, size));
    }
    for n in 0..10 {
        bodies.push(parcel(400 + n, lines_per_parcel, 0, false, size));
        bodies.push(refund(450 + n, 0, false, size));
    }
    for n in 0..30 {
        bodies.push(parcel(500 + n, 1, 0, true, size));
        bodies.push(cancellation(600 + n, size));
    }
    bodies
}

#[test]
fn the_largest_returns_stay_under_the_stated_bound() {
    assert_eq!(MAX_STATE_BYTES, 1024 * 1024, "the README states 1 MiB");
    for settle in [false, true] {
        let (aggregate, state, message) = check_bounds(&worst_case(settle));
        println!("settle={settle}: largest state {state} bytes, largest message {message} bytes");
        if settle {
            assert_eq!(aggregate.status(), ReturnStatus::Settled);
            assert!(aggregate.late_events().len() + aggregate.late_overflow() as usize >= 60);
        } else {
            assert!(aggregate.is_held());
            assert_eq!(aggregate.bookings().len(), MAX_BOOKING_VERSIONS);
        }
    }
}

#[test]
fn the_entity_stores_and_sends_nothing_larger_than_the_bound() {
    // The real entity function over the worst case, in batches as the extension sends them: the stored state and
    // every orchestration input it starts stay under the bound.
    let config = Config::from_map(&HashMap::from([("FUNCTIONS_CUSTOMHANDLER_PORT", "7071")])).unwrap();
    let registry = durable::registry(&config);
    let mut state = None;
    let mut largest = 0;
    for batch in worst_case(true).chunks(50) {
        let operations = batch
            .iter()
            .enumerate()
            .map(|(n, body)| {
                let operation = AggregateOperation::Apply(Box::new(parse(body)));
                OperationRequest {
                    operation: operation.name().into(),
                    request_id: format!("op-{n}"),
                    input: Some(operation.input().to_string()),
                    ..Default::default()
                }
            })
            .collect();
        let request = EntityBatchRequest {
            instance_id: format!("@entityfunction@{RETURN_ID}"),
            entity_state: state.take(),
            operations,
            ..Default::default()
        };
        let result = execute_entity_batch(&registry, &request, chrono::Utc::now());
        state = result.entity_state;
        let stored = state.as_deref().map_or(0, str::len);
        assert!(stored <= MAX_STATE_BYTES, "the stored state is {stored} bytes");
        largest = largest.max(stored);
        for action in &result.actions {
            if let Some(OperationActionType::StartNewOrchestration(start)) = &action.operation_action_type {
                let input = start.input.as_deref().map_or(0, str::len);
                assert!(
                    input <= MAX_STATE_BYTES,
                    "{} starts with {input} bytes",
                    start.instance_id
                );
            }
        }
    }
    println!("largest stored state: {largest} bytes");
}

/// A random mix of small and largest events of every kind, with duplicates and versions.
fn any_traffic() -> impl Strategy<Value = Vec<Value>> {
    let size = prop_oneof![Just(8usize), Just(MAX_IDENTIFIER_BYTES)];
    let event = (
        0usize..6,
        0usize..400,
        1usize..=MAX_LINES_PER_EVENT,
        size,
        prop::bool::weighted(0.1),
    )
        .prop_map(|(kind, n, lines, size, flag)| match kind {
            0 => booking(n % 3, (n % 2) as u32, size),
            1 | 2 => parcel(n, lines, n, flag, size),
            3 | 4 => refund(n, lines % 20, flag, size),
            _ => cancellation(n, size),
        });
    prop::collection::vec(event, 1..=200)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 8,
        rng_seed: RngSeed::Fixed(0x0b0d_2025),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_sequence_of_valid_events_passes_the_bound(bodies in any_traffic()) {
        check_bounds(&bodies);
    }
}
