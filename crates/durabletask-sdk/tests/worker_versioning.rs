//! The standalone worker's version check against durabletask 1.12.0's in-memory engine: a worker hands back the
//! instances its version does not run (`Reject`) for a worker that does, or fails them (`Fail`); the versions of
//! sub-orchestrations reach the engine.

mod worker_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use durabletask_sdk::client::{DurableClient, OrchestrationMetadata, OrchestrationStatus};
use durabletask_sdk::orchestration::{VersionFailureStrategy, VersionMatchStrategy, VersioningOptions};
use durabletask_sdk::{proto, Error, OrchestrationContext, Registry};
use worker_support::{test_options, Engine, RunningWorker, WAIT};

/// A registry whose `Versioned` orchestrator counts its runs and returns its instance's version, and whose
/// `Parent` returns the version its child saw.
fn registry(options: VersioningOptions, runs: Arc<AtomicUsize>) -> Registry {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Versioned", move |ctx: OrchestrationContext, _: ()| {
            runs.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, Error>(ctx.version()) }
        })
        .and_then(|r| {
            r.add_orchestrator("Parent", |ctx: OrchestrationContext, _: ()| async move {
                let child: Option<String> = ctx.call_sub_orchestrator("Versioned", &(), None).await?;
                Ok::<_, Error>(child)
            })
        })
        .expect("valid registrations");
    registry.set_versioning(options);
    registry
}

fn worker_options(version: &str, failure: VersionFailureStrategy) -> VersioningOptions {
    VersioningOptions::new(version)
        .with_match_strategy(VersionMatchStrategy::CurrentOrOlder)
        .with_failure_strategy(failure)
}

/// Starts `name` at `version` (the raw request: the client's start does not take a version yet).
async fn start_at(client: &DurableClient, name: &str, instance_id: &str, version: &str) {
    let request = proto::CreateInstanceRequest {
        instance_id: instance_id.into(),
        name: name.into(),
        version: Some(version.into()),
        input: Some("null".into()),
        ..Default::default()
    };
    client
        .sidecar()
        .start_instance(client.request(request))
        .await
        .expect("the engine starts the instance");
}

async fn finished(client: &DurableClient, id: &str) -> OrchestrationMetadata {
    client
        .wait_for_instance_completion(id, WAIT)
        .await
        .expect("the wait succeeds")
        .expect("the instance exists")
}

#[tokio::test]
async fn an_older_worker_hands_a_newer_instance_back_until_a_worker_of_its_version_runs_it() {
    let engine = Engine::start().await;
    let client = engine.client();
    let old_runs = Arc::new(AtomicUsize::new(0));
    let old = RunningWorker::spawn(
        registry(worker_options("1.0", VersionFailureStrategy::Reject), old_runs.clone()),
        test_options(),
        engine.url(),
    );

    start_at(&client, "Versioned", "from-the-future", "2.0").await;
    // Started after it, so the engine offers it to the worker after the newer one: once this one is done, the
    // newer one was offered (and handed back) at least once.
    start_at(&client, "Versioned", "from-the-past", "0.9").await;
    let past = finished(&client, "from-the-past").await;
    assert_eq!(past.status, OrchestrationStatus::Completed, "{past:?}");
    assert_eq!(past.read_output::<Option<String>>().unwrap().as_deref(), Some("0.9"));
    let waiting = client
        .get_instance("from-the-future")
        .await
        .unwrap()
        .expect("the instance exists");
    assert!(
        matches!(
            waiting.status,
            OrchestrationStatus::Pending | OrchestrationStatus::Running
        ),
        "{waiting:?}"
    );
    assert_eq!(
        old_runs.load(Ordering::SeqCst),
        1,
        "only the older instance ran on the older worker"
    );

    let new_runs = Arc::new(AtomicUsize::new(0));
    let new = RunningWorker::spawn(
        registry(worker_options("2.0", VersionFailureStrategy::Reject), new_runs.clone()),
        test_options(),
        engine.url(),
    );
    let future = finished(&client, "from-the-future").await;
    assert_eq!(future.status, OrchestrationStatus::Completed, "{future:?}");
    assert_eq!(future.read_output::<Option<String>>().unwrap().as_deref(), Some("2.0"));
    assert_eq!(old_runs.load(Ordering::SeqCst), 1, "the older worker never ran it");
    assert_eq!(new_runs.load(Ordering::SeqCst), 1);
    old.stop().await.unwrap();
    new.stop().await.unwrap();
}

#[tokio::test]
async fn a_worker_that_fails_mismatches_fails_the_instance_without_running_it() {
    let engine = Engine::start().await;
    let client = engine.client();
    let runs = Arc::new(AtomicUsize::new(0));
    let worker = RunningWorker::spawn(
        registry(worker_options("1.0", VersionFailureStrategy::Fail), runs.clone()),
        test_options(),
        engine.url(),
    );

    start_at(&client, "Versioned", "too-new", "1.1").await;
    let state = finished(&client, "too-new").await;

    assert_eq!(state.status, OrchestrationStatus::Failed, "{state:?}");
    let details = state.failure_details.expect("failure details");
    assert_eq!(details.error_type, "VersionMismatch");
    assert_eq!(
        details.message,
        "The orchestration version '1.1' is greater than the worker version '1.0'."
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn a_sub_orchestration_runs_at_the_workers_default_version() {
    let engine = Engine::start().await;
    let client = engine.client();
    let options = worker_options("2.0", VersionFailureStrategy::Fail).with_default_version("1.5");
    let worker = RunningWorker::spawn(registry(options, Arc::default()), test_options(), engine.url());

    start_at(&client, "Parent", "parent", "2.0").await;
    let state = finished(&client, "parent").await;

    assert_eq!(state.status, OrchestrationStatus::Completed, "{state:?}");
    assert_eq!(state.read_output::<Option<String>>().unwrap().as_deref(), Some("1.5"));
    worker.stop().await.unwrap();
}
