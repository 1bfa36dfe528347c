//! The standalone worker when the engine goes away: it reconnects to a restarted engine, waits for one that is
//! not up yet, and gives up only when told to. Engines are `scripts/local_engine.py` child processes.

mod worker_support;

use std::time::Duration;

use durabletask_sdk::client::OrchestrationStatus;
use durabletask_sdk::worker::{Worker, WorkerError, WorkerOptions};
use durabletask_sdk::{ActivityContext, Error, OrchestrationContext, Registry};
use worker_support::{free_port, test_options, url, Engine, RunningWorker, WAIT};

async fn shout(_ctx: ActivityContext, word: String) -> Result<String, Error> {
    Ok(word.to_uppercase())
}

async fn shout_twice(ctx: OrchestrationContext, word: String) -> Result<String, Error> {
    let once: String = ctx.call_activity("shout", &word).await?;
    let twice: String = ctx.call_activity("shout", &format!("{once}!")).await?;
    Ok(twice)
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .add_activity("shout", shout)
        .and_then(|r| r.add_orchestrator("shout_twice", shout_twice))
        .expect("valid registrations");
    registry
}

/// Runs one `shout_twice` instance on `engine` and checks its output.
async fn run_one_instance(engine: &Engine, word: &str) {
    let client = engine.client();
    let id = client.start_orchestration("shout_twice", None, &word).await.unwrap();
    let state = client
        .wait_for_instance_completion(&id, WAIT)
        .await
        .unwrap()
        .expect("the instance exists");
    assert_eq!(state.status, OrchestrationStatus::Completed, "{state:?}");
    assert_eq!(
        state.read_output::<String>().unwrap(),
        format!("{}!", word.to_uppercase())
    );
}

/// Starts an engine on `port`, which a killed engine has just released (binding can fail for a moment).
async fn restart_on(port: u16) -> Engine {
    for _ in 0..50 {
        if let Some(engine) = Engine::start_on(port).await {
            return engine;
        }
    }
    panic!("no engine could listen on port {port} again")
}

#[tokio::test]
async fn the_worker_resumes_work_on_an_engine_restarted_on_the_same_port() {
    let first = Engine::start().await;
    let port = first.port();
    let worker = RunningWorker::spawn(registry(), test_options(), first.url());
    run_one_instance(&first, "before").await;

    drop(first); // kills the engine and all its state
    let second = restart_on(port).await;
    run_one_instance(&second, "after").await;

    worker.stop().await.unwrap();
}

#[tokio::test]
async fn the_worker_waits_for_an_engine_that_is_not_up_yet() {
    let port = free_port();
    let worker = RunningWorker::spawn(registry(), test_options(), url(port));

    let engine = restart_on(port).await;
    run_one_instance(&engine, "late").await;

    worker.stop().await.unwrap();
}

#[tokio::test]
async fn the_worker_gives_up_after_the_allowed_number_of_failed_attempts() {
    let endpoint = url(free_port());
    let options = test_options().with_max_reconnect_attempts(2);
    let outcome = tokio::time::timeout(
        WAIT,
        Worker::new(registry(), options).run(&endpoint, std::future::pending()),
    )
    .await
    .expect("the worker gives up in time");

    match outcome {
        Err(WorkerError::GaveUp {
            endpoint: reported,
            attempts,
            ..
        }) => {
            assert_eq!(reported, endpoint);
            assert_eq!(attempts, 3, "two reconnect attempts after the first failure");
        }
        other => panic!("expected GaveUp, got {other:?}"),
    }
}

#[tokio::test]
async fn shutdown_is_honoured_while_the_engine_is_unreachable() {
    let options = test_options().with_reconnect_backoff(Duration::from_secs(3600), Duration::from_secs(3600));
    let worker = RunningWorker::spawn(registry(), options, url(free_port()));
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn an_unusable_endpoint_is_a_configuration_error() {
    let outcome = Worker::new(registry(), WorkerOptions::default())
        .run("http://exa mple:1", std::future::pending())
        .await;
    assert!(matches!(outcome, Err(WorkerError::InvalidConfig(_))), "{outcome:?}");
}
