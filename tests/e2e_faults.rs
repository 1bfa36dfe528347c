//! Faults, end to end: the real handler binary, Microsoft's local durable engine, and local-host playing the
//! Functions host and the Durable extension with the extension's failure rules, with the engine restarted, the
//! handler crashed or hung during chosen invocations, messages delivered five times, and events of a megabyte. No
//! return is notified twice; where the extension loses work (a failed entity batch, a failed orchestration), the
//! loss is detected: local-host names it, and the return's stuck alert names what is missing. BENCHMARKS.md
//! ("Faults") tells what happens in each. Tests wait on conditions with deadlines, never on sleeps.

mod e2e_support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use durabletask_sdk::client::{ClientOptions, DurableClient, OrchestrationStatus};
use e2e_support::*;
use local_host::output::problems::Problem;
use local_host::output::stats::WorkItemKind;
use local_host::triggers::messages::MessageLine;
use local_host::{InvocationFault, LocalHost, ServiceBusMessage};
use serde_json::{json, Value};

const NOTIFICATIONS: &str = "return-notifications";
const ALERTS: &str = "return-alerts";
const INVALID: &str = "return-events-invalid";

/// The return of `scenarios/single_return.jsonl`: five events, settled by the last of them to arrive.
const SINGLE_RETURN: &str = "RET-2025-900001";
/// What the single return's notification says was refunded.
const SINGLE_RETURN_REFUNDED_MINOR: u64 = 3999 + 21997;
/// The return settled by the first three lines of `scenarios/late_duplicates.jsonl`.
const LATE_RETURN: &str = "RET-2025-900002";

fn notified_returns(host: &LocalHost) -> Vec<String> {
    let mut ids: Vec<String> = published_to(host, NOTIFICATIONS)
        .iter()
        .map(|notification| notification["returnId"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn late_return_settling_lines() -> Vec<MessageLine> {
    sample("scenarios/late_duplicates.jsonl")[..3].to_vec()
}

fn assert_one_notification_for_the_single_return(host: &LocalHost) {
    assert_eq!(
        notified_returns(host),
        vec![SINGLE_RETURN.to_owned()],
        "exactly one email"
    );
    let notification = &published_to(host, NOTIFICATIONS)[0];
    assert_eq!(notification["refund"]["totalMinor"], SINGLE_RETURN_REFUNDED_MINOR);
    assert_eq!(
        notification["sourceEvents"].as_array().unwrap().len(),
        5,
        "{notification}"
    );
    assert!(host.dead_lettered().is_empty(), "{:?}", host.dead_lettered());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_engine_restart_mid_run_loses_no_event_and_sends_no_second_email() {
    let mut options = host_options(&[("STUCK_RETURN_AFTER", "1h")], "faults-engine-restart");
    // Service Bus redelivers at once; the budget must outlast the outage (see the next test for the default).
    options.max_delivery_count = u32::MAX;
    let host = Arc::new(start_host_with(options).await);
    deliver(&host, &sample("scenarios/single_return.jsonl"), None, 0.0).await;
    wait_for_published(&host, Some(1)).await;

    host.stop_engine().await.expect("the engine stops");
    let outage = std::time::Instant::now();
    let before = host.stats();
    let lines = late_return_settling_lines();
    let delivering = {
        let (host, lines) = (host.clone(), lines.clone());
        tokio::spawn(async move { deliver(&host, &lines, None, 0.0).await })
    };
    let refused_twice = before.redeliveries + 2 * lines.len() as u64;
    wait_until_within(
        "every event was refused twice while the engine is down",
        FAULT_DEADLINE,
        || host.stats().redeliveries >= refused_twice,
    )
    .await;
    assert_eq!(
        host.stats().messages_completed,
        before.messages_completed,
        "no event is accepted while the engine is down"
    );
    assert!(host.dead_lettered().is_empty());

    host.start_engine().await.expect("an engine starts on the same port");
    eprintln!("the engine was down for {:?}", outage.elapsed());
    delivering.await.unwrap();
    wait_for_published(&host, Some(2)).await;
    wait_idle(&host).await;

    assert_eq!(
        notified_returns(&host),
        vec![SINGLE_RETURN.to_owned(), LATE_RETURN.to_owned()],
        "the return settled during the outage is notified once, the one before it not again"
    );
    assert!(host.dead_lettered().is_empty(), "{:?}", host.dead_lettered());
    assert!(invocations_of(&host, "ServiceBusTrigger").failed >= 2 * lines.len() as u64);
    finish(Arc::try_unwrap(host).expect("no other owner")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_engine_outage_beyond_the_delivery_count_dead_letters_events_and_resubmitting_them_settles_the_return() {
    let host = start_host(&[("STUCK_RETURN_AFTER", "1h")], "faults-engine-outage").await;
    host.stop_engine().await.expect("the engine stops");
    let outage = std::time::Instant::now();
    let lines = sample("scenarios/single_return.jsonl");
    // Service Bus's default MaxDeliveryCount of 10 is spent within moments: every event is dead-lettered, not lost.
    deliver(&host, &lines, None, 0.0).await;
    eprintln!("every event dead-lettered {:?} into the outage", outage.elapsed());
    let dead = host.dead_lettered();
    assert_eq!(dead.len(), lines.len(), "every event is kept in the dead-letter queue");
    for message in &dead {
        assert_eq!(message.delivery_count, 10);
        assert_eq!(message.reason, "MaxDeliveryCountExceeded");
        assert!(
            message.error.contains("503"),
            "the handler answered 503: {}",
            message.error
        );
    }
    assert!(host.published().is_empty());

    host.start_engine().await.expect("an engine starts on the same port");
    let resubmitted: Vec<ServiceBusMessage> = dead.into_iter().map(|dead| dead.message).collect();
    deliver(&host, &lines_of(resubmitted), None, 0.0).await;
    wait_for_published(&host, Some(1)).await;
    wait_idle(&host).await;
    assert_eq!(notified_returns(&host), vec![SINGLE_RETURN.to_owned()]);
    finish(host).await;
}

/// The line ids of the last event of the single return (a parcel), which a lost entity batch leaves missing.
fn lines_of_the_last_parcel() -> Vec<String> {
    let lines = sample("scenarios/single_return.jsonl");
    let body = lines.last().unwrap().message.body.as_ref().unwrap();
    assert_eq!(body["eventType"], "ReturnItemsReceived");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["lineId"].as_str().unwrap().to_owned())
        .collect()
}

/// The entity ids and orchestration ids of the problems local-host reported.
fn failed_work_items(host: &LocalHost) -> Vec<(WorkItemKind, String, Vec<String>)> {
    host.stats()
        .problems
        .into_iter()
        .map(|problem| match problem {
            Problem::WorkItemFailed {
                kind,
                instance_id,
                operations,
                ..
            } => (kind, instance_id, operations),
            other => panic!("unexpected problem: {other}"),
        })
        .collect()
}

/// What a lost entity batch leaves behind, and how it is detected: the batch's event is not in the aggregate,
/// local-host names the entity and the operation, and the return's stuck alert names what is missing.
async fn assert_the_lost_event_is_detected(host: &LocalHost, return_id: &str) {
    wait_for_published(host, Some(1)).await;
    assert_eq!(
        failed_work_items(host),
        vec![(
            WorkItemKind::Entity,
            format!("@entityfunction@{return_id}"),
            vec!["apply".to_owned()]
        )],
        "local-host reports the failed batch"
    );
    assert!(notified_returns(host).is_empty(), "the return cannot settle");
    let state: Value = serde_json::from_str(&aggregate_state(host, return_id).await.unwrap()).unwrap();
    assert_eq!(state["aggregate"]["status"], "Open", "{state}");
    let alerts = published_to(host, ALERTS);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["returnId"], return_id);
    let summary = alerts[0]["summary"].as_str().unwrap();
    for line in lines_of_the_last_parcel() {
        assert!(summary.contains(&line), "the alert names line {line}: {summary}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_handler_crash_after_it_answered_a_trigger_an_orchestrator_or_an_activity_is_handled_as_the_extension_does() {
    let host = start_host(&[("STUCK_RETURN_AFTER", "1h")], "faults-crash-after-answer").await;
    // The trigger's signal was sent but its 2xx was lost: the message is redelivered, the entity drops the duplicate.
    let trigger = settle_a_return_with_a_fault(&host, 1, "ServiceBusTrigger", InvocationFault::CrashAfterAnswer).await;
    wait_for_published(&host, Some(1)).await;
    // The activity's answer (with the notification) was lost: its task fails, and the orchestrator's retry policy
    // runs it again after its first retry interval.
    let activity =
        settle_a_return_with_a_fault(&host, 2, "PublishNotification", InvocationFault::CrashAfterAnswer).await;
    wait_for_published(&host, Some(2)).await;
    // The orchestrator's answer was lost: the extension fails the orchestration for good, and the notification is
    // never sent. local-host reports it, as the Functions host logs the failed orchestration.
    let orchestrator = settle_a_return_with_a_fault(&host, 3, "Orchestrator", InvocationFault::CrashAfterAnswer).await;
    wait_idle(&host).await;

    let mut notified = vec![trigger.clone(), activity.clone()];
    notified.sort();
    assert_eq!(
        notified_returns(&host),
        notified,
        "one email each, none for the failed orchestration"
    );
    let instance = format!("returns-settled-{orchestrator}");
    assert_eq!(
        failed_work_items(&host),
        vec![(WorkItemKind::Orchestration, instance.clone(), Vec::new())]
    );
    let client = DurableClient::connect(host.engine_address(), ClientOptions::default())
        .await
        .unwrap();
    let failed = client.get_instance(&instance).await.unwrap().unwrap();
    assert_eq!(failed.status, OrchestrationStatus::Failed);
    assert_eq!(
        failed.failure_details.map(|failure| failure.message).as_deref(),
        Some("Function 'Orchestrator' failed with an unhandled exception.")
    );
    for function in ["ServiceBusTrigger", "Orchestrator", "PublishNotification"] {
        let counts = invocations_of(&host, function);
        assert!(counts.lost >= 1, "{function} lost an invocation: {counts:?}");
    }
    assert!(host.dead_lettered().is_empty(), "{:?}", host.dead_lettered());
    assert!(host.stats().handler_restarts >= 3);
    finish(host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_handler_crash_during_an_entity_batch_loses_its_event_and_the_stuck_alert_names_what_is_missing() {
    let host = start_host(&[("STUCK_RETURN_AFTER", "4s")], "faults-entity-crash").await;
    let return_id = settle_a_return_with_a_fault(&host, 4, "EntityFunction", InvocationFault::CrashAfterAnswer).await;
    assert_the_lost_event_is_detected(&host, &return_id).await;
    finish(host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hung_trigger_orchestrator_and_activity_invocations_time_out_and_are_retried() {
    let mut options = host_options(&[("STUCK_RETURN_AFTER", "1h")], "faults-timeouts");
    options.function_timeout = Some(Duration::from_secs(2));
    let host = start_host_with(options).await;
    // One hang at a time on an otherwise idle handler: the host restarts a hung process, and every other
    // invocation on it then fails as a crash would (an orchestrator's for good), as with the real host. The
    // Service Bus message's redelivery and the durable work it causes must not meet a hang armed for the
    // durable functions, so they hang on a second return, whose last message is delivered to the end while
    // durable work is held.
    let trigger = settle_a_return_with_a_fault(&host, 1, "ServiceBusTrigger", InvocationFault::Hang).await;
    wait_for_published(&host, Some(1)).await;
    wait_idle(&host).await;

    let (durable, lines) = single_return_copy(2);
    let (first, last) = lines.split_at(lines.len() - 1);
    deliver(&host, first, None, 0.0).await;
    wait_idle(&host).await;
    let hangs = ["Orchestrator", "PublishNotification"]
        .map(|function| (function, host.inject_fault(function, InvocationFault::Hang).unwrap()));
    host.pause_durable_work();
    deliver(&host, last, None, 0.0).await;
    host.resume_durable_work();
    for (function, fault) in hangs {
        let applied = tokio::time::timeout(FAULT_DEADLINE, fault.wait()).await;
        assert_eq!(applied, Ok(true), "{function} hung");
    }
    wait_for_published(&host, Some(2)).await;
    wait_idle(&host).await;

    let mut both = vec![trigger, durable];
    both.sort();
    assert_eq!(notified_returns(&host), both, "one email each");
    assert!(host.dead_lettered().is_empty(), "{:?}", host.dead_lettered());
    const HUNG: [&str; 3] = ["ServiceBusTrigger", "Orchestrator", "PublishNotification"];
    for function in HUNG {
        let counts = invocations_of(&host, function);
        assert!(counts.timed_out >= 1, "{function} hung: {counts:?}");
        assert!(counts.succeeded >= 1, "{function} ran again: {counts:?}");
    }
    // The host kills a hung worker and starts a new one, once per hang.
    let stats = host.stats();
    assert!(stats.handler_restarts >= HUNG.len() as u64, "{stats}");
    assert!(stats.problems.is_empty(), "{stats}");
    finish(host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_entity_batch_times_out_for_good_and_the_stuck_alert_names_what_is_missing() {
    // The deadline check comes well after the hang ended, so it does not run on the frozen process.
    let mut options = host_options(&[("STUCK_RETURN_AFTER", "10s")], "faults-entity-timeout");
    options.function_timeout = Some(Duration::from_secs(2));
    let host = start_host_with(options).await;
    let return_id = settle_a_return_with_a_fault(&host, 5, "EntityFunction", InvocationFault::Hang).await;
    assert_the_lost_event_is_detected(&host, &return_id).await;
    assert_eq!(invocations_of(&host, "EntityFunction").timed_out, 1);
    finish(host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_handler_under_traffic_reports_every_loss_and_the_documented_recovery_notifies_each_return_once() {
    let expected = expected("expected.json");
    let settled: BTreeSet<String> = expected["settled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|settled| settled["returnId"].as_str().unwrap().to_owned())
        .collect();
    let host = Arc::new(start_serving_http(host_options(&[("STUCK_RETURN_AFTER", "1h")], "faults-kill")).await);
    let lines = sample("messages.jsonl");
    let delivering = {
        let host = host.clone();
        tokio::spawn(async move { deliver(&host, &lines, Some(11), 0.1).await })
    };
    // Kill the handler twice while traffic is flowing: once some notifications went out, and again later.
    for threshold in [settled.len() / 4, settled.len() / 2] {
        wait_until("enough notifications went out", || {
            published_to(&host, NOTIFICATIONS).len() >= threshold
        })
        .await;
        assert!(host.kill_handler().is_some(), "a handler process was running");
    }
    delivering.await.unwrap();
    // A crashed activity is retried by the orchestrator after its first retry interval (5 s): wait for that too.
    wait_idle_including_timers(&host).await;

    let notified = notified_returns(&host);
    let distinct: BTreeSet<String> = notified.iter().cloned().collect();
    assert_eq!(distinct.len(), notified.len(), "no return notified twice");
    assert!(distinct.is_subset(&settled), "only settled returns are notified");
    // A return that was not notified lost an entity batch or its orchestration to a crash, and local-host named it.
    let reported: BTreeSet<String> = failed_work_items(&host)
        .into_iter()
        .map(|(kind, instance_id, _)| match kind {
            WorkItemKind::Entity => instance_id.rsplit('@').next().unwrap().to_owned(),
            _ => instance_id.trim_start_matches("returns-settled-").to_owned(),
        })
        .collect();
    for return_id in settled.difference(&distinct) {
        assert!(
            reported.contains(return_id),
            "{return_id} was not notified and no failure names it: {:?}",
            host.stats().problems
        );
    }
    eprintln!(
        "{} of {} settled returns notified; {} failed work items reported",
        distinct.len(),
        settled.len(),
        reported.len()
    );
    assert!(host.stats().handler_restarts >= 2, "the handler was restarted");

    // The documented recovery (README, "Recovering lost events and failed notifications"): a return that lost
    // events gets them re-sent from the audit copy; one whose notification orchestration failed is re-driven.
    let failed_runs: BTreeSet<String> = failed_work_items(&host)
        .into_iter()
        .filter(|(kind, instance_id, _)| {
            *kind == WorkItemKind::Orchestration && instance_id.starts_with("returns-settled-")
        })
        .map(|(_, instance_id, _)| instance_id.trim_start_matches("returns-settled-").to_owned())
        .collect();
    let (mut resent, mut redriven) = (0, 0);
    for return_id in &settled {
        let state = aggregate_state(&host, return_id).await.unwrap_or_default();
        let entity_settled =
            serde_json::from_str::<Value>(&state).is_ok_and(|state| state["aggregate"]["status"] == "Settled");
        if !entity_settled {
            let (status, body) = resend_from_audit(&host, return_id).await;
            assert_eq!(status, 200, "{return_id}: {body}");
            resent += 1;
        } else if failed_runs.contains(return_id) || !distinct.contains(return_id) {
            let (status, body) = redrive(&host, return_id).await;
            assert!(status == 200 || status == 202, "{return_id}: {status} {body}");
            redriven += 1;
        }
    }
    wait_idle_including_timers(&host).await;
    let notified = notified_returns(&host);
    let distinct: BTreeSet<String> = notified.iter().cloned().collect();
    eprintln!(
        "recovery: {resent} returns re-sent, {redriven} re-driven; {} notified",
        distinct.len()
    );
    assert_eq!(
        distinct.len(),
        notified.len(),
        "no return notified twice, recovery included"
    );
    assert_eq!(distinct, settled, "after the recovery every settled return is notified");
    assert!(host.dead_lettered().is_empty(), "{:?}", host.dead_lettered());
    finish(Arc::try_unwrap(host).expect("no other owner")).await;
}

/// A copy of a message: `redelivered` keeps the message id (the broker delivering it again), otherwise the producer
/// published it again under a new message id, and `new_event_id` also gives the event a new id (the same facts).
fn copy_of(line: &MessageLine, copy: usize, redelivered: bool, new_event_id: bool) -> ServiceBusMessage {
    let mut message = line.message.clone();
    if !redelivered {
        let id = message.message_id.clone().unwrap_or_default();
        message.message_id = Some(format!("{id}-copy{copy}"));
    }
    if new_event_id {
        let body = message.body.as_mut().and_then(Value::as_object_mut).unwrap();
        let id = body["eventId"].as_str().unwrap().to_owned();
        body.insert("eventId".into(), json!(format!("{id}-republished{copy}")));
    }
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_message_delivered_five_times_gives_one_notification() {
    let host = start_host(&[("STUCK_RETURN_AFTER", "1h")], "faults-five-times").await;
    let lines = sample("scenarios/single_return.jsonl");
    // Each event five times: the original, two redeliveries of it, a re-publication under a new message id, and
    // one under a new message id and a new event id. All 25 are shuffled and up to 32 are in flight at once.
    let five_times: Vec<ServiceBusMessage> = lines
        .iter()
        .flat_map(|line| {
            [
                line.message.clone(),
                copy_of(line, 1, true, false),
                copy_of(line, 2, true, false),
                copy_of(line, 3, false, false),
                copy_of(line, 4, false, true),
            ]
        })
        .collect();
    let five_times = lines_of(five_times);
    deliver(&host, &five_times, Some(5), 0.0).await;
    wait_for_published(&host, Some(1)).await;
    // And all of it five times more after the return settled.
    for round in 0..5 {
        deliver(&host, &five_times, Some(round), 0.0).await;
    }
    wait_idle(&host).await;

    assert_one_notification_for_the_single_return(&host);
    assert_eq!(invocations_of(&host, "ServiceBusTrigger").succeeded, 6 * 25);
    assert!(published_to(&host, INVALID).is_empty());
    let notification = &published_to(&host, NOTIFICATIONS)[0];
    let refunds = notification["refund"]["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 2, "no refund counted twice: {notification}");
    let state = aggregate_state(&host, SINGLE_RETURN)
        .await
        .expect("the aggregate exists");
    let state: Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["aggregate"]["status"], "Settled", "{state}");
    finish(host).await;
}

const ONE_MIB: usize = 1 << 20;

fn event(subject: &str, body: Value) -> ServiceBusMessage {
    let mut message = ServiceBusMessage::new("ServiceBusTrigger", body);
    message.subject = Some(subject.to_owned());
    message.content_type = Some("application/json".to_owned());
    message
}

fn envelope(event_type: &str, event_id: &str, return_id: &str) -> serde_json::Map<String, Value> {
    let body = json!({
        "eventId": event_id, "eventType": event_type, "schemaVersion": 1, "source": "fault-tests",
        "occurredAt": "2025-03-20T10:00:00Z", "returnId": return_id,
    });
    body.as_object().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_megabyte_events_are_processed_or_kept_with_a_reason_naming_the_field() {
    let host = start_host(&[("STUCK_RETURN_AFTER", "1h")], "faults-one-megabyte").await;
    // A booking carrying 1 MiB of free text in a field the schema does not know: processed, and the text is not
    // carried into the aggregate's state.
    let mut lines = sample("scenarios/single_return.jsonl");
    let booking = lines
        .iter_mut()
        .find(|line| line.message.body.as_ref().unwrap()["eventType"] == "ReturnBooked")
        .unwrap();
    let notes = "Customer note: ".to_owned() + &"x".repeat(ONE_MIB);
    booking.message.body.as_mut().unwrap()["notes"] = json!(notes);

    // Three events of 1 MiB the schema refuses, each for its own reason.
    let mut cancelled = envelope("ReturnCancelled", "EVT-BIG-REASON", "RET-BIG-000001");
    cancelled.insert("reason".into(), json!("r".repeat(ONE_MIB)));
    cancelled.insert("cancelledAt".into(), json!("2025-03-20T10:00:00Z"));
    let item = json!({"lineId": "L1", "sku": "SKU-TEE-WHT-S", "quantity": 1, "condition": "Resellable"});
    let mut parcel = envelope("ReturnItemsReceived", "EVT-BIG-PARCEL", "RET-BIG-000002");
    parcel.insert("parcelId".into(), json!("PCL-BIG"));
    parcel.insert("warehouseId".into(), json!("WH-BER-01"));
    parcel.insert("receivedAt".into(), json!("2025-03-20T10:00:00Z"));
    parcel.insert("items".into(), json!(vec![item; 14_500]));
    let refused = vec![
        (event("ReturnCancelled", Value::Object(cancelled)), "reason"),
        (event("ReturnItemsReceived", Value::Object(parcel)), "items"),
        (event("ReturnBooked", json!("{".repeat(ONE_MIB))), "body"),
    ];
    for (message, _) in &refused {
        assert!(message.body_text().len() >= ONE_MIB, "each event is at least 1 MiB");
    }
    let mut messages: Vec<ServiceBusMessage> = lines.into_iter().map(|line| line.message).collect();
    messages.extend(refused.iter().map(|(message, _)| message.clone()));
    deliver(&host, &lines_of(messages), Some(1), 0.0).await;
    wait_for_published(&host, Some(1 + refused.len())).await;
    wait_idle(&host).await;

    assert_one_notification_for_the_single_return(&host);
    let state = aggregate_state(&host, SINGLE_RETURN)
        .await
        .expect("the aggregate exists");
    assert!(!state.contains(&"x".repeat(64)), "the unknown field is not kept");
    assert!(
        state.len() < 16 * 1024,
        "the aggregate stays small: {} bytes",
        state.len()
    );

    let kept = published_to(&host, INVALID);
    assert_eq!(kept.len(), refused.len(), "each refused event is kept once");
    let fields: BTreeSet<&str> = kept.iter().map(|record| record["field"].as_str().unwrap()).collect();
    let expected: BTreeSet<&str> = refused.iter().map(|(_, field)| *field).collect();
    assert_eq!(fields, expected, "each reason names the field: {:?}", errors(&kept));
    for record in &kept {
        let original = record["body"]["text"]
            .as_str()
            .expect("the original body is kept as text");
        assert!(original.len() >= ONE_MIB, "the whole body is kept");
    }
    assert_eq!(invocations_of(&host, "EntityFunction").failed, 0);
    finish(host).await;
}

fn errors(records: &[Value]) -> Vec<&str> {
    records.iter().filter_map(|record| record["error"].as_str()).collect()
}

/// An identifier of the longest length the schema accepts (128 bytes), unique by `prefix`.
fn longest_identifier(prefix: &str) -> String {
    format!("{prefix:-<128}")
}

/// The largest return the schema and the aggregate accept, as events: 100 booked lines, as many parcels and refunds
/// as a return may record (`domain::limits`), sharing its budget of recorded lines, every identifier at its longest.
/// The first parcel and the first refund (100 lines each) settle it; the others add nothing but size.
fn largest_return(return_id: &str) -> (Vec<ServiceBusMessage>, Vec<ServiceBusMessage>) {
    use returns_aggregator::domain::limits::{MAX_LINES_PER_EVENT, MAX_PARCELS, MAX_RECORDED_LINES, MAX_REFUNDS};
    const LINES: usize = MAX_LINES_PER_EVENT;
    const PARCELS: usize = MAX_PARCELS;
    const REFUNDS: usize = MAX_REFUNDS;
    const FILLER_LINES: usize = (MAX_RECORDED_LINES - 2 * LINES) / (PARCELS + REFUNDS - 2);
    const UNIT_PRICE: u64 = 100;
    let line_ids: Vec<String> = (0..LINES).map(|i| longest_identifier(&format!("L{i:03}"))).collect();
    let sku = |line: &str| longest_identifier(&format!("SKU-{}", &line[..4]));
    let mut booking = envelope("ReturnBooked", &longest_identifier("EVT-BOOKING"), return_id);
    booking.insert("orderId".into(), json!(longest_identifier("ORD")));
    booking.insert("customerId".into(), json!(longest_identifier("CUST")));
    booking.insert("bookedAt".into(), json!("2025-03-20T10:00:00Z"));
    let booked: Vec<Value> = line_ids
        .iter()
        .map(|line| {
            json!({"lineId": line, "sku": sku(line), "quantity": 1,
                   "unitPrice": {"amountMinor": UNIT_PRICE, "currency": "EUR"}})
        })
        .collect();
    booking.insert("items".into(), json!(booked));
    let parcel = |n: usize| {
        let mut parcel = envelope(
            "ReturnItemsReceived",
            &longest_identifier(&format!("EVT-PARCEL-{n:02}")),
            return_id,
        );
        parcel.insert("parcelId".into(), json!(longest_identifier(&format!("PCL-{n:02}"))));
        parcel.insert("warehouseId".into(), json!(longest_identifier("WH")));
        parcel.insert("receivedAt".into(), json!("2025-03-21T10:00:00Z"));
        let quantity = u64::from(n == 0);
        let lines = if n == 0 { LINES } else { FILLER_LINES };
        let items: Vec<Value> = line_ids[..lines]
            .iter()
            .map(|line| {
                json!({"lineId": line, "sku": sku(line),
                               "quantity": quantity, "condition": "Resellable"})
            })
            .collect();
        parcel.insert("items".into(), json!(items));
        event("ReturnItemsReceived", Value::Object(parcel))
    };
    let refund = |n: usize| {
        let mut refund = envelope(
            "RefundIssued",
            &longest_identifier(&format!("EVT-REFUND-{n:02}")),
            return_id,
        );
        let per_line = if n == 0 { UNIT_PRICE } else { 0 };
        refund.insert("refundId".into(), json!(longest_identifier(&format!("RFD-{n:02}"))));
        refund.insert(
            "amount".into(),
            json!({"amountMinor": per_line * LINES as u64, "currency": "EUR"}),
        );
        let count = if n == 0 { LINES } else { FILLER_LINES };
        let lines: Vec<Value> = line_ids[..count]
            .iter()
            .map(|line| json!({"lineId": line, "amountMinor": per_line}))
            .collect();
        refund.insert("lines".into(), json!(lines));
        refund.insert(
            "paymentReference".into(),
            json!(longest_identifier(&format!("PSP-{n:02}"))),
        );
        refund.insert("issuedAt".into(), json!("2025-03-22T10:00:00Z"));
        event("RefundIssued", Value::Object(refund))
    };
    let mut filling = vec![event("ReturnBooked", Value::Object(booking))];
    filling.extend((1..PARCELS).map(parcel));
    filling.extend((1..REFUNDS).map(refund));
    (filling, vec![parcel(0), refund(0)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_largest_return_the_domain_accepts_fits_the_handler_and_engine_limits() {
    const RETURN_ID: &str = "RET-LARGEST-000001";
    let host = start_host(&[("STUCK_RETURN_AFTER", "1h")], "faults-largest-return").await;
    let (filling, settling) = largest_return(RETURN_ID);
    let filling_events = filling.len() - 1;
    deliver(&host, &lines_of(filling), None, 0.0).await;
    let recorded = async {
        loop {
            if invocations_of(&host, "EntityFunction").failed > 0 {
                return;
            }
            if let Some(state) = aggregate_state(&host, RETURN_ID).await {
                let state: Value = serde_json::from_str(&state).unwrap();
                let facts =
                    ["parcels", "refunds"].map(|facts| state["aggregate"][facts].as_array().map_or(0, Vec::len));
                if facts.iter().sum::<usize>() == filling_events {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(FAULT_DEADLINE, recorded)
        .await
        .expect("the aggregate records every event, or fails");
    deliver(&host, &lines_of(settling), None, 0.0).await;
    wait_until_within("the return is notified, or its entity fails", FAULT_DEADLINE, || {
        !published_to(&host, NOTIFICATIONS).is_empty() || invocations_of(&host, "EntityFunction").failed > 0
    })
    .await;
    let state = aggregate_state(&host, RETURN_ID).await.unwrap_or_default();
    let entity = invocations_of(&host, "EntityFunction");
    assert_eq!(
        entity.failed,
        0,
        "entity invocations failed with a state of {} bytes",
        state.len()
    );
    wait_idle(&host).await;
    assert_eq!(notified_returns(&host), vec![RETURN_ID.to_owned()]);
    finish(host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_three_megabyte_event_is_processed_or_kept_with_a_reason() {
    let host = start_host(&[("STUCK_RETURN_AFTER", "1h")], "faults-three-megabytes").await;
    let mut cancelled = envelope("ReturnCancelled", "EVT-HUGE", "RET-HUGE-000001");
    cancelled.insert("reason".into(), json!("r".repeat(3 * ONE_MIB)));
    cancelled.insert("cancelledAt".into(), json!("2025-03-20T10:00:00Z"));
    deliver(
        &host,
        &lines_of(vec![event("ReturnCancelled", Value::Object(cancelled))]),
        None,
        0.0,
    )
    .await;
    wait_idle(&host).await;
    assert!(
        host.dead_lettered().is_empty(),
        "dead-lettered: {:?}",
        host.dead_lettered().iter().map(|d| &d.error).collect::<Vec<_>>()
    );
    let kept = published_to(&host, INVALID);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["field"], "reason");
    finish(host).await;
}
