//! `POST /EntityFunction`: base64 `EntityBatchRequest`s of `apply` operations (and others) for the return aggregate
//! entity, answered with one result per operation, the new state and the actions — the deadline check scheduled
//! on the first event, exactly one notification orchestration when the return settles, nothing for duplicates and
//! late events, and a failure confined to the operation that caused it.

mod support;

use chrono::{DateTime, Duration, Utc};
use durabletask_sdk::proto::operation_action::OperationActionType;
use durabletask_sdk::proto::operation_result::ResultType;
use durabletask_sdk::proto::{self, OperationRequest};
use durabletask_sdk::time::to_datetime;
use returns_aggregator::domain::identifiers::unrecorded_alert_id;
use returns_aggregator::domain::{accepted_event, KeptBody, ReturnAggregate, ReturnSettledNotification, ReturnStatus};
use returns_aggregator::durable::{AggregateEntityState, AggregateOperation, Publication};
use serde_json::{json, Value};
use support::events::{body, event, processing_time, return_id, settling_bodies, Kind};
use support::host::{entity_invocation, entity_result};
use support::router::{invoke, router};

fn entity_instance(return_id: &str) -> String {
    format!("@entityfunction@{return_id}")
}

/// An operation as the extension sends it: a GUID request id and JSON text input.
fn operation(name: &str, input: Option<&Value>) -> OperationRequest {
    OperationRequest {
        operation: name.to_string(),
        request_id: uuid::Uuid::new_v4().to_string(),
        input: input.map(Value::to_string),
        ..Default::default()
    }
}

/// An `apply` of `body`, in the canonical wire form the Service Bus function signals.
fn apply(body: &Value) -> OperationRequest {
    operation("apply", Some(&event(body).to_wire_json()))
}

/// Runs one batch for `return_id` from `state` through the router and decodes the result.
async fn run_batch(
    return_id: &str,
    state: Option<&str>,
    operations: Vec<OperationRequest>,
) -> proto::EntityBatchResult {
    let request = proto::EntityBatchRequest {
        instance_id: entity_instance(return_id),
        entity_state: state.map(str::to_string),
        operations,
        ..Default::default()
    };
    let answer = invoke(&router(&[]), "EntityFunction", &entity_invocation(&request)).await;
    answer.expect_success();
    assert_eq!(answer.body["Outputs"], json!({}), "an entity has no output bindings");
    entity_result(answer.return_value())
}

/// The result of each operation: `Ok(result JSON)` or `Err(error type)`.
fn results(batch: &proto::EntityBatchResult) -> Vec<Result<Value, String>> {
    batch
        .results
        .iter()
        .map(|result| match &result.result_type {
            Some(ResultType::Success(success)) => Ok(success
                .result
                .as_deref()
                .map_or(Value::Null, |text| serde_json::from_str(text).expect("JSON result"))),
            Some(ResultType::Failure(failure)) => Err(failure
                .failure_details
                .as_ref()
                .map(|details| details.error_type.clone())
                .unwrap_or_default()),
            None => Err("<no result>".to_string()),
        })
        .collect()
}

fn dispositions(batch: &proto::EntityBatchResult) -> Vec<String> {
    results(batch)
        .into_iter()
        .map(|result| match result {
            Ok(value) => value["disposition"].as_str().unwrap_or("<none>").to_string(),
            Err(error_type) => format!("failed: {error_type}"),
        })
        .collect()
}

fn state(batch: &proto::EntityBatchResult) -> AggregateEntityState {
    serde_json::from_str(batch.entity_state.as_deref().expect("the entity keeps state")).expect("the entity's state")
}

fn starts(batch: &proto::EntityBatchResult) -> Vec<&proto::StartNewOrchestrationAction> {
    batch
        .actions
        .iter()
        .filter_map(|action| match &action.operation_action_type {
            Some(OperationActionType::StartNewOrchestration(start)) => Some(start),
            _ => None,
        })
        .collect()
}

fn signals(batch: &proto::EntityBatchResult) -> Vec<&proto::SendSignalAction> {
    batch
        .actions
        .iter()
        .filter_map(|action| match &action.operation_action_type {
            Some(OperationActionType::SendSignal(signal)) => Some(signal),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn the_first_event_schedules_a_deadline_check_to_the_entity_itself() {
    let return_id = "RET-2025-910201";
    let before = Utc::now();
    let batch = run_batch(return_id, None, vec![apply(&body(Kind::Booked, return_id))]).await;
    let after = Utc::now();

    assert_eq!(dispositions(&batch), ["applied"]);
    assert_eq!(results(&batch)[0].as_ref().unwrap()["status"], "Open");
    assert!(starts(&batch).is_empty(), "an open return starts nothing");
    let signals = signals(&batch);
    assert_eq!(signals.len(), 1, "{:?}", batch.actions);
    assert_eq!(signals[0].name, "checkDeadline");
    assert_eq!(
        signals[0].instance_id,
        entity_instance(return_id),
        "the check goes to the entity itself"
    );
    let due = to_datetime(signals[0].scheduled_time.as_ref().expect("the check is scheduled"));
    let stuck_after = Duration::days(30);
    assert!(
        due >= before + stuck_after - Duration::seconds(1) && due <= after + stuck_after + Duration::seconds(1),
        "the check is due at {due}, not 30 days after the first event"
    );
    let state = state(&batch);
    assert_eq!(state.aggregate.return_id().as_str(), return_id);
    assert!(state.notification_published_at.is_none());

    // The second event is not the first: no second deadline check.
    let raw_state = batch.entity_state.clone();
    let batch = run_batch(
        return_id,
        raw_state.as_deref(),
        vec![apply(&body(Kind::Received, return_id))],
    )
    .await;
    assert_eq!(dispositions(&batch), ["applied"]);
    assert!(batch.actions.is_empty(), "{:?}", batch.actions);
}

#[tokio::test]
async fn settling_starts_the_notification_orchestration_once() {
    let return_id = "RET-2025-910202";
    let operations = settling_bodies(return_id).iter().map(apply).collect();
    let batch = run_batch(return_id, None, operations).await;

    assert_eq!(dispositions(&batch), ["applied", "applied", "applied"]);
    assert_eq!(results(&batch)[2].as_ref().unwrap()["status"], "Settled");
    let starts = starts(&batch);
    assert_eq!(starts.len(), 1, "{:?}", batch.actions);
    assert_eq!(starts[0].name, "Orchestrator");
    assert_eq!(starts[0].instance_id, format!("returns-settled-{return_id}"));
    let input: Publication =
        serde_json::from_str(starts[0].input.as_deref().expect("an input")).expect("a Publication");
    let Publication::Settled(notification) = input else {
        panic!("the orchestration was not started for the settled notification");
    };
    assert_eq!(notification.return_id.as_str(), return_id);
    assert_eq!(
        *notification,
        ReturnSettledNotification::from_aggregate(&state(&batch).aggregate).unwrap(),
        "the orchestrator is handed the finished notification"
    );
    assert_eq!(state(&batch).aggregate.status(), ReturnStatus::Settled);
}

#[tokio::test]
async fn duplicates_never_start_a_second_orchestration() {
    let return_id = "RET-2025-910203";
    let bodies = settling_bodies(return_id);
    // The refund arrives twice in the settling batch ...
    let mut operations: Vec<_> = bodies.iter().map(apply).collect();
    operations.push(apply(&bodies[2]));
    let batch = run_batch(return_id, None, operations).await;
    assert_eq!(dispositions(&batch), ["applied", "applied", "applied", "duplicate"]);
    assert_eq!(starts(&batch).len(), 1);

    // ... and every event is redelivered in a later batch.
    let before = Utc::now();
    let operations = bodies.iter().map(apply).collect();
    let later = run_batch(return_id, batch.entity_state.as_deref(), operations).await;
    assert!(
        starts(&later).is_empty(),
        "a redelivery started another orchestration: {:?}",
        later.actions
    );
    assert!(later.actions.is_empty(), "{:?}", later.actions);
    assert!(results(&later).iter().all(Result::is_ok));
    assert_eq!(state(&later).aggregate.status(), ReturnStatus::Settled);
    assert!(
        state(&later)
            .aggregate
            .closed_at()
            .is_some_and(|closed| closed <= before),
        "the settlement moved"
    );

    // A duplicate before settlement is recognised as such.
    let open = run_batch(
        "RET-2025-910213",
        None,
        vec![
            apply(&body(Kind::Booked, "RET-2025-910213")),
            apply(&body(Kind::Booked, "RET-2025-910213")),
        ],
    )
    .await;
    assert_eq!(dispositions(&open), ["applied", "duplicate"]);
}

#[tokio::test]
async fn events_after_settlement_change_nothing_but_are_recorded_as_late() {
    let return_id = "RET-2025-910204";
    let settled = run_batch(return_id, None, settling_bodies(return_id).iter().map(apply).collect()).await;
    let settled_state = state(&settled);
    let mut late_parcel = body(Kind::Received, return_id);
    late_parcel["eventId"] = json!("7a1f0c55-5d0e-4bb2-9f1c-0e6a3b2d1c07");
    late_parcel["parcelId"] = json!("PCL-LATE0001");
    let late = run_batch(
        return_id,
        settled.entity_state.as_deref(),
        vec![apply(&late_parcel), apply(&body(Kind::Cancelled, return_id))],
    )
    .await;
    assert_eq!(dispositions(&late), ["late", "late"]);
    // Each late event gets one follow-up alert, so a person sees what the notification did not say.
    let alerts: Vec<(String, String, String)> = starts(&late)
        .iter()
        .map(|start| {
            let Publication::LateEvent(alert) = publication(start) else {
                panic!("not a late-event alert: {start:?}");
            };
            assert_eq!(start.instance_id, format!("returns-late-{}", alert.alert_id));
            assert_eq!(alert.return_status, ReturnStatus::Settled);
            (start.name.clone(), alert.event_type.to_string(), alert.summary)
        })
        .collect();
    assert_eq!(
        alerts,
        [
            (
                "Orchestrator".to_owned(),
                "ReturnItemsReceived".to_owned(),
                "parcel PCL-LATE0001: 3 unit(s)".to_owned()
            ),
            (
                "Orchestrator".to_owned(),
                "ReturnCancelled".to_owned(),
                "cancellation".to_owned()
            )
        ]
    );
    assert_eq!(late.actions.len(), 2, "{:?}", late.actions);
    // A redelivered late event is a duplicate: no second alert.
    let again = run_batch(return_id, late.entity_state.as_deref(), vec![apply(&late_parcel)]).await;
    assert_eq!(dispositions(&again), ["duplicate"]);
    assert!(again.actions.is_empty(), "{:?}", again.actions);
    let after = state(&late).aggregate;
    assert_eq!(
        (after.parcels(), after.refunds(), after.status(), after.closed_at()),
        (
            settled_state.aggregate.parcels(),
            settled_state.aggregate.refunds(),
            settled_state.aggregate.status(),
            settled_state.aggregate.closed_at()
        ),
        "a late event changed the settled return"
    );
    let late_events: Vec<&str> = after.late_events().iter().map(|l| l.summary.as_str()).collect();
    assert_eq!(late_events, ["parcel PCL-LATE0001: 3 unit(s)", "cancellation"]);
}

#[tokio::test]
async fn an_unknown_operation_fails_only_itself() {
    let return_id = "RET-2025-910205";
    let operations = vec![
        apply(&body(Kind::Booked, return_id)),
        operation("frobnicate", Some(&json!({ "x": 1 }))),
        apply(&body(Kind::Received, return_id)),
    ];
    let batch = run_batch(return_id, None, operations).await;
    let results = results(&batch);
    assert_eq!(results.len(), 3, "one result per operation");
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert_eq!(results[1].as_ref().unwrap_err(), "UnknownOperation");
    let state = state(&batch);
    assert!(
        state.aggregate.booking().is_some(),
        "the operation before the failure was lost"
    );
    assert_eq!(
        state.aggregate.parcels().len(),
        1,
        "the operation after the failure was lost"
    );
}

#[tokio::test]
async fn an_event_for_another_return_or_a_broken_event_is_kept_on_the_invalid_events_queue() {
    // The real extension does not retry a failed entity operation and a signal's failure reaches nobody: what the
    // entity cannot record must be kept, not failed.
    let return_id = "RET-2025-910206";
    let broken = json!({ "eventType": "ReturnBooked" });
    let operations = vec![
        apply(&body(Kind::Booked, "RET-2025-999999")),
        operation("apply", Some(&broken)),
        operation("apply", None),
        apply(&body(Kind::Booked, return_id)),
    ];
    let batch = run_batch(return_id, None, operations).await;
    let results = results(&batch);
    let reasons: Vec<_> = results
        .iter()
        .map(|result| {
            let result = result.as_ref().expect("no operation fails");
            (result["disposition"].clone(), result["reason"].clone())
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (json!("refused"), json!("WrongReturn")),
            (json!("refused"), json!("UnreadableEvent")),
            (json!("refused"), json!("UnreadableEvent")),
            (json!("applied"), Value::Null),
        ]
    );
    let kept: Vec<_> = starts(&batch)
        .into_iter()
        .map(|start| {
            assert_eq!(start.name, "Orchestrator");
            assert!(
                start.instance_id.starts_with("returns-invalid-"),
                "{}",
                start.instance_id
            );
            match serde_json::from_str(start.input.as_deref().unwrap()).unwrap() {
                Publication::InvalidEvent(record) => *record,
                other => panic!("not a kept event: {other:?}"),
            }
        })
        .collect();
    assert_eq!(kept.len(), 3, "{:?}", batch.actions);
    assert_eq!(kept[0].reason, "WrongReturn");
    assert_eq!(kept[0].field, "returnId");
    assert!(kept[0].error.contains("RET-2025-999999"), "{}", kept[0].error);
    assert_eq!(kept[0].return_id.as_deref(), Some(return_id));
    assert_eq!(kept[0].rejected_by.as_deref(), Some("EntityFunction"));
    assert_eq!(
        kept[1].body,
        KeptBody::Text(broken.to_string()),
        "the input is kept as it came"
    );
    assert_ne!(kept[1].body, kept[2].body);
    assert_eq!(
        state(&batch).aggregate.booking().map(|b| b.order_id.as_str()),
        Some("ORD-55501234")
    );
}

#[tokio::test]
async fn published_records_the_notification_and_keeps_a_tombstone() {
    let return_id = "RET-2025-910207";
    let settled = run_batch(return_id, None, settling_bodies(return_id).iter().map(apply).collect()).await;
    let published_at = "2025-03-15T09:00:08Z";
    let report = json!({ "kind": "ReturnSettled", "publishedAt": published_at });
    let batch = run_batch(
        return_id,
        settled.entity_state.as_deref(),
        vec![operation("published", Some(&report))],
    )
    .await;
    assert!(results(&batch)[0].is_ok(), "{:?}", results(&batch));
    let state = state(&batch);
    assert_eq!(state.notification_published_at, Some(published_at.parse().unwrap()));
    assert!(
        state.aggregate.is_compacted(),
        "the details are dropped once the notification went out"
    );
    let signals = signals(&batch);
    assert_eq!(signals.len(), 1, "{:?}", batch.actions);
    assert_eq!(signals[0].name, "expire");
    assert_eq!(signals[0].instance_id, entity_instance(return_id));
}

/// The stored state of an open return booked at `booked_at` (processing time).
fn open_state(id: &str, booked_at: DateTime<Utc>) -> String {
    let mut aggregate = ReturnAggregate::new(return_id(id));
    let _ = aggregate.apply(&event(&body(Kind::Booked, id)), booked_at);
    let state = AggregateEntityState {
        aggregate,
        notification_published_at: None,
        alert_published_at: None,
    };
    serde_json::to_string(&state).unwrap()
}

#[tokio::test]
async fn a_return_past_its_deadline_raises_one_stuck_alert() {
    let return_id = "RET-2025-910208";
    let stored = open_state(return_id, processing_time());
    let batch = run_batch(return_id, Some(&stored), vec![operation("checkDeadline", None)]).await;
    assert_eq!(results(&batch), [Ok(json!(true))]);
    let starts = starts(&batch);
    assert_eq!(starts.len(), 1, "{:?}", batch.actions);
    assert_eq!(starts[0].name, "Orchestrator");
    assert_eq!(starts[0].instance_id, format!("returns-stuck-{return_id}"));
    let input: Publication = serde_json::from_str(starts[0].input.as_deref().unwrap()).unwrap();
    let Publication::Stuck(alert) = input else {
        panic!("the orchestration was not started for the stuck alert");
    };
    assert_eq!(alert.return_id.as_str(), return_id);
    assert!(!alert.missing.is_empty(), "the alert says what is missing");

    // A repeated check raises nothing more.
    let again = run_batch(
        return_id,
        batch.entity_state.as_deref(),
        vec![operation("checkDeadline", None)],
    )
    .await;
    assert_eq!(results(&again), [Ok(json!(false))]);
    assert!(again.actions.is_empty(), "{:?}", again.actions);
}

#[tokio::test]
async fn a_deadline_check_delivered_early_is_rescheduled() {
    // The scheduler's clock may run ahead of the handler's: a check that arrives before the deadline must look
    // again when the deadline is due, or the stuck alert would never be raised.
    let return_id = "RET-2025-910209";
    let booked_at = Utc::now();
    let stored = open_state(return_id, booked_at);
    let batch = run_batch(return_id, Some(&stored), vec![operation("checkDeadline", None)]).await;
    assert_eq!(results(&batch), [Ok(json!(false))], "the deadline has not passed");
    assert!(starts(&batch).is_empty());
    let signals = signals(&batch);
    assert_eq!(
        signals.len(),
        1,
        "an early check must look again when the deadline is due: {:?}",
        batch.actions
    );
    assert_eq!(signals[0].name, "checkDeadline");
    let due = to_datetime(signals[0].scheduled_time.as_ref().expect("scheduled"));
    assert_eq!(due, booked_at + Duration::days(30));
}

/// The kept-event records the batch's actions start, in order.
fn kept(batch: &proto::EntityBatchResult) -> Vec<returns_aggregator::domain::InvalidEventRecord> {
    starts(batch)
        .into_iter()
        .filter_map(|start| match serde_json::from_str(start.input.as_deref()?).ok()? {
            Publication::InvalidEvent(record) => Some(*record),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn every_operation_gets_a_result_inside_a_2xx_whatever_it_holds() {
    // The real extension does not retry a failed entity invocation: a non-2xx loses the whole batch. So the entity
    // function answers 2xx with one result per operation; what fails is that operation alone.
    let return_id = "RET-2025-910220";
    let operations = vec![
        apply(&body(Kind::Booked, return_id)),
        operation("frobnicate", None),
        OperationRequest {
            input: Some("{not json".into()),
            ..operation("apply", None)
        },
        OperationRequest {
            input: Some("{not json".into()),
            ..operation("published", None)
        },
        operation("checkDeadline", Some(&json!({ "unexpected": true }))),
        operation("expire", None),
        apply(&body(Kind::Received, return_id)),
    ];
    let count = operations.len();
    let batch = run_batch(return_id, None, operations).await;
    let results = results(&batch);
    assert_eq!(results.len(), count, "one result per operation");
    assert_eq!(results[0].as_ref().unwrap()["disposition"], "applied");
    assert_eq!(results[1].as_ref().unwrap_err(), "UnknownOperation");
    assert_eq!(
        results[2].as_ref().unwrap()["reason"],
        "UnreadableEvent",
        "an unreadable event is kept"
    );
    assert_eq!(results[3].as_ref().unwrap_err(), "InvalidOperationInput");
    assert_eq!(results[4].as_ref().unwrap_err(), "InvalidOperationInput");
    assert_eq!(results[5], Ok(json!(false)), "an open return does not expire");
    assert_eq!(results[6].as_ref().unwrap()["disposition"], "applied");
    assert_eq!(kept(&batch).len(), 1);
    assert_eq!(kept(&batch)[0].body, KeptBody::Text("{not json".into()));
    assert_eq!(
        state(&batch).aggregate.parcels().len(),
        1,
        "the operations after the failures ran"
    );
}

#[tokio::test]
async fn an_unreadable_state_keeps_every_event_and_is_left_as_it_is() {
    // A state this build cannot read (written by another version, say) must not swallow events.
    let return_id = "RET-2025-910221";
    let stored = "{\"aggregate\": {\"returnId\": 42}}";
    let batch = run_batch(
        return_id,
        Some(stored),
        vec![apply(&body(Kind::Booked, return_id)), operation("checkDeadline", None)],
    )
    .await;
    let results = results(&batch);
    assert_eq!(results[0].as_ref().unwrap()["reason"], "StateUnreadable");
    assert_eq!(results[1].as_ref().unwrap_err(), "StateUnreadable");
    assert_eq!(
        batch.entity_state.as_deref(),
        Some(stored),
        "the state is not overwritten"
    );
    let kept = kept(&batch);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].reason, "StateUnreadable");
    let KeptBody::Text(text) = &kept[0].body else {
        panic!("{:?}", kept[0].body)
    };
    let event: Value = serde_json::from_str(text).unwrap();
    assert_eq!(
        event["returnId"], return_id,
        "the whole event is kept, ready to be sent again"
    );
}

#[tokio::test]
async fn an_entity_key_that_is_no_return_id_keeps_its_events() {
    let request = proto::EntityBatchRequest {
        instance_id: "@entityfunction@RET 2025".into(),
        operations: vec![apply(&body(Kind::Booked, "RET-2025-910222")), operation("expire", None)],
        ..Default::default()
    };
    let answer = invoke(&router(&[]), "EntityFunction", &entity_invocation(&request)).await;
    answer.expect_success();
    let batch = entity_result(answer.return_value());
    let results = results(&batch);
    assert_eq!(results[0].as_ref().unwrap()["reason"], "InvalidEntityKey");
    assert_eq!(results[1].as_ref().unwrap_err(), "InvalidEntityKey");
    assert_eq!(kept(&batch)[0].reason, "InvalidEntityKey");
    assert!(batch.entity_state.is_none());
}

#[tokio::test]
async fn only_a_request_that_cannot_be_read_at_all_is_answered_non_2xx() {
    // Without a readable batch there are no operations to answer; everything else is a 2xx.
    let mut invocation = entity_invocation(&proto::EntityBatchRequest::default());
    invocation["Data"]["context"] = json!("not base64 protobuf!");
    let answer = invoke(&router(&[]), "EntityFunction", &invocation).await;
    assert_eq!(answer.status, axum::http::StatusCode::BAD_REQUEST, "{}", answer.text());
}

/// The ingress's check of `body`, accepted from message `message_id` at `accepted_at`, as the Service Bus function
/// schedules it.
fn check_of(body: &Value, message_id: &str, accepted_at: DateTime<Utc>) -> OperationRequest {
    let accepted = accepted_event(&event(body), Some(message_id), accepted_at);
    let check = AggregateOperation::CheckDeadline(Some(Box::new(accepted)));
    operation(
        check.name(),
        Some(&serde_json::to_value(check.input()).expect("an input")),
    )
}

fn publication(start: &proto::StartNewOrchestrationAction) -> Publication {
    serde_json::from_str(start.input.as_deref().expect("an input")).expect("a publication")
}

#[tokio::test]
async fn a_check_finding_no_record_of_a_first_event_raises_the_stuck_alert_naming_it() {
    // The batch holding the return's only event was lost: no state, and no deadline check of the return's own.
    let return_id = "RET-2025-910301";
    let accepted_at = processing_time();
    let booking = body(Kind::Booked, return_id);
    let batch = run_batch(return_id, None, vec![check_of(&booking, "MSG-BOOKING", accepted_at)]).await;
    assert_eq!(results(&batch), [Ok(json!({"recorded": false}))]);
    let starts = starts(&batch);
    assert_eq!(starts.len(), 1, "{:?}", batch.actions);
    assert_eq!(starts[0].instance_id, format!("returns-stuck-{return_id}"));
    let Publication::Stuck(alert) = publication(starts[0]) else {
        panic!("not the stuck alert");
    };
    let event_id = event(&booking).envelope.event_id.clone();
    assert_eq!(
        alert.summary,
        format!(
            "event {event_id} (ReturnBooked, message MSG-BOOKING) accepted at {} but never recorded; booking: not seen",
            accepted_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    );
    assert_eq!(
        alert.first_event_at, accepted_at,
        "the return is known since the event was accepted"
    );
    let kept = state(&batch);
    assert_eq!(kept.aggregate.unrecorded_events().len(), 1);
    assert!(kept.aggregate.stuck_alerted_at().is_some());

    // The same message redelivered sent the same check again: it finds the event listed and raises nothing.
    let again = run_batch(
        return_id,
        batch.entity_state.as_deref(),
        vec![check_of(&booking, "MSG-BOOKING", accepted_at)],
    )
    .await;
    assert_eq!(results(&again), [Ok(json!({"recorded": false}))]);
    assert!(again.actions.is_empty(), "{:?}", again.actions);

    // Re-sent, the event is recorded and leaves the list; the return had its alert and needs no other.
    let resent = run_batch(return_id, again.entity_state.as_deref(), vec![apply(&booking)]).await;
    assert_eq!(dispositions(&resent), ["applied"]);
    let recovered = state(&resent);
    assert!(recovered.aggregate.unrecorded_events().is_empty());
    assert!(
        signals(&resent).is_empty(),
        "no second deadline check: {:?}",
        resent.actions
    );
}

#[tokio::test]
async fn a_check_of_a_recorded_event_changes_nothing() {
    let return_id = "RET-2025-910302";
    let booked_at = Utc::now();
    let stored = open_state(return_id, booked_at);
    let booking = body(Kind::Booked, return_id);
    let batch = run_batch(return_id, Some(&stored), vec![check_of(&booking, "MSG-1", booked_at)]).await;
    assert_eq!(results(&batch), [Ok(json!({"recorded": true}))]);
    assert!(batch.actions.is_empty(), "{:?}", batch.actions);
    assert_eq!(
        batch.entity_state.as_deref(),
        Some(stored.as_str()),
        "the state is left as it is"
    );

    // The same fact under another event id (a producer re-publishing it) counts as recorded too.
    let mut republished = booking.clone();
    republished["eventId"] = json!("EVT-REPUBLISHED");
    let batch = run_batch(
        return_id,
        Some(&stored),
        vec![check_of(&republished, "MSG-2", booked_at)],
    )
    .await;
    assert_eq!(results(&batch), [Ok(json!({"recorded": true}))]);
}

#[tokio::test]
async fn an_event_found_unrecorded_after_the_stuck_alert_gets_an_alert_of_its_own() {
    let return_id = "RET-2025-910303";
    let stored = open_state(return_id, processing_time());
    let stuck = run_batch(return_id, Some(&stored), vec![operation("checkDeadline", None)]).await;
    assert_eq!(starts(&stuck).len(), 1, "the stuck alert went out");
    let parcel = body(Kind::Received, return_id);
    let accepted_at = processing_time() + Duration::hours(1);
    let batch = run_batch(
        return_id,
        stuck.entity_state.as_deref(),
        vec![check_of(&parcel, "MSG-PARCEL", accepted_at)],
    )
    .await;
    let starts = starts(&batch);
    assert_eq!(starts.len(), 1, "{:?}", batch.actions);
    let Publication::Unrecorded(alert) = publication(starts[0]) else {
        panic!("not an alert about an unrecorded event");
    };
    let parcel_event = event(&parcel);
    assert_eq!(
        alert.alert_id,
        unrecorded_alert_id(parcel_event.return_id(), &parcel_event.event_key())
    );
    assert_eq!(starts[0].instance_id, format!("returns-unrecorded-{}", alert.alert_id));
    assert!(
        alert.summary.starts_with(&format!(
            "event {} (ReturnItemsReceived, message MSG-PARCEL) accepted at",
            parcel_event.envelope.event_id
        )),
        "{}",
        alert.summary
    );
    assert!(
        alert.summary.contains("not received"),
        "and what is missing: {}",
        alert.summary
    );
}
