//! `POST /RedriveNotification` (`POST /api/returns/{returnId}/redrive` behind the host, admin key): an operator
//! re-drives a settled return's notification whose orchestration failed, never sending a second email. On the real
//! local engine: nothing for an unknown, open or running return; a failed run that never published is restarted; a
//! completed run is only recorded on the entity, after which nothing is done. Against a fake of the Durable
//! Functions extension's gRPC surface (no `StreamInstanceHistory`): a failed run is rewound, a terminated one is
//! not judged. An unreachable engine is a 503 that says to run it again.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use durabletask_sdk::client::{DurableClient, OrchestrationStatus};
use durabletask_sdk::proto;
use durabletask_sdk::proto::task_hub_sidecar_service_server::{TaskHubSidecarService, TaskHubSidecarServiceServer};
use returns_aggregator::durable::contract::{settled_instance_id, AggregateOperation};
use returns_aggregator::durable::{aggregate_entity_id, AggregateEntityState};
use serde_json::{json, Value};
use support::engine::{EndingWorker, EntityBridge, LocalEngine};
use support::events::{body, event, return_id, settled_aggregate, Kind};
use support::host::{closed_endpoint, return_status_invocation};
use support::router::{invoke, router};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// The invocation the host sends for `POST /api/returns/<return_id>/redrive` (no body).
fn redrive_invocation(return_id: &str, rpc_base_url: &str) -> Value {
    let mut invocation = return_status_invocation(Some(return_id), rpc_base_url);
    let request = &mut invocation["Data"]["req"];
    request["Url"] = json!(format!("http://localhost:7071/api/returns/{return_id}/redrive"));
    request["Method"] = json!("POST");
    invocation["Metadata"]["sys"]["MethodName"] = json!("RedriveNotification");
    invocation
}

async fn redrive(router: &axum::Router, return_id: &str, rpc_base_url: &str) -> (u64, Value) {
    let answer = invoke(
        router,
        "RedriveNotification",
        &redrive_invocation(return_id, rpc_base_url),
    )
    .await;
    answer.http_response()
}

#[tokio::test]
async fn a_bad_return_id_is_a_400_and_an_unreachable_engine_a_503_that_says_to_run_it_again() {
    let router = router(&[("DURABLE_CLIENT_TIMEOUT", "2s")]);
    let (status, body) = redrive(&router, "not a return id", &closed_endpoint()).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("returnId 'not a return id' is invalid"),
        "{body}"
    );

    let (status, body) = redrive(&router, "RET-2025-910601", &closed_endpoint()).await;
    assert_eq!(status, 503, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.starts_with("the durable engine failed"), "{error}");
    assert!(error.contains("run the same request again"), "{error}");
    assert_eq!(body["instanceId"], "returns-settled-RET-2025-910601");
}

/// Signals `kinds` to the return's entity and waits until the bridge committed them.
async fn apply(
    client: &DurableClient,
    committed: &mut tokio::sync::mpsc::UnboundedReceiver<usize>,
    return_id_text: &str,
    kinds: &[Kind],
) {
    let entity = aggregate_entity_id(&return_id(return_id_text));
    for kind in kinds {
        let operation = AggregateOperation::Apply(Box::new(event(&body(*kind, return_id_text))));
        client
            .signal_entity(&entity, operation.name(), &operation.input())
            .await
            .unwrap();
    }
    let mut applied = 0;
    while applied < kinds.len() {
        applied += tokio::time::timeout(Duration::from_secs(30), committed.recv())
            .await
            .expect("the entity ran every event before the deadline")
            .expect("the bridge is running");
    }
}

async fn wait_for_status(client: &DurableClient, instance_id: &str, wanted: OrchestrationStatus) {
    let reached = async {
        loop {
            let run = client.get_instance_without_payloads(instance_id).await.unwrap();
            if run.is_some_and(|run| run.status == wanted) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), reached)
        .await
        .unwrap_or_else(|_| panic!("{instance_id} did not become {wanted:?}"));
}

async fn entity_state(client: &DurableClient, return_id_text: &str) -> AggregateEntityState {
    client
        .get_entity(&aggregate_entity_id(&return_id(return_id_text)))
        .await
        .unwrap()
        .expect("the entity exists")
        .state()
        .unwrap()
        .expect("a state")
}

#[tokio::test]
async fn on_the_local_engine_a_failed_run_is_restarted_a_completed_one_recorded_and_nothing_else_is_done() {
    let engine = LocalEngine::start().await;
    let client = engine.client();
    let router = router(&[]);
    let (_bridge, mut committed) = EntityBridge::spawn(&client, &router);
    let id = "RET-2025-910602";
    let instance_id = settled_instance_id(&return_id(id));

    let (status, body) = redrive(&router, id, &engine.url()).await;
    assert_eq!(status, 404, "{body}");

    apply(&client, &mut committed, id, &[Kind::Booked]).await;
    let (status, body) = redrive(&router, id, &engine.url()).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["error"],
        format!("return {id} is Open: only a settled return has a notification to re-drive")
    );

    // Settled: the entity started the notification orchestration, which no worker has run yet.
    apply(&client, &mut committed, id, &[Kind::Received, Kind::Refunded]).await;
    let (status, body) = redrive(&router, id, &engine.url()).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["action"], "none");
    assert!(
        body["error"].as_str().unwrap().contains("is Pending: let it finish"),
        "{body}"
    );

    // The first run fails without publishing; the restarted one completes.
    let _worker = EndingWorker::spawn(
        &client,
        "Orchestrator",
        vec![
            proto::OrchestrationStatus::Failed,
            proto::OrchestrationStatus::Completed,
        ],
    );
    wait_for_status(&client, &instance_id, OrchestrationStatus::Failed).await;
    let (status, body) = redrive(&router, id, &engine.url()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["action"], "restarted");
    assert_eq!(body["instanceId"], instance_id);
    assert_eq!(
        body["next"],
        format!("GET /api/returns/{id} shows notificationPublishedAt once the notification is published")
    );
    wait_for_status(&client, &instance_id, OrchestrationStatus::Completed).await;

    // This test's worker completed the run without telling the entity: the re-drive records it, sends nothing.
    assert_eq!(entity_state(&client, id).await.notification_published_at, None);
    let (status, body) = redrive(&router, id, &engine.url()).await;
    assert_eq!((status, &body["action"]), (200, &json!("recorded")), "{body}");
    tokio::time::timeout(Duration::from_secs(30), committed.recv())
        .await
        .expect("the entity ran the report")
        .unwrap();
    let recorded = entity_state(&client, id)
        .await
        .notification_published_at
        .expect("the entity records the publication");

    let (status, body) = redrive(&router, id, &engine.url()).await;
    assert_eq!((status, &body["action"]), (200, &json!("none")), "{body}");
    assert_eq!(
        body["detail"],
        format!(
            "the notification went out at {}; nothing was sent",
            recorded.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )
    );
}

/// The Durable Functions extension's gRPC surface as far as re-driving sees it: the entity and the instance, rewind
/// and restart, and no `StreamInstanceHistory` (`TaskHubGrpcServer` does not override it: `UNIMPLEMENTED`).
struct FakeExtension {
    entity_state: String,
    run_status: proto::OrchestrationStatus,
    calls: Arc<Mutex<Vec<String>>>,
}

#[tonic::async_trait]
impl TaskHubSidecarService for FakeExtension {
    async fn get_entity(
        &self,
        request: Request<proto::GetEntityRequest>,
    ) -> Result<Response<proto::GetEntityResponse>, Status> {
        Ok(Response::new(proto::GetEntityResponse {
            exists: true,
            entity: Some(proto::EntityMetadata {
                instance_id: request.into_inner().instance_id,
                serialized_state: Some(self.entity_state.clone()),
                ..Default::default()
            }),
        }))
    }

    async fn get_instance(
        &self,
        request: Request<proto::GetInstanceRequest>,
    ) -> Result<Response<proto::GetInstanceResponse>, Status> {
        let now = durabletask_sdk::time::to_timestamp(chrono::Utc::now());
        Ok(Response::new(proto::GetInstanceResponse {
            exists: true,
            orchestration_state: Some(proto::OrchestrationState {
                instance_id: request.into_inner().instance_id,
                name: "Orchestrator".to_string(),
                orchestration_status: self.run_status as i32,
                created_timestamp: Some(now),
                last_updated_timestamp: Some(now),
                ..Default::default()
            }),
        }))
    }

    async fn rewind_instance(
        &self,
        request: Request<proto::RewindInstanceRequest>,
    ) -> Result<Response<proto::RewindInstanceResponse>, Status> {
        let request = request.into_inner();
        self.calls.lock().unwrap().push(format!(
            "RewindInstance {} ({})",
            request.instance_id,
            request.reason.unwrap_or_default()
        ));
        Ok(Response::new(proto::RewindInstanceResponse {}))
    }

    async fn restart_instance(
        &self,
        request: Request<proto::RestartInstanceRequest>,
    ) -> Result<Response<proto::RestartInstanceResponse>, Status> {
        let instance_id = request.into_inner().instance_id;
        self.calls
            .lock()
            .unwrap()
            .push(format!("RestartInstance {instance_id}"));
        Ok(Response::new(proto::RestartInstanceResponse { instance_id }))
    }
}

/// Serves a fake extension whose settled return's run ended in `run_status`; its URL and the calls it received.
async fn fake_extension(
    return_id_text: &str,
    run_status: proto::OrchestrationStatus,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let state = AggregateEntityState {
        aggregate: settled_aggregate(return_id_text),
        notification_published_at: None,
        alert_published_at: None,
    };
    let calls = Arc::new(Mutex::new(Vec::new()));
    let fake = FakeExtension {
        entity_state: serde_json::to_string(&state).unwrap(),
        run_status,
        calls: calls.clone(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tonic::transport::Server::builder()
        .add_service(TaskHubSidecarServiceServer::new(fake))
        .serve_with_incoming(TcpListenerStream::new(listener));
    tokio::spawn(server);
    (url, calls)
}

#[tokio::test]
async fn where_the_engine_serves_no_history_a_failed_run_is_rewound_and_a_terminated_one_left_alone() {
    let router = router(&[]);
    let id = "RET-2025-910603";
    let instance_id = settled_instance_id(&return_id(id));

    let (url, calls) = fake_extension(id, proto::OrchestrationStatus::Failed).await;
    let (status, body) = redrive(&router, id, &url).await;
    assert_eq!((status, &body["action"]), (202, &json!("rewound")), "{body}");
    assert_eq!(
        *calls.lock().unwrap(),
        vec![format!(
            "RewindInstance {instance_id} (notification re-driven by an operator (RedriveNotification))"
        )]
    );

    let (url, calls) = fake_extension(id, proto::OrchestrationStatus::Terminated).await;
    let (status, body) = redrive(&router, id, &url).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("the notification orchestration was Terminated and the engine serves no history"),
        "{body}"
    );
    assert!(calls.lock().unwrap().is_empty(), "neither rewound nor restarted");
}
