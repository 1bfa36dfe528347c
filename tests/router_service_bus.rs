//! `POST /ServiceBusTrigger`: a return event as the host delivers it with `"dataType": "binary"` (base64 body plus
//! the message's metadata and the durable client binding). Invalid events are answered 2xx and kept on the
//! invalid-events queue without touching the engine; an unreachable engine is a 503 so Service Bus redelivers; a
//! valid event reaches its return's entity on a real engine.

mod support;

use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use durabletask_sdk::client::EntityQuery;
use durabletask_sdk::functions::host_string;
use durabletask_sdk::EntityId;
use serde_json::{json, Value};
use support::engine::LocalEngine;
use support::events::{body, Kind, FIXTURE_RETURN_ID};
use support::host::{
    closed_endpoint, durable_client, fixture, service_bus_invocation, service_bus_invocation_with_message,
    MessageProperties,
};
use support::router::{invoke, router, Answer};

/// The settings of these tests: engine calls give up quickly.
const SETTINGS: &[(&str, &str)] = &[("DURABLE_CLIENT_TIMEOUT", "5s")];

async fn deliver(body: &[u8], properties: &MessageProperties, rpc_base_url: &str) -> Answer {
    invoke(
        &router(SETTINGS),
        "ServiceBusTrigger",
        &service_bus_invocation(body, properties, rpc_base_url),
    )
    .await
}

/// Asserts that the message was kept on the invalid-events queue for a problem with `field`; returns the record.
#[track_caller]
fn expect_rejected(answer: &Answer, reason: &str, field: &str, body: &[u8]) -> Value {
    answer.expect_success();
    let record = answer.output("invalidEvents");
    assert!(record.is_object(), "no invalid-events record: {}", answer.text());
    assert_eq!(record["reason"], reason, "{record}");
    assert_eq!(record["field"], field, "{record}");
    assert!(
        record["error"].as_str().is_some_and(|error| error.contains(field)),
        "{record}"
    );
    match std::str::from_utf8(body) {
        Ok(text) => assert_eq!(
            record["body"],
            json!({ "text": text }),
            "the original body is not kept verbatim"
        ),
        Err(_) => assert_eq!(record["body"], json!({ "base64": STANDARD.encode(body) })),
    }
    assert_eq!(
        answer.logs().len(),
        1,
        "one log line names the rejection: {:?}",
        answer.logs()
    );
    record.clone()
}

#[tokio::test]
async fn invalid_events_are_kept_with_the_reason_the_field_and_the_original_body() {
    let booked = body(Kind::Booked, "RET-2025-910401");
    let with = |field: &str, value: Value| {
        let mut body = booked.clone();
        body[field] = value;
        body.to_string()
    };
    let without = |field: &str| {
        let mut body = booked.clone();
        body.as_object_mut().unwrap().remove(field);
        body.to_string()
    };
    let mut zero_quantity = booked.clone();
    zero_quantity["items"][1]["quantity"] = json!(0);
    let mut text_quantity = booked.clone();
    text_quantity["items"][0]["quantity"] = json!("two");
    let cases: Vec<(String, &str, &str)> = vec![
        ("ReturnBooked RET-2025-910401 qty=2".to_string(), "NotJson", "body"),
        (
            "{\"eventId\":\"c929131c\",\"eventType\":\"ReturnBo".to_string(),
            "NotJson",
            "body",
        ),
        (String::new(), "NotJson", "body"),
        (json!([booked]).to_string(), "InvalidField", "body"),
        (
            with("eventType", json!("ReturnShipped")),
            "UnknownEventType",
            "eventType",
        ),
        (without("returnId"), "MissingField", "returnId"),
        (zero_quantity.to_string(), "InvalidField", "items[1].quantity"),
        (text_quantity.to_string(), "InvalidField", "items[0].quantity"),
        (with("returnId", json!("RET/2025/000777")), "InvalidField", "returnId"),
    ];
    // Nothing listens at the engine endpoint: an invalid event must not need it.
    let engine = closed_endpoint();
    for (index, (text, reason, field)) in cases.iter().enumerate() {
        let properties = MessageProperties::new(&format!("bad-{index}")).with_subject("ReturnBooked");
        let answer = deliver(text.as_bytes(), &properties, &engine).await;
        let record = expect_rejected(&answer, reason, field, text.as_bytes());
        assert_eq!(record["messageId"], format!("bad-{index}"));
        assert_eq!(record["subject"], "ReturnBooked");
        assert_eq!(record["deliveryCount"], 1);
    }
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_kept_as_base64() {
    let body = [0xff, 0xfe, 0x00, 0x7b];
    let answer = deliver(&body, &MessageProperties::new("binary-1"), &closed_endpoint()).await;
    expect_rejected(&answer, "NotJson", "body", &body);
}

#[tokio::test]
async fn without_a_type_anywhere_the_event_is_rejected_for_its_event_type() {
    let mut untyped = body(Kind::Booked, "RET-2025-910402");
    untyped.as_object_mut().unwrap().remove("eventType");
    let text = untyped.to_string();
    let answer = deliver(
        text.as_bytes(),
        &MessageProperties::new("untyped-1"),
        &closed_endpoint(),
    )
    .await;
    expect_rejected(&answer, "MissingField", "eventType", text.as_bytes());
}

#[tokio::test]
async fn a_valid_event_with_an_unreachable_engine_is_a_503_for_redelivery() {
    let text = body(Kind::Booked, "RET-2025-910403").to_string();
    let answer = deliver(text.as_bytes(), &MessageProperties::new("m-503"), &closed_endpoint()).await;
    let message = answer.expect_error(StatusCode::SERVICE_UNAVAILABLE, &["durable engine"]);
    assert!(!message.is_empty());
}

#[tokio::test]
async fn text_and_object_shaped_message_values_are_read_too() {
    // Only a trigger without `"dataType": "binary"` would get these shapes (the host JSON-encodes the body text, or
    // hands an object over as an object). The handler reads them as well: the valid event gets as far as the
    // (closed) engine, which answers 503 so the host retries, instead of a protocol error.
    let text = body(Kind::Booked, "RET-2025-910404").to_string();
    let properties = MessageProperties::new("m-text");
    let router = router(SETTINGS);
    for message in [host_string(&text), serde_json::from_str::<Value>(&text).unwrap()] {
        let invocation = service_bus_invocation_with_message(message, &properties, &closed_endpoint());
        let answer = invoke(&router, "ServiceBusTrigger", &invocation).await;
        answer.expect_error(StatusCode::SERVICE_UNAVAILABLE, &["durable engine"]);
    }
}

#[tokio::test]
async fn the_host_fixture_message_carries_the_fixture_event() {
    let invocation = fixture("host/service_bus_message.json");
    let encoded = invocation["Data"]["message"].as_str().expect("a base64 body");
    let decoded: Value = serde_json::from_slice(&STANDARD.decode(encoded).unwrap()).unwrap();
    assert_eq!(
        decoded,
        body(Kind::Booked, FIXTURE_RETURN_ID),
        "the fixture and the event bodies drifted apart"
    );
}

#[tokio::test]
async fn valid_events_reach_their_return_entity_on_the_real_engine() {
    let engine = LocalEngine::start().await;
    let router = router(SETTINGS);

    // The host fixture as is, pointed at the engine: a ReturnBooked typed in its body.
    let mut invocation = fixture("host/service_bus_message.json");
    invocation["Data"]["client"] = durable_client(&engine.url());
    let answer = invoke(&router, "ServiceBusTrigger", &invocation).await;
    answer.expect_success();
    assert_eq!(
        answer.body["Outputs"],
        json!({}),
        "a valid event is not an invalid event: {}",
        answer.text()
    );
    assert!(
        answer
            .logs()
            .iter()
            .any(|line| line.contains(FIXTURE_RETURN_ID) && line.contains("ReturnBooked")),
        "{:?}",
        answer.logs()
    );

    // A parcel whose body has no eventType: the type comes from the message's application properties.
    let mut parcel = body(Kind::Received, FIXTURE_RETURN_ID);
    parcel.as_object_mut().unwrap().remove("eventType");
    let properties = MessageProperties::new("5e2d7c11-8a4b-4b6e-b0f3-2c9a61d4e702")
        .with_subject("returns.items_received.v1")
        .with_event_type_property("ReturnItemsReceived");
    let answer = deliver(parcel.to_string().as_bytes(), &properties, &engine.url()).await;
    answer.expect_success();
    assert_eq!(answer.body["Outputs"], json!({}), "{}", answer.text());

    // Both signals wait for the entity (no worker runs it here): visible as a transient entity with a backlog.
    let entity = EntityId::new("EntityFunction", FIXTURE_RETURN_ID);
    assert_eq!(entity.to_string(), format!("@entityfunction@{FIXTURE_RETURN_ID}"));
    let client = engine.client();
    let query = EntityQuery::for_entity_name("EntityFunction").with_transient();
    let page = client.query_entities(&query, None).await.expect("the engine answers");
    let found: Vec<_> = page
        .items
        .iter()
        .map(|entity| (entity.instance_id.as_str(), entity.backlog_queue_size))
        .collect();
    assert_eq!(
        found,
        [(entity.to_string().as_str(), 2)],
        "the signals did not reach the return's entity"
    );
    let metadata = client
        .get_entity_without_state(&entity)
        .await
        .expect("the engine answers")
        .expect("the entity exists");
    assert_eq!(metadata.backlog_queue_size, 2);
}

#[tokio::test]
async fn log_lines_cannot_be_forged_or_flooded_by_a_message() {
    // Issue 17: a newline in eventType or Subject forged log lines, and a 10 MiB field gave a 10 MiB log line.
    let mut forged = body(Kind::Booked, "RET-2025-910405");
    forged["eventType"] = json!("Bogus\nINFO handler: return RET-1 settled");
    let huge_id = format!("m-\n{}", "x".repeat(1024 * 1024));
    let properties = MessageProperties::new(&huge_id).with_subject("Bogus\r\nWARN forged");
    let answer = deliver(forged.to_string().as_bytes(), &properties, &closed_endpoint()).await;
    answer.expect_success();
    let logs = answer.logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(!logs[0].contains('\n') && !logs[0].contains('\r'), "{:?}", logs[0]);
    assert!(logs[0].len() < 1024, "a log line of {} bytes", logs[0].len());
    let record = answer.output("invalidEvents");
    assert_eq!(record["reason"], "UnknownEventType");
    assert!(!record["error"].as_str().unwrap().contains('\n'), "{record}");
    assert_eq!(
        record["messageId"],
        huge_id.as_str(),
        "the record keeps the message id whole"
    );
}
