//! Replay executor behaviour, driven with hand-built histories.

use std::time::Duration;

use chrono::{DateTime, Utc};
use durabletask_sdk::orchestration::{when_all, when_any, RetryPolicy};
use durabletask_sdk::proto::{self, orchestrator_action::OrchestratorActionType as Action, HistoryEvent};
use durabletask_sdk::testing::history::*;
use durabletask_sdk::testing::{actions, canned, replay, ResponseView};
use durabletask_sdk::{
    ActivityContext, ActivityHandle, EntityId, Error, OrchestrationContext, OrchestrationHandle, Registry,
};

const ID: &str = "instance-1";

fn t0() -> DateTime<Utc> {
    canned::t0()
}

fn run(registry: &Registry, past: Vec<HistoryEvent>, new: Vec<HistoryEvent>) -> proto::OrchestratorResponse {
    replay(registry, ID, past, new)
}

fn start(name: &str, input: &str) -> Vec<HistoryEvent> {
    canned::started(name, ID, Some(input))
}

fn complete_action(response: &proto::OrchestratorResponse) -> &proto::CompleteOrchestrationAction {
    ResponseView::new(response).expect_completion()
}

fn status(response: &proto::OrchestratorResponse) -> proto::OrchestrationStatus {
    ResponseView::new(response).status().expect("a known status")
}

fn scheduled_names(response: &proto::OrchestratorResponse) -> Vec<(i32, String)> {
    ResponseView::new(response)
        .scheduled_activities()
        .into_iter()
        .map(|(id, name)| (id, name.to_string()))
        .collect()
}

async fn chain(ctx: OrchestrationContext, count: u32) -> Result<u32, Error> {
    let mut total = 0;
    for i in 0..count {
        total += ctx.call_activity::<u32>("Add", &i).await?;
    }
    Ok(total)
}

async fn fan_out(ctx: OrchestrationContext, count: u32) -> Result<Vec<u32>, Error> {
    let tasks = (0..count).map(|i| ctx.call_activity::<u32>("Echo", &i)).collect();
    Ok(when_all(tasks).await?)
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.add_orchestrator("Chain", chain).unwrap();
    registry.add_orchestrator("FanOut", fan_out).unwrap();
    registry
}

#[test]
fn first_episode_schedules_the_first_activity_only() {
    let response = run(&registry(), vec![], start("Chain", "3"));
    assert_eq!(scheduled_names(&response), vec![(1, "Add".to_string())]);
    assert_eq!(response.instance_id, ID);
    assert_eq!(response.actions, [actions::schedule_task(1, "Add", Some("0"))]);
}

#[test]
fn replaying_a_chain_returns_only_new_actions_and_completes_last() {
    let mut past = start("Chain", "2");
    past.extend([task_scheduled(1, "Add", Some("0")), orchestrator_completed()]);
    let new = vec![orchestrator_started(t0()), task_completed(1, Some("10"))];
    let response = run(&registry(), past.clone(), new);
    assert_eq!(scheduled_names(&response), vec![(2, "Add".to_string())]);

    past.extend([
        orchestrator_started(t0()),
        task_completed(1, Some("10")),
        task_scheduled(2, "Add", Some("1")),
    ]);
    let response = run(
        &registry(),
        past,
        vec![orchestrator_started(t0()), task_completed(2, Some("5"))],
    );
    assert_eq!(response.actions.len(), 1);
    assert_eq!(status(&response), proto::OrchestrationStatus::Completed);
    assert_eq!(complete_action(&response).result.as_deref(), Some("15"));
    assert_eq!(response.actions[0].id, 3);
}

#[test]
fn fan_out_schedules_everything_then_collects_in_input_order() {
    let response = run(&registry(), vec![], start("FanOut", "3"));
    assert_eq!(scheduled_names(&response).len(), 3);

    let mut past = start("FanOut", "3");
    past.extend((1..=3).map(|i| task_scheduled(i, "Echo", None)));
    let new = vec![
        orchestrator_started(t0()),
        task_completed(3, Some("30")),
        task_completed(1, Some("10")),
        task_completed(2, Some("20")),
    ];
    let response = run(&registry(), past, new);
    assert_eq!(complete_action(&response).result.as_deref(), Some("[10,20,30]"));
}

#[test]
fn an_unhandled_activity_failure_fails_the_orchestration_with_the_activity_details_inside() {
    let mut past = start("Chain", "1");
    past.push(task_scheduled(1, "Add", None));
    let response = run(
        &registry(),
        past,
        vec![orchestrator_started(t0()), task_failed(1, "ValueError", "boom:7")],
    );
    assert_eq!(status(&response), proto::OrchestrationStatus::Failed);
    let details = complete_action(&response).failure_details.as_ref().unwrap();
    assert_eq!(details.error_type, "TaskFailedError");
    assert!(details.error_message.contains("'Add'"), "{}", details.error_message);
    assert_eq!(details.inner_failure.as_ref().unwrap().error_message, "boom:7");
}

#[test]
fn a_handled_activity_failure_lets_the_orchestrator_continue() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Handles", |ctx: OrchestrationContext, _: ()| async move {
            match ctx.call_activity::<()>("Flaky", &()).await {
                Ok(()) => Ok("ok".to_string()),
                Err(error) => Ok(format!("handled: {}", error.failure_details().unwrap().message)),
            }
        })
        .unwrap();
    let mut past = start("Handles", "null");
    past.push(task_scheduled(1, "Flaky", None));
    let response = run(&registry, past, vec![task_failed(1, "E", "nope")]);
    assert_eq!(complete_action(&response).result.as_deref(), Some("\"handled: nope\""));
}

#[test]
fn nondeterminism_names_the_task_id_and_both_names() {
    let mut past = start("Chain", "2");
    past.push(task_scheduled(1, "Subtract", None));
    let response = run(
        &registry(),
        past,
        vec![orchestrator_started(t0()), task_completed(1, Some("1"))],
    );
    assert_eq!(status(&response), proto::OrchestrationStatus::Failed);
    let details = complete_action(&response).failure_details.as_ref().unwrap();
    assert_eq!(details.error_type, "NonDeterminismError");
    for needle in ["1", "'Subtract'", "'Add'"] {
        assert!(
            details.error_message.contains(needle),
            "{needle} missing in {}",
            details.error_message
        );
    }
}

#[test]
fn nondeterminism_of_kind_and_of_missing_actions_is_detected() {
    let mut past = start("Chain", "1");
    past.push(timer_created(1, t0()));
    let response = run(&registry(), past, vec![]);
    let message = &complete_action(&response)
        .failure_details
        .as_ref()
        .unwrap()
        .error_message;
    assert!(
        message.contains("timer") && message.contains("activity 'Add'"),
        "{message}"
    );

    let mut past = start("Chain", "1");
    past.push(task_scheduled(5, "Add", None));
    let response = run(&registry(), past, vec![]);
    let message = &complete_action(&response)
        .failure_details
        .as_ref()
        .unwrap()
        .error_message;
    assert!(
        message.contains("sequence number 5") && message.contains("schedules nothing"),
        "{message}"
    );
}

#[test]
fn orchestrator_errors_and_panics_fail_the_instance_without_crashing() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Fails", |_: OrchestrationContext, _: ()| async {
            Err::<(), _>(Error::new("Boom", "nope"))
        })
        .unwrap();
    registry
        .add_orchestrator("Panics", |_: OrchestrationContext, _: ()| async {
            panic!("kaboom") as Result<(), Error>
        })
        .unwrap();
    let response = run(&registry, vec![], start("Fails", "null"));
    let details = complete_action(&response).failure_details.as_ref().unwrap();
    assert_eq!(
        (details.error_type.as_str(), details.error_message.as_str()),
        ("Boom", "nope")
    );

    let response = run(&registry, vec![], start("Panics", "null"));
    let details = complete_action(&response).failure_details.as_ref().unwrap();
    assert_eq!(details.error_message, "kaboom");
}

#[test]
fn unknown_orchestrators_and_bad_input_fail_with_a_clear_message() {
    let response = run(&registry(), vec![], start("Nope", "1"));
    let details = complete_action(&response).failure_details.as_ref().unwrap();
    assert_eq!(details.error_type, "OrchestratorNotRegisteredError");
    assert!(details.error_message.contains("'Nope'"));

    let response = run(&registry(), vec![], start("Chain", "\"three\""));
    let details = complete_action(&response).failure_details.as_ref().unwrap();
    assert!(details.error_message.contains("input"), "{}", details.error_message);
}

#[test]
fn long_timers_are_split_into_chunks_of_at_most_three_days() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Wait", |ctx: OrchestrationContext, days: i64| async move {
            ctx.create_timer(ctx.current_utc_datetime() + chrono::Duration::days(days))
                .await?;
            Ok("done")
        })
        .unwrap();
    let response = run(&registry, vec![], start("Wait", "7"));
    let fire_at = |r: &proto::OrchestratorResponse| ResponseView::new(r).timers()[0].1;
    assert_eq!(fire_at(&response), t0() + chrono::Duration::days(3));

    let mut past = start("Wait", "7");
    past.push(timer_created(1, t0() + chrono::Duration::days(3)));
    let day3 = t0() + chrono::Duration::days(3);
    let response = run(
        &registry,
        past.clone(),
        vec![orchestrator_started(day3), timer_fired(1, day3)],
    );
    assert_eq!(response.actions[0].id, 2);
    assert_eq!(fire_at(&response), t0() + chrono::Duration::days(6));

    past.extend([
        orchestrator_started(day3),
        timer_fired(1, day3),
        timer_created(2, t0() + chrono::Duration::days(6)),
    ]);
    let day6 = t0() + chrono::Duration::days(6);
    let response = run(
        &registry,
        past.clone(),
        vec![orchestrator_started(day6), timer_fired(2, day6)],
    );
    assert_eq!(fire_at(&response), t0() + chrono::Duration::days(7));

    past.extend([
        orchestrator_started(day6),
        timer_fired(2, day6),
        timer_created(3, t0() + chrono::Duration::days(7)),
    ]);
    let day7 = t0() + chrono::Duration::days(7);
    let response = run(&registry, past, vec![orchestrator_started(day7), timer_fired(3, day7)]);
    assert_eq!(status(&response), proto::OrchestrationStatus::Completed);
}

#[test]
fn external_events_are_case_insensitive_and_buffered_in_arrival_order() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Approve", |ctx: OrchestrationContext, _: ()| async move {
            let first: String = ctx.wait_for_external_event("Approval").await?;
            let second: String = ctx.wait_for_external_event("APPROVAL").await?;
            Ok(vec![first, second])
        })
        .unwrap();
    let mut new = start("Approve", "null");
    new.extend([
        event_raised("approval", Some("\"a\"")),
        event_raised("Approval", Some("\"b\"")),
    ]);
    let response = run(&registry, vec![], new);
    assert_eq!(complete_action(&response).result.as_deref(), Some("[\"a\",\"b\"]"));
}

#[test]
fn when_any_returns_the_first_task_to_finish() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Race", |ctx: OrchestrationContext, _: ()| async move {
            let event = Box::pin(async { ctx.wait_for_external_event::<String>("Go").await.map(Some) });
            let timer = Box::pin(async { ctx.create_timer_after(Duration::from_secs(60)).await.map(|_| None) });
            let futures: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = _>>>> = vec![event, timer];
            let (winner, outcome) = when_any(futures).await;
            Ok((winner, outcome?))
        })
        .unwrap();
    let response = run(&registry, vec![], start("Race", "null"));
    assert_eq!(response.actions.len(), 1, "only the timer is an action");

    let mut past = start("Race", "null");
    past.push(timer_created(1, t0() + chrono::Duration::seconds(60)));
    let fired = run(&registry, past.clone(), vec![timer_fired(1, t0())]);
    assert_eq!(complete_action(&fired).result.as_deref(), Some("[1,null]"));
    let raised = run(&registry, past, vec![event_raised("go", Some("\"now\""))]);
    assert_eq!(complete_action(&raised).result.as_deref(), Some("[0,\"now\"]"));
}

#[test]
fn sub_orchestrations_get_a_derived_instance_id_and_report_failures() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Parent", |ctx: OrchestrationContext, _: ()| async move {
            let child: String = ctx.call_sub_orchestrator("Child", &1, None).await?;
            Ok(child)
        })
        .unwrap();
    let response = run(&registry, vec![], start("Parent", "null"));
    match &response.actions[0].orchestrator_action_type {
        Some(Action::CreateSubOrchestration(create)) => assert_eq!(create.instance_id, format!("{ID}:0001")),
        other => panic!("{other:?}"),
    }
    let mut past = start("Parent", "null");
    past.push(sub_orchestration_created(1, "Child", "instance-1:0001"));
    let response = run(&registry, past, vec![sub_orchestration_failed(1, "E", "child broke")]);
    let details = complete_action(&response).failure_details.as_ref().unwrap();
    assert!(
        details.error_message.contains("instance-1:0001"),
        "{}",
        details.error_message
    );
    assert_eq!(details.inner_failure.as_ref().unwrap().error_message, "child broke");
}

#[test]
fn retries_wait_on_durable_timers_with_backoff() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Retry", |ctx: OrchestrationContext, _: ()| async move {
            let policy = RetryPolicy::new(3, Duration::from_secs(10)).with_backoff_coefficient(2.0);
            Ok(ctx
                .call_activity::<String>("Publish", &"msg")
                .with_retry(policy)
                .await?)
        })
        .unwrap();
    let mut past = start("Retry", "null");
    past.push(task_scheduled(1, "Publish", None));
    let response = run(
        &registry,
        past.clone(),
        vec![orchestrator_started(t0()), task_failed(1, "E", "down")],
    );
    assert_eq!(
        response.actions,
        [actions::create_timer(2, t0() + chrono::Duration::seconds(10))]
    );
    let t1 = t0() + chrono::Duration::seconds(10);
    past.extend([
        orchestrator_started(t0()),
        task_failed(1, "E", "down"),
        timer_created(2, t1),
    ]);
    let response = run(
        &registry,
        past.clone(),
        vec![orchestrator_started(t1), timer_fired(2, t1)],
    );
    assert_eq!(scheduled_names(&response), vec![(3, "Publish".to_string())]);

    let t2 = t1 + chrono::Duration::seconds(20);
    past.extend([
        orchestrator_started(t1),
        timer_fired(2, t1),
        task_scheduled(3, "Publish", None),
    ]);
    past.extend([
        orchestrator_started(t1),
        task_failed(3, "E", "down"),
        timer_created(4, t2),
    ]);
    past.extend([
        orchestrator_started(t2),
        timer_fired(4, t2),
        task_scheduled(5, "Publish", None),
    ]);
    let response = run(
        &registry,
        past,
        vec![orchestrator_started(t2), task_failed(5, "E", "still down")],
    );
    assert_eq!(
        status(&response),
        proto::OrchestrationStatus::Failed,
        "three attempts in all"
    );
}

#[test]
fn continue_as_new_carries_the_new_input_and_optionally_unprocessed_events() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Loop", |ctx: OrchestrationContext, generation: u32| async move {
            if generation < 2 {
                ctx.continue_as_new(&(generation + 1));
            }
            Ok(generation)
        })
        .unwrap();
    registry
        .add_orchestrator("Keep", |ctx: OrchestrationContext, _: ()| async move {
            ctx.continue_as_new_preserving_events(&"next");
            Ok(())
        })
        .unwrap();
    let response = run(&registry, vec![], start("Loop", "0"));
    assert_eq!(status(&response), proto::OrchestrationStatus::ContinuedAsNew);
    assert_eq!(complete_action(&response).result.as_deref(), Some("1"));
    let response = run(&registry, vec![], start("Loop", "2"));
    assert_eq!(status(&response), proto::OrchestrationStatus::Completed);

    let mut new = vec![event_raised("Early", Some("1"))];
    new.extend(start("Keep", "null"));
    let response = run(&registry, vec![], new);
    let carried = &complete_action(&response).carryover_events;
    assert_eq!(carried.len(), 1);
}

#[test]
fn suspended_instances_buffer_events_until_resumed_and_termination_wins() {
    let mut past = start("Chain", "1");
    past.push(task_scheduled(1, "Add", None));
    let response = run(
        &registry(),
        past.clone(),
        vec![execution_suspended(), task_completed(1, Some("1"))],
    );
    assert!(response.actions.is_empty(), "nothing happens while suspended");
    let response = run(
        &registry(),
        past.clone(),
        vec![execution_suspended(), task_completed(1, Some("1")), execution_resumed()],
    );
    assert_eq!(status(&response), proto::OrchestrationStatus::Completed);

    let response = run(&registry(), past, vec![execution_terminated(Some("\"stop\""))]);
    assert_eq!(status(&response), proto::OrchestrationStatus::Terminated);
    assert_eq!(complete_action(&response).result.as_deref(), Some("\"stop\""));
}

#[test]
fn the_split_decision_timer_is_ignored() {
    let mut past = start("Chain", "1");
    past.extend([
        timer_created(-100, t0()),
        task_scheduled(1, "Add", None),
        timer_fired(-100, t0()),
    ]);
    let response = run(&registry(), past, vec![task_completed(1, Some("4"))]);
    assert_eq!(status(&response), proto::OrchestrationStatus::Completed);
}

#[test]
fn execution_started_may_arrive_in_past_or_new_events() {
    let response = run(&registry(), start("Chain", "0"), vec![orchestrator_started(t0())]);
    assert_eq!(complete_action(&response).result.as_deref(), Some("0"));
}

#[test]
fn custom_status_time_guids_and_replay_flag_come_from_history() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Info", |ctx: OrchestrationContext, _: ()| async move {
            let replaying_before = ctx.is_replaying();
            let guid = ctx.new_guid();
            ctx.set_custom_status(&serde_json::json!({"stage": 1}))?;
            ctx.call_activity::<()>("Step", &()).await?;
            Ok((
                replaying_before,
                ctx.is_replaying(),
                guid.to_string(),
                ctx.current_utc_datetime().to_rfc3339(),
            ))
        })
        .unwrap();
    let mut past = start("Info", "null");
    past.push(task_scheduled(1, "Step", None));
    let later = t0() + chrono::Duration::seconds(5);
    let first = run(
        &registry,
        past.clone(),
        vec![orchestrator_started(later), task_completed(1, None)],
    );
    let second = run(
        &registry,
        past,
        vec![orchestrator_started(later), task_completed(1, None)],
    );
    assert_eq!(first.custom_status.as_deref(), Some("{\"stage\":1}"));
    assert_eq!(complete_action(&first).result, complete_action(&second).result);
    let result: (bool, bool, String, String) =
        serde_json::from_str(complete_action(&first).result.as_deref().unwrap()).unwrap();
    assert!(result.0 && !result.1);
    assert_eq!(result.3, later.to_rfc3339());
}

#[test]
fn entities_are_signalled_and_called_with_deterministic_request_ids() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("UsesEntity", |ctx: OrchestrationContext, _: ()| async move {
            let counter = EntityId::new("Counter", "a");
            ctx.signal_entity(&counter, "add", &5);
            Ok(ctx.call_entity::<i64>(&counter, "get", &()).await?)
        })
        .unwrap();
    let response = run(&registry, vec![], start("UsesEntity", "null"));
    assert_eq!(response.actions.len(), 2);
    let request_id = match &response.actions[1].orchestrator_action_type {
        Some(Action::SendEntityMessage(message)) => match &message.entity_message_type {
            Some(proto::send_entity_message_action::EntityMessageType::EntityOperationCalled(call)) => {
                assert_eq!(call.target_instance_id.as_deref(), Some("@counter@a"));
                assert_eq!(call.parent_instance_id.as_deref(), Some(ID));
                call.request_id.clone()
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    let mut past = start("UsesEntity", "null");
    past.extend([
        entity_operation_signaled(1, "r0", "@counter@a", "add"),
        entity_operation_called(2, &request_id, "@counter@a", "get"),
    ]);
    let response = run(
        &registry,
        past.clone(),
        vec![entity_operation_completed(&request_id, Some("5"))],
    );
    assert_eq!(complete_action(&response).result.as_deref(), Some("5"));

    // The Functions extension answers calls with an eventRaised named after the request id.
    let answer = serde_json::json!({ "result": "6" }).to_string();
    let response = run(&registry, past, vec![event_raised(&request_id, Some(&answer))]);
    assert_eq!(complete_action(&response).result.as_deref(), Some("6"));
}

const ADD_ONE: ActivityHandle<u32, u32> = ActivityHandle::new("AddOne");
const CHILD: OrchestrationHandle<u32, String> = OrchestrationHandle::new("Child");
const PARENT: OrchestrationHandle<(), (u32, String, String)> = OrchestrationHandle::new("Parent");

async fn add_one(_ctx: ActivityContext, value: u32) -> Result<u32, Error> {
    Ok(value + 1)
}

async fn parent(ctx: OrchestrationContext, _: ()) -> Result<(u32, String, String), Error> {
    let sum = ctx.call(ADD_ONE, &1);
    let child = ctx.call(CHILD, &2);
    let named = ctx.call(CHILD.with_instance_id("child-x"), &3);
    Ok((sum.await?, child.await?, named.await?))
}

#[test]
fn typed_handles_register_and_call_with_one_declaration() {
    let mut registry = Registry::new();
    registry
        .add_activity(ADD_ONE, add_one)
        .unwrap()
        .add_orchestrator(PARENT, parent)
        .unwrap();
    assert_eq!(registry.activity_names(), ["AddOne"]);

    let response = run(&registry, vec![], start("Parent", "null"));
    assert_eq!(
        response.actions,
        [
            actions::schedule_task(1, "AddOne", Some("1")),
            actions::create_sub_orchestration(2, "Child", "instance-1:0002", Some("2")),
            actions::create_sub_orchestration(3, "Child", "child-x", Some("3")),
        ]
    );

    let mut past = start("Parent", "null");
    past.extend([
        task_scheduled(1, "AddOne", Some("1")),
        sub_orchestration_created(2, "Child", "instance-1:0002"),
        sub_orchestration_created(3, "Child", "child-x"),
    ]);
    let new = canned::episode(
        t0(),
        [
            task_completed(1, Some("2")),
            sub_orchestration_completed(2, Some("\"two\"")),
            sub_orchestration_completed(3, Some("\"three\"")),
        ],
    );
    let response = run(&registry, past, new);
    assert_eq!(
        complete_action(&response).result.as_deref(),
        Some("[2,\"two\",\"three\"]")
    );
}

#[test]
fn retried_sub_orchestrations_target_the_first_attempts_instance() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Parent", |ctx: OrchestrationContext, _: ()| async move {
            let policy = RetryPolicy::new(2, Duration::from_secs(30));
            Ok(ctx.call(CHILD, &1).with_retry(policy).await?)
        })
        .unwrap();
    let retry_at = t0() + chrono::Duration::seconds(30);
    let mut past = canned::sub_orchestration_created("Parent", ID, Some("null"), "Child", "instance-1:0001");
    past.extend(canned::episode(
        t0(),
        [
            sub_orchestration_failed(1, "E", "child broke"),
            timer_created(2, retry_at),
        ],
    ));
    let response = run(
        &registry,
        past.clone(),
        canned::episode(retry_at, [timer_fired(2, retry_at)]),
    );
    assert_eq!(
        response.actions,
        [actions::create_sub_orchestration(
            3,
            "Child",
            "instance-1:0001",
            Some("1")
        )]
    );

    past.extend(canned::episode(
        retry_at,
        [
            timer_fired(2, retry_at),
            sub_orchestration_created(3, "Child", "instance-1:0001"),
        ],
    ));
    let response = run(&registry, past, vec![sub_orchestration_failed(3, "E", "still broken")]);
    let details = ResponseView::new(&response).failure().expect("the retries are used up");
    assert_eq!(details.inner_failure.as_ref().unwrap().error_message, "still broken");
}

#[test]
fn the_maximum_timer_interval_is_configurable() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Wait", |ctx: OrchestrationContext, hours: i64| async move {
            ctx.create_timer(ctx.current_utc_datetime() + chrono::Duration::hours(hours))
                .await?;
            Ok(())
        })
        .unwrap();
    registry.set_maximum_timer_interval(Some(Duration::from_secs(24 * 3600)));
    let response = run(&registry, vec![], start("Wait", "60"));
    assert_eq!(
        response.actions,
        [actions::create_timer(1, t0() + chrono::Duration::days(1))]
    );

    registry.set_maximum_timer_interval(None);
    let response = run(&registry, vec![], start("Wait", "240"));
    assert_eq!(
        response.actions,
        [actions::create_timer(1, t0() + chrono::Duration::days(10))],
        "without a maximum a timer is never split"
    );
}

#[test]
fn tags_travel_with_calls_and_their_retries() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Tagged", |ctx: OrchestrationContext, _: ()| async move {
            let policy = RetryPolicy::new(2, Duration::from_secs(5));
            let child = ctx.call(CHILD, &1).with_tags([("team", "returns")]);
            let published = ctx
                .call_activity::<()>("Publish", &"msg")
                .with_tags([("team", "returns"), ("kind", "notification")])
                .with_retry(policy);
            published.await?;
            Ok(child.await?)
        })
        .unwrap();
    let tags = |response: &proto::OrchestratorResponse| -> Vec<Vec<(String, String)>> {
        response
            .actions
            .iter()
            .map(|action| {
                let tags = match &action.orchestrator_action_type {
                    Some(Action::ScheduleTask(task)) => task.tags.clone(),
                    Some(Action::CreateSubOrchestration(create)) => create.tags.clone(),
                    _ => Default::default(),
                };
                let mut tags: Vec<_> = tags.into_iter().collect();
                tags.sort();
                tags
            })
            .collect()
    };
    let team = ("team".to_string(), "returns".to_string());
    let kind = ("kind".to_string(), "notification".to_string());
    let response = run(&registry, vec![], start("Tagged", "null"));
    assert_eq!(tags(&response), [vec![team.clone()], vec![kind.clone(), team.clone()]]);

    let retry_at = t0() + chrono::Duration::seconds(5);
    let mut past = start("Tagged", "null");
    past.extend([
        sub_orchestration_created(1, "Child", "instance-1:0001"),
        task_scheduled(2, "Publish", Some("\"msg\"")),
        orchestrator_completed(),
    ]);
    past.extend(canned::episode(
        t0(),
        [task_failed(2, "E", "down"), timer_created(3, retry_at)],
    ));
    let response = run(&registry, past, canned::episode(retry_at, [timer_fired(3, retry_at)]));
    assert_eq!(response.actions[0].id, 4);
    assert_eq!(tags(&response), [vec![kind, team]], "the retry carries the tags");
}

#[test]
fn a_retry_handler_decides_per_failure_whether_and_when() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Handled", |ctx: OrchestrationContext, _: ()| async move {
            let outcome = ctx
                .call_activity::<String>("Publish", &"msg")
                .with_retry_handler(|retry| match retry.failure().map(|f| f.error_type.as_str()) {
                    Some("Transient") => Some(Duration::ZERO),
                    Some("Throttled") if retry.attempt() < 5 => Some(Duration::from_secs(30)),
                    _ => None,
                })
                .await;
            Ok(outcome.map_err(|error| error.failure_details().unwrap().message.clone()))
        })
        .unwrap();
    let mut past = start("Handled", "null");
    past.extend([task_scheduled(1, "Publish", None), orchestrator_completed()]);

    // A transient failure is retried at once: no timer.
    let response = run(
        &registry,
        past.clone(),
        canned::episode(t0(), [task_failed(1, "Transient", "blip")]),
    );
    assert_eq!(
        response.actions,
        [actions::schedule_task(2, "Publish", Some("\"msg\""))]
    );

    // Throttling waits 30 s on a durable timer.
    past.extend(canned::episode(
        t0(),
        [task_failed(1, "Transient", "blip"), task_scheduled(2, "Publish", None)],
    ));
    let response = run(
        &registry,
        past.clone(),
        canned::episode(t0(), [task_failed(2, "Throttled", "slow down")]),
    );
    let retry_at = t0() + chrono::Duration::seconds(30);
    assert_eq!(response.actions, [actions::create_timer(3, retry_at)]);

    // Anything else ends the retries with that failure.
    past.extend(canned::episode(
        t0(),
        [task_failed(2, "Throttled", "slow down"), timer_created(3, retry_at)],
    ));
    past.extend(canned::episode(
        retry_at,
        [timer_fired(3, retry_at), task_scheduled(4, "Publish", None)],
    ));
    let response = run(
        &registry,
        past,
        canned::episode(retry_at, [task_failed(4, "Fatal", "gone")]),
    );
    assert_eq!(complete_action(&response).result.as_deref(), Some("{\"Err\":\"gone\"}"));
}

#[test]
fn replay_safe_logging_runs_only_for_new_decisions() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Logs", |ctx: OrchestrationContext, _: ()| async move {
            let before = ctx.unless_replaying(|| "logged").is_some();
            ctx.call_activity::<()>("Step", &()).await?;
            let after = ctx.unless_replaying(|| "logged").is_some();
            Ok((before, after))
        })
        .unwrap();
    let past = canned::activity_scheduled("Logs", ID, Some("null"), "Step", None);
    let response = run(&registry, past, canned::episode(t0(), [task_completed(1, None)]));
    assert_eq!(
        complete_action(&response).result.as_deref(),
        Some("[false,true]"),
        "the first line was logged in an earlier episode"
    );
}

#[test]
fn a_retry_asked_for_after_the_call_was_recorded_still_makes_the_same_call() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Late", |ctx: OrchestrationContext, _: ()| async move {
            let call = ctx
                .call_activity::<String>("Publish", &"m")
                .with_tags([("team", "returns")]);
            ctx.create_timer_after(Duration::from_secs(10)).await?;
            Ok(call.with_retry(RetryPolicy::new(2, Duration::from_secs(5))).await?)
        })
        .unwrap();
    let ten = t0() + chrono::Duration::seconds(10);
    let mut past = start("Late", "null");
    past.extend([
        task_scheduled(1, "Publish", Some("\"m\"")),
        timer_created(2, ten),
        orchestrator_completed(),
    ]);
    let new = canned::episode(ten, [timer_fired(2, ten), task_failed(1, "E", "down")]);
    let response = run(&registry, past.clone(), new.clone());
    let retry_at = ten + chrono::Duration::seconds(5);
    assert_eq!(response.actions, [actions::create_timer(3, retry_at)]);

    past.extend(new);
    past.extend([timer_created(3, retry_at), orchestrator_completed()]);
    let response = run(&registry, past, canned::episode(retry_at, [timer_fired(3, retry_at)]));
    let expected = {
        let mut retry = actions::schedule_task(4, "Publish", Some("\"m\""));
        if let Some(Action::ScheduleTask(task)) = retry.orchestrator_action_type.as_mut() {
            task.tags.insert("team".into(), "returns".into());
        }
        retry
    };
    assert_eq!(response.actions, [expected]);
}

#[test]
fn an_entity_signal_sent_as_an_event_carries_the_frameworks_request_message_and_replays_either_way() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("SignalsByEvent", |ctx: OrchestrationContext, _: ()| async move {
            ctx.signal_entity_as_event(&EntityId::new("Counter", "a"), "add", &5);
            ctx.wait_for_external_event::<()>("go").await?;
            Ok(())
        })
        .unwrap();
    let response = run(&registry, vec![], start("SignalsByEvent", "null"));
    let id = response.actions[0].id;
    let (target, name, data) = match &response.actions[0].orchestrator_action_type {
        Some(Action::SendEvent(send)) => (
            send.instance.as_ref().map(|instance| instance.instance_id.clone()),
            send.name.clone(),
            send.data.clone().unwrap_or_default(),
        ),
        other => panic!("{other:?}"),
    };
    assert_eq!(target.as_deref(), Some("@counter@a"));
    assert_eq!(name, "op");
    let message: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(message["op"], "add");
    assert_eq!(message["signal"], true);
    assert_eq!(message["input"], "5");
    assert!(
        uuid::Uuid::parse_str(message["id"].as_str().unwrap()).is_ok(),
        "{message}"
    );

    // The Functions extension records the event as sent (`eventSent`); a gRPC engine that took it as a signal
    // records `entityOperationSignaled`. Both confirm the decision.
    for recorded in [
        event_sent(id, "@counter@a", "op", Some(&data)),
        entity_operation_signaled(id, "r0", "@counter@a", "add"),
    ] {
        let mut past = start("SignalsByEvent", "null");
        past.push(recorded.clone());
        let response = run(&registry, past, vec![event_raised("go", None)]);
        assert_eq!(
            complete_action(&response).orchestration_status,
            proto::OrchestrationStatus::Completed as i32,
            "{recorded:?}"
        );
    }
    // A signal of another entity at that sequence number is still a non-deterministic replay.
    let mut past = start("SignalsByEvent", "null");
    past.push(entity_operation_signaled(id, "r0", "@counter@b", "add"));
    let response = run(&registry, past, vec![event_raised("go", None)]);
    assert_eq!(status(&response), proto::OrchestrationStatus::Failed);
}
