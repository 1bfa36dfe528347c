//! The local durable engine (`scripts/local_engine.py`, Microsoft's in-memory backend behind the
//! `TaskHubSidecarService` gRPC API; the workspace's shared launcher in `crates/test-support`) for the tests that
//! need a real one, and three minimal workers: one that lets
//! terminated instances reach their final status, one that ends runs as a test says, one that plays the Durable extension for the app's entity (each
//! entity work item becomes a `POST /EntityFunction` through the router).

use std::future::Future;
use std::time::Duration;

use axum::Router;
use durabletask_sdk::client::DurableClient;
use durabletask_sdk::entity::entity_batch_from_v2;
use durabletask_sdk::proto::history_event::EventType;
use durabletask_sdk::proto::orchestrator_action::OrchestratorActionType;
use durabletask_sdk::proto::{self, work_item};
use tokio::sync::mpsc as tokio_mpsc;
use tokio::task::JoinHandle;

#[allow(unused_imports)] // each test binary uses a different subset
pub use test_support::engine::LocalEngine;

use super::host::{entity_invocation, entity_result};
use super::router::invoke;

/// Serves the engine's work items matching `filters` with `handle`, one at a time, until the stream ends.
async fn serve_work_items<F, Fut>(client: DurableClient, filters: proto::WorkItemFilters, mut handle: F)
where
    F: FnMut(DurableClient, proto::WorkItem) -> Fut,
    Fut: Future<Output = ()>,
{
    let request = proto::GetWorkItemsRequest {
        work_item_filters: Some(filters),
        ..Default::default()
    };
    // The stream lives as long as the worker, far beyond a unary call's deadline.
    let request = client.request_with_timeout(request, Duration::from_secs(3600));
    let mut stream = match client.sidecar().get_work_items(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("the engine refused the work item stream: {status}"),
    };
    while let Ok(Some(item)) = stream.message().await {
        handle(client.clone(), item).await;
    }
}

/// A worker for orchestrations named `name` that only carries out terminations: each work item whose new events
/// hold `executionTerminated` completes the instance as `Terminated`; any other work item is answered with no
/// actions (the instance keeps running). Stops when dropped.
pub struct TerminatingWorker(JoinHandle<()>);

impl TerminatingWorker {
    /// Connects to the engine behind `client` and serves work items until dropped.
    pub fn spawn(client: &DurableClient, name: &str) -> Self {
        let filters = proto::WorkItemFilters {
            orchestrations: vec![proto::OrchestrationFilter {
                name: name.to_string(),
                versions: Vec::new(),
            }],
            activities: Vec::new(),
            entities: Vec::new(),
        };
        Self(tokio::spawn(serve_work_items(
            client.clone(),
            filters,
            |client, item| async move {
                if let Some(work_item::Request::OrchestratorRequest(request)) = item.request {
                    let response = terminate_if_asked(&request, item.completion_token);
                    let _ = client
                        .sidecar()
                        .complete_orchestrator_task(client.request(response))
                        .await;
                }
            },
        )))
    }
}

impl Drop for TerminatingWorker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn terminate_if_asked(request: &proto::OrchestratorRequest, completion_token: String) -> proto::OrchestratorResponse {
    let reason = request.new_events.iter().find_map(|event| match &event.event_type {
        Some(EventType::ExecutionTerminated(terminated)) => Some(terminated.input.clone()),
        _ => None,
    });
    let actions = reason
        .map(|result| proto::OrchestratorAction {
            id: 0,
            orchestrator_action_type: Some(OrchestratorActionType::CompleteOrchestration(
                proto::CompleteOrchestrationAction {
                    orchestration_status: proto::OrchestrationStatus::Terminated as i32,
                    result,
                    ..Default::default()
                },
            )),
        })
        .into_iter()
        .collect();
    proto::OrchestratorResponse {
        instance_id: request.instance_id.clone(),
        actions,
        completion_token,
        ..Default::default()
    }
}

/// A worker for orchestrations named `name` that ends each run it is handed without running it: the n-th work item
/// completes its instance with `endings[n]` (the last one repeats), `Failed` with a failure naming the worker.
/// Stops when dropped.
pub struct EndingWorker(JoinHandle<()>);

impl EndingWorker {
    /// Connects to the engine behind `client` and serves work items until dropped.
    pub fn spawn(client: &DurableClient, name: &str, endings: Vec<proto::OrchestrationStatus>) -> Self {
        assert!(!endings.is_empty(), "at least one ending");
        let filters = proto::WorkItemFilters {
            orchestrations: vec![proto::OrchestrationFilter {
                name: name.to_string(),
                versions: Vec::new(),
            }],
            activities: Vec::new(),
            entities: Vec::new(),
        };
        let mut served = 0;
        Self(tokio::spawn(serve_work_items(
            client.clone(),
            filters,
            move |client, item| {
                let ending = endings[served.min(endings.len() - 1)];
                served += 1;
                async move {
                    if let Some(work_item::Request::OrchestratorRequest(request)) = item.request {
                        let response = end_run(&request, item.completion_token, ending);
                        let _ = client
                            .sidecar()
                            .complete_orchestrator_task(client.request(response))
                            .await;
                    }
                }
            },
        )))
    }
}

impl Drop for EndingWorker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn end_run(
    request: &proto::OrchestratorRequest,
    completion_token: String,
    ending: proto::OrchestrationStatus,
) -> proto::OrchestratorResponse {
    let failure_details = (ending == proto::OrchestrationStatus::Failed).then(|| proto::TaskFailureDetails {
        error_type: "TestFailure".to_string(),
        error_message: "ended as failed by the test's worker".to_string(),
        ..Default::default()
    });
    let complete = proto::CompleteOrchestrationAction {
        orchestration_status: ending as i32,
        failure_details,
        ..Default::default()
    };
    proto::OrchestratorResponse {
        instance_id: request.instance_id.clone(),
        actions: vec![proto::OrchestratorAction {
            id: 0,
            orchestrator_action_type: Some(OrchestratorActionType::CompleteOrchestration(complete)),
        }],
        completion_token,
        ..Default::default()
    }
}

/// Plays the Durable extension for the app's entity: every entity work item of `EntityFunction` becomes a
/// `POST /EntityFunction` through the router, as the host would send it, and the handler's batch result is
/// committed to the engine. Reports the number of operations of each committed batch. Stops when dropped.
pub struct EntityBridge(JoinHandle<()>);

impl EntityBridge {
    /// Connects to the engine behind `client`; committed batches are reported on the returned channel.
    pub fn spawn(client: &DurableClient, router: &Router) -> (Self, tokio_mpsc::UnboundedReceiver<usize>) {
        let (committed, reports) = tokio_mpsc::unbounded_channel();
        let filters = proto::WorkItemFilters {
            orchestrations: Vec::new(),
            activities: Vec::new(),
            entities: vec![proto::EntityFilter {
                name: "entityfunction".to_string(),
            }],
        };
        let router = router.clone();
        let task = serve_work_items(client.clone(), filters, move |client, item| {
            let router = router.clone();
            let committed = committed.clone();
            async move {
                let Some(work_item::Request::EntityRequestV2(request)) = item.request else {
                    return;
                };
                let batch = entity_batch_from_v2(&request).batch;
                let answer = invoke(&router, "EntityFunction", &entity_invocation(&batch)).await;
                answer.expect_success();
                let mut result = entity_result(answer.return_value());
                result.completion_token = item.completion_token;
                client
                    .sidecar()
                    .complete_entity_task(client.request(result))
                    .await
                    .expect("the engine accepts the entity result");
                let _ = committed.send(batch.operations.len());
            }
        });
        (Self(tokio::spawn(task)), reports)
    }
}

impl Drop for EntityBridge {
    fn drop(&mut self) {
        self.0.abort();
    }
}
