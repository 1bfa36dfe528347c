//! The app's orchestration version: read from host.json and its app-setting override as the extension reads it,
//! and given to the notification orchestration the entity starts (the extension does not give entity-started
//! orchestrations the default version itself); and the orchestrator's change at 2.0, taken by instances of 2.0 and
//! later only.

mod support;

use durabletask_sdk::functions::{durable_versioning, DEFAULT_VERSION_SETTING};
use durabletask_sdk::orchestration::{VersionFailureStrategy, VersionMatchStrategy};
use durabletask_sdk::proto::history_event::EventType;
use durabletask_sdk::proto::orchestrator_action::OrchestratorActionType as Action;
use durabletask_sdk::proto::{self, operation_action::OperationActionType, OperationRequest};
use durabletask_sdk::testing::{canned, history, ResponseView};
use returns_aggregator::app::app;
use returns_aggregator::domain::ReturnSettledNotification;
use returns_aggregator::durable::{app_versioning, Publication, REPORT_AWAITED_SINCE};
use returns_aggregator::state::AppState;
use support::events::{event, settled_aggregate, settling_bodies};
use support::host::{entity_invocation, entity_result, orchestrator_invocation, orchestrator_response};
use support::router::{app_root, config, invoke};

fn apply(body: &serde_json::Value) -> OperationRequest {
    OperationRequest {
        operation: "apply".into(),
        request_id: uuid::Uuid::new_v4().to_string(),
        input: Some(event(body).to_wire_json().to_string()),
        ..Default::default()
    }
}

fn host_json() -> String {
    std::fs::read_to_string(app_root().join("host.json")).expect("host.json at the app root")
}

#[test]
fn host_json_names_the_version_and_the_extensions_strategies() {
    let options = durable_versioning(&host_json(), [("UNRELATED", "x")]).unwrap();
    assert!(
        options.version.is_some(),
        "host.json sets extensions.durableTask.defaultVersion"
    );
    assert_eq!(options.default_version, options.version);
    assert_eq!(options.match_strategy, VersionMatchStrategy::CurrentOrOlder);
    assert_eq!(options.failure_strategy, VersionFailureStrategy::Reject);
    let overridden = durable_versioning(&host_json(), [(DEFAULT_VERSION_SETTING, "7.1")]).unwrap();
    assert_eq!(overridden.version.as_deref(), Some("7.1"));
}

#[test]
fn the_app_reads_its_versioning_from_the_app_root() {
    let options = app_versioning(&app_root()).unwrap();
    assert_eq!(options.match_strategy, VersionMatchStrategy::CurrentOrOlder);
    let missing = app_versioning(&app_root().join("no-such-folder")).unwrap_err();
    assert!(missing.to_string().contains("host.json"), "{missing}");
}

#[tokio::test]
async fn the_notification_orchestration_starts_at_the_apps_version() {
    let versioning = durable_versioning(&host_json(), [(DEFAULT_VERSION_SETTING, "4.2")]).unwrap();
    let router = app(AppState::with_versioning(config(&[]), versioning));
    let return_id = "RET-2025-930001";
    let request = proto::EntityBatchRequest {
        instance_id: format!("@entityfunction@{return_id}"),
        operations: settling_bodies(return_id).iter().map(apply).collect(),
        ..Default::default()
    };
    let answer = invoke(&router, "EntityFunction", &entity_invocation(&request)).await;
    answer.expect_success();
    let batch = entity_result(answer.return_value());
    let started: Vec<&proto::StartNewOrchestrationAction> = batch
        .actions
        .iter()
        .filter_map(|action| match &action.operation_action_type {
            Some(OperationActionType::StartNewOrchestration(start)) => Some(start),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 1, "{:?}", batch.actions);
    assert_eq!(started[0].instance_id, format!("returns-settled-{return_id}"));
    assert_eq!(started[0].version.as_deref(), Some("4.2"));
}

/// The episodes of a settled return's notification at `version` up to the published receipt: the response of the
/// replay in which the activity has completed, and the history so far.
async fn publish_at(version: &str) -> (proto::OrchestratorResponse, Vec<proto::HistoryEvent>) {
    let return_id = "RET-2025-930002";
    let instance_id = format!("returns-settled-{return_id}");
    let notification = ReturnSettledNotification::from_aggregate(&settled_aggregate(return_id)).unwrap();
    let input = serde_json::to_string(&Publication::Settled(Box::new(notification))).unwrap();
    let router = app(AppState::new(config(&[])));
    let mut past = vec![
        history::orchestrator_started(canned::t0()),
        history::execution_started_with_version("Orchestrator", &instance_id, Some(&input), version),
    ];
    let first = orchestrator_response(
        invoke(
            &router,
            "Orchestrator",
            &orchestrator_invocation(&proto::OrchestratorRequest {
                instance_id: instance_id.clone(),
                new_events: past.clone(),
                ..Default::default()
            }),
        )
        .await
        .return_value(),
    );
    let Some(Action::ScheduleTask(task)) = &first.actions[0].orchestrator_action_type else {
        panic!("{first:?}")
    };
    past.extend([
        history::task_scheduled(first.actions[0].id, &task.name, task.input.as_deref()),
        history::orchestrator_completed(),
    ]);
    let request = proto::OrchestratorRequest {
        instance_id,
        past_events: past.clone(),
        new_events: vec![
            history::orchestrator_started(canned::t0()),
            history::task_completed(first.actions[0].id, Some("{\"binding\":\"notification\"}")),
        ],
        ..Default::default()
    };
    past.extend(request.new_events.clone());
    let answer = invoke(&router, "Orchestrator", &orchestrator_invocation(&request)).await;
    (orchestrator_response(answer.return_value()), past)
}

#[tokio::test]
async fn before_2_0_the_orchestration_signals_its_report_and_completes_at_once() {
    let (response, _) = publish_at("1.0").await;
    let view = ResponseView::new(&response);
    // The 1.0 report: the framework's `op` event to the entity (README, "The `published` signal on every extension
    // release"), no entity message.
    let reports: Vec<_> = response
        .actions
        .iter()
        .filter_map(|action| match &action.orchestrator_action_type {
            Some(Action::SendEvent(send)) => Some(send),
            _ => None,
        })
        .collect();
    assert_eq!(reports.len(), 1, "{response:?}");
    assert_eq!(reports[0].name, "op");
    assert!(reports[0]
        .data
        .as_deref()
        .unwrap_or("")
        .contains("\"op\":\"published\""));
    assert!(view.entity_signals().is_empty() && view.entity_calls().is_empty());
    assert_eq!(view.status(), Some(proto::OrchestrationStatus::Completed));
}

#[tokio::test]
async fn from_2_0_the_orchestration_completes_once_the_return_has_recorded_the_publication() {
    assert_eq!(REPORT_AWAITED_SINCE, "2.0");
    let (response, mut past) = publish_at("2.0").await;
    let view = ResponseView::new(&response);
    assert!(view.entity_signals().is_empty(), "{response:?}");
    let calls = view.entity_calls();
    assert_eq!(calls.len(), 1, "{response:?}");
    let (id, call) = calls[0];
    assert_eq!(call.operation, "published");
    assert_eq!(
        call.target_instance_id.as_deref(),
        Some("@entityfunction@RET-2025-930002")
    );
    assert!(view.completion().is_none(), "it waits for the return's answer");

    past.extend([
        history::entity_operation_called(id, &call.request_id, "@entityfunction@RET-2025-930002", "published"),
        history::orchestrator_completed(),
    ]);
    let refused = proto::HistoryEvent {
        event_id: -1,
        timestamp: None,
        event_type: Some(EventType::EntityOperationFailed(Box::new(
            proto::EntityOperationFailedEvent {
                request_id: call.request_id.clone(),
                failure_details: Some(proto::TaskFailureDetails {
                    error_type: "StateUnreadable".into(),
                    error_message: "state: the stored state of return RET-2025-930002 cannot be read".into(),
                    ..Default::default()
                }),
            },
        ))),
    };
    let router = app(AppState::new(config(&[])));
    for (answer, report_failed) in [
        (
            history::entity_operation_completed(&call.request_id, Some("null")),
            false,
        ),
        (refused, true),
    ] {
        let request = proto::OrchestratorRequest {
            instance_id: "returns-settled-RET-2025-930002".into(),
            past_events: past.clone(),
            new_events: vec![history::orchestrator_started(canned::t0()), answer],
            ..Default::default()
        };
        let invocation = invoke(&router, "Orchestrator", &orchestrator_invocation(&request)).await;
        let done = orchestrator_response(invocation.return_value());
        // Refused or not, the message is out: the instance completes (a failed one might be restarted, publishing
        // again), and its status says what the return did not record.
        let view = ResponseView::new(&done);
        assert_eq!(view.status(), Some(proto::OrchestrationStatus::Completed), "{done:?}");
        let status: serde_json::Value = serde_json::from_str(done.custom_status.as_deref().unwrap()).unwrap();
        assert_eq!(status["stage"], "published");
        assert_eq!(status.get("reportFailed").is_some(), report_failed, "{status}");
        if report_failed {
            assert!(
                status["reportFailed"].as_str().unwrap().contains("cannot be read"),
                "{status}"
            );
        }
    }
}
