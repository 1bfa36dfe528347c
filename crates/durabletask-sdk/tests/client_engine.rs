//! The durable client against a real engine: durabletask 1.12.0's in-memory backend, started per test by
//! `scripts/local_engine.py` from the project's virtualenv (`bash scripts/setup-venv.sh`).
//!
//! Without a worker, orchestrations stay `Pending` and entity signals stay in the entity's backlog. Tests
//! that need instances to finish run a stub worker (below) that answers orchestration work items for a
//! few known orchestrator names.

use std::time::Duration;

use chrono::Utc;
use durabletask_sdk::client::{
    CleanEntityStorageOptions, ClientCache, ClientError, ClientOptions, DurableClient, EntityQuery, InstanceQuery,
    OrchestrationStatus, PurgeBudget, PurgeFilter,
};
use durabletask_sdk::functions::DurableClientBinding;
use durabletask_sdk::EntityId;
use serde_json::{json, Value};

use engine::{eventually, Engine, StubWorker, ECHO, WAITER};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn started_instances_of_unregistered_orchestrators_stay_pending() {
    let engine = Engine::start().await;
    let client = engine.client();

    let id = client
        .start_orchestration("NobodyRunsThis", Some("pending-1"), &json!({"returnId": "R-1"}))
        .await
        .unwrap();
    assert_eq!(id, "pending-1");
    let state = client.get_instance(&id).await.unwrap().expect("the instance exists");
    assert_eq!(state.status, OrchestrationStatus::Pending);
    assert_eq!(state.name, "NobodyRunsThis");
    assert_eq!(state.read_input::<Value>().unwrap(), json!({"returnId": "R-1"}));
    assert!(state.created_at.is_some() && state.completed_at.is_none());
    let without_payloads = client.get_instance_without_payloads(&id).await.unwrap().unwrap();
    assert_eq!(without_payloads.input, None);

    let generated = client.start_orchestration("NobodyRunsThis", None, &()).await.unwrap();
    assert_eq!(generated.len(), 32, "a dashless UUID: {generated}");
    assert!(generated.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(client.get_instance(&generated).await.unwrap().unwrap().input, None);

    let error = client
        .start_orchestration("NobodyRunsThis", Some("pending-1"), &())
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::AlreadyExists { .. }), "{error:?}");
    assert!(!error.is_transient());
    let error = client
        .start_orchestration("NobodyRunsThis", Some(""), &())
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::InvalidArgument { .. }), "{error:?}");
}

#[tokio::test]
async fn missing_instances_and_entities_are_none_or_not_found() {
    let engine = Engine::start().await;
    let client = engine.client();

    assert!(client.get_instance("nope").await.unwrap().is_none());
    assert!(client
        .get_entity(&EntityId::new("counter", "nope"))
        .await
        .unwrap()
        .is_none());
    let error = client.raise_event("nope", "go", &1).await.unwrap_err();
    assert!(
        matches!(error, ClientError::NotFound { rpc: "RaiseEvent", .. }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    let error = client.suspend("nope", Some("why")).await.unwrap_err();
    assert!(matches!(error, ClientError::NotFound { .. }), "{error:?}");
    let purged = client.purge_instance("nope").await.unwrap();
    assert_eq!(purged.deleted_instance_count, 0);
}

#[tokio::test]
async fn signals_without_an_entity_worker_wait_in_the_backlog() {
    let engine = Engine::start().await;
    let client = engine.client();
    let entity = EntityId::new("ReturnAggregate", "R-1");

    client
        .signal_entity(&entity, "ItemsReceived", &json!({"sku": "A"}))
        .await
        .unwrap();
    client.signal_entity(&entity, "RefundIssued", &()).await.unwrap();
    for key in ["R-2", "R-3"] {
        client
            .signal_entity(&EntityId::new("returnaggregate", key), "Booked", &1)
            .await
            .unwrap();
    }

    let stored = client
        .get_entity(&entity)
        .await
        .unwrap()
        .expect("a signal creates the entity");
    assert_eq!(stored.instance_id, "@returnaggregate@R-1");
    assert_eq!(stored.backlog_queue_size, 2);
    assert_eq!(stored.state::<Value>().unwrap(), None, "no worker ran an operation");
    assert_eq!(stored.entity_id().unwrap(), entity);

    // Entities with only pending work are "transient": hidden unless asked for.
    let stable = client
        .query_entities(&EntityQuery::for_entity_name("returnaggregate"), None)
        .await
        .unwrap();
    assert!(stable.items.is_empty() && stable.is_last());
    let query = EntityQuery::for_entity_name("ReturnAggregate")
        .with_transient()
        .with_page_size(2);
    let first = client.query_entities(&query, None).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let token = first.continuation_token.clone().expect("a second page");
    let second = client.query_entities(&query, Some(&token)).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert!(second.is_last());
    let all = client.query_all_entities(&query).await.unwrap();
    let ids: Vec<_> = all.iter().map(|entity| entity.instance_id.as_str()).collect();
    assert_eq!(
        ids,
        ["@returnaggregate@R-1", "@returnaggregate@R-2", "@returnaggregate@R-3"]
    );
}

#[tokio::test]
async fn entity_clean_up_removes_empty_entities_and_keeps_busy_ones() {
    let engine = Engine::start().await;
    let client = engine.client();
    let busy = EntityId::new("reminder", "busy");
    let later = EntityId::new("reminder", "later");

    client.signal_entity(&busy, "Remind", &()).await.unwrap();
    // A signal scheduled far ahead creates the entity without any pending work yet.
    client
        .signal_entity_at(&later, "Remind", &(), Utc::now() + chrono::Duration::hours(1))
        .await
        .unwrap();
    let scheduled = client
        .get_entity_without_state(&later)
        .await
        .unwrap()
        .expect("created by the signal");
    assert_eq!(scheduled.backlog_queue_size, 0);

    let cleaned = client
        .clean_entity_storage(CleanEntityStorageOptions::all())
        .await
        .unwrap();
    assert_eq!(cleaned.empty_entities_removed, 1);
    assert_eq!(cleaned.orphaned_locks_released, 0);
    assert!(client.get_entity_without_state(&later).await.unwrap().is_none());
    assert!(client.get_entity_without_state(&busy).await.unwrap().is_some());
}

#[tokio::test]
async fn completed_orchestrations_report_their_output() {
    let engine = Engine::start().await;
    let client = engine.client();
    let _worker = StubWorker::spawn(&client);

    let id = client.start_orchestration(ECHO, None, &json!(["a", 1])).await.unwrap();
    let done = client.wait_for_instance_completion(&id, WAIT).await.unwrap().unwrap();
    assert_eq!(done.status, OrchestrationStatus::Completed);
    assert_eq!(done.read_output::<Value>().unwrap(), json!(["a", 1]));
    assert!(done.completed_at.is_some());
    assert!(done.failure_details.is_none());
}

#[tokio::test]
async fn raised_events_reach_a_running_orchestration() {
    let engine = Engine::start().await;
    let client = engine.client();
    let _worker = StubWorker::spawn(&client);

    let id = client.start_orchestration(WAITER, Some("waiter-1"), &()).await.unwrap();
    let started = client.wait_for_instance_start(&id, WAIT).await.unwrap().unwrap();
    assert_ne!(started.status, OrchestrationStatus::Pending);
    client.raise_event(&id, "go", &json!({"ok": true})).await.unwrap();
    let done = client.wait_for_instance_completion(&id, WAIT).await.unwrap().unwrap();
    assert_eq!(done.status, OrchestrationStatus::Completed);
    assert_eq!(done.read_output::<Value>().unwrap(), json!({"ok": true}));
}

#[tokio::test]
async fn suspended_orchestrations_resume() {
    let engine = Engine::start().await;
    let client = engine.client();
    let _worker = StubWorker::spawn(&client);

    let id = client.start_orchestration(WAITER, None, &()).await.unwrap();
    client.wait_for_instance_start(&id, WAIT).await.unwrap();
    eventually(&client, &id, OrchestrationStatus::Running).await;
    client.suspend(&id, Some("maintenance")).await.unwrap();
    eventually(&client, &id, OrchestrationStatus::Suspended).await;
    client.resume(&id, None).await.unwrap();
    eventually(&client, &id, OrchestrationStatus::Running).await;
    client.raise_event(&id, "go", &"resumed").await.unwrap();
    let done = client.wait_for_instance_completion(&id, WAIT).await.unwrap().unwrap();
    assert_eq!(done.read_output::<String>().unwrap(), "resumed");
}

#[tokio::test]
async fn purge_by_filter_deletes_only_matching_finished_instances() {
    let engine = Engine::start().await;
    let client = engine.client();
    let _worker = StubWorker::spawn(&client);

    let old = client.start_orchestration(ECHO, Some("old"), &1).await.unwrap();
    let old_state = client.wait_for_instance_completion(&old, WAIT).await.unwrap().unwrap();
    let completed = client.start_orchestration(ECHO, Some("completed"), &2).await.unwrap();
    let completed_state = client
        .wait_for_instance_completion(&completed, WAIT)
        .await
        .unwrap()
        .unwrap();
    let terminated = client
        .start_orchestration(WAITER, Some("terminated"), &())
        .await
        .unwrap();
    client.wait_for_instance_start(&terminated, WAIT).await.unwrap();
    client.terminate(&terminated, &"stuck").await.unwrap();
    let terminated_state = client
        .wait_for_instance_completion(&terminated, WAIT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(terminated_state.status, OrchestrationStatus::Terminated);
    assert_eq!(terminated_state.read_output::<String>().unwrap(), "stuck");
    let pending = client
        .start_orchestration("NobodyRunsThis", Some("pending"), &())
        .await
        .unwrap();

    // Running and pending instances are never purged, one by one or by filter.
    assert_eq!(client.purge_instance(&pending).await.unwrap().deleted_instance_count, 0);

    // Only instances created before the cut-off go.
    let cutoff = completed_state.created_at.unwrap();
    assert!(old_state.created_at.unwrap() < cutoff);
    let purged = client
        .purge_instances(&PurgeFilter::created_before(cutoff).with_statuses([OrchestrationStatus::Completed]))
        .await
        .unwrap();
    assert_eq!(purged.deleted_instance_count, 1);
    assert!(purged.is_complete);
    assert!(client.get_instance_without_payloads(&old).await.unwrap().is_none());

    // Statuses filter: Completed and Terminated, from the epoch default, to now.
    let filter = PurgeFilter::created_before(Utc::now() + chrono::Duration::seconds(60))
        .with_statuses("Completed,terminated".split(',').map(|status| status.parse().unwrap()));
    let purged = client.purge_instances(&filter).await.unwrap();
    assert_eq!(purged.deleted_instance_count, 2);
    for id in [&completed, &terminated] {
        assert!(
            client.get_instance_without_payloads(id).await.unwrap().is_none(),
            "{id} survived"
        );
    }
    assert!(client.get_instance_without_payloads(&pending).await.unwrap().is_some());
}

#[tokio::test]
async fn a_large_backlog_is_purged_within_a_budget_on_the_local_engine() {
    // durabletask's in-memory engine ignores the filter timeout: it purges every match in one call and reports
    // isComplete = true, so the run ends after one round (stepwise engines: client_purge_rounds.rs).
    const BACKLOG: usize = 400;
    let engine = Engine::start().await;
    let client = engine.client();
    let _worker = StubWorker::spawn(&client);
    let mut ids = Vec::new();
    for n in 0..BACKLOG {
        ids.push(
            client
                .start_orchestration(ECHO, Some(&format!("done-{n}")), &n)
                .await
                .unwrap(),
        );
    }
    for id in &ids {
        let state = client.wait_for_instance_completion(id, WAIT).await.unwrap().unwrap();
        assert_eq!(state.status, OrchestrationStatus::Completed);
    }
    let pending = client
        .start_orchestration("NobodyRunsThis", Some("still-pending"), &())
        .await
        .unwrap();

    let filter = PurgeFilter::created_before(Utc::now() + chrono::Duration::seconds(60));
    let mut rounds = Vec::new();
    let budget = PurgeBudget::new(Duration::from_secs(60)).with_per_call(Duration::from_secs(5));
    let progress = client
        .purge_instances_within(&filter, budget, |round| rounds.push(*round))
        .await
        .unwrap();
    assert_eq!(progress.deleted_instance_count, BACKLOG as u64);
    assert!(progress.is_complete);
    assert_eq!(progress.rounds, 1);
    assert_eq!(rounds.len(), 1);
    let left = client.query_all_instances(&InstanceQuery::new()).await.unwrap();
    assert_eq!(left.len(), 1, "only the pending instance stays");
    assert_eq!(left[0].instance_id, pending);
}

#[tokio::test]
async fn instance_queries_filter_and_page() {
    let engine = Engine::start().await;
    let client = engine.client();
    for n in 1..=3 {
        client
            .start_orchestration("NobodyRunsThis", Some(&format!("page-{n}")), &n)
            .await
            .unwrap();
    }
    client
        .start_orchestration("NobodyRunsThis", Some("other"), &())
        .await
        .unwrap();

    let query = InstanceQuery::new()
        .with_instance_id_prefix("page-")
        .with_statuses([OrchestrationStatus::Pending])
        .with_page_size(2)
        .with_payloads();
    let first = client.query_instances(&query, None).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let second = client
        .query_instances(&query, first.continuation_token.as_deref())
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert!(second.is_last());

    let all = client.query_all_instances(&query).await.unwrap();
    let mut ids: Vec<_> = all.iter().map(|state| state.instance_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["page-1", "page-2", "page-3"]);
    assert!(all.iter().all(|state| state.input.is_some()));
    let none = InstanceQuery::new().with_statuses([OrchestrationStatus::Completed]);
    assert!(client.query_all_instances(&none).await.unwrap().is_empty());
}

#[tokio::test]
async fn waiting_for_an_instance_nobody_runs_hits_the_deadline() {
    let engine = Engine::start().await;
    let client = engine.client();
    let id = client.start_orchestration("NobodyRunsThis", None, &()).await.unwrap();

    let error = client
        .wait_for_instance_start(&id, Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::DeadlineExceeded { .. }), "{error:?}");
    assert!(error.is_transient());
}

#[tokio::test]
async fn clients_built_from_a_binding_reach_the_engine_and_honour_its_size_limit() {
    let engine = Engine::start().await;
    let cache = ClientCache::new(ClientOptions::default().with_max_receive_message_size(1024));
    let mut binding = DurableClientBinding::new(engine.url());
    binding.task_hub_name = Some("ReturnsHub".into());

    let small = cache.client_for(&binding).unwrap();
    small.hello().await.unwrap();
    let big_input = "x".repeat(64 * 1024);
    let id = small
        .start_orchestration("NobodyRunsThis", None, &big_input)
        .await
        .unwrap();
    let error = small.get_instance(&id).await.unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Rpc {
                code: tonic::Code::OutOfRange,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_transient(), "a too-large answer is not worth retrying");

    binding.max_grpc_message_size_in_bytes = Some(4 * 1024 * 1024);
    let large = cache.client_for(&binding).unwrap();
    let state = large.get_instance(&id).await.unwrap().unwrap();
    assert_eq!(state.read_input::<String>().unwrap(), big_input);
    assert_eq!(cache.len(), 1, "both clients share one channel");
    DurableClient::from_binding(&binding).unwrap().hello().await.unwrap();
}

#[tokio::test]
async fn answers_above_grpcs_usual_4_mib_are_read_with_the_default_limits() {
    let engine = Engine::start().await;
    let client = engine.client();
    // Two instances with 3 MiB inputs: each request fits the engine's own 4 MiB receive limit, but one page
    // holding both is about 6 MiB.
    let input = "x".repeat(3 << 20);
    for id in ["big-1", "big-2"] {
        client
            .start_orchestration("NobodyRunsThis", Some(id), &input)
            .await
            .unwrap();
    }
    let query = InstanceQuery::new().with_payloads().with_instance_id_prefix("big-");
    let page = DurableClient::connect_lazy(&engine.url(), ClientOptions::default())
        .unwrap()
        .query_instances(&query, None)
        .await
        .expect("the default limit reads a 6 MiB answer");
    assert_eq!(page.items.len(), 2);
    assert!(page
        .items
        .iter()
        .all(|state| state.read_input::<String>().unwrap() == input));

    // gRPC's usual 4 MiB (this client's former default) cannot read it; extension 3.x's default binding value
    // (4 MiB, sent whether configured or not) must not lower the limit back to that.
    let four_mib = ClientOptions::default().with_max_receive_message_size(4 << 20);
    let error = DurableClient::connect_lazy(&engine.url(), four_mib)
        .unwrap()
        .query_instances(&query, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Rpc {
                code: tonic::Code::OutOfRange,
                ..
            }
        ),
        "{error:?}"
    );
    let mut binding = DurableClientBinding::new(engine.url());
    binding.max_grpc_message_size_in_bytes = Some(4_194_304);
    let from_binding = ClientCache::default().client_for(&binding).unwrap();
    assert_eq!(from_binding.query_instances(&query, None).await.unwrap().items.len(), 2);

    // The send limit refuses an oversized request before it leaves the client.
    let small_sends = ClientOptions::default().with_max_send_message_size(64 * 1024);
    let error = DurableClient::connect_lazy(&engine.url(), small_sends)
        .unwrap()
        .start_orchestration("NobodyRunsThis", Some("too-big"), &"y".repeat(128 * 1024))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::RequestTooLarge {
                rpc: "StartInstance",
                limit: 65_536,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert!(client.get_instance_without_payloads("too-big").await.unwrap().is_none());
}

/// The local engine process and a stub worker.
mod engine {
    use std::time::{Duration, Instant};

    use durabletask_sdk::client::{DurableClient, OrchestrationStatus};
    use durabletask_sdk::proto::{self, history_event::EventType, orchestrator_action, work_item};
    use tokio::task::JoinHandle;

    /// An orchestrator that completes at once with its input as output.
    pub const ECHO: &str = "Echo";
    /// An orchestrator that completes with the data of the first `go` event.
    pub const WAITER: &str = "Waiter";

    /// The local engine, from the workspace's shared launcher.
    pub use test_support::engine::LocalEngine as Engine;

    /// Polls the instance until it has `status`, failing after a deadline.
    pub async fn eventually(client: &DurableClient, id: &str, status: OrchestrationStatus) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let state = client
                .get_instance_without_payloads(id)
                .await
                .unwrap()
                .expect("the instance exists");
            if state.status == status {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{id} stayed {} instead of becoming {status}",
                state.status
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A worker that runs [`ECHO`] and [`WAITER`] orchestrations (and nothing else) until dropped.
    pub struct StubWorker(JoinHandle<()>);

    impl StubWorker {
        pub fn spawn(client: &DurableClient) -> Self {
            let client = client.clone();
            Self(tokio::spawn(async move {
                let filters = proto::WorkItemFilters {
                    orchestrations: [ECHO, WAITER]
                        .into_iter()
                        .map(|name| proto::OrchestrationFilter {
                            name: name.into(),
                            versions: Vec::new(),
                        })
                        .collect(),
                    activities: Vec::new(),
                    entities: Vec::new(),
                };
                let request = proto::GetWorkItemsRequest {
                    work_item_filters: Some(filters),
                    ..Default::default()
                };
                // The stream must outlive the client's call deadline.
                let request = client.request_with_timeout(request, Duration::from_secs(3600));
                let mut stream = client.sidecar().get_work_items(request).await.unwrap().into_inner();
                while let Ok(Some(item)) = stream.message().await {
                    if let Some(work_item::Request::OrchestratorRequest(request)) = item.request {
                        let response = run_stub(&request, item.completion_token);
                        let _ = client
                            .sidecar()
                            .complete_orchestrator_task(client.request(response))
                            .await;
                    }
                }
            }))
        }
    }

    impl Drop for StubWorker {
        fn drop(&mut self) {
            self.0.abort();
        }
    }

    /// The stub orchestrators' logic: one completion action, or none while waiting.
    fn run_stub(request: &proto::OrchestratorRequest, completion_token: String) -> proto::OrchestratorResponse {
        let events = || {
            request
                .past_events
                .iter()
                .chain(&request.new_events)
                .filter_map(|e| e.event_type.as_ref())
        };
        let name_and_input = events().find_map(|event| match event {
            EventType::ExecutionStarted(started) => Some((started.name.clone(), started.input.clone())),
            _ => None,
        });
        let terminated = request.new_events.iter().find_map(|event| match &event.event_type {
            Some(EventType::ExecutionTerminated(terminated)) => Some(terminated.input.clone()),
            _ => None,
        });
        let go = events().find_map(|event| match event {
            EventType::EventRaised(raised) if raised.name == "go" => Some(raised.input.clone()),
            _ => None,
        });
        let completion = match (terminated, name_and_input, go) {
            (Some(output), _, _) => Some((proto::OrchestrationStatus::Terminated, output)),
            (None, Some((name, input)), _) if name == ECHO => Some((proto::OrchestrationStatus::Completed, input)),
            (None, Some((name, _)), Some(data)) if name == WAITER => {
                Some((proto::OrchestrationStatus::Completed, data))
            }
            _ => None,
        };
        let actions = completion
            .map(|(status, result)| proto::OrchestratorAction {
                id: 0,
                orchestrator_action_type: Some(orchestrator_action::OrchestratorActionType::CompleteOrchestration(
                    proto::CompleteOrchestrationAction {
                        orchestration_status: status as i32,
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
}
