//! Recovering failed orchestrations against durabletask 1.12.0's in-memory engine (`scripts/local_engine.py`;
//! `bash scripts/setup-venv.sh` first) with this SDK's worker: `DurableClient::rewind` (the engine appends
//! `executionRewound`, the worker answers with the rewritten history, the engine runs the instance again on it) and
//! `DurableClient::restart` (the engine starts the instance again from its input).
//!
//! Where the in-memory engine differs from the Durable Functions extension: the extension rewrites the history in
//! the engine and never asks the worker; this engine leaves the rewrite to the worker (so these tests cover the
//! worker's half, `orchestration::rewind`). When it rewinds a failed child for its parent, the child's
//! `executionRewound` carries no parent execution id, so the child's `executionStarted` keeps naming the parent's
//! previous execution.

mod worker_support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use durabletask_sdk::client::{ClientError, Code, DurableClient, OrchestrationStatus, RestartOptions};
use durabletask_sdk::proto::history_event::EventType;
use durabletask_sdk::{ActivityContext, Error, OrchestrationContext, Registry};
use worker_support::{test_options, Engine, RunningWorker, WAIT};

/// The activities' shared switches: `Second` fails while `broken` is set; each counts its runs.
#[derive(Default)]
struct Steps {
    broken: AtomicBool,
    first_runs: AtomicUsize,
    second_runs: AtomicUsize,
}

/// `First` then `Second`, their results joined.
async fn two_steps(ctx: OrchestrationContext, _: ()) -> Result<String, Error> {
    let first: String = ctx.call_activity("First", &()).await?;
    let second: String = ctx.call_activity("Second", &()).await?;
    Ok(format!("{first}+{second}"))
}

/// `two_steps` as a sub-orchestration.
async fn parent(ctx: OrchestrationContext, _: ()) -> Result<String, Error> {
    let child = format!("{}:child", ctx.instance_id());
    Ok(ctx
        .call_sub_orchestrator::<String>("two_steps", &(), Some(&child))
        .await?)
}

fn registry(steps: &Arc<Steps>) -> Registry {
    let (first, second) = (steps.clone(), steps.clone());
    let mut registry = Registry::new();
    registry
        .add_orchestrator("two_steps", two_steps)
        .and_then(|r| r.add_orchestrator("parent", parent))
        .and_then(|r| {
            r.add_activity("First", move |_ctx: ActivityContext, _: ()| {
                let steps = first.clone();
                async move {
                    steps.first_runs.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, Error>("a".to_string())
                }
            })
        })
        .and_then(|r| {
            r.add_activity("Second", move |_ctx: ActivityContext, _: ()| {
                let steps = second.clone();
                async move {
                    steps.second_runs.fetch_add(1, Ordering::SeqCst);
                    if steps.broken.load(Ordering::SeqCst) {
                        return Err(Error::new("Outage", "the downstream service is down"));
                    }
                    Ok("b".to_string())
                }
            })
        })
        .expect("valid registrations");
    registry
}

async fn wait_for_status(client: &DurableClient, id: &str, expected: OrchestrationStatus) -> String {
    let state = client
        .wait_for_instance_completion(id, WAIT)
        .await
        .expect("the wait succeeds")
        .expect("the instance exists");
    assert_eq!(state.status, expected, "{id}: {state:?}");
    state.output.unwrap_or_default()
}

async fn rewind_reasons(client: &DurableClient, id: &str) -> Vec<String> {
    let history = client.get_instance_history(id).await.expect("the history");
    history
        .iter()
        .filter_map(|event| match &event.event_type {
            Some(EventType::ExecutionRewound(rewound)) => Some(rewound.reason.clone().unwrap_or_default()),
            _ => None,
        })
        .collect()
}

/// A running engine and worker with `orchestrator` failed on instance `id` (its `Second` step broken).
struct Failed {
    /// Kept alive until the test ends.
    _engine: Engine,
    steps: Arc<Steps>,
    worker: RunningWorker,
    client: DurableClient,
}

async fn failed(orchestrator: &str, id: &str) -> Failed {
    let engine = Engine::start().await;
    let steps = Arc::new(Steps::default());
    steps.broken.store(true, Ordering::SeqCst);
    let worker = RunningWorker::spawn(registry(&steps), test_options(), engine.url());
    let client = engine.client();
    client.start_orchestration(orchestrator, Some(id), &()).await.unwrap();
    wait_for_status(&client, id, OrchestrationStatus::Failed).await;
    steps.broken.store(false, Ordering::SeqCst);
    Failed {
        _engine: engine,
        steps,
        worker,
        client,
    }
}

#[tokio::test]
async fn a_failed_orchestration_is_rewound_and_completes_without_running_its_finished_steps_again() {
    let Failed {
        _engine,
        steps,
        worker,
        client,
    } = failed("two_steps", "flaky").await;
    assert_eq!(steps.second_runs.load(Ordering::SeqCst), 1);
    client.rewind("flaky", Some("outage over")).await.unwrap();
    let output = wait_for_status(&client, "flaky", OrchestrationStatus::Completed).await;
    assert_eq!(output, "\"a+b\"");
    assert_eq!(
        steps.first_runs.load(Ordering::SeqCst),
        1,
        "the completed step is not run again"
    );
    assert_eq!(
        steps.second_runs.load(Ordering::SeqCst),
        2,
        "the failed step runs again"
    );
    assert_eq!(rewind_reasons(&client, "flaky").await, ["outage over"]);

    // Rewinding is for failed instances only.
    let error = client.rewind("flaky", None).await.unwrap_err();
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
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn rewinding_a_parent_rewinds_its_failed_child() {
    let engine = Engine::start().await;
    let steps = Arc::new(Steps::default());
    steps.broken.store(true, Ordering::SeqCst);
    let worker = RunningWorker::spawn(registry(&steps), test_options(), engine.url());
    let client = engine.client();

    client.start_orchestration("parent", Some("family"), &()).await.unwrap();
    wait_for_status(&client, "family", OrchestrationStatus::Failed).await;
    wait_for_status(&client, "family:child", OrchestrationStatus::Failed).await;

    steps.broken.store(false, Ordering::SeqCst);
    client.rewind("family", Some("child fixed")).await.unwrap();
    assert_eq!(
        wait_for_status(&client, "family", OrchestrationStatus::Completed).await,
        "\"a+b\""
    );
    wait_for_status(&client, "family:child", OrchestrationStatus::Completed).await;
    assert_eq!(
        steps.first_runs.load(Ordering::SeqCst),
        1,
        "the child's completed step is not run again"
    );
    assert_eq!(rewind_reasons(&client, "family:child").await, ["child fixed"]);
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn a_failed_orchestration_restarts_from_its_input_and_runs_every_step_again() {
    let Failed {
        _engine,
        steps,
        worker,
        client,
    } = failed("two_steps", "again").await;
    let restarted = client.restart("again", RestartOptions::default()).await.unwrap();
    assert_eq!(restarted, "again");
    assert_eq!(
        wait_for_status(&client, "again", OrchestrationStatus::Completed).await,
        "\"a+b\""
    );
    assert_eq!(
        steps.first_runs.load(Ordering::SeqCst),
        2,
        "a restart runs every step again"
    );
    assert!(
        rewind_reasons(&client, "again").await.is_empty(),
        "a restart is a new history"
    );
    worker.stop().await.unwrap();
}
