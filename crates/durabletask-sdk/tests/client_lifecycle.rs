//! The client's start options, history, instance-id listing, restart, rewind, and recursive terminate and purge,
//! against durabletask 1.12.0's in-memory engine (`scripts/local_engine.py`; `bash scripts/setup-venv.sh` first)
//! with this SDK's worker running the orchestrators. Where that engine ignores an option (recursion) the test says so
//! and checks what does happen; rewinds that complete are in `orchestration_rewind.rs`.

mod fake_grpc;
mod worker_support;

use chrono::{DateTime, TimeZone, Utc};
use durabletask_sdk::client::{
    ClientError, Code, DurableClient, InstanceIdQuery, OrchestrationMetadata, OrchestrationStatus, PurgeFilter,
    PurgeInstanceOptions, RestartOptions, StartOptions, TerminateOptions,
};
use durabletask_sdk::proto::{self, history_event::EventType};
use durabletask_sdk::{Error, OrchestrationContext, Registry};
use worker_support::{test_options, Engine, RunningWorker, WAIT};

/// Completes with the time the orchestration believes it started at, and its input.
async fn stamp(ctx: OrchestrationContext, input: String) -> Result<(DateTime<Utc>, String), Error> {
    Ok((ctx.current_utc_datetime(), input))
}

async fn fail(_ctx: OrchestrationContext, reason: String) -> Result<(), Error> {
    Err(Error::new("Refused", reason))
}

/// Waits for `go` forever (until terminated).
async fn wait_for_go(ctx: OrchestrationContext, _input: ()) -> Result<String, Error> {
    Ok(ctx.wait_for_external_event::<String>("go").await?)
}

/// Starts a child that waits for `go`, under the child id given as input.
async fn parent(ctx: OrchestrationContext, child_id: String) -> Result<String, Error> {
    Ok(ctx
        .call_sub_orchestrator::<String>("wait_for_go", &(), Some(&child_id))
        .await?)
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("stamp", stamp)
        .and_then(|r| r.add_orchestrator("fail", fail))
        .and_then(|r| r.add_orchestrator("wait_for_go", wait_for_go))
        .and_then(|r| r.add_orchestrator("parent", parent))
        .expect("valid registrations");
    registry
}

async fn finished(client: &DurableClient, id: &str) -> OrchestrationMetadata {
    client
        .wait_for_instance_completion(id, WAIT)
        .await
        .expect("the wait succeeds")
        .expect("the instance exists")
}

async fn running(client: &DurableClient, id: &str) {
    let state = client.wait_for_instance_start(id, WAIT).await.unwrap().unwrap();
    assert_eq!(state.status, OrchestrationStatus::Running, "{state:?}");
}

fn event_kinds(history: &[proto::HistoryEvent]) -> Vec<&'static str> {
    history
        .iter()
        .map(|event| match &event.event_type {
            Some(EventType::OrchestratorStarted(_)) => "orchestratorStarted",
            Some(EventType::ExecutionStarted(_)) => "executionStarted",
            Some(EventType::OrchestratorCompleted(_)) => "orchestratorCompleted",
            Some(EventType::ExecutionCompleted(_)) => "executionCompleted",
            Some(EventType::ExecutionRewound(_)) => "executionRewound",
            _ => "other",
        })
        .collect()
}

#[tokio::test]
async fn start_options_reach_the_engine_and_the_orchestrator() {
    let engine = Engine::start().await;
    let worker = RunningWorker::spawn(registry(), test_options(), engine.url());
    let client = engine.client();

    // The in-memory engine dispatches at once but stamps the first orchestratorStarted with the scheduled time,
    // which is what the orchestrator reads as its current time.
    let start_at = Utc.with_ymd_and_hms(2031, 5, 17, 8, 30, 0).unwrap();
    let options = StartOptions::new()
        .with_instance_id("stamped")
        .with_start_at(start_at)
        .with_tag("tenant", "contoso")
        .with_tag("channel", "web");
    let id = client
        .start_orchestration_with("stamp", &"first", &options)
        .await
        .unwrap();
    assert_eq!(id, "stamped");
    let state = finished(&client, &id).await;
    assert_eq!(state.status, OrchestrationStatus::Completed, "{state:?}");
    assert_eq!(
        state.read_output::<(DateTime<Utc>, String)>().unwrap(),
        (start_at, "first".to_string())
    );

    let history = client.get_instance_history(&id).await.unwrap();
    let started = history
        .iter()
        .find_map(|event| match &event.event_type {
            Some(EventType::ExecutionStarted(started)) => Some(started.clone()),
            _ => None,
        })
        .expect("an executionStarted event");
    assert_eq!(started.tags.get("tenant").map(String::as_str), Some("contoso"));
    assert_eq!(started.tags.get("channel").map(String::as_str), Some("web"));
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn the_reuse_policy_decides_whether_an_id_may_be_started_again() {
    let engine = Engine::start().await;
    let worker = RunningWorker::spawn(registry(), test_options(), engine.url());
    let client = engine.client();
    let first = StartOptions::new().with_instance_id("order-1");
    client.start_orchestration_with("stamp", &"one", &first).await.unwrap();
    finished(&client, "order-1").await;

    let error = client
        .start_orchestration_with("stamp", &"two", &first)
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::AlreadyExists { .. }), "{error:?}");
    let only_failed = first.clone().replacing([OrchestrationStatus::Failed]);
    let error = client
        .start_orchestration_with("stamp", &"two", &only_failed)
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::AlreadyExists { .. }), "{error:?}");

    let completed = first.clone().replacing([OrchestrationStatus::Completed]);
    client
        .start_orchestration_with("stamp", &"three", &completed)
        .await
        .unwrap();
    let state = finished(&client, "order-1").await;
    assert_eq!(state.read_output::<(DateTime<Utc>, String)>().unwrap().1, "three");
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn the_history_of_an_instance_is_readable() {
    let engine = Engine::start().await;
    let worker = RunningWorker::spawn(registry(), test_options(), engine.url());
    let client = engine.client();
    let id = client.start_orchestration("stamp", None, &"x").await.unwrap();
    finished(&client, &id).await;

    let history = client.get_instance_history(&id).await.unwrap();
    assert_eq!(
        event_kinds(&history),
        [
            "orchestratorStarted",
            "executionStarted",
            "orchestratorCompleted",
            "executionCompleted"
        ]
    );
    let error = client.get_instance_history("nobody").await.unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::NotFound {
                rpc: "StreamInstanceHistory",
                ..
            }
        ),
        "{error:?}"
    );
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn finished_instance_ids_are_listed_page_by_page() {
    let engine = Engine::start().await;
    let worker = RunningWorker::spawn(registry(), test_options(), engine.url());
    let client = engine.client();
    let mut completed = Vec::new();
    for n in 0..3 {
        let id = format!("done-{n}");
        client.start_orchestration("stamp", Some(&id), &"x").await.unwrap();
        finished(&client, &id).await;
        completed.push(id);
    }
    client.start_orchestration("fail", Some("broken"), &"no").await.unwrap();
    finished(&client, "broken").await;
    client
        .start_orchestration("wait_for_go", Some("still-running"), &())
        .await
        .unwrap();
    running(&client, "still-running").await;

    let query = InstanceIdQuery::new()
        .with_statuses([OrchestrationStatus::Completed])
        .with_page_size(2);
    let first = client.list_instance_ids(&query, None).await.unwrap();
    assert_eq!(first.items, completed[..2], "in order of completion");
    let token = first.continuation_token.expect("a second page");
    let second = client.list_instance_ids(&query, Some(&token)).await.unwrap();
    assert_eq!(second.items, completed[2..]);
    assert!(second.is_last());

    let failed = InstanceIdQuery::new().with_statuses([OrchestrationStatus::Failed]);
    assert_eq!(client.list_instance_ids(&failed, None).await.unwrap().items, ["broken"]);
    let every_finished = client.list_instance_ids(&InstanceIdQuery::new(), None).await.unwrap();
    assert_eq!(
        every_finished.items.len(),
        4,
        "running instances are not listed: {every_finished:?}"
    );
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn a_finished_instance_restarts_under_its_id_or_a_new_one() {
    let engine = Engine::start().await;
    let worker = RunningWorker::spawn(registry(), test_options(), engine.url());
    let client = engine.client();
    client
        .start_orchestration("stamp", Some("again"), &"input")
        .await
        .unwrap();
    let first = finished(&client, "again").await;

    let same = client.restart("again", RestartOptions::default()).await.unwrap();
    assert_eq!(same, "again");
    let second = finished(&client, "again").await;
    assert_eq!(second.read_output::<(DateTime<Utc>, String)>().unwrap().1, "input");
    assert!(second.created_at >= first.created_at);

    let renamed = client
        .restart("again", RestartOptions::with_new_instance_id())
        .await
        .unwrap();
    assert_ne!(renamed, "again");
    let third = finished(&client, &renamed).await;
    assert_eq!(third.status, OrchestrationStatus::Completed);
    assert_eq!(third.read_input::<String>().unwrap(), "input");

    client
        .start_orchestration("wait_for_go", Some("busy"), &())
        .await
        .unwrap();
    running(&client, "busy").await;
    let error = client.restart("busy", RestartOptions::default()).await.unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Rpc {
                code: Code::FailedPrecondition,
                ..
            }
        ),
        "{error:?}"
    );
    let error = client.restart("nobody", RestartOptions::default()).await.unwrap_err();
    assert!(matches!(error, ClientError::NotFound { .. }), "{error:?}");
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn rewind_is_accepted_for_failed_instances_and_recorded_in_the_history() {
    let engine = Engine::start().await;
    let worker = RunningWorker::spawn(registry(), test_options(), engine.url());
    let client = engine.client();
    client.start_orchestration("stamp", Some("fine"), &"x").await.unwrap();
    finished(&client, "fine").await;
    let error = client.rewind("fine", Some("why not")).await.unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Rpc {
                code: Code::FailedPrecondition,
                ..
            }
        ),
        "{error:?}"
    );

    client.start_orchestration("fail", Some("broken"), &"no").await.unwrap();
    assert_eq!(finished(&client, "broken").await.status, OrchestrationStatus::Failed);
    client.rewind("broken", Some("operator retry")).await.unwrap();

    // The worker rewrites the history (orchestration_rewind.rs); `fail` fails on every run, so the rewound instance
    // fails again, with the rewind recorded.
    let deadline = tokio::time::Instant::now() + WAIT;
    let history = loop {
        let history = client.get_instance_history("broken").await.unwrap();
        let state = client.get_instance_without_payloads("broken").await.unwrap().unwrap();
        if state.status == OrchestrationStatus::Failed && event_kinds(&history).contains(&"executionRewound") {
            break history;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rewind was not processed: {history:?}"
        );
        tokio::task::yield_now().await;
    };
    let reason = history.iter().find_map(|event| match &event.event_type {
        Some(EventType::ExecutionRewound(rewound)) => rewound.reason.clone(),
        _ => None,
    });
    assert_eq!(reason.as_deref(), Some("operator retry"));
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn recursive_terminate_and_purge_are_sent_and_accepted() {
    let engine = Engine::start().await;
    let worker = RunningWorker::spawn(registry(), test_options(), engine.url());
    let client = engine.client();
    client
        .start_orchestration("parent", Some("parent"), &"parent:child")
        .await
        .unwrap();
    running(&client, "parent").await;
    running(&client, "parent:child").await;

    client
        .terminate_with("parent", &"stop", TerminateOptions::recursive())
        .await
        .unwrap();
    let parent = finished(&client, "parent").await;
    assert_eq!(parent.status, OrchestrationStatus::Terminated);
    // The in-memory engine does not support recursive termination (it logs a warning): the child keeps running.
    // The Durable Task Scheduler terminates it too.
    let child = client
        .get_instance_without_payloads("parent:child")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(child.status, OrchestrationStatus::Running);

    let purged = client
        .purge_instance_with("parent", PurgeInstanceOptions::recursive())
        .await
        .unwrap();
    assert_eq!(
        purged.deleted_instance_count, 1,
        "the engine ignores `recursive` and purges the parent only"
    );
    let by_filter = client
        .purge_instances(&PurgeFilter::default().with_recursive())
        .await
        .unwrap();
    assert_eq!(by_filter.deleted_instance_count, 0, "nothing else has finished");
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn recursion_and_start_options_are_on_the_wire() {
    use fake_grpc::{decode, serve_unary, UnaryAnswer, UnaryCall};

    let recorded = std::sync::Arc::new(std::sync::Mutex::new(Vec::<UnaryCall>::new()));
    let sink = recorded.clone();
    let url = serve_unary(move |call| {
        sink.lock().unwrap().push(call);
        async { UnaryAnswer::Status(12, "recorded".into()) }
    })
    .await;
    let client = DurableClient::connect_lazy(&url, Default::default()).unwrap();
    let start_at = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
    let options = StartOptions::new()
        .with_instance_id("i")
        .with_version("2.0")
        .with_start_at(start_at)
        .with_tag("k", "v")
        .replacing([OrchestrationStatus::Completed, OrchestrationStatus::Terminated]);
    let _ = client.start_orchestration_with("o", &1, &options).await;
    let _ = client.terminate_with("i", &(), TerminateOptions::recursive()).await;
    let _ = client.purge_instance_with("i", PurgeInstanceOptions::recursive()).await;
    let _ = client.purge_instances(&PurgeFilter::default().with_recursive()).await;

    let calls = recorded.lock().unwrap().clone();
    let methods: Vec<_> = calls.iter().map(|call| call.method.as_str()).collect();
    assert_eq!(
        methods,
        ["StartInstance", "TerminateInstance", "PurgeInstances", "PurgeInstances"]
    );
    let start: proto::CreateInstanceRequest = decode(&calls[0].message);
    assert_eq!(start.version.as_deref(), Some("2.0"));
    assert_eq!(
        start.scheduled_start_timestamp,
        Some(durabletask_sdk::time::to_timestamp(start_at))
    );
    assert_eq!(start.tags.get("k").map(String::as_str), Some("v"));
    assert_eq!(
        start.orchestration_id_reuse_policy.unwrap().replaceable_status,
        [
            proto::OrchestrationStatus::Completed as i32,
            proto::OrchestrationStatus::Terminated as i32
        ]
    );
    let terminate: proto::TerminateRequest = decode(&calls[1].message);
    assert!(terminate.recursive);
    let purge_one: proto::PurgeInstancesRequest = decode(&calls[2].message);
    let purge_many: proto::PurgeInstancesRequest = decode(&calls[3].message);
    assert!(purge_one.recursive && purge_many.recursive);
}
