//! End-to-end tests of the local host against the real local engine (scripts/local_engine.py in the virtualenv
//! that scripts/setup-venv.sh makes; the shared launcher of `crates/test-support` names what is missing) and a test
//! handler process (`support`).

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use durabletask_sdk::proto::OrchestrationStatus;
use local_host::output::problems::Problem;
use local_host::{
    EngineChoice, HandlerOutput, HostOptions, IdleOptions, InvocationFault, LocalHost, PlanOptions, PublishedMessage,
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
    let mut options = HostOptions::new(app_root, EngineChoice::Launch(test_support::engine::launcher()));
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

/// An orchestrator can signal an entity with a `sendEntityMessage` action or, as every Durable extension release
/// delivers it, with a `sendEvent` named `op` carrying the framework's request message; both reach the entity.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_orchestrator_signals_an_entity_in_either_encoding() {
    let app = tempfile::tempdir().unwrap();
    support::write_app(app.path());
    let host = LocalHost::start(options(app.path())).await.unwrap();
    let keys = ["signal-by-event", "signal-by-message"];
    let messages = keys
        .iter()
        .flat_map(|key| {
            (0..support::TARGET).map(move |n| event(&format!("{key}-{n}"), json!({"key": key, "amount": 1})))
        })
        .collect();
    host.deliver_messages(messages, PlanOptions::default()).await.unwrap();
    host.wait_idle(&idle()).await.unwrap();

    let mut engine = host.engine_client();
    for key in keys {
        let (status, _, failure) = support::orchestration(&mut engine, &format!("tally-{key}"))
            .await
            .unwrap();
        assert_eq!(status, OrchestrationStatus::Completed, "tally-{key}: {failure:?}");
        assert_eq!(
            support::entity_state(&mut engine, &format!("@counter@{key}"))
                .await
                .as_deref(),
            Some("103"),
            "the counter of {key} heard the orchestrator's `add 100`"
        );
    }
    let problems = host.stats().problems;
    assert!(problems.is_empty(), "{problems:?}");
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn timeouts_and_crashes_restart_the_handler_and_work_is_redelivered() {
    let app = tempfile::tempdir().unwrap();
    support::write_app(app.path());
    let mut options = options(app.path());
    options.function_timeout = Some(Duration::from_secs(5)); // healthy invocations stay far below it under load
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
    let problems = host.stats().problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .to_string()
            .starts_with("orchestration tally-boom failed for good"),
        "{}",
        problems[0]
    );
    host.shutdown().await;
}

async fn deliver_and_wait(host: &LocalHost, messages: Vec<ServiceBusMessage>) {
    host.deliver_messages(messages, PlanOptions::default()).await.unwrap();
    host.wait_idle(&idle()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_entity_batch_is_not_retried_its_operations_are_lost_and_the_state_is_kept() {
    let app = tempfile::tempdir().unwrap();
    support::write_app(app.path());
    let host = LocalHost::start(options(app.path())).await.unwrap();
    let mut engine = host.engine_client();
    deliver_and_wait(&host, vec![event("x-1", json!({"key": "X", "amount": 1}))]).await;

    // The handler dies after answering: the host sees a reset connection, and the extension fails the batch. (The
    // signal is sent directly, so that no trigger invocation is in flight when the process dies.)
    let crash = host.inject_fault("Counter", InvocationFault::CrashAfterAnswer).unwrap();
    support::signal(&mut engine, "@counter@x", "add", "1").await;
    assert!(crash.wait().await);
    host.wait_idle(&idle()).await.unwrap();
    assert_eq!(
        support::entity_state(&mut engine, "@counter@x").await.as_deref(),
        Some("1"),
        "the state change is dropped"
    );
    // A non-2xx answer fails the batch the same way.
    deliver_and_wait(&host, vec![event("x-3", json!({"key": "X", "operation": "explode"}))]).await;
    assert_eq!(
        host.stats().failed_entity_batches(),
        vec![
            ("@counter@x".to_owned(), vec!["add".to_owned()]),
            ("@counter@x".to_owned(), vec!["explode".to_owned()]),
        ]
    );
    // The entity carries on from the kept state, and nothing was delivered twice.
    deliver_and_wait(&host, vec![event("x-4", json!({"key": "X", "amount": 1}))]).await;
    assert_eq!(
        support::entity_state(&mut engine, "@counter@x").await.as_deref(),
        Some("2")
    );
    let counter = host.stats().invocations["Counter"];
    assert_eq!(
        (counter.succeeded, counter.lost, counter.failed),
        (2, 1, 1),
        "{counter:?}"
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_timed_out_entity_batch_fails_but_timed_out_orchestrators_and_activities_run_again() {
    let app = tempfile::tempdir().unwrap();
    support::write_app(app.path());
    let mut options = options(app.path());
    // Long enough that no healthy invocation times out on a loaded machine; the hung ones wait it out.
    options.function_timeout = Some(Duration::from_secs(5));
    let host = LocalHost::start(options).await.unwrap();

    let hung_entity = host.inject_fault("Counter", InvocationFault::Hang).unwrap();
    deliver_and_wait(&host, vec![event("h-1", json!({"key": "H", "amount": 5}))]).await;
    assert!(hung_entity.wait().await);
    assert_eq!(
        host.stats().failed_entity_batches(),
        vec![("@counter@h".to_owned(), vec!["add".to_owned()])]
    );

    let hangs = ["Tally", "Announce"].map(|function| host.inject_fault(function, InvocationFault::Hang).unwrap());
    host.deliver_messages(
        vec![event("t-1", json!({"key": "T", "amount": 3}))],
        PlanOptions::default(),
    )
    .await
    .unwrap();
    for hang in hangs {
        assert!(hang.wait().await);
    }
    host.wait_idle(&IdleOptions {
        wait_for_published: Some(1),
        ..idle()
    })
    .await
    .unwrap();
    assert_eq!(host.published(), vec![announcement("t", 3)]);
    let stats = host.stats();
    for function in ["Counter", "Tally", "Announce"] {
        assert_eq!(stats.invocations[function].timed_out, 1, "{function}: {stats}");
    }
    assert_eq!(stats.problems.len(), 1, "only the entity batch is lost: {stats}");
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_activity_is_a_task_failure_for_its_orchestration() {
    let app = tempfile::tempdir().unwrap();
    support::write_app(app.path());
    let host = LocalHost::start(options(app.path())).await.unwrap();
    deliver_and_wait(&host, vec![event("sad-1", json!({"key": "sad", "amount": 3}))]).await;

    let mut engine = host.engine_client();
    let (status, _, failure) = support::orchestration(&mut engine, "tally-sad").await.unwrap();
    assert_eq!(status, OrchestrationStatus::Failed);
    assert_eq!(
        failure.as_deref(),
        Some("Function 'Announce' failed with an unhandled exception.")
    );
    assert_eq!(host.stats().invocations["Announce"].failed, 1);
    assert!(
        host.stats().problems.is_empty(),
        "a task failure is the orchestration's to handle"
    );
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
    let messages_row: Vec<&str> = summary.lines().nth(2).unwrap().split_whitespace().collect();
    assert_eq!(
        messages_row,
        ["2", "2", "2", "0", "0"],
        "enqueued, deliveries, completed, redelivered, dead-lettered: {summary}"
    );
    assert!(summary.contains("timers fired: 1"), "{summary}");
    let published: Vec<PublishedMessage> = read_jsonl(app.path().join("published.jsonl"));
    assert_eq!(published[0], announcement("z", 3));
    assert_eq!(published[1].destination, "timer-events");
    assert_eq!(published.len(), 2);
}

/// Runs `local-host run` on the test app with `lines` as the message file and `extra` arguments.
fn run_command_line(lines: &[serde_json::Value], extra: &[&str]) -> std::process::Output {
    let app = tempfile::tempdir().unwrap();
    support::write_app(app.path());
    let messages = app.path().join("messages.jsonl");
    std::fs::write(
        &messages,
        lines.iter().map(|line| format!("{line}\n")).collect::<String>(),
    )
    .unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::process::Command::new(env!("CARGO_BIN_EXE_local-host"))
        .arg("run")
        .args(["--app-root".as_ref(), app.path().as_os_str()])
        .args(["--messages".as_ref(), messages.as_os_str()])
        .args(["--handler".as_ref(), std::env::current_exe().unwrap().as_os_str()])
        .args(["--handler-log".as_ref(), app.path().join("handler.log").as_os_str()])
        .args(["--project-root".as_ref(), workspace.as_os_str()])
        .args(["--idle-timeout", "60", "--quiet"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn an_unknown_timer_is_refused_before_anything_starts() {
    let output = run_command_line(&[], &["--fire-timer", "Nope", "--engine", "127.0.0.1:1"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("timer Nope: the app has no such function (timer functions: Nightly)"),
        "{stderr}"
    );
}

#[test]
fn dead_lettered_messages_fail_the_run_only_when_asked() {
    let poison = [json!({"function": "Intake", "body": {"key": "P", "poison": true}, "messageId": "p-1"})];
    let output = run_command_line(&poison, &["--max-delivery-count", "2"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = run_command_line(&poison, &["--max-delivery-count", "2", "--fail-on-dead-letter"]);
    assert_eq!(output.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("1 message dead-lettered"), "{stderr}");
}

#[test]
fn per_message_log_lines_only_with_verbose() {
    let lines = [json!({"function": "Intake", "body": {"key": "V", "amount": 1}, "messageId": "v-1"})];
    let quiet = run_command_line(&lines, &[]);
    assert!(quiet.status.success());
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("signalled"));
    let verbose = run_command_line(&lines, &["--verbose"]);
    assert!(verbose.status.success());
    let stderr = String::from_utf8_lossy(&verbose.stderr);
    assert!(stderr.contains("signalled"), "the function's Logs line: {stderr}");
}

#[test]
fn a_wedged_entity_fails_the_run_and_is_named() {
    let lines = [
        json!({"function": "Intake", "body": {"key": "W", "operation": "bloat"}, "messageId": "w-1"}),
        json!({"function": "Intake", "body": {"key": "Z", "amount": 3}, "messageId": "z-1"}),
    ];
    let output = run_command_line(&lines, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("the engine refused the result of entity @counter@w") && stderr.contains("wedged"),
        "{stderr}"
    );
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(summary.contains("problems: 1"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_engine_ends_the_wait_and_is_named() {
    let app = tempfile::tempdir().unwrap();
    support::write_app(app.path());
    let host = LocalHost::start(options(app.path())).await.unwrap();
    let pid = host.engine_pid().await.expect("the engine runs");
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let error = host.wait_idle(&idle()).await.unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "the durable engine stopped during the run: the local engine (pid {pid}"
        )),
        "{message}"
    );
    assert!(
        message.contains("SIGKILL") || message.contains("signal: 9"),
        "{message}"
    );
    assert!(matches!(host.stats().problems.as_slice(), [Problem::EngineDied { .. }]));
    assert_eq!(host.engine_pid().await, None);
    host.shutdown().await;
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
