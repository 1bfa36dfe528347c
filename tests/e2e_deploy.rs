//! A deploy in the middle of a run, end to end: the real handler binary, Microsoft's local durable engine, and
//! local-host playing the Functions host. The engine outlives two hosts, as a task hub outlives a deployment:
//!
//! 1. the app as deployed before, at orchestration version 1.0 (host.json's `defaultVersion` overridden by its
//!    `AzureFunctionsJobHost__extensions__durableTask__defaultVersion` app setting, as an earlier host.json set
//!    it): one return settles and is notified; one settles but its first publish attempt is lost (the handler
//!    crashes before the host reads the activity's answer), so its orchestration waits on the publish retry timer;
//!    one has four of its five events;
//! 2. the host and handler stop; the app starts again as deployed now, with the repository's host.json (2.0);
//! 3. the third return's last event arrives.
//!
//! The orchestrator's change between the versions is the app's own (`notify::REPORT_AWAITED_SINCE`: from 2.0 the
//! orchestration waits for the return to record the publication, a call instead of a signal), guarded by the
//! instance's version, so the same binary behaves as each deployment did for the instances that deployment
//! started. Exactly one notification per settled return; the in-flight instance finishes on the old path (a signal,
//! version 1.0) under the new deployment, the new one on the new path (a call, version 2.0); the replay check
//! passes over every history the engine holds.
//!
//! Then the last step of a deploy, recovery: a notification orchestration failed for good (its orchestrator's answer
//! lost) is rewound (local-host rewrites the history, as the extension does in the task hub) or restarted, and its
//! return is notified once.

mod e2e_support;

use std::process::Command;
use std::time::Duration;

use durabletask_sdk::client::{DurableClient, OrchestrationStatus, RestartOptions};
use durabletask_sdk::proto::{self, history_event::EventType};
use e2e_support::*;
use local_host::{EngineChoice, InvocationFault, LocalHost};
use serde_json::Value;
use test_support::engine::LocalEngine;

const NOTIFICATIONS: &str = "return-notifications";
/// The app setting that overrides host.json's `extensions.durableTask.defaultVersion`.
const VERSION_SETTING: &str = "AzureFunctionsJobHost__extensions__durableTask__defaultVersion";
/// The wait before the lost publish is retried: long enough for the first deployment to stop before it ends (the
/// test checks that it did). Work items held by local-host when it stops are not given back to the in-memory
/// engine, so the test cannot hold the retry back instead.
const RETRY_INTERVAL: &str = "20s";
const LIMIT: Duration = Duration::from_secs(180);

/// Starts the app against `engine` with `settings` added, output files under `target/e2e/<test>`.
async fn deploy(engine: &LocalEngine, settings: &[(&str, &str)], test: &str) -> LocalHost {
    let mut options = host_options(settings, test);
    options.engine = EngineChoice::Address(engine.url());
    start_host_with(options).await
}

fn notified(host: &LocalHost) -> Vec<String> {
    published_to(host, NOTIFICATIONS)
        .iter()
        .map(|notification| notification["returnId"].as_str().unwrap().to_owned())
        .collect()
}

/// The kinds of history events this test looks for (`other` for the rest).
fn event_kind(event: &proto::HistoryEvent) -> &'static str {
    match &event.event_type {
        Some(EventType::TaskFailed(_)) => "taskFailed",
        Some(EventType::TimerCreated(_)) => "timerCreated",
        Some(EventType::EntityOperationSignaled(_)) => "entityOperationSignaled",
        Some(EventType::EntityOperationCalled(_)) => "entityOperationCalled",
        Some(EventType::EntityOperationCompleted(_)) => "entityOperationCompleted",
        _ => "other",
    }
}

/// The instance's kinds of history events, in order.
async fn history_kinds(client: &DurableClient, instance: &str) -> Vec<&'static str> {
    let history: Vec<proto::HistoryEvent> = client.get_instance_history(instance).await.unwrap();
    history.iter().map(event_kind).collect()
}

/// The instance's version, from its `executionStarted` event (the in-memory engine's `GetInstance` leaves
/// `OrchestrationState.version` empty).
async fn version_of(client: &DurableClient, instance: &str) -> String {
    let history = client.get_instance_history(instance).await.unwrap();
    history
        .iter()
        .find_map(|event| match &event.event_type {
            Some(EventType::ExecutionStarted(started)) => Some(started.version.clone().unwrap_or_default()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{instance} has started"))
}

/// How the orchestration told the return about the publication: `"signal"` (before 2.0) or `"call"` (from 2.0).
async fn report_path(client: &DurableClient, instance: &str) -> &'static str {
    let kinds = history_kinds(client, instance).await;
    let count = |kind: &str| kinds.iter().filter(|k| **k == kind).count();
    match (
        count("entityOperationSignaled"),
        count("entityOperationCalled"),
        count("entityOperationCompleted"),
    ) {
        (1, 0, 0) => "signal",
        (0, 1, 1) => "call",
        other => panic!("{instance}: unexpected entity events {other:?} in {kinds:?}"),
    }
}

async fn completed(client: &DurableClient, instance: &str) -> (String, &'static str) {
    let state = client
        .wait_for_instance_completion(instance, LIMIT)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{instance} exists"));
    assert_eq!(state.status, OrchestrationStatus::Completed, "{state:?}");
    (version_of(client, instance).await, report_path(client, instance).await)
}

/// Waits until the return's state records its published notification.
async fn wait_until_recorded(host: &LocalHost, return_id: &str) {
    test_support::wait::until_some(&format!("{return_id} records its notification"), LIMIT, || async {
        let state: Value = serde_json::from_str(&aggregate_state(host, return_id).await?).ok()?;
        state["notificationPublishedAt"].as_str().map(|_| ())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deploy_mid_flight_keeps_in_flight_instances_on_their_version_and_notifies_each_return_once() {
    let engine = LocalEngine::start().await;
    let client = engine.client();
    let (notified_before, before) = single_return_copy(50);
    let (in_flight, in_flight_lines) = single_return_copy(51);
    let (settled_after, after_lines) = single_return_copy(52);
    let settings = |version: Option<&'static str>| {
        let mut settings = vec![
            ("STUCK_RETURN_AFTER", "1h"),
            ("PUBLISH_FIRST_RETRY_INTERVAL", RETRY_INTERVAL),
        ];
        settings.extend(version.map(|version| (VERSION_SETTING, version)));
        settings
    };

    // The deployment before: version 1.0.
    let old = deploy(&engine, &settings(Some("1.0")), "deploy-1.0").await;
    deliver(&old, &before, None, 0.0).await;
    wait_for_published(&old, Some(1)).await;
    let (settling, last) = in_flight_lines.split_at(in_flight_lines.len() - 1);
    deliver(&old, settling, None, 0.0).await;
    deliver(&old, &after_lines[..after_lines.len() - 1], None, 0.0).await;
    wait_idle(&old).await;
    let lost_publish = old
        .inject_fault("PublishNotification", InvocationFault::CrashAfterAnswer)
        .unwrap();
    deliver(&old, last, None, 0.0).await;
    assert_eq!(tokio::time::timeout(LIMIT, lost_publish.wait()).await, Ok(true));
    let in_flight_instance = format!("returns-settled-{in_flight}");
    test_support::wait::until_some("the lost publish waits on its retry timer", LIMIT, || async {
        let kinds = history_kinds(&client, &in_flight_instance).await;
        kinds.contains(&"timerCreated").then_some(())
    })
    .await;
    assert_eq!(
        notified(&old),
        std::slice::from_ref(&notified_before),
        "only the first return is notified before the deploy"
    );

    // The deploy: the host and the handler stop; the engine (the task hub) keeps the in-flight instance.
    finish(old).await;
    let waiting = client.get_instance(&in_flight_instance).await.unwrap().unwrap();
    assert_eq!(
        waiting.status,
        OrchestrationStatus::Running,
        "the retry came before the first deployment stopped (a machine slower than RETRY_INTERVAL allows): {waiting:?}"
    );
    assert_eq!(version_of(&client, &in_flight_instance).await, "1.0");

    // The deployment now: the repository's host.json.
    let new = deploy(&engine, &settings(None), "deploy-2.0").await;
    deliver(&new, &after_lines[after_lines.len() - 1..], None, 0.0).await;
    let settled_after_instance = format!("returns-settled-{settled_after}");
    assert_eq!(
        completed(&client, &format!("returns-settled-{notified_before}")).await,
        ("1.0".to_owned(), "signal")
    );
    assert_eq!(
        completed(&client, &in_flight_instance).await,
        ("1.0".to_owned(), "signal"),
        "the in-flight instance finishes on the path of its version"
    );
    assert_eq!(
        completed(&client, &settled_after_instance).await,
        ("2.0".to_owned(), "call"),
        "a new instance takes the new path"
    );
    let retried = history_kinds(&client, &in_flight_instance).await;
    assert_eq!(
        retried.iter().filter(|kind| **kind == "taskFailed").count(),
        1,
        "{retried:?}"
    );

    let mut after_deploy = notified(&new);
    after_deploy.sort();
    assert_eq!(
        after_deploy,
        [in_flight.clone(), settled_after.clone()],
        "one notification each"
    );
    for notification in published_to(&new, NOTIFICATIONS) {
        assert_eq!(
            notification["sourceEvents"].as_array().unwrap().len(),
            5,
            "{notification}"
        );
    }
    for return_id in [&notified_before, &in_flight, &settled_after] {
        wait_until_recorded(&new, return_id).await;
    }
    assert!(new.dead_lettered().is_empty(), "{:?}", new.dead_lettered());

    // Every history the task hub now holds, of both versions, replays on this build.
    let check = Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(["replay-check", "--all", "--engine", &engine.url()])
        .current_dir(repo_root())
        .env_remove(VERSION_SETTING)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{report}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        report.ends_with("3 instances: 3 ok, 0 broken, 0 left to other versions\n"),
        "{report}"
    );
    finish(new).await;
}

/// Settles a copy of the single return with the orchestrator's first answer lost, which fails its notification
/// orchestration for good (the extension's rule); returns the return and instance ids once it has failed.
async fn settle_with_a_failed_notification(host: &LocalHost, client: &DurableClient, n: u32) -> (String, String) {
    let return_id = settle_a_return_with_a_fault(host, n, "Orchestrator", InvocationFault::CrashAfterAnswer).await;
    let instance = format!("returns-settled-{return_id}");
    let state = client
        .wait_for_instance_completion(&instance, LIMIT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.status, OrchestrationStatus::Failed, "{state:?}");
    (return_id, instance)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_notification_is_recovered_by_rewind_or_restart_and_sent_once() {
    let engine = LocalEngine::start().await;
    let client = engine.client();
    let host = deploy(&engine, &[("STUCK_RETURN_AFTER", "1h")], "deploy-recover").await;

    let (rewound, rewound_instance) = settle_with_a_failed_notification(&host, &client, 53).await;
    client.rewind(&rewound_instance, Some("handler crash")).await.unwrap();
    assert_eq!(completed(&client, &rewound_instance).await, ("2.0".to_owned(), "call"));

    let (restarted, restarted_instance) = settle_with_a_failed_notification(&host, &client, 54).await;
    let again = client
        .restart(&restarted_instance, RestartOptions::default())
        .await
        .unwrap();
    assert_eq!(again, restarted_instance);
    assert_eq!(
        completed(&client, &restarted_instance).await,
        ("2.0".to_owned(), "call")
    );

    let mut notified = notified(&host);
    notified.sort();
    assert_eq!(notified, [rewound.clone(), restarted.clone()], "one notification each");
    for return_id in [&rewound, &restarted] {
        wait_until_recorded(&host, return_id).await;
    }
    finish(host).await;
}
