//! No valid event is lost in silence: whatever the Service Bus function accepts, the return's entity applies.
//!
//! Arbitrary events that are valid by their schema (any offset, leap seconds, fractions, years 0000..9999, any
//! Unicode in identifiers, quotes and backslashes) go through the ingress parser, are signalled as the Service Bus
//! function signals them (the typed event, serde-encoded), and run through the app's entity exactly as the
//! extension runs it. None may be refused by the entity, and the state it stores must read back, so the next
//! operation finds it intact.

use std::collections::HashMap;

use durabletask_sdk::entity::execute_entity_batch;
use durabletask_sdk::proto::operation_result::ResultType;
use durabletask_sdk::proto::{EntityBatchRequest, OperationRequest};
use durabletask_sdk::Registry;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::RngSeed;
use returns_aggregator::config::Config;
use returns_aggregator::domain::{parse_event, ReturnEvent};
use returns_aggregator::durable::{self, AggregateEntityState, AggregateOperation};
use serde_json::{json, Value};

fn registry() -> Registry {
    let config = Config::from_map(&HashMap::from([("FUNCTIONS_CUSTOMHANDLER_PORT", "7071")])).unwrap();
    durable::registry(&config)
}

/// The `apply` operation exactly as the Service Bus function signals `event` (name, JSON input text).
fn signalled(event: &ReturnEvent) -> OperationRequest {
    let operation = AggregateOperation::Apply(Box::new(event.clone()));
    OperationRequest {
        operation: operation.name().to_string(),
        request_id: uuid::Uuid::new_v4().to_string(),
        input: Some(operation.input().to_string()),
        ..Default::default()
    }
}

/// Runs `operations` against the entity of `return_id` holding `state`; returns each result and the new state.
fn run(
    registry: &Registry,
    return_id: &str,
    state: Option<String>,
    operations: Vec<OperationRequest>,
) -> (Vec<Value>, Option<String>) {
    let request = EntityBatchRequest {
        instance_id: format!("@entityfunction@{return_id}"),
        entity_state: state,
        operations,
        ..Default::default()
    };
    let result = execute_entity_batch(registry, &request, chrono::Utc::now());
    let outcomes = result
        .results
        .iter()
        .map(|result| match &result.result_type {
            Some(ResultType::Success(success)) => {
                serde_json::from_str(success.result.as_deref().unwrap_or("null")).unwrap()
            }
            other => panic!("the entity failed an operation: {other:?}"),
        })
        .collect();
    (outcomes, result.entity_state)
}

/// Applies events that passed ingress and checks that none is refused and that the stored state reads back.
fn check_ingress_to_entity(registry: &Registry, events: &[ReturnEvent]) -> Result<(), TestCaseError> {
    let return_id = events[0].return_id().as_str().to_owned();
    for event in events {
        let operation = signalled(event);
        let decoded = AggregateOperation::decode(&operation.operation, operation.input.as_deref());
        prop_assert_eq!(
            decoded.ok(),
            Some(AggregateOperation::Apply(Box::new(event.clone()))),
            "the signalled event reads back to another"
        );
    }
    let (outcomes, state) = run(registry, &return_id, None, events.iter().map(signalled).collect());
    for outcome in &outcomes {
        prop_assert_ne!(&outcome["disposition"], "refused", "{}", outcome);
    }
    let state = state.expect("an applied event leaves state");
    let read: AggregateEntityState = serde_json::from_str(&state).expect("the stored state reads back");
    prop_assert_eq!(
        serde_json::to_string(&read).unwrap(),
        state.clone(),
        "the state changes when read back"
    );
    // The next operation runs on the stored state: it must not find it unreadable.
    let check = OperationRequest {
        operation: "checkDeadline".into(),
        request_id: "check".into(),
        ..Default::default()
    };
    let (outcomes, _) = run(registry, &return_id, Some(state), vec![check]);
    prop_assert_eq!(&outcomes[0], &json!(false));
    Ok(())
}

/// Text of `1..=max` characters from anywhere in Unicode except control characters (quotes, backslashes, emoji).
fn text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::string::string_regex(&format!("[A-Za-z0-9 ._-]{{1,{max}}}")).unwrap(),
        2 => prop::string::string_regex(&format!("[^\\p{{Cc}}]{{1,{max}}}")).unwrap(),
        1 => prop::string::string_regex(&format!("[\"\\\\/'{{}}\\[\\]é€😀]{{1,{max}}}")).unwrap(),
    ]
}

fn identifier() -> impl Strategy<Value = String> {
    text(40)
}

/// An RFC 3339 timestamp anywhere in the years 0000..=9999, with any offset, fraction or a leap second.
fn timestamp() -> impl Strategy<Value = String> {
    // The first and last days of the range are over-weighted: with an offset they leave it once in UTC.
    let date = prop_oneof![
        8 => (0u32..=9999, 1u32..=12, 1u32..=28),
        1 => Just((0u32, 1u32, 1u32)),
        1 => Just((9999u32, 12u32, 31u32)),
    ];
    let time = (0u32..=23, 0u32..=59, prop_oneof![9 => 0u32..=59, 1 => Just(60u32)]);
    let fraction = prop::option::of(prop::string::string_regex("[0-9]{1,9}").unwrap());
    let offset = prop_oneof![
        Just("Z".to_string()),
        Just("z".to_string()),
        (prop::bool::ANY, 0u32..=23, 0u32..=59)
            .prop_map(|(east, h, m)| format!("{}{h:02}:{m:02}", if east { '+' } else { '-' })),
    ];
    let separator = prop_oneof![Just('T'), Just('t')];
    (date, separator, time, fraction, offset).prop_map(|((y, mo, d), t, (h, mi, s), fraction, offset)| {
        let fraction = fraction.map(|f| format!(".{f}")).unwrap_or_default();
        format!("{y:04}-{mo:02}-{d:02}{t}{h:02}:{mi:02}:{s:02}{fraction}{offset}")
    })
}

fn money() -> impl Strategy<Value = Value> {
    (prop_oneof![0i64..=100_000, Just(1_000_000_000_000i64)], "[A-Z]{3}")
        .prop_map(|(amount, currency)| json!({"amountMinor": amount, "currency": currency}))
}

fn envelope(return_id: String) -> impl Strategy<Value = Value> {
    (
        "[!-~]{1,40}",
        prop::option::of(text(60)),
        timestamp(),
        prop::option::of(identifier()),
        prop_oneof![Just(json!(1)), Just(json!("1")), Just(json!("1.7")), Just(Value::Null)],
    )
        .prop_map(move |(event_id, source, occurred_at, correlation_id, version)| {
            json!({
                "eventId": event_id, "source": source, "occurredAt": occurred_at, "returnId": return_id.clone(),
                "correlationId": correlation_id, "schemaVersion": version,
            })
        })
}

fn payload() -> impl Strategy<Value = Value> {
    let booked_item =
        (identifier(), identifier(), 1u32..=10_000, 0i64..=1_000_000).prop_map(|(line, sku, quantity, price)| {
            json!({"lineId": line, "sku": sku, "quantity": quantity,
                   "unitPrice": {"amountMinor": price, "currency": "EUR"}})
        });
    let booked = (
        identifier(),
        identifier(),
        prop::option::of(identifier()),
        prop::collection::vec(booked_item, 1..=4),
        timestamp(),
    )
        .prop_map(|(order, customer, market, items, at)| {
            json!({"eventType": "ReturnBooked", "orderId": order, "customerId": customer, "market": market,
                   "locale": market, "returnMethod": market, "items": items, "bookedAt": at})
        });
    let condition = prop_oneof![Just("Resellable"), Just("damaged"), Just("MISSING"), Just("wrong_item")];
    let received_item = (identifier(), identifier(), 0u32..=10_000, condition)
        .prop_map(|(line, sku, quantity, condition)| {
            json!({"lineId": line, "sku": sku, "quantity": quantity, "condition": condition})
        });
    let received = (
        identifier(),
        identifier(),
        timestamp(),
        prop::collection::vec(received_item, 1..=4),
    )
        .prop_map(|(parcel, warehouse, at, items)| {
            json!({"eventType": "return.items_received", "parcelId": parcel, "warehouseId": warehouse,
                   "receivedAt": at, "items": items})
        });
    let refund_line =
        (identifier(), 0i64..=100).prop_map(|(line, amount)| json!({"lineId": line, "amountMinor": amount}));
    let refund = (
        identifier(),
        money(),
        prop::collection::vec(refund_line, 0..=3),
        identifier(),
        timestamp(),
        prop::option::of(prop::bool::ANY),
    )
        .prop_map(|(refund, amount, lines, reference, at, is_final)| {
            json!({"eventType": "RefundIssued", "refundId": refund, "amount": amount, "lines": lines,
                   "paymentReference": reference, "issuedAt": at, "final": is_final})
        });
    let cancelled = (text(500), timestamp())
        .prop_map(|(reason, at)| json!({"eventType": "ReturnCancelled", "reason": reason, "cancelledAt": at}));
    prop_oneof![booked, received, refund, cancelled]
}

/// A body valid by the schema's shape (most are accepted by ingress; the few it refuses are simply not signalled).
fn body(return_id: String) -> impl Strategy<Value = Value> {
    (envelope(return_id), payload()).prop_map(|(mut envelope, payload)| {
        let target = envelope.as_object_mut().unwrap();
        target.extend(payload.as_object().unwrap().clone());
        target.retain(|_, value| !value.is_null());
        envelope
    })
}

/// One or two events about one return (two: no cap of the return can be reached, so nothing may be refused).
fn bodies() -> impl Strategy<Value = Vec<Value>> {
    "[A-Za-z0-9._-]{1,100}".prop_flat_map(|return_id| prop::collection::vec(body(return_id), 1..=2))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        rng_seed: RngSeed::Fixed(0x001a_9e55_2025),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_event_ingress_accepts_is_applied_by_the_entity(bodies in bodies()) {
        let registry = registry();
        let accepted: Vec<ReturnEvent> = bodies
            .iter()
            .enumerate()
            .filter_map(|(n, body)| parse_event(None, Some(&format!("m-{n}")), body.to_string().as_bytes()).ok())
            .collect();
        prop_assume!(!accepted.is_empty());
        check_ingress_to_entity(&registry, &accepted)?;
    }
}

#[test]
fn most_generated_bodies_pass_ingress() {
    // Guards the generator: a property over events that ingress refuses would prove nothing.
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(
        ProptestConfig::default(),
        proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let strategy = body("RET-1".to_string());
    let total = 300;
    let accepted = (0..total)
        .filter(|_| {
            let body = strategy.new_tree(&mut runner).unwrap().current();
            parse_event(None, None, body.to_string().as_bytes()).is_ok()
        })
        .count();
    assert!(
        accepted * 2 > total,
        "only {accepted} of {total} generated bodies pass ingress"
    );
}

#[test]
fn timestamps_that_overflow_in_utc_are_refused_at_ingress_not_in_the_entity() {
    for (field, text) in [
        ("occurredAt", "9999-12-31T23:59:59-14:00"),
        ("occurredAt", "0000-01-01T00:00:00+00:01"),
    ] {
        let body = json!({
            "eventId": "e-1", "eventType": "ReturnCancelled", "occurredAt": text, "returnId": "RET-1",
            "reason": "kept", "cancelledAt": "2025-03-01T08:00:00Z",
        });
        let refused = parse_event(None, None, body.to_string().as_bytes()).unwrap_err();
        assert_eq!(refused.field(), field);
        assert_eq!(refused.reason_code(), "InvalidField");
    }
    // The extremes that stay inside the years 0000..9999 in UTC are accepted and applied.
    let registry = registry();
    for text in [
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00-14:00",
        "2016-12-31T23:59:60Z",
    ] {
        let body = json!({
            "eventId": "e-1", "eventType": "ReturnCancelled", "occurredAt": text, "returnId": "RET-1",
            "reason": "kept", "cancelledAt": text,
        });
        let event = parse_event(None, None, body.to_string().as_bytes()).unwrap();
        check_ingress_to_entity(&registry, &[event]).unwrap();
    }
}
