//! The app's orchestration version: read from host.json and its app-setting override as the extension reads it,
//! and given to the notification orchestration the entity starts (the extension does not give entity-started
//! orchestrations the default version itself).

mod support;

use durabletask_sdk::functions::{durable_versioning, DEFAULT_VERSION_SETTING};
use durabletask_sdk::orchestration::{VersionFailureStrategy, VersionMatchStrategy};
use durabletask_sdk::proto::{self, operation_action::OperationActionType, OperationRequest};
use returns_aggregator::app::app;
use returns_aggregator::durable::app_versioning;
use returns_aggregator::state::AppState;
use support::events::{event, settling_bodies};
use support::host::{entity_invocation, entity_result};
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
