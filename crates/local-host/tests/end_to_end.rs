//! End-to-end tests of the local host against the real local engine (scripts/local_engine.py, made by
//! scripts/setup-venv.sh when the virtualenv is missing) and a test handler process (`support`).

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use durabletask_sdk::proto::OrchestrationStatus;
use local_host::{
    EngineChoice, EngineLauncher, HandlerOutput, HostOptions, IdleOptions, LocalHost, PlanOptions, PublishedMessage,
    ServiceBusMessage,
};
use serde_json::json;

/// Not a test: the entry point of the handler process the local host starts (see `support`).
#[test]
#[ignore = "entry point of the handler process that the local host starts in these tests"]
fn handler_process() {
    if std::env::var_os("LOCAL_HOST_TEST_HANDLER").is_some() {
        support::serve_forever();
    }
}

fn options(app_root: &Path) -> HostOptions {
    let mut options = HostOptions::new(app_root, EngineChoice::Launch(EngineLauncher::from_workspace()));
    options.handler = Some(std::env::current_exe().unwrap());
    options.handler_output = HandlerOutput::File(app_root.join("handler.log"));
    options.published_path = Some(app_root.join("out/published.jsonl"));
    options.dead_letter_path = Some(app_root.join("out/dead-letter.jsonl"));
    options
}

fn event(id: &str, body: serde_json::Value) -> ServiceBusMessage {
    ServiceBusMessage {
        message_id: Some(id.into()),
        ..ServiceBusMessage::new("Intake", body)
    }
}

fn idle() -> IdleOptions {
    IdleOptions {
        deadline: Duration::from_secs(60),
        ..IdleOptions::default()
    }
}

fn announcement(key: &str, total: i64) -> PublishedMessage {
    PublishedMessage {
        function: "Announce".into(),
        binding: "outbox".into(),
        destination: "announcements".into(),
        body: json!({"key": key, "total": total}),
    }
}

fn read_jsonl<T: serde::de::DeserializeOwned>(path: PathBuf) -> Vec<T> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_flow_through_entities_orchestrations_and_activities() {
    let app = tempfile::tempdir().unwrap();
    support::write_app(app.path());
    let mut options = options(app.path());
    options.max_delivery_count = 3;
    let host = LocalHost::start(options).await.unwrap();

    let messages = vec![
        event("a-1", json!({"key": "A", "amount": 1})),
        event("b-1", json!({"key": "B", "amount": 1, "failUntilDelivery": 3})),
        event("a-2", json!({"key": "A", "amount": 1})),
        event("poison", json!({"key": "C", "poison": true})),
        event("a-3", json!({"key": "A", "amount": 1})),
    ];
    host.deliver_messages(
        messages,
        PlanOptions {
            shuffle_seed: Some(3),
            duplicate_ratio: 0.0,
        },
    )
    .await
    .unwrap();
    host.wait_idle(&idle()).await.unwrap();

    assert_eq!(host.published(), vec![announcement("a", 3)]);
    let dead = host.dead_lettered();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].message.message_id.as_deref(), Some("poison"));
    assert_eq!(
        (dead[0].delivery_count, dead[0].reason.as_str()),
        (3, "MaxDeliveryCountExceeded")
    );
    assert!(dead[0].error.contains("HTTP 500"), "{}", dead[0].error);

    let stats = host.stats();
    assert_eq!(
        (stats.messages_enqueued, stats.messages_completed, stats.dead_lettered),
        (5, 4, 1)
    );
    assert_eq!(stats.redeliveries, 4, "b-1 twice and the poison message twice");
    assert_eq!(stats.invocations["Announce"].succeeded, 1);
    assert_eq!(
        stats.invocations["Tally"].succeeded, 2,
        "schedule the activity, then complete"
    );
    assert_eq!(stats.published["announcements"], 1);

    let mut engine = host.engine_client();
    assert_eq!(
        support::entity_state(&mut engine, "@counter@a").await.as_deref(),
        Some("3")
    );
    assert_eq!(
        support::entity_state(&mut engine, "@counter@b").await.as_deref(),
        Some("1")
    );
    let (status, output, _) = support::orchestration(&mut engine, "tally-a").await.unwrap();
    assert_eq!(status, OrchestrationStatus::Completed);
    assert_eq!(output.as_deref(), Some(r#"{"announced":"a"}"#));

    host.fire_timer("Nightly").await.unwrap();
    let timer_message = host.published().pop().unwrap();
    assert_eq!(timer_message.destination, "timer-events");
    assert_eq!(
        timer_message.body,
        json!({"fired": true, "isPastDue": false, "hasNext": true})
    );
    assert_eq!(host.stats().timers_fired, 1);

    host.shutdown().await;
    let published: Vec<PublishedMessage> = read_jsonl(app.path().join("out/published.jsonl"));
    assert_eq!(published.len(), 2);
    assert_eq!(published[0], announcement("a", 3));
    let dead_lines: Vec<serde_json::Value> = read_jsonl(app.path().join("out/dead-letter.jsonl"));
    assert_eq!(dead_lines[0]["messageId"], json!("poison"));
    assert_eq!(dead_lines[0]["reason"], json!("MaxDeliveryCountExceeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn timeouts_and_crashes_restart_the_handler_and_work_is_redelivered() {
    let app = tempfile::tempdir().unwrap();
    support::write_app(app.path());
    let mut options = options(app.path());
    options.function_timeout = Some(Duration::from_secs(1));
    let host = LocalHost::start(options).await.unwrap();
    let first_port = host.handler_port().await.unwrap();

    // The first delivery hangs: the timeout kills the handler, and the redelivery succeeds on the new one.
    let slow = ServiceBusMessage::new("Slow", json!("s-1"));
    host.deliver_messages(vec![slow], PlanOptions::default()).await.unwrap();
    let stats = host.stats();
    assert_eq!(stats.invocations["Slow"].timed_out, 1, "{stats:?}");
    assert_eq!(stats.invocations["Slow"].succeeded, 1);
    assert_eq!(
        (stats.redeliveries, stats.messages_completed, stats.handler_restarts),
        (1, 1, 1)
    );
    assert_ne!(
        host.handler_port().await.unwrap(),
        first_port,
        "a new process on a new port"
    );

    // A crash: the host restarts the handler and the next messages are processed as usual.
    assert!(host.kill_handler().is_some());
    let messages = (1..=3)
        .map(|n| event(&format!("k-{n}"), json!({"key": "K", "amount": 1})))
        .collect();
    host.deliver_messages(messages, PlanOptions::default()).await.unwrap();
    host.wait_idle(&IdleOptions {
        wait_for_published: Some(1),
        ..idle()
    })
    .await
    .unwrap();
    assert_eq!(host.published(), vec![announcement("k", 3)]);
    assert_eq!(host.stats().handler_restarts, 2);
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_orchestrator_function_fails_its_instance() {
    let app = tempfile::tempdir().unwrap();
    support::write_app(app.path());
    let host = LocalHost::start(options(app.path())).await.unwrap();
    let messages = (1..=3)
        .map(|n| event(&format!("boom-{n}"), json!({"key": "boom", "amount": 1})))
        .collect();
    host.deliver_messages(messages, PlanOptions::default()).await.unwrap();
    host.wait_idle(&idle()).await.unwrap();

    let mut engine = host.engine_client();
    let (status, _, failure) = support::orchestration(&mut engine, "tally-boom").await.unwrap();
    assert_eq!(status, OrchestrationStatus::Failed);
    assert_eq!(
        failure.as_deref(),
        Some("Function 'Tally' failed with an unhandled exception.")
    );
    assert_eq!(host.stats().invocations["Tally"].failed, 1);
    assert!(host.published().is_empty());
    host.shutdown().await;
}

#[test]
fn the_command_line_runs_a_message_file() {
    let app = tempfile::tempdir().unwrap();
    support::write_app(app.path());
    let lines = [
        json!({"function": "Intake", "body": {"key": "Z", "amount": 2}, "messageId": "z-1"}),
        json!({"function": "Intake", "body": {"key": "Z", "amount": 1}, "messageId": "z-2"}),
        json!({"function": "Nightly"}),
    ];
    let messages = app.path().join("messages.jsonl");
    std::fs::write(
        &messages,
        lines.iter().map(|line| format!("{line}\n")).collect::<String>(),
    )
    .unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_local-host"))
        .arg("run")
        .args(["--app-root".as_ref(), app.path().as_os_str()])
        .args(["--messages".as_ref(), messages.as_os_str()])
        .args(["--published".as_ref(), app.path().join("published.jsonl").as_os_str()])
        .args(["--handler".as_ref(), std::env::current_exe().unwrap().as_os_str()])
        .args(["--handler-log".as_ref(), app.path().join("handler.log").as_os_str()])
        .args(["--project-root".as_ref(), workspace.as_os_str()])
        .args(["--idle-timeout", "60", "--quiet"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit {:?}\n{stderr}", output.status);
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        summary.contains("2 enqueued, 2 completed, 0 redeliveries, 0 dead-lettered"),
        "{summary}"
    );
    assert!(summary.contains("timers fired: 1"), "{summary}");
    let published: Vec<PublishedMessage> = read_jsonl(app.path().join("published.jsonl"));
    assert_eq!(published[0], announcement("z", 3));
    assert_eq!(published[1].destination, "timer-events");
    assert_eq!(published.len(), 2);
}

#[test]
fn the_command_line_names_the_bad_line() {
    let app = tempfile::tempdir().unwrap();
    support::write_app(app.path());
    let messages = app.path().join("messages.jsonl");
    std::fs::write(&messages, "{\"function\": \"Intake\"}\n{\"body\": 1}\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_local-host"))
        .args(["run", "--engine", "127.0.0.1:1", "--app-root"])
        .arg(app.path())
        .arg("--messages")
        .arg(&messages)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("messages.jsonl:2: missing \"function\""), "{stderr}");
}
