//! `parse_event` accepts well-formed events in all their allowed shapes and names the exact field of every
//! malformed one.

mod domain_common;

use domain_common::{booked, cancelled, parcel, refund, refund_in};
use returns_aggregator::domain::{parse_event, EventType, InvalidEvent, Problem};
use serde_json::{json, Value};

fn parse_json(body: &Value) -> Result<returns_aggregator::domain::ReturnEvent, InvalidEvent> {
    parse_event(None, None, body.to_string().as_bytes())
}

fn error_of(body: &Value) -> String {
    parse_json(body).expect_err("the body should be rejected").to_string()
}

fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    *body.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}")) = value;
    body
}

fn without(mut body: Value, field: &str) -> Value {
    body.as_object_mut().unwrap().remove(field);
    body
}

fn booking() -> Value {
    booked("RET-1", "e-1", &[("L1", 1, 1000), ("L2", 2, 500), ("L3", 1, 250)])
}

#[test]
fn bodies_that_are_not_json_objects() {
    let cases: [(&[u8], &str); 6] = [
        (
            b"<return id=\"1\"/>",
            "body: not JSON (expected value at line 1 column 1)",
        ),
        (
            b"this is not json",
            "body: not JSON (expected ident at line 1 column 2)",
        ),
        (b"", "body: not JSON (the body is empty)"),
        (b"  \n", "body: not JSON (the body is empty)"),
        (
            b"{\"eventId\": ",
            "body: not JSON (EOF while parsing a value at line 1 column 12)",
        ),
        (b"[1, 2]", "body: must be a JSON object, got an array"),
    ];
    for (body, expected) in cases {
        let error = parse_event(Some("ReturnBooked"), Some("m-1"), body).unwrap_err();
        assert_eq!(error.to_string(), expected);
        assert_eq!(error.field(), "body");
    }
    assert_eq!(parse_event(None, None, b"nope").unwrap_err().reason_code(), "NotJson");
    assert_eq!(
        parse_event(None, None, b"\"text\"").unwrap_err().to_string(),
        "body: must be a JSON object, got a string of 4 characters"
    );
}

#[test]
fn event_types_unknown_missing_or_of_another_major_version() {
    assert_eq!(
        error_of(&with(booking(), "/eventType", json!("ReturnShipped"))),
        "eventType: unknown type 'ReturnShipped'"
    );
    assert_eq!(
        error_of(&with(booking(), "/eventType", json!(7))),
        "eventType: must be a string, got a number"
    );
    assert_eq!(error_of(&without(booking(), "eventType")), "eventType: missing");

    let untyped = without(booking(), "eventType").to_string();
    let error = parse_event(Some("return.shipped"), None, untyped.as_bytes()).unwrap_err();
    assert_eq!(error.to_string(), "eventType: unknown type 'return.shipped'");
    assert_eq!((error.field(), error.reason_code()), ("eventType", "UnknownEventType"));

    let error = parse_event(Some("returns.booked.v2"), None, untyped.as_bytes()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "eventType: unsupported major version 2 (this build reads version 1)"
    );
    assert_eq!(error.problem(), &Problem::UnsupportedSchemaVersion(2));

    let error = parse_json(&with(booking(), "/schemaVersion", json!(2))).unwrap_err();
    assert_eq!(
        error.to_string(),
        "schemaVersion: unsupported major version 2 (this build reads version 1)"
    );
    assert_eq!(error.reason_code(), "UnsupportedSchemaVersion");
}

#[test]
fn envelope_fields() {
    let cases = [
        (without(without(booking(), "eventId"), "source"), "eventId: missing"),
        (
            with(booking(), "/eventId", json!("e 1")),
            "eventId: must not contain whitespace",
        ),
        (with(booking(), "/eventId", json!("")), "eventId: must not be empty"),
        (with(booking(), "/source", json!("")), "source: must not be empty"),
        (without(booking(), "returnId"), "returnId: missing"),
        (with(booking(), "/returnId", Value::Null), "returnId: missing"),
        (with(booking(), "/returnId", json!("")), "returnId: must not be empty"),
        (
            with(booking(), "/returnId", json!(42)),
            "returnId: must be a string, got a number",
        ),
        (
            with(booking(), "/returnId", json!("RET/1")),
            "returnId: must contain only letters, digits, '.', '_' and '-', found '/' at position 3",
        ),
        (
            with(booking(), "/returnId", json!("RET#1")),
            "returnId: must contain only letters, digits, '.', '_' and '-', found '#' at position 3",
        ),
        (
            with(booking(), "/returnId", json!("R".repeat(101))),
            "returnId: must be at most 100 characters, got 101",
        ),
        (without(booking(), "occurredAt"), "occurredAt: missing"),
        (
            with(booking(), "/occurredAt", json!("01/03/2025 08:00")),
            "occurredAt: must be an RFC 3339 timestamp, got a string of 16 characters",
        ),
        (
            with(booking(), "/correlationId", json!("a\u{1}b")),
            "correlationId: must not contain control characters",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(error_of(&body), expected);
    }

    let error = parse_event(
        None,
        Some("message id"),
        without(booking(), "eventId").to_string().as_bytes(),
    );
    assert_eq!(
        error.unwrap_err().to_string(),
        "eventId: (from the message id) must not contain whitespace"
    );
}

#[test]
fn return_booked_fields() {
    let cases = [
        (without(booking(), "orderId"), "orderId: missing"),
        (without(booking(), "customerId"), "customerId: missing"),
        (without(booking(), "items"), "items: missing"),
        (
            with(booking(), "/items", json!([])),
            "items: must contain at least 1 item(s), got 0",
        ),
        (
            with(booking(), "/items", json!({})),
            "items: must be an array, got an object",
        ),
        (
            with(booking(), "/items/0", json!(5)),
            "items[0]: must be an object, got a number",
        ),
        (
            with(booking(), "/items/2/quantity", json!(0)),
            "items[2].quantity: must be a positive integer, got 0",
        ),
        (
            with(booking(), "/items/1/quantity", json!(-3)),
            "items[1].quantity: must be a positive integer, got -3",
        ),
        (
            with(booking(), "/items/1/quantity", json!("2")),
            "items[1].quantity: must be a positive integer, got a string of 1 character",
        ),
        (
            with(booking(), "/items/1/quantity", json!(1.5)),
            "items[1].quantity: must be a positive integer, got 1.5",
        ),
        (
            with(booking(), "/items/1/quantity", json!(20000)),
            "items[1].quantity: must be at most 10000, got 20000",
        ),
        (
            with(booking(), "/items/0/lineId", json!("")),
            "items[0].lineId: must not be empty",
        ),
        (
            with(booking(), "/items/2/lineId", json!("L1")),
            "items[2].lineId: duplicate line id \"L1\" (already used by items[0])",
        ),
        (with(booking(), "/items/0/sku", Value::Null), "items[0].sku: missing"),
        (
            with(booking(), "/items/0/unitPrice", Value::Null),
            "items[0].unitPrice: missing",
        ),
        (
            with(booking(), "/items/0/unitPrice/amountMinor", json!(-1)),
            "items[0].unitPrice.amountMinor: must be a non-negative integer (minor units), got -1",
        ),
        (
            with(booking(), "/items/0/unitPrice/amountMinor", json!(10.5)),
            "items[0].unitPrice.amountMinor: must be a non-negative integer (minor units), got 10.5",
        ),
        (
            with(booking(), "/items/0/unitPrice/currency", json!("eur")),
            "items[0].unitPrice.currency: must be an ISO 4217 code of 3 uppercase letters, got \"eur\"",
        ),
        (
            with(booking(), "/items/1/unitPrice/currency", json!("USD")),
            "items[1].unitPrice.currency: must be EUR like items[0], got \"USD\"",
        ),
        (without(booking(), "bookedAt"), "bookedAt: missing"),
        (with(booking(), "/market", json!("")), "market: must not be empty"),
    ];
    for (body, expected) in cases {
        assert_eq!(error_of(&body), expected);
    }
}

#[test]
fn return_items_received_fields() {
    let body = parcel("RET-1", "e-2", "P1", &[("L1", 1, "Resellable"), ("L2", 0, "Missing")]);
    assert!(parse_json(&body).is_ok(), "a zero quantity is allowed in a parcel");
    let cases = [
        (without(body.clone(), "parcelId"), "parcelId: missing"),
        (without(body.clone(), "warehouseId"), "warehouseId: missing"),
        (
            with(body.clone(), "/receivedAt", json!(1700000000)),
            "receivedAt: must be an RFC 3339 timestamp, got a number",
        ),
        (
            with(body.clone(), "/items/1/quantity", json!(-1)),
            "items[1].quantity: must be a non-negative integer, got -1",
        ),
        (
            with(body.clone(), "/items/0/condition", json!("Broken")),
            "items[0].condition: unknown condition \"Broken\" (expected Resellable, Damaged, Missing or WrongItem)",
        ),
        (without(body.clone(), "items"), "items: missing"),
    ];
    for (body, expected) in cases {
        assert_eq!(error_of(&body), expected);
    }
}

#[test]
fn refund_issued_fields() {
    let mut body = refund("RET-1", "e-3", "R1", 1000);
    body["lines"] = json!([{"lineId": "L1", "amountMinor": 600}, {"lineId": "L2", "amountMinor": 400}]);
    assert!(parse_json(&body).is_ok());
    let cases = [
        (without(body.clone(), "refundId"), "refundId: missing"),
        (without(body.clone(), "amount"), "amount: missing"),
        (
            with(body.clone(), "/amount", json!(1000)),
            "amount: must be an object, got a number",
        ),
        (
            with(body.clone(), "/amount/currency", Value::Null),
            "amount.currency: missing",
        ),
        (
            with(body.clone(), "/amount/amountMinor", json!(-5)),
            "amount.amountMinor: must be a non-negative integer (minor units), got -5",
        ),
        (
            with(body.clone(), "/amount/amountMinor", json!(2_000_000_000_000_i64)),
            "amount.amountMinor: must be at most 1000000000000, got 2000000000000",
        ),
        (
            with(body.clone(), "/lines/1/amountMinor", json!(900)),
            "lines: amounts add up to 1500, more than amount.amountMinor 1000",
        ),
        (
            with(body.clone(), "/lines/0", json!({"amountMinor": 1})),
            "lines[0].lineId: missing",
        ),
        (
            with(body.clone(), "/final", json!("yes")),
            "final: must be true or false, got a string of 3 characters",
        ),
        (without(body.clone(), "paymentReference"), "paymentReference: missing"),
        (without(body.clone(), "issuedAt"), "issuedAt: missing"),
    ];
    for (body, expected) in cases {
        assert_eq!(error_of(&body), expected);
    }
}

#[test]
fn return_cancelled_fields() {
    let body = cancelled("RET-1", "e-4");
    assert_eq!(error_of(&without(body.clone(), "reason")), "reason: missing");
    assert_eq!(
        error_of(&with(body.clone(), "/reason", json!("  "))),
        "reason: must not be empty"
    );
    assert_eq!(
        error_of(&with(body.clone(), "/reason", json!("x".repeat(501)))),
        "reason: must be at most 500 bytes of UTF-8, got 501"
    );
    assert_eq!(error_of(&without(body, "cancelledAt")), "cancelledAt: missing");
}

#[test]
fn the_type_may_come_from_the_message_in_any_documented_alias() {
    let untyped = without(booking(), "eventType").to_string();
    for hint in [
        "ReturnBooked",
        "return.booked",
        "returns.booked.v1",
        "RETURN_BOOKED",
        "  returns-booked ",
    ] {
        let event = parse_event(Some(hint), None, untyped.as_bytes()).unwrap();
        assert_eq!(event.event_type(), EventType::ReturnBooked, "{hint}");
    }
    let body = with(booking(), "/eventType", json!("returns.booked.v1"));
    assert_eq!(parse_json(&body).unwrap().event_type(), EventType::ReturnBooked);
}

#[test]
fn the_event_id_may_come_from_the_message_id() {
    let body = without(without(booking(), "eventId"), "source").to_string();
    let event = parse_event(None, Some("sb-message-1"), body.as_bytes()).unwrap();
    assert_eq!(event.envelope.event_id, "sb-message-1");
    assert_eq!(event.event_key().as_str(), "sb-message-1");

    let with_body_id = parse_event(None, Some("sb-message-1"), booking().to_string().as_bytes()).unwrap();
    assert_eq!(with_body_id.event_key().as_str(), "returns-service e-1");
}

#[test]
fn optional_fields_may_be_absent_or_null_and_unknown_fields_are_ignored() {
    let mut body = booking();
    for field in ["schemaVersion", "source", "correlationId", "market", "returnMethod"] {
        body.as_object_mut().unwrap().remove(field);
    }
    body["locale"] = Value::Null;
    body["reasonCode"] = json!("SIZE_TOO_SMALL");
    body["items"][0]["colour"] = json!("navy");
    let event = parse_json(&body).unwrap();
    assert_eq!(event.envelope.source, None);
    assert_eq!(event.envelope.correlation_id, None);
}

#[test]
fn every_type_round_trips_through_its_wire_form() {
    let mut split_refund = refund_in("RET-1", "e-5", "R2", 700, "EUR", true);
    split_refund["lines"] = json!([{"lineId": "L1", "amountMinor": 700}]);
    let bodies = [
        booking(),
        parcel("RET-1", "e-2", "P1", &[("L1", 1, "wrong_item")]),
        split_refund,
        cancelled("RET-1", "e-4"),
        with(booking(), "/occurredAt", json!("2025-03-01T10:00:00+02:00")),
    ];
    for body in bodies {
        let event = parse_json(&body).unwrap();
        let wire = event.to_wire_json();
        assert_eq!(wire["eventType"], json!(event.event_type().as_str()));
        assert_eq!(parse_json(&wire).unwrap(), event);
    }
}

#[test]
fn identifiers_are_limited_in_bytes_not_characters() {
    // 42 euro signs are 126 bytes; 43 are 129, over the 128-byte limit although only 43 characters.
    let body = cancelled("RET-1", "e-5");
    let mut within = body.clone();
    within["correlationId"] = json!("€".repeat(42));
    assert!(parse_event(None, None, within.to_string().as_bytes()).is_ok());
    assert_eq!(
        error_of(&with(body, "/correlationId", json!("€".repeat(43)))),
        "correlationId: must be at most 128 bytes of UTF-8, got 129"
    );
}

#[test]
fn validation_messages_name_the_field_and_the_problem_never_the_value() {
    // Issue 17: messages echoed a numeric customerId and up to 40 characters of a mistyped field (an email).
    let booking = booked("RET-1", "e-6", &[("L1", 1, 100)]);
    let cases = [
        (
            "/customerId",
            json!(48_151_623),
            "customerId: must be a string, got a number",
        ),
        (
            "/bookedAt",
            json!("jane.doe@example.com"),
            "bookedAt: must be an RFC 3339 timestamp, got a string of 20 characters",
        ),
        (
            "/items/0/quantity",
            json!("Jane Doe"),
            "items[0].quantity: must be a positive integer, got a string of 8 characters",
        ),
        (
            "/eventType",
            json!("jane@example.com"),
            "eventType: unknown type '(a string of 16 characters)'",
        ),
        (
            "/eventType",
            json!("Bogus\nINFO handler: forged"),
            "eventType: unknown type '(a string of 26 characters)'",
        ),
    ];
    for (pointer, value, expected) in cases {
        let message = error_of(&with(booking.clone(), pointer, value.clone()));
        assert_eq!(message, expected, "{pointer}");
        assert!(
            !message.contains('\n') && !message.contains("jane") && !message.contains("4815"),
            "{message}"
        );
    }
    // Closed vocabularies still show the wrong word when it is a short token.
    assert_eq!(
        error_of(&with(booking, "/eventType", json!("ReturnShipped"))),
        "eventType: unknown type 'ReturnShipped'"
    );
}
