//! `POST /PublishNotification` and `POST /PublishAlert`: the activity input as the host sends it (JSON text,
//! JSON-encoded once more, with the instance id and the input's properties in `Metadata`) → the message on the
//! Service Bus output binding and a receipt as the return value; malformed input fails the invocation.

mod support;

use axum::http::StatusCode;
use returns_aggregator::domain::{ReturnSettledNotification, ReturnStuckAlert};
use serde_json::{json, Value};
use support::events::{settled_aggregate, stuck_alert};
use support::host::{activity_invocation, activity_invocation_with_text};
use support::router::{invoke, router};

fn notification(return_id: &str) -> ReturnSettledNotification {
    ReturnSettledNotification::from_aggregate(&settled_aggregate(return_id)).expect("a settled return")
}

#[tokio::test]
async fn publish_notification_puts_the_message_on_the_topic_and_returns_a_receipt() {
    let notification = notification("RET-2025-910301");
    let input = serde_json::to_value(&notification).unwrap();
    let invocation = activity_invocation("PublishNotification", "returns-settled-RET-2025-910301", &input);
    let answer = invoke(&router(&[]), "PublishNotification", &invocation).await;
    answer.expect_success();

    let outputs = answer.body["Outputs"].as_object().unwrap();
    assert_eq!(
        outputs.keys().collect::<Vec<_>>(),
        ["notification"],
        "only the topic binding is written"
    );
    assert!(
        answer.output("notification").is_object(),
        "an object reaches the topic as one JSON message"
    );
    let published: ReturnSettledNotification = serde_json::from_value(answer.output("notification").clone()).unwrap();
    assert_eq!(
        published, notification,
        "the message must be the activity input, unchanged"
    );
    assert_eq!(
        answer.return_value(),
        &json!({ "notificationId": notification.notification_id, "binding": "notification" })
    );
}

#[tokio::test]
async fn publish_alert_puts_the_alert_on_the_queue_and_returns_a_receipt() {
    let alert = stuck_alert("RET-2025-910302");
    let input = serde_json::to_value(&alert).unwrap();
    let invocation = activity_invocation("PublishAlert", "returns-stuck-RET-2025-910302", &input);
    let answer = invoke(&router(&[]), "PublishAlert", &invocation).await;
    answer.expect_success();

    let outputs = answer.body["Outputs"].as_object().unwrap();
    assert_eq!(
        outputs.keys().collect::<Vec<_>>(),
        ["alert"],
        "only the queue binding is written"
    );
    let published: ReturnStuckAlert = serde_json::from_value(answer.output("alert").clone()).unwrap();
    assert_eq!(published, alert);
    assert_eq!(
        answer.return_value(),
        &json!({ "alertId": alert.alert_id, "binding": "alert" })
    );
}

#[tokio::test]
async fn the_receipt_does_not_leak_into_output_bindings() {
    // Without a `$return` binding the host copies the properties of an object ReturnValue into Outputs by name:
    // none of the receipt's keys may be the name of a declared output binding.
    let alert = stuck_alert("RET-2025-910303");
    let invocation = activity_invocation(
        "PublishAlert",
        "returns-stuck-RET-2025-910303",
        &serde_json::to_value(&alert).unwrap(),
    );
    let answer = invoke(&router(&[]), "PublishAlert", &invocation).await;
    answer.expect_success();
    for key in answer.return_value().as_object().expect("an object receipt").keys() {
        assert!(
            !["alert", "input"].contains(&key.as_str()),
            "the receipt key {key} shadows a binding"
        );
    }
}

#[tokio::test]
async fn malformed_activity_input_fails_the_invocation() {
    let router = router(&[]);
    let alert = serde_json::to_value(stuck_alert("RET-2025-910304")).unwrap();
    let cases: Vec<(&str, String, Option<Value>)> = vec![
        // Not JSON at all: the host never sends this, so it is a protocol error.
        ("PublishNotification", "{\"notificationId\":".to_string(), None),
        // JSON, but not a notification.
        ("PublishNotification", "\"RET-2025-910304\"".to_string(), None),
        (
            "PublishNotification",
            json!({ "returnId": "RET-2025-910304" }).to_string(),
            Some(json!({ "returnId": "RET-2025-910304" })),
        ),
        // An alert sent to the notification activity, and a notification-less alert.
        ("PublishNotification", alert.to_string(), Some(alert.clone())),
        (
            "PublishAlert",
            json!({ "alertId": 7 }).to_string(),
            Some(json!({ "alertId": 7 })),
        ),
    ];
    for (activity, text, parsed) in cases {
        let invocation =
            activity_invocation_with_text(activity, "returns-settled-RET-2025-910304", &text, parsed.as_ref());
        let answer = invoke(&router, activity, &invocation).await;
        assert!(
            answer.status.is_client_error() || answer.status.is_server_error(),
            "{activity} with input {text} answered {}",
            answer.status
        );
        answer.expect_json_content_type();
        assert!(answer.body["error"].is_string(), "{activity}: {}", answer.text());
    }
    let invocation = activity_invocation_with_text("PublishAlert", "x", "not json", None);
    invoke(&router, "PublishAlert", &invocation)
        .await
        .expect_error(StatusCode::BAD_REQUEST, &["binding 'input'"]);
}
