//! `POST /ReturnStatus` (`GET /api/returns/{returnId}` behind the host): the answer goes to the `res` output binding
//! — 400 for a missing or invalid return id without an engine call, 404 for a return the engine knows nothing of,
//! and, end to end on the real engine, the state of a return whose events went through the Service Bus function
//! and the entity.

mod support;

use std::time::Duration;

use support::engine::{EntityBridge, LocalEngine};
use support::events::settling_bodies;
use support::host::{closed_endpoint, return_status_invocation, service_bus_invocation, MessageProperties};
use support::router::{invoke, router};

#[tokio::test]
async fn invalid_or_missing_return_ids_are_a_400_without_an_engine_call() {
    // Nothing listens at the engine endpoint: a refused call would be a 503, not a 400.
    let engine = closed_endpoint();
    let router = router(&[]);
    for (return_id, needle) in [
        (Some("RET 2025"), "RET 2025"),
        (Some("RET$2025"), "RET$2025"),
        (Some(""), "returnId"),
        (Some(&*"R".repeat(101)), "at most 100"),
        (None, "returnId"),
    ] {
        let answer = invoke(&router, "ReturnStatus", &return_status_invocation(return_id, &engine)).await;
        let (status, body) = answer.http_response();
        assert_eq!(status, 400, "{return_id:?}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(needle),
            "{return_id:?}: the error does not mention {needle:?}: {error}"
        );
    }
}

#[tokio::test]
async fn an_unknown_return_is_a_404_from_the_real_engine() {
    let engine = LocalEngine::start().await;
    let answer = invoke(
        &router(&[]),
        "ReturnStatus",
        &return_status_invocation(Some("RET-2025-910501"), &engine.url()),
    )
    .await;
    let (status, body) = answer.http_response();
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|error| error.contains("RET-2025-910501")),
        "{body}"
    );
}

#[tokio::test]
async fn an_unreachable_engine_fails_the_request() {
    let answer = invoke(
        &router(&[]),
        "ReturnStatus",
        &return_status_invocation(Some("RET-2025-910502"), &closed_endpoint()),
    )
    .await;
    assert!(
        !answer.status.is_success(),
        "answered {}: {}",
        answer.status,
        answer.text()
    );
}

#[tokio::test]
async fn a_settled_return_reports_its_state_end_to_end() {
    let return_id = "RET-2025-910503";
    let engine = LocalEngine::start().await;
    let client = engine.client();
    let router = router(&[]);
    let (_bridge, mut committed) = EntityBridge::spawn(&client, &router);

    for (n, body) in settling_bodies(return_id).iter().enumerate() {
        let properties = MessageProperties::new(&format!("m-{n}"));
        let invocation = service_bus_invocation(body.to_string().as_bytes(), &properties, &engine.url());
        invoke(&router, "ServiceBusTrigger", &invocation).await.expect_success();
    }
    // Wait until the entity has run the three `apply` operations (in however many batches the engine made).
    let mut applied = 0;
    while applied < 3 {
        applied += tokio::time::timeout(Duration::from_secs(20), committed.recv())
            .await
            .expect("the entity ran every event before the deadline")
            .expect("the bridge is running");
    }

    let answer = invoke(
        &router,
        "ReturnStatus",
        &return_status_invocation(Some(return_id), &engine.url()),
    )
    .await;
    let (status, body) = answer.http_response();
    assert_eq!(status, 200, "{body}");
    let report = &body["report"];
    assert_eq!(report["returnId"], return_id);
    assert_eq!(report["status"], "Settled", "{report}");
    assert_eq!(report["missing"], serde_json::json!([]), "{report}");
    assert_eq!(
        report["events"].as_array().map(Vec::len),
        Some(3),
        "what arrived: {report}"
    );
    assert_eq!(report["refund"]["text"], "99.97 of 99.97 EUR refunded", "{report}");
    assert!(
        body["notificationPublishedAt"].is_null(),
        "nothing was published yet: {body}"
    );

    // Settling started the notification orchestration (no worker runs it here).
    let instance = client
        .get_instance(&format!("returns-settled-{return_id}"))
        .await
        .expect("the engine answers")
        .expect("the settled return started its orchestration");
    assert_eq!(instance.name, "Orchestrator");
}
