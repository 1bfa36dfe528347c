//! `POST /ResendEvents` (`POST /api/returns/{returnId}/events` behind the host, admin key): an operator re-sends a
//! return's messages from the audit copy of the events topic. Every item is validated before anything is sent (a
//! 400 names each problem, and the engine is not called); valid messages reach the return's entity on the real
//! engine, and sending them again changes nothing; an engine failure is a 503 that says to run it again.

mod support;

use std::time::Duration;

use returns_aggregator::durable::AggregateEntityState;
use serde_json::{json, Value};
use support::engine::{EntityBridge, LocalEngine};
use support::events::{body, settling_bodies, Kind};
use support::host::{closed_endpoint, return_status_invocation};
use support::router::{invoke, router};

/// The invocation the host sends for `POST /api/returns/<return_id>/events` with `body`.
fn resend_invocation(return_id: &str, body: &str, content_type: &str, rpc_base_url: &str) -> Value {
    let mut invocation = return_status_invocation(Some(return_id), rpc_base_url);
    let request = &mut invocation["Data"]["req"];
    request["Url"] = json!(format!("http://localhost:7071/api/returns/{return_id}/events"));
    request["Method"] = json!("POST");
    request["Headers"]["Content-Type"] = json!([content_type]);
    request["Body"] = json!(body);
    invocation["Metadata"]["sys"]["MethodName"] = json!("ResendEvents");
    invocation
}

/// The messages of `bodies` as the audit copy holds them, one JSON line each.
fn audit_lines(bodies: &[Value]) -> String {
    bodies
        .iter()
        .enumerate()
        .map(|(n, body)| {
            json!({"function": "ServiceBusTrigger", "body": body, "messageId": format!("m-{n}")}).to_string() + "\n"
        })
        .collect()
}

/// Waits until the entity bridge reports `events` operations applied.
async fn wait_for_applied(committed: &mut tokio::sync::mpsc::UnboundedReceiver<usize>, events: usize) {
    let mut applied = 0;
    while applied < events {
        applied += tokio::time::timeout(Duration::from_secs(20), committed.recv())
            .await
            .expect("the entity ran every event before the deadline")
            .expect("the bridge is running");
    }
}

#[tokio::test]
async fn invalid_messages_and_messages_of_another_return_are_a_400_naming_each_and_nothing_is_sent() {
    // Nothing listens at the engine endpoint: a signal would be a 503, not a 400.
    let return_id = "RET-2025-910501";
    let mut invalid = body(Kind::Booked, return_id);
    invalid["items"][0]["quantity"] = json!(0);
    let bodies = [
        body(Kind::Booked, return_id),
        invalid,
        body(Kind::Received, "RET-2025-910599"),
    ];
    let answer = invoke(
        &router(&[]),
        "ResendEvents",
        &resend_invocation(return_id, &audit_lines(&bodies), "text/plain", &closed_endpoint()),
    )
    .await;
    let (status, body) = answer.http_response();
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "2 of the messages cannot be re-sent; nothing was sent");
    let problems = body["problems"].as_array().unwrap();
    assert_eq!(problems[0]["item"], 2);
    assert!(
        problems[0]["error"].as_str().unwrap().contains("items[0].quantity"),
        "{problems:?}"
    );
    assert_eq!(problems[1]["item"], 3);
    assert_eq!(
        problems[1]["error"],
        format!("the event is about return RET-2025-910599, not {return_id}")
    );

    for (text, needle) in [
        ("", "the body is empty"),
        ("{\"body\": 1}\nnot json", "line 2 is not JSON"),
        ("[1, 2]", "expected a message or an event object, found a number"),
    ] {
        let answer = invoke(
            &router(&[]),
            "ResendEvents",
            &resend_invocation(return_id, text, "application/json", &closed_endpoint()),
        )
        .await;
        let (status, body) = answer.http_response();
        assert_eq!(status, 400, "{body}");
        assert!(body.to_string().contains(needle), "{needle}: {body}");
    }
}

#[tokio::test]
async fn an_unreachable_engine_is_a_503_that_says_to_run_it_again() {
    let return_id = "RET-2025-910502";
    let answer = invoke(
        &router(&[("DURABLE_CLIENT_TIMEOUT", "2s")]),
        "ResendEvents",
        &resend_invocation(
            return_id,
            &audit_lines(&settling_bodies(return_id)),
            "text/plain",
            &closed_endpoint(),
        ),
    )
    .await;
    let (status, body) = answer.http_response();
    assert_eq!(status, 503, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with("the durable engine failed after 0 of 3 events"),
        "{error}"
    );
    assert!(error.contains("run the same request again"), "{error}");
}

#[tokio::test]
async fn resent_messages_reach_the_return_and_sending_them_again_changes_nothing() {
    let return_id = "RET-2025-910503";
    let engine = LocalEngine::start().await;
    let client = engine.client();
    let router = router(&[]);
    let (_bridge, mut committed) = EntityBridge::spawn(&client, &router);
    let bodies = settling_bodies(return_id);
    // The first time as JSON lines, the second as a JSON array of bare events.
    let array = serde_json::to_string(&bodies).unwrap();
    let requests = [
        (audit_lines(&bodies), "text/plain"),
        (array, "application/json; charset=utf-8"),
    ];
    let mut states = Vec::new();
    for (text, content_type) in requests {
        let answer = invoke(
            &router,
            "ResendEvents",
            &resend_invocation(return_id, &text, content_type, &engine.url()),
        )
        .await;
        let (status, body) = answer.http_response();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["signalled"], 3, "{body}");
        assert_eq!(body["events"][0]["eventType"], "ReturnBooked", "{body}");
        wait_for_applied(&mut committed, 3).await;
        let entity = client
            .get_entity(&returns_aggregator::durable::aggregate_entity_id(
                &returns_aggregator::domain::ReturnId::parse(return_id).unwrap(),
            ))
            .await
            .unwrap()
            .expect("the entity exists");
        let state: AggregateEntityState = entity.state().unwrap().expect("a state");
        states.push(state);
    }
    assert_eq!(states[0].aggregate.status().as_str(), "Settled");
    assert_eq!(
        states[1].aggregate.events_received(),
        states[0].aggregate.events_received(),
        "the second re-send recorded nothing new"
    );
    assert_eq!(states[1].aggregate.closed_at(), states[0].aggregate.closed_at());
}

#[tokio::test]
async fn an_audit_copy_holding_refused_messages_is_sent_without_them_when_asked_and_only_then() {
    let return_id = "RET-2025-910504";
    let engine = LocalEngine::start().await;
    let client = engine.client();
    let router = router(&[]);
    let (_bridge, mut committed) = EntityBridge::spawn(&client, &router);
    // The audit copy holds every message sent, also the one the ingress refused at its first delivery.
    let mut refused = body(Kind::Booked, return_id);
    refused["items"][0]["quantity"] = json!(0);
    let mut bodies = settling_bodies(return_id).to_vec();
    bodies.insert(1, refused);
    let lines = audit_lines(&bodies);
    let with_query = |query: Value| {
        let mut invocation = resend_invocation(return_id, &lines, "text/plain", &engine.url());
        invocation["Data"]["req"]["Query"] = query;
        invocation
    };

    let (status, answer) = invoke(&router, "ResendEvents", &with_query(json!({})))
        .await
        .http_response();
    assert_eq!(status, 400, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(error.contains("add ?skipInvalid=true"), "{error}");
    assert_eq!(answer["problems"][0]["item"], 2);

    let (status, answer) = invoke(&router, "ResendEvents", &with_query(json!({"skipInvalid": "maybe"})))
        .await
        .http_response();
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("skipInvalid must be true or false"));

    let (status, answer) = invoke(&router, "ResendEvents", &with_query(json!({"skipInvalid": "true"})))
        .await
        .http_response();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["signalled"], 3, "{answer}");
    let skipped = answer["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{answer}");
    assert_eq!(skipped[0]["item"], 2);
    assert!(
        skipped[0]["error"].as_str().unwrap().contains("items[0].quantity"),
        "{answer}"
    );
    wait_for_applied(&mut committed, 3).await;

    // A message about another return is an operator's mistake: never skipped.
    let mut other = bodies.clone();
    other.push(body(Kind::Received, "RET-2025-910599"));
    let mut invocation = resend_invocation(return_id, &audit_lines(&other), "text/plain", &engine.url());
    invocation["Data"]["req"]["Query"] = json!({"skipInvalid": "true"});
    let (status, answer) = invoke(&router, "ResendEvents", &invocation).await.http_response();
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["problems"].as_array().unwrap().len(), 1, "{answer}");
}
