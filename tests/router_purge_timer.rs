//! `POST /PurgeTimer` against the real local engine: the nightly purge deletes finished instances of the configured
//! statuses created before `now − retention`, never recent or unfinished ones, logs each purge round and a summary,
//! and cleans entity storage even when the purge ran out of time.
//!
//! The local engine (durabletask 1.12.0's in-memory backend) ignores the purge filter's timeout and purges every
//! match in one call, so here a run always needs one round; the SDK's `client_purge_rounds` tests drive the rounds
//! against an engine that purges a backlog in steps, as the Durable extension does on Azure Storage.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use durabletask_sdk::client::{DurableClient, InstanceQuery, OrchestrationStatus, PurgeBudget, PurgeFilter};
use returns_aggregator::app::app;
use returns_aggregator::functions::purge;
use returns_aggregator::state::AppState;
use support::engine::{LocalEngine, TerminatingWorker};
use support::host::{closed_endpoint, purge_timer_invocation};
use support::router::{config, invoke, router, Answer};

/// An orchestrator no worker of the app runs: its instances only change status when the test terminates them.
const UNREGISTERED: &str = "LegacyReturnsCleanup";

/// Starts `count` instances and terminates them; returns their ids once the engine reports them `Terminated`.
async fn terminated_instances(client: &DurableClient, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..count {
        let id = client
            .start_orchestration(
                UNREGISTERED,
                Some(&format!("cleanup-{n}")),
                &serde_json::json!({ "n": n }),
            )
            .await
            .expect("the engine starts the instance");
        client
            .terminate(&id, &"superseded")
            .await
            .expect("the engine terminates the instance");
        ids.push(id);
    }
    let _worker = TerminatingWorker::spawn(client, UNREGISTERED);
    for id in &ids {
        let state = client
            .wait_for_instance_completion(id, Duration::from_secs(20))
            .await
            .expect("the instance finishes before the deadline")
            .expect("the instance exists");
        assert_eq!(state.status, OrchestrationStatus::Terminated, "{id}");
    }
    ids
}

/// An instance that is still running (started, never terminated).
async fn running_instance(client: &DurableClient) -> String {
    client
        .start_orchestration(UNREGISTERED, Some("still-running"), &())
        .await
        .expect("the engine starts the instance")
}

async fn existing(client: &DurableClient) -> Vec<String> {
    let mut ids: Vec<String> = client
        .query_all_instances(&InstanceQuery::new())
        .await
        .expect("the engine answers")
        .into_iter()
        .map(|instance| instance.instance_id)
        .collect();
    ids.sort();
    ids
}

/// One timer run with `settings`; `retention` overrides the purge retention the settings give.
async fn purge(
    engine: &LocalEngine,
    settings: &[(&str, &str)],
    retention: Option<Duration>,
    is_past_due: bool,
) -> Answer {
    let mut config = config(settings);
    if let Some(retention) = retention {
        // The settings accept whole days only; an instance created a moment ago is "older" than a zero retention.
        config.purge_retention = retention;
    }
    let invocation = purge_timer_invocation(&engine.url(), is_past_due);
    let answer = invoke(&app(AppState::new(config)), "PurgeTimer", &invocation).await;
    answer.expect_success();
    answer
}

#[track_caller]
fn expect_summary(answer: &Answer, deleted: u32, statuses: &str) {
    let logs = answer.logs();
    expect_run_logs(&logs, deleted, statuses);
}

/// One round (the local engine purges everything in one call) reported on its own line, then the summary.
#[track_caller]
fn expect_run_logs(logs: &[&str], deleted: u32, statuses: &str) {
    assert_eq!(logs.len(), 2, "one round line and the summary: {logs:?}");
    assert_eq!(
        logs[0],
        format!("purge round 1: {deleted} instance(s) deleted, nothing left")
    );
    let line = logs[1];
    for needle in [
        format!("purge: {deleted} instance(s)"),
        format!("with status {statuses}"),
        "in 1 round(s) (complete: true)".into(),
    ] {
        assert!(line.contains(&needle), "the summary lacks {needle:?}: {line}");
    }
    assert!(
        line.contains("empty entities removed") && line.contains("orphaned locks released"),
        "{line}"
    );
}

#[tokio::test]
async fn recent_instances_are_never_purged() {
    let engine = LocalEngine::start().await;
    let client = engine.client();
    terminated_instances(&client, 2).await;
    running_instance(&client).await;
    let before = existing(&client).await;
    assert_eq!(before.len(), 3);

    // The default settings: Completed instances older than 90 days.
    expect_summary(&purge(&engine, &[], None, false).await, 0, "Completed");
    // Terminated included, with the shortest retention the settings allow: a day is still longer than the
    // instances' age.
    let terminated = [("PURGE_STATUSES", "Completed,Terminated"), ("PURGE_RETENTION", "1day")];
    expect_summary(
        &purge(&engine, &terminated, None, false).await,
        0,
        "Completed,Terminated",
    );
    assert_eq!(existing(&client).await, before, "a recent instance was purged");
}

#[tokio::test]
async fn finished_instances_older_than_the_retention_with_a_purged_status_are_deleted() {
    let engine = LocalEngine::start().await;
    let client = engine.client();
    let terminated = terminated_instances(&client, 3).await;
    let running = running_instance(&client).await;

    // Terminated is not in the default statuses: nothing goes even when every instance is old enough.
    expect_summary(&purge(&engine, &[], Some(Duration::ZERO), false).await, 0, "Completed");
    assert_eq!(existing(&client).await.len(), terminated.len() + 1);

    let settings = [("PURGE_STATUSES", "Terminated")];
    expect_summary(
        &purge(&engine, &settings, Some(Duration::ZERO), false).await,
        3,
        "Terminated",
    );
    assert_eq!(
        existing(&client).await,
        [running],
        "only the running instance may remain"
    );
    for id in &terminated {
        assert!(
            client
                .get_instance_without_payloads(id)
                .await
                .expect("the engine answers")
                .is_none(),
            "{id} survived"
        );
    }

    // A second night finds nothing more, and says so; a late run is named in the summary.
    let answer = purge(&engine, &settings, Some(Duration::ZERO), true).await;
    expect_summary(&answer, 0, "Terminated");
    assert!(answer.logs()[1].contains("past due"), "{:?}", answer.logs());
}

#[tokio::test]
async fn a_large_backlog_is_purged_and_reported() {
    const BACKLOG: usize = 300;
    let engine = LocalEngine::start().await;
    let client = engine.client();
    terminated_instances(&client, BACKLOG).await;
    let running = running_instance(&client).await;

    let settings = [("PURGE_STATUSES", "Terminated")];
    let answer = purge(&engine, &settings, Some(Duration::ZERO), false).await;
    expect_summary(&answer, BACKLOG as u32, "Terminated");
    assert_eq!(existing(&client).await, [running]);
}

#[tokio::test]
async fn entity_storage_is_cleaned_even_when_the_purge_runs_out_of_time() {
    let engine = LocalEngine::start().await;
    let client = engine.client();
    let terminated = terminated_instances(&client, 2).await;

    // No time at all: not one purge call starts, the run reports itself incomplete and still cleans entity storage.
    let filter = PurgeFilter::created_before(chrono::Utc::now() + chrono::Duration::seconds(60))
        .with_statuses([OrchestrationStatus::Terminated]);
    let logs = purge::run(&client, &filter, PurgeBudget::new(Duration::ZERO), false)
        .await
        .expect("the engine answers");
    assert_eq!(logs.len(), 1, "no round, only the summary: {logs:?}");
    for needle in [
        "purge: 0 instance(s)",
        "in 0 round(s) (complete: false)",
        "entity storage: 0 empty entities removed, 0 orphaned locks released",
    ] {
        assert!(logs[0].contains(needle), "the summary lacks {needle:?}: {}", logs[0]);
    }
    assert_eq!(existing(&client).await.len(), terminated.len(), "nothing was purged");

    // The next run, with time, finishes the job.
    let logs = purge::run(&client, &filter, PurgeBudget::new(Duration::from_secs(60)), false)
        .await
        .expect("the engine answers");
    let logs: Vec<&str> = logs.iter().map(String::as_str).collect();
    expect_run_logs(&logs, 2, "Terminated");
    assert!(existing(&client).await.is_empty());
}

#[tokio::test]
async fn an_unreachable_engine_fails_the_run() {
    let answer = invoke(
        &router(&[("DURABLE_CLIENT_TIMEOUT", "5s")]),
        "PurgeTimer",
        &purge_timer_invocation(&closed_endpoint(), false),
    )
    .await;
    answer.expect_error(StatusCode::SERVICE_UNAVAILABLE, &["durable engine"]);
}
