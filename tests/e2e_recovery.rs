//! No silently lost event, end to end: the real handler binary, Microsoft's local durable engine, and local-host
//! playing the Functions host and the Durable extension with the extension's failure rules. The handler dies during
//! an entity batch, so the batch fails for good and its events are gone (their Service Bus messages were completed).
//! The ingress's check of each accepted event, a separate signal due at its acceptance + `STUCK_RETURN_AFTER`, finds
//! the events the return never recorded and an alert names each one, also when the lost batch held the return's
//! first event (and with it the return's own deadline check). The documented recovery (README, "Guarantees")
//! re-sends the return's messages from the audit copy of the events topic to the app's re-send function: exactly
//! one notification, and re-running it sends no second one. Tests wait on conditions with deadlines, never on
//! sleeps.

mod e2e_support;

use std::collections::BTreeSet;
use std::time::Duration;

use durabletask_sdk::client::{ClientOptions, DurableClient, OrchestrationStatus};
use e2e_support::*;
use local_host::triggers::audit::messages_of_return;
use local_host::triggers::messages::MessageLine;
use local_host::{InvocationFault, LocalHost};
use returns_aggregator::domain::notification::stuck_alert_id;
use returns_aggregator::domain::ReturnId;
use returns_aggregator::durable::contract::settled_instance_id;
use serde_json::Value;

const NOTIFICATIONS: &str = "return-notifications";
const ALERTS: &str = "return-alerts";

/// The stuck deadline of these tests: long enough for the lost batch to run (and fail) before the checks are due,
/// so the checks arrive in later batches, as they do in Azure 30 days later.
const STUCK_AFTER: &str = "8s";
/// How long a fault, its detection or its recovery may take on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(120);

async fn start(test: &str) -> LocalHost {
    start_serving_http(host_options(&[("STUCK_RETURN_AFTER", STUCK_AFTER)], test)).await
}

/// The alerts published about `return_id`.
fn alerts_of(host: &LocalHost, return_id: &str) -> Vec<Value> {
    published_to(host, ALERTS)
        .into_iter()
        .filter(|alert| alert["returnId"] == return_id)
        .collect()
}

/// The message ids an alert names as accepted but never recorded.
fn unrecorded_message_ids(alert: &Value) -> BTreeSet<String> {
    alert["missing"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|piece| piece["kind"] == "eventNotRecorded")
        .filter_map(|piece| piece["messageId"].as_str().map(str::to_owned))
        .collect()
}

fn notifications_of(host: &LocalHost, return_id: &str) -> usize {
    published_to(host, NOTIFICATIONS)
        .iter()
        .filter(|notification| notification["returnId"] == return_id)
        .count()
}

/// The event ids the return's entity recorded (none when it has no state).
async fn recorded_event_ids(host: &LocalHost, return_id: &str) -> BTreeSet<String> {
    let Some(state) = aggregate_state(host, return_id).await else {
        return BTreeSet::new();
    };
    let state: Value = serde_json::from_str(&state).unwrap();
    let aggregate = &state["aggregate"];
    ["bookings", "parcels", "refunds"]
        .iter()
        .flat_map(|facts| aggregate[facts].as_array().cloned().unwrap_or_default())
        .chain(aggregate["cancellation"].as_object().map(|c| Value::Object(c.clone())))
        .filter_map(|fact| {
            fact["eventKey"]
                .as_str()
                .map(|key| key.rsplit(' ').next().unwrap().to_owned())
        })
        .collect()
}

/// The documented recovery: the return's messages from the audit copy, posted to the re-send function.
async fn resend_return(host: &LocalHost, return_id: &str, expected_messages: usize) -> Value {
    let messages = messages_of_return(&host.audited(), return_id);
    assert_eq!(
        messages.len(),
        expected_messages,
        "the audit copy holds every message of the return"
    );
    let (status, body) = resend_from_audit(host, return_id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["signalled"], expected_messages, "{body}");
    body
}

/// Delivers `lines` while durable work is held, arms a crash of the next entity batch, and lets durable work run:
/// the first batch of the return (holding as many of its events as the engine put in it) is lost.
async fn deliver_with_the_first_batch_lost(host: &LocalHost, lines: &[MessageLine]) {
    host.pause_durable_work();
    deliver(host, lines, None, 0.0).await;
    let armed = host
        .inject_fault("EntityFunction", InvocationFault::CrashAfterAnswer)
        .unwrap();
    host.resume_durable_work();
    let applied = tokio::time::timeout(DEADLINE, armed.wait()).await;
    assert_eq!(applied, Ok(true), "the crash hit an entity batch");
}

/// After the recovery: one notification, nothing left unrecorded, and a second recovery (its checks included)
/// sends no second email and raises no alert.
async fn assert_recovered_once(host: &LocalHost, return_id: &str, messages: usize) {
    wait_until_within("the recovered return is notified", DEADLINE, || {
        notifications_of(host, return_id) >= 1
    })
    .await;
    wait_idle(host).await;
    assert_eq!(notifications_of(host, return_id), 1, "exactly one email");
    let state: Value = serde_json::from_str(&aggregate_state(host, return_id).await.unwrap()).unwrap();
    assert_eq!(state["aggregate"]["status"], "Settled", "{state}");
    assert!(state["aggregate"].get("unrecorded").is_none(), "{state}");
    let alerts = alerts_of(host, return_id).len();

    resend_return(host, return_id, messages).await;
    // The re-sent events' checks are due STUCK_AFTER later: wait for them too.
    wait_idle_including_timers(host).await;
    assert_eq!(
        notifications_of(host, return_id),
        1,
        "re-running the recovery sends no second email"
    );
    assert_eq!(alerts_of(host, return_id).len(), alerts, "and raises no alert");
    assert!(host.dead_lettered().is_empty(), "{:?}", host.dead_lettered());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_settling_event_is_named_by_an_alert_and_the_documented_recovery_sends_one_email() {
    let host = start("recovery-settling-event").await;
    let (return_id, lines) = single_return_copy(21);
    let (first, last) = lines.split_at(lines.len() - 1);
    deliver(&host, first, None, 0.0).await;
    wait_idle(&host).await;
    deliver_with_the_first_batch_lost(&host, last).await;
    let lost_message = last[0].message.message_id.clone().unwrap();

    // The return's own deadline check raises the stuck alert (what is missing); the lost event's check, due later,
    // raises an alert naming the message.
    wait_until_within("an alert names the lost message", DEADLINE, || {
        alerts_of(&host, &return_id)
            .iter()
            .any(|alert| unrecorded_message_ids(alert).contains(&lost_message))
    })
    .await;
    assert_eq!(
        host.stats().failed_entity_batches(),
        vec![(format!("@entityfunction@{return_id}"), vec!["apply".to_owned()])],
        "local-host reports the lost batch"
    );
    let alerts = alerts_of(&host, &return_id);
    assert_eq!(
        alerts.len(),
        2,
        "the stuck alert and one naming the lost event: {alerts:?}"
    );
    let stuck_id = stuck_alert_id(&ReturnId::parse(&return_id).unwrap()).to_string();
    let (stuck, unrecorded): (Vec<&Value>, Vec<&Value>) = alerts.iter().partition(|alert| alert["alertId"] == stuck_id);
    assert_eq!((stuck.len(), unrecorded.len()), (1, 1), "{alerts:?}");
    for line in ["L1", "L2"] {
        assert!(
            stuck[0]["summary"].as_str().unwrap().contains(&format!("line {line}")),
            "the stuck alert names what is missing: {}",
            stuck[0]["summary"]
        );
    }
    let summary = unrecorded[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("(ReturnItemsReceived, message {lost_message}) accepted at")),
        "{summary}"
    );
    assert!(summary.contains("but never recorded"), "{summary}");
    assert_eq!(notifications_of(&host, &return_id), 0);

    resend_return(&host, &return_id, lines.len()).await;
    assert_recovered_once(&host, &return_id, lines.len()).await;
    finish(host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_batch_holding_a_returns_first_event_is_found_by_its_ingress_check_and_recovered() {
    let host = start("recovery-first-batch").await;
    let (return_id, lines) = single_return_copy(22);
    // The return's first event, alone in the lost batch: that batch would also have created the return's state
    // and scheduled its own deadline check, so only the ingress's check of the event can find the loss.
    let (first, rest) = lines.split_at(1);
    deliver_with_the_first_batch_lost(&host, first).await;
    wait_idle(&host).await;
    assert_eq!(
        host.stats().failed_entity_batches(),
        vec![(format!("@entityfunction@{return_id}"), vec!["apply".to_owned()])],
        "local-host reports the lost batch"
    );
    assert_eq!(
        aggregate_state(&host, &return_id).await,
        None,
        "the lost batch left no state behind"
    );
    let lost_message = first[0].message.message_id.clone().unwrap();

    wait_until_within("the stuck alert names the lost message", DEADLINE, || {
        !alerts_of(&host, &return_id).is_empty()
    })
    .await;
    let alerts = alerts_of(&host, &return_id);
    let stuck_id = stuck_alert_id(&ReturnId::parse(&return_id).unwrap()).to_string();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["alertId"], stuck_id, "the return's stuck alert: {alerts:?}");
    assert_eq!(
        unrecorded_message_ids(&alerts[0]),
        BTreeSet::from([lost_message.clone()]),
        "it names the lost message: {alerts:?}"
    );
    let summary = alerts[0]["summary"].as_str().unwrap();
    assert!(summary.contains("but never recorded"), "{summary}");
    assert!(summary.ends_with("booking: not seen"), "{summary}");

    // The other events arrive and are recorded; the return cannot settle without the lost one.
    deliver(&host, rest, None, 0.0).await;
    wait_idle(&host).await;
    assert_eq!(recorded_event_ids(&host, &return_id).await.len(), rest.len());
    assert_eq!(notifications_of(&host, &return_id), 0);

    resend_return(&host, &return_id, lines.len()).await;
    assert_recovered_once(&host, &return_id, lines.len()).await;
    assert_eq!(alerts_of(&host, &return_id).len(), 1, "no further alert");
    finish(host).await;
}

/// The runtime status of the return's notification orchestration.
async fn notification_run_status(host: &LocalHost, return_id: &str) -> OrchestrationStatus {
    let client = DurableClient::connect(host.engine_address(), ClientOptions::default())
        .await
        .expect("the engine answers");
    let instance_id = settled_instance_id(&ReturnId::parse(return_id).unwrap());
    client
        .get_instance_without_payloads(&instance_id)
        .await
        .expect("the engine answers")
        .expect("the notification orchestration exists")
        .status
}

/// When the return's entity recorded its notification as published.
async fn notification_recorded_at(host: &LocalHost, return_id: &str) -> Option<String> {
    let state: Value = serde_json::from_str(&aggregate_state(host, return_id).await?).unwrap();
    state["notificationPublishedAt"].as_str().map(str::to_owned)
}

/// Re-drives once more after the return was notified: nothing is sent.
async fn assert_a_second_redrive_sends_nothing(host: &LocalHost, return_id: &str) {
    let (status, body) = redrive(host, return_id).await;
    assert_eq!((status, &body["action"]), (200, &Value::from("none")), "{body}");
    wait_idle(host).await;
    assert_eq!(notifications_of(host, return_id), 1, "still exactly one email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_orchestration_failed_by_a_crash_before_it_published_is_redriven_to_exactly_one_email() {
    let host = start_serving_http(host_options(
        &[("STUCK_RETURN_AFTER", "1h")],
        "recovery-redrive-restart",
    ))
    .await;
    // The orchestrator's first answer is lost: the extension fails the orchestration for good, nothing published.
    let return_id = settle_a_return_with_a_fault(&host, 23, "Orchestrator", InvocationFault::CrashAfterAnswer).await;
    wait_idle(&host).await;
    assert_eq!(
        notification_run_status(&host, &return_id).await,
        OrchestrationStatus::Failed
    );
    assert_eq!(notifications_of(&host, &return_id), 0);
    assert_eq!(notification_recorded_at(&host, &return_id).await, None);

    let (status, body) = redrive(&host, &return_id).await;
    assert_eq!((status, &body["action"]), (202, &Value::from("restarted")), "{body}");
    wait_until_within("the re-driven notification is published and recorded", DEADLINE, || {
        notifications_of(&host, &return_id) >= 1
    })
    .await;
    wait_idle(&host).await;
    assert_eq!(notifications_of(&host, &return_id), 1, "exactly one email");
    assert_eq!(
        notification_run_status(&host, &return_id).await,
        OrchestrationStatus::Completed
    );
    assert!(
        notification_recorded_at(&host, &return_id).await.is_some(),
        "the return records it"
    );

    assert_a_second_redrive_sends_nothing(&host, &return_id).await;
    finish(host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_orchestration_failed_by_a_crash_after_it_published_is_redriven_without_a_second_email() {
    let mut options = host_options(&[("STUCK_RETURN_AFTER", "1h")], "recovery-redrive-record");
    // The publishing activity hangs once until this timeout, long enough to arm the orchestrator's crash.
    options.function_timeout = Some(Duration::from_secs(10));
    let host = start_serving_http(options).await;
    let return_id = settle_a_return_with_a_fault(&host, 24, "PublishNotification", InvocationFault::Hang).await;
    // While the activity hangs (the extension retries it after the timeout), the orchestrator's next answer, the one
    // after the email went out, is lost: the orchestration fails with the email sent and the entity never told.
    let crash = host
        .inject_fault("Orchestrator", InvocationFault::CrashAfterAnswer)
        .unwrap();
    let applied = tokio::time::timeout(DEADLINE, crash.wait()).await;
    assert_eq!(
        applied,
        Ok(true),
        "the orchestrator crashed after the activity published"
    );
    wait_idle(&host).await;
    assert_eq!(
        notification_run_status(&host, &return_id).await,
        OrchestrationStatus::Failed
    );
    assert_eq!(notifications_of(&host, &return_id), 1, "the email went out");
    assert_eq!(
        notification_recorded_at(&host, &return_id).await,
        None,
        "the entity never heard of it"
    );

    // The history shows the completed publication: the re-drive tells the entity and sends nothing.
    let (status, body) = redrive(&host, &return_id).await;
    assert_eq!((status, &body["action"]), (200, &Value::from("recorded")), "{body}");
    wait_idle(&host).await;
    assert!(
        notification_recorded_at(&host, &return_id).await.is_some(),
        "the return records it"
    );
    assert_eq!(notifications_of(&host, &return_id), 1, "no second email");

    assert_a_second_redrive_sends_nothing(&host, &return_id).await;
    finish(host).await;
}
