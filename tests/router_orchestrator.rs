//! `POST /Orchestrator`: base64 `OrchestratorRequest`s in, one base64 `OrchestratorResponse` string out — the first
//! episode schedules the publishing activity with the consolidated notification, the replay after it completed
//! reports back to the entity and completes; bad input fails the instance inside a 200; and many invocations run
//! concurrently through one router.

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use durabletask_sdk::proto::orchestrator_action::OrchestratorActionType as Action;
use durabletask_sdk::proto::{self, OrchestrationStatus};
use durabletask_sdk::testing::history;
use returns_aggregator::domain::ReturnSettledNotification;
use returns_aggregator::durable::contract::settled_instance_id;
use returns_aggregator::durable::Publication;
use serde_json::{json, Value};
use support::events::{return_id, settled_aggregate};
use support::host::{orchestrator_invocation, orchestrator_response};
use support::router::{invoke, router, Answer};

const RETURN_ID: &str = "RET-2025-910101";

fn first_episode_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 15, 9, 0, 5).unwrap()
}

/// The orchestrator's input as the entity sends it: the finished notification of the settled return.
fn settled_input(return_id: &str) -> String {
    let notification = ReturnSettledNotification::from_aggregate(&settled_aggregate(return_id)).expect("settled");
    serde_json::to_string(&Publication::Settled(Box::new(notification))).expect("the input serializes")
}

/// The first episode of `returns-settled-<return_id>` with `input` (JSON text) as the entity starts it.
fn first_episode(instance_id: &str, input: &str) -> proto::OrchestratorRequest {
    proto::OrchestratorRequest {
        instance_id: instance_id.to_string(),
        new_events: vec![
            history::orchestrator_started(first_episode_start()),
            history::execution_started("Orchestrator", instance_id, Some(input)),
        ],
        ..Default::default()
    }
}

fn parse_json(text: Option<&str>) -> Value {
    serde_json::from_str(text.expect("a JSON payload")).expect("valid JSON")
}

fn completion(response: &proto::OrchestratorResponse) -> Option<&proto::CompleteOrchestrationAction> {
    response
        .actions
        .last()
        .and_then(|action| match &action.orchestrator_action_type {
            Some(Action::CompleteOrchestration(complete)) => Some(complete),
            _ => None,
        })
}

async fn run(request: &proto::OrchestratorRequest) -> (Answer, proto::OrchestratorResponse) {
    let answer = invoke(&router(&[]), "Orchestrator", &orchestrator_invocation(request)).await;
    answer.expect_success();
    let response = orchestrator_response(answer.return_value());
    (answer, response)
}

#[tokio::test]
async fn a_settled_return_schedules_the_consolidated_notification() {
    let instance_id = settled_instance_id(&return_id(RETURN_ID));
    let (answer, response) = run(&first_episode(&instance_id, &settled_input(RETURN_ID))).await;

    assert_eq!(
        answer.body["Outputs"],
        json!({}),
        "an orchestrator has no output bindings"
    );
    assert_eq!(
        response.actions.len(),
        1,
        "only the activity is scheduled: {:?}",
        response.actions
    );
    let Some(Action::ScheduleTask(task)) = &response.actions[0].orchestrator_action_type else {
        panic!(
            "the first action is not a scheduled activity: {:?}",
            response.actions[0]
        );
    };
    assert_eq!(task.name, "PublishNotification");
    let expected = ReturnSettledNotification::from_aggregate(&settled_aggregate(RETURN_ID)).expect("settled");
    let scheduled: ReturnSettledNotification =
        serde_json::from_str(task.input.as_deref().expect("the activity has an input")).expect("a notification");
    assert_eq!(
        scheduled, expected,
        "the activity must publish the consolidated notification of the aggregate"
    );
    assert_eq!(scheduled.return_id.as_str(), RETURN_ID);
    assert_eq!(scheduled.refund.total_minor, 9997);
    let status = parse_json(response.custom_status.as_deref());
    assert_eq!(status, json!({ "stage": "publishing", "returnId": RETURN_ID }));
}

#[tokio::test]
async fn after_the_activity_completed_the_entity_hears_published_and_the_instance_completes() {
    let instance_id = settled_instance_id(&return_id(RETURN_ID));
    let input = settled_input(RETURN_ID);
    let (_, first) = run(&first_episode(&instance_id, &input)).await;
    let Some(Action::ScheduleTask(task)) = &first.actions[0].orchestrator_action_type else {
        panic!("the first episode did not schedule the activity: {:?}", first.actions);
    };
    let receipt = json!({ "notificationId": "0d8e9b44-7d1a-5b1e-9a55-1c1f0e0c2b3a", "binding": "notification" });
    let second_episode_start = first_episode_start() + Duration::seconds(3);
    let replay = proto::OrchestratorRequest {
        instance_id: instance_id.clone(),
        past_events: vec![
            history::orchestrator_started(first_episode_start()),
            history::execution_started("Orchestrator", &instance_id, Some(&input)),
            history::task_scheduled(first.actions[0].id, &task.name, task.input.as_deref()),
            history::orchestrator_completed(),
        ],
        new_events: vec![
            history::orchestrator_started(second_episode_start),
            history::task_completed(first.actions[0].id, Some(&receipt.to_string())),
        ],
        ..Default::default()
    };
    let (_, response) = run(&replay).await;

    assert_eq!(response.actions.len(), 2, "{:?}", response.actions);
    // A one-way signal sent as the framework's `op` event (every extension release delivers it; see notify.rs).
    let Some(Action::SendEvent(event)) = &response.actions[0].orchestrator_action_type else {
        panic!("the entity is not signalled first: {:?}", response.actions[0]);
    };
    assert_eq!(event.name, "op");
    assert_eq!(
        event.instance.as_ref().map(|instance| instance.instance_id.as_str()),
        Some(format!("@entityfunction@{RETURN_ID}").as_str())
    );
    let signal = parse_json(event.data.as_deref());
    assert_eq!(
        signal["signal"], true,
        "the entity message is not a one-way signal: {signal}"
    );
    assert_eq!(signal["op"], "published");
    let published = parse_json(signal["input"].as_str());
    assert_eq!(published["kind"], "ReturnSettled");
    let published_at: DateTime<Utc> = serde_json::from_value(published["publishedAt"].clone()).expect("a time");
    assert_eq!(
        published_at, second_episode_start,
        "the orchestration's own clock, never the wall clock"
    );

    let complete = completion(&response).expect("the last action completes the instance");
    assert_eq!(complete.orchestration_status, OrchestrationStatus::Completed as i32);
    assert_eq!(
        parse_json(complete.result.as_deref()),
        receipt,
        "the receipt is the instance's output"
    );
    let status = parse_json(response.custom_status.as_deref());
    assert_eq!(status["stage"], "published");
}

/// The replay after the first publishing attempt, scheduled by `first`, failed at `failed_at`.
fn replay_after_failure(
    instance_id: &str,
    input: &str,
    first: &proto::OrchestratorResponse,
    failed_at: DateTime<Utc>,
) -> proto::OrchestratorRequest {
    let Some(Action::ScheduleTask(task)) = &first.actions[0].orchestrator_action_type else {
        panic!("the first episode did not schedule the activity: {:?}", first.actions);
    };
    let task_id = first.actions[0].id;
    proto::OrchestratorRequest {
        instance_id: instance_id.to_string(),
        past_events: vec![
            history::orchestrator_started(first_episode_start()),
            history::execution_started("Orchestrator", instance_id, Some(input)),
            history::task_scheduled(task_id, &task.name, task.input.as_deref()),
            history::orchestrator_completed(),
        ],
        new_events: vec![
            history::orchestrator_started(failed_at),
            history::task_failed(task_id, "HttpRequestException", "Function 'PublishNotification' failed"),
        ],
        ..Default::default()
    }
}

#[tokio::test]
async fn a_failed_publish_is_retried_after_the_configured_interval() {
    let instance_id = settled_instance_id(&return_id(RETURN_ID));
    let input = settled_input(RETURN_ID);
    let (_, first) = run(&first_episode(&instance_id, &input)).await;
    let failed_at = first_episode_start() + Duration::seconds(2);
    let request = replay_after_failure(&instance_id, &input, &first, failed_at);
    let answer = invoke(
        &router(&[("PUBLISH_FIRST_RETRY_INTERVAL", "7s")]),
        "Orchestrator",
        &orchestrator_invocation(&request),
    )
    .await;
    answer.expect_success();
    let response = orchestrator_response(answer.return_value());
    assert_eq!(response.actions.len(), 1, "{:?}", response.actions);
    let Some(Action::CreateTimer(timer)) = &response.actions[0].orchestrator_action_type else {
        panic!(
            "a failed publish is not retried on a durable timer: {:?}",
            response.actions
        );
    };
    let fire_at = durabletask_sdk::time::to_datetime(timer.fire_at.as_ref().expect("a due time"));
    assert_eq!(fire_at, failed_at + Duration::seconds(7));

    // With a single attempt allowed, the failure fails the instance (inside a 200, never a 500).
    let answer = invoke(
        &router(&[("PUBLISH_MAX_ATTEMPTS", "1")]),
        "Orchestrator",
        &orchestrator_invocation(&request),
    )
    .await;
    answer.expect_success();
    let response = orchestrator_response(answer.return_value());
    let complete = completion(&response).expect("the instance completes");
    assert_eq!(complete.orchestration_status, OrchestrationStatus::Failed as i32);
}

#[tokio::test]
async fn broken_input_fails_the_instance_inside_a_200() {
    let instance_id = settled_instance_id(&return_id(RETURN_ID));
    let inputs = [
        "\"settle RET-2025-910101 please\"".to_string(),
        json!({ "publish": "settled", "message": 42 }).to_string(),
        json!({ "publish": "refunded" }).to_string(),
        "{\"publish\":".to_string(),
        // The input of earlier builds (the whole aggregate) is not a finished message.
        json!({ "kind": "settled", "aggregate": { "returnId": RETURN_ID } }).to_string(),
    ];
    for input in inputs {
        let (_, response) = run(&first_episode(&instance_id, &input)).await;
        assert_eq!(response.actions.len(), 1, "input {input}: {:?}", response.actions);
        let complete = completion(&response).unwrap_or_else(|| panic!("input {input}: no completion"));
        assert_eq!(
            complete.orchestration_status,
            OrchestrationStatus::Failed as i32,
            "input {input}"
        );
        let details = complete
            .failure_details
            .as_ref()
            .unwrap_or_else(|| panic!("input {input}: no failure details"));
        assert!(
            !details.error_message.is_empty(),
            "input {input}: the failure says nothing"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_invocations_through_one_router_all_succeed() {
    let router = router(&[]);
    let tasks: Vec<_> = (0..200)
        .map(|n| {
            let router = router.clone();
            tokio::spawn(async move {
                let id = format!("RET-2025-92{n:04}");
                let instance_id = settled_instance_id(&return_id(&id));
                let request = first_episode(&instance_id, &settled_input(&id));
                let answer = invoke(&router, "Orchestrator", &orchestrator_invocation(&request)).await;
                answer.expect_success();
                let response = orchestrator_response(answer.return_value());
                (id, response)
            })
        })
        .collect();
    for task in tasks {
        let (id, response) = task.await.expect("the invocation task did not panic");
        let Some(Action::ScheduleTask(scheduled)) = &response.actions[0].orchestrator_action_type else {
            panic!("{id}: {:?}", response.actions);
        };
        let notification: Value = serde_json::from_str(scheduled.input.as_deref().unwrap()).unwrap();
        assert_eq!(
            notification["returnId"],
            id.as_str(),
            "answers crossed between invocations"
        );
        assert_eq!(response.instance_id, format!("returns-settled-{id}"));
    }
}
