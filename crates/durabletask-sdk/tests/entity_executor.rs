//! The entity batch executors, driven through the public API: registration, V1 and V2 requests, transactions.

use chrono::{DateTime, TimeZone, Utc};
use durabletask_sdk::entity::{execute_entity_batch, execute_entity_request};
use durabletask_sdk::proto::operation_result::ResultType;
use durabletask_sdk::proto::{self, history_event::EventType, operation_action::OperationActionType};
use durabletask_sdk::testing::entity::{self, batch};
use durabletask_sdk::testing::{canned, EntityResultView};
use durabletask_sdk::{EntityContext, EntityId, Error, Registry};

/// Mirrors the oracle's `counter` entity (/work/shared/tools/oracle.py).
fn counter(ctx: &mut EntityContext) -> Result<Option<i64>, Error> {
    let value: i64 = ctx.get_state()?.unwrap_or(0);
    match ctx.operation() {
        "add" => {
            let sum = value + ctx.input::<i64>()?;
            ctx.set_state(&sum)?;
            Ok(Some(sum))
        }
        "get" => Ok(Some(value)),
        "fail" => Err(Error::new("KeyError", "bad op")),
        "delete" => {
            ctx.set_state(&Option::<i64>::None)?;
            Ok(None)
        }
        other => Err(Error::msg(format!("unknown operation {other}"))),
    }
}

/// Writes state and records a signal, then succeeds, fails or panics as its operation says.
fn recorder(ctx: &mut EntityContext) -> Result<(), Error> {
    let operation = ctx.operation().to_string();
    ctx.set_state(&operation)?;
    ctx.signal_entity(&EntityId::new("audit", "log"), "saw", &operation)?;
    match operation.as_str() {
        "fail" => Err(Error::new("Refused", "recorder refused")),
        "panic" => panic!("recorder panicked"),
        _ => Ok(()),
    }
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.add_entity("counter", counter).unwrap();
    registry.add_entity("recorder", recorder).unwrap();
    registry
}

/// The time every batch of these tests runs at.
fn now() -> DateTime<Utc> {
    canned::t0()
}

fn op(name: &str, input: Option<&str>) -> proto::OperationRequest {
    entity::operation(name, &format!("id-{name}"), input)
}

/// An operation's outcome without its timestamps: `Ok(result)` or `Err((error type, message))`.
fn outcomes(result: &proto::EntityBatchResult) -> Vec<Result<Option<String>, (String, String)>> {
    for r in &result.results {
        let (start, end) = match r.result_type.as_ref().expect("a result type") {
            ResultType::Success(success) => (&success.start_time_utc, &success.end_time_utc),
            ResultType::Failure(failure) => {
                assert!(failure.failure_details.is_some(), "failure details");
                (&failure.start_time_utc, &failure.end_time_utc)
            }
        };
        assert!(start.is_some() && end.is_some());
    }
    EntityResultView::new(result)
        .outcomes()
        .into_iter()
        .map(|outcome| {
            outcome
                .map(|json| json.map(str::to_string))
                .map_err(|(error_type, message)| (error_type.to_string(), message.to_string()))
        })
        .collect()
}

fn ok(json: &str) -> Result<Option<String>, (String, String)> {
    Ok(Some(json.to_string()))
}

fn err(error_type: &str, message: &str) -> Result<Option<String>, (String, String)> {
    Err((error_type.to_string(), message.to_string()))
}

fn signals(result: &proto::EntityBatchResult) -> Vec<&proto::SendSignalAction> {
    let sent = EntityResultView::new(result).signals();
    assert_eq!(
        sent.len(),
        result.actions.len(),
        "expected only signals, got {:?}",
        result.actions
    );
    sent
}

fn without_timestamps(mut result: proto::EntityBatchResult) -> proto::EntityBatchResult {
    for r in &mut result.results {
        match r.result_type.as_mut() {
            Some(ResultType::Success(s)) => (s.start_time_utc, s.end_time_utc) = (None, None),
            Some(ResultType::Failure(f)) => (f.start_time_utc, f.end_time_utc) = (None, None),
            None => {}
        }
    }
    result
}

#[test]
fn counter_adds_gets_fails_and_deletes() {
    let request = batch(
        "@counter@a",
        None,
        vec![
            op("get", None),
            op("add", Some("5")),
            op("add", Some("1")),
            op("fail", None),
            op("get", None),
        ],
    );
    let result = execute_entity_batch(&registry(), &request, now());

    assert_eq!(
        outcomes(&result),
        [ok("0"), ok("5"), ok("6"), err("KeyError", "bad op"), ok("6")]
    );
    assert_eq!(result.entity_state.as_deref(), Some("6"));
    assert!(result.actions.is_empty());
    assert!(result.failure_details.is_none());
    assert!(result.operation_infos.is_empty());
}

#[test]
fn deleting_leaves_no_state_and_a_null_result() {
    let request = batch("@counter@a", Some("41"), vec![op("add", Some("1")), op("delete", None)]);
    let result = execute_entity_batch(&registry(), &request, now());

    assert_eq!(outcomes(&result), [ok("42"), Ok(None)]);
    assert_eq!(result.entity_state, None);
}

#[test]
fn an_operation_after_a_delete_starts_from_no_state() {
    let request = batch("@counter@a", Some("41"), vec![op("delete", None), op("add", Some("2"))]);
    let result = execute_entity_batch(&registry(), &request, now());

    assert_eq!(outcomes(&result), [Ok(None), ok("2")]);
    assert_eq!(result.entity_state.as_deref(), Some("2"));
}

#[test]
fn a_failing_operation_rolls_back_its_state_and_actions_and_the_next_one_runs() {
    let request = batch(
        "@recorder@r",
        Some("\"before\""),
        vec![op("first", None), op("fail", None), op("last", None)],
    );
    let result = execute_entity_batch(&registry(), &request, now());

    assert_eq!(
        outcomes(&result),
        [Ok(None), err("Refused", "recorder refused"), Ok(None)]
    );
    assert_eq!(result.entity_state.as_deref(), Some("\"last\""));
    let sent: Vec<_> = signals(&result).iter().map(|s| s.input.clone().unwrap()).collect();
    assert_eq!(sent, ["\"first\"", "\"last\""]);
}

#[test]
fn a_panicking_operation_rolls_back_and_becomes_a_failure() {
    let request = batch("@recorder@r", None, vec![op("first", None), op("panic", None)]);
    let result = execute_entity_batch(&registry(), &request, now());

    assert_eq!(outcomes(&result), [Ok(None), err("panic", "recorder panicked")]);
    assert_eq!(result.entity_state.as_deref(), Some("\"first\""));
    assert_eq!(signals(&result).len(), 1);
}

#[test]
fn a_batch_of_only_failures_keeps_the_stored_state_and_sends_nothing() {
    let request = batch(
        "@recorder@r",
        Some("{\"kept\": true}"),
        vec![op("fail", None), op("panic", None)],
    );
    let result = execute_entity_batch(&registry(), &request, now());

    assert!(outcomes(&result).iter().all(Result::is_err));
    assert_eq!(result.entity_state.as_deref(), Some("{\"kept\": true}"));
    assert!(result.actions.is_empty());
}

#[test]
fn unread_state_goes_back_byte_for_byte() {
    let state = "{ \"spaced\" : [1, 2] }";
    let request = batch("@counter@a", Some(state), vec![op("fail", None)]);
    assert_eq!(
        execute_entity_batch(&registry(), &request, now())
            .entity_state
            .as_deref(),
        Some(state)
    );
}

#[test]
fn an_empty_state_string_means_no_state() {
    let request = batch("@counter@a", Some(""), vec![op("get", None)]);
    let result = execute_entity_batch(&registry(), &request, now());
    assert_eq!(outcomes(&result), [ok("0")]);
    assert_eq!(result.entity_state, None);
}

#[test]
fn entity_names_are_matched_case_insensitively() {
    let request = batch("@Counter@a", Some("3"), vec![op("get", None)]);
    assert_eq!(outcomes(&execute_entity_batch(&registry(), &request, now())), [ok("3")]);
}

#[test]
fn an_unknown_entity_fails_every_operation_and_keeps_the_state() {
    let request = batch("@ghost@a", Some("7"), vec![op("get", None), op("add", Some("1"))]);
    let result = execute_entity_batch(&registry(), &request, now());

    let expected = err("EntityNotRegisteredError", "no entity named 'ghost' is registered");
    assert_eq!(outcomes(&result), [expected.clone(), expected]);
    assert_eq!(result.entity_state.as_deref(), Some("7"));
    assert!(result.actions.is_empty());
}

#[test]
fn a_malformed_instance_id_fails_every_operation_with_a_clear_message() {
    let request = batch("counter-a", Some("7"), vec![op("get", None), op("get", None)]);
    let result = execute_entity_batch(&registry(), &request, now());

    let outcomes = outcomes(&result);
    assert_eq!(outcomes.len(), 2);
    for outcome in outcomes {
        let (error_type, message) = outcome.unwrap_err();
        assert_eq!(error_type, "InvalidEntityIdError");
        assert!(
            message.contains("'counter-a'") && message.contains("@name@key"),
            "{message}"
        );
    }
    assert_eq!(result.entity_state.as_deref(), Some("7"));
}

#[test]
fn an_empty_batch_changes_nothing() {
    let result = execute_entity_batch(&registry(), &batch("@counter@a", Some("3"), vec![]), now());
    assert!(result.results.is_empty() && result.actions.is_empty());
    assert_eq!(result.entity_state.as_deref(), Some("3"));

    let result = execute_entity_batch(&registry(), &batch("@ghost@a", None, vec![]), now());
    assert!(result.results.is_empty());
}

#[test]
fn signals_carry_target_operation_input_and_schedule() {
    let wake_at = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
    let mut registry = Registry::new();
    registry
        .add_entity("scheduler", move |ctx: &mut EntityContext| -> Result<(), Error> {
            ctx.signal_entity(&EntityId::new("Counter", "k1"), "add", &5)?;
            let own_id = ctx.entity_id().clone();
            ctx.signal_entity_at(&own_id, "wake", &(), wake_at)?;
            Ok(())
        })
        .unwrap();
    let result = execute_entity_batch(&registry, &batch("@scheduler@s", None, vec![op("plan", None)]), now());

    let sent = signals(&result);
    assert_eq!(sent.len(), 2);
    assert_eq!(
        (
            sent[0].instance_id.as_str(),
            sent[0].name.as_str(),
            sent[0].input.as_deref()
        ),
        ("@counter@k1", "add", Some("5"))
    );
    assert_eq!(sent[0].scheduled_time, None);
    assert_eq!(
        (
            sent[1].instance_id.as_str(),
            sent[1].name.as_str(),
            sent[1].input.as_deref()
        ),
        ("@scheduler@s", "wake", None)
    );
    assert_eq!(
        sent[1].scheduled_time,
        Some(durabletask_sdk::time::to_timestamp(wake_at))
    );
    assert!(
        result.actions.iter().all(|action| action.id == 0),
        "ids stay unset, as the reference SDKs send them"
    );
}

#[test]
fn starting_an_orchestration_records_name_input_and_instance_id() {
    let mut registry = Registry::new();
    registry
        .add_entity("starter", |ctx: &mut EntityContext| -> Result<String, Error> {
            ctx.start_new_orchestration("Notify", &serde_json::json!({"returnId": "R-1"}), Some("notify-R-1"))
        })
        .unwrap();
    let result = execute_entity_batch(
        &registry,
        &batch("@starter@R-1", None, vec![op("complete", None)]),
        now(),
    );

    assert_eq!(outcomes(&result), [ok("\"notify-R-1\"")]);
    let [action] = result.actions.as_slice() else {
        panic!("expected one action, got {:?}", result.actions)
    };
    let Some(OperationActionType::StartNewOrchestration(start)) = &action.operation_action_type else {
        panic!("expected startNewOrchestration, got {action:?}")
    };
    assert_eq!(start.instance_id, "notify-R-1");
    assert_eq!(start.name, "Notify");
    assert_eq!(start.input.as_deref(), Some("{\"returnId\":\"R-1\"}"));
    assert_eq!(
        (&start.version, &start.scheduled_time, &start.request_time),
        (&None, &None, &None)
    );
}

fn signaled(request_id: &str, operation: &str, input: Option<&str>) -> proto::HistoryEvent {
    entity::signal(request_id, "@counter@a", operation, input)
}

fn called(request_id: &str, operation: &str, input: Option<&str>, parent: &str) -> proto::HistoryEvent {
    let execution = format!("{parent}-exec");
    entity::call_from_execution(request_id, "@counter@a", operation, input, parent, Some(&execution))
}

#[test]
fn v2_requests_answer_where_each_result_goes() {
    let request = proto::EntityRequest {
        instance_id: "@counter@a".into(),
        execution_id: "ignored".into(),
        entity_state: Some("1".into()),
        operation_requests: vec![
            signaled("s1", "add", Some("5")),
            called("c1", "add", Some("1"), "orch-1"),
            called("c2", "fail", None, "orch-2"),
        ],
    };
    let result = execute_entity_request(&registry(), &request, now());

    assert_eq!(outcomes(&result), [ok("6"), ok("7"), err("KeyError", "bad op")]);
    assert_eq!(result.entity_state.as_deref(), Some("7"));
    let infos: Vec<_> = result
        .operation_infos
        .iter()
        .map(|info| {
            let destination = info.response_destination.as_ref();
            (
                info.request_id.as_str(),
                destination.map(|d| d.instance_id.as_str()),
                destination.and_then(|d| d.execution_id.as_deref()),
            )
        })
        .collect();
    assert_eq!(
        infos,
        [
            ("s1", None, None),
            ("c1", Some("orch-1"), Some("orch-1-exec")),
            ("c2", Some("orch-2"), Some("orch-2-exec")),
        ]
    );
}

#[test]
fn v1_and_v2_requests_give_the_same_results() {
    let operations = [
        ("add", Some("5")),
        ("fail", None),
        ("get", None),
        ("delete", None),
        ("add", Some("2")),
    ];
    let v1 = batch(
        "@counter@a",
        Some("10"),
        operations.iter().map(|(name, input)| op(name, *input)).collect(),
    );
    let v2 = proto::EntityRequest {
        instance_id: "@counter@a".into(),
        execution_id: String::new(),
        entity_state: Some("10".into()),
        operation_requests: operations
            .iter()
            .enumerate()
            .map(|(i, (name, input))| match i % 2 {
                0 => signaled(&format!("r{i}"), name, *input),
                _ => called(&format!("r{i}"), name, *input, "orch"),
            })
            .collect(),
    };

    let from_v1 = without_timestamps(execute_entity_batch(&registry(), &v1, now()));
    let mut from_v2 = without_timestamps(execute_entity_request(&registry(), &v2, now()));
    assert_eq!(from_v2.operation_infos.len(), operations.len());
    from_v2.operation_infos.clear();
    assert_eq!(from_v1, from_v2);
    assert_eq!(from_v1.entity_state.as_deref(), Some("2"));
}

#[test]
fn v2_events_that_are_not_operations_are_skipped() {
    let unlock = proto::HistoryEvent {
        event_id: 3,
        timestamp: None,
        event_type: Some(EventType::EntityUnlockSent(Default::default())),
    };
    let request = proto::EntityRequest {
        instance_id: "@counter@a".into(),
        entity_state: None,
        operation_requests: vec![unlock, signaled("s1", "add", Some("2"))],
        ..Default::default()
    };
    let result = execute_entity_request(&registry(), &request, now());

    assert_eq!(outcomes(&result), [ok("2")]);
    assert_eq!(result.operation_infos.len(), 1);
    assert_eq!(result.operation_infos[0].request_id, "s1");
}

#[test]
fn v2_batch_failures_still_answer_every_operation() {
    let request = proto::EntityRequest {
        instance_id: "@ghost@a".into(),
        operation_requests: vec![signaled("s1", "add", Some("2")), called("c1", "get", None, "orch")],
        ..Default::default()
    };
    let result = execute_entity_request(&registry(), &request, now());

    assert_eq!(result.results.len(), 2);
    assert_eq!(result.operation_infos.len(), 2);
    assert_eq!(
        result.operation_infos[1]
            .response_destination
            .as_ref()
            .map(|d| d.instance_id.as_str()),
        Some("orch")
    );
}

#[test]
fn a_large_batch_answers_every_operation() {
    let operations = (0..1000).map(|_| op("add", Some("1"))).collect();
    let result = execute_entity_batch(&registry(), &batch("@counter@a", None, operations), now());

    assert_eq!(result.results.len(), 1000);
    assert_eq!(result.entity_state.as_deref(), Some("1000"));
}

#[test]
fn the_operation_time_is_the_batch_time_given_to_the_executor() {
    let mut registry = Registry::new();
    registry
        .add_entity("clock", |ctx: &mut EntityContext| -> Result<String, Error> {
            Ok(ctx.current_utc_datetime().to_rfc3339())
        })
        .unwrap();
    let later = now() + chrono::Duration::minutes(5);
    let result = execute_entity_batch(&registry, &batch("@clock@c", None, vec![op("read", None)]), later);

    assert_eq!(outcomes(&result), [Ok(Some(format!("\"{}\"", later.to_rfc3339())))]);
    let Some(ResultType::Success(success)) = &result.results[0].result_type else {
        panic!("expected a success, got {:?}", result.results[0])
    };
    let at = Some(durabletask_sdk::time::to_timestamp(later));
    assert_eq!((&success.start_time_utc, &success.end_time_utc), (&at, &at));
    let same = execute_entity_batch(&registry, &batch("@clock@c", None, vec![op("read", None)]), later);
    assert_eq!(result, same, "the same request at the same time gives the same answer");
}

#[test]
fn an_entity_can_wake_itself_up_later() {
    let mut registry = Registry::new();
    registry
        .add_entity("reminder", |ctx: &mut EntityContext| -> Result<(), Error> {
            if ctx.operation() == "arm" {
                let due = ctx.current_utc_datetime() + chrono::Duration::days(7);
                ctx.signal_self_at("expire", &"stuck", due)?;
                ctx.signal_self("armed", &())?;
            }
            Ok(())
        })
        .unwrap();
    let result = execute_entity_batch(&registry, &batch("@reminder@R-1", None, vec![op("arm", None)]), now());

    let sent = signals(&result);
    let wake_at = durabletask_sdk::time::to_timestamp(now() + chrono::Duration::days(7));
    assert_eq!(
        (
            sent[0].instance_id.as_str(),
            sent[0].name.as_str(),
            sent[0].input.as_deref()
        ),
        ("@reminder@R-1", "expire", Some("\"stuck\""))
    );
    assert_eq!(sent[0].scheduled_time, Some(wake_at));
    assert_eq!(
        (sent[1].instance_id.as_str(), sent[1].name.as_str()),
        ("@reminder@R-1", "armed")
    );
    assert_eq!(sent[1].scheduled_time, None);
}

#[test]
fn an_orchestration_started_without_an_id_gets_the_same_id_when_the_request_is_redelivered() {
    let mut registry = Registry::new();
    registry
        .add_entity("starter", |ctx: &mut EntityContext| -> Result<String, Error> {
            ctx.start_new_orchestration("Notify", &(), None)
        })
        .unwrap();
    let request = batch("@starter@R-1", None, vec![entity::operation("go", "request-1", None)]);
    let first = execute_entity_batch(&registry, &request, now());
    let redelivered = execute_entity_batch(&registry, &request, now() + chrono::Duration::hours(1));
    let ids = |result: &proto::EntityBatchResult| {
        EntityResultView::new(result).started_orchestrations()[0]
            .instance_id
            .clone()
    };
    assert_eq!(ids(&first), ids(&redelivered));
    assert_eq!(outcomes(&first), [Ok(Some(format!("\"{}\"", ids(&first))))]);
}
