//! The replay check's live source against durabletask 1.12.0's in-memory engine: histories read with
//! `StreamInstanceHistory`, written to a history file and read back, judged against changed code; an unreachable
//! engine is a clear error.

mod worker_support;

use durabletask_sdk::client::{ClientOptions, DurableClient, InstanceQuery, OrchestrationStatus};
use durabletask_sdk::replay_check::history_json::{history_file, read_history_file};
use durabletask_sdk::replay_check::{check_histories, engine, Verdict};
use durabletask_sdk::{ActivityContext, Error, OrchestrationContext, Registry};
use worker_support::{free_port, test_options, url, Engine, RunningWorker, WAIT};

async fn echo(_ctx: ActivityContext, text: String) -> Result<String, Error> {
    Ok(text)
}

async fn greet(ctx: OrchestrationContext, name: String) -> Result<String, Error> {
    let first: String = ctx.call_activity("echo", &format!("hello {name}")).await?;
    let second: String = ctx.call_activity("echo", &format!("bye {name}")).await?;
    Ok(format!("{first}, {second}"))
}

async fn greet_changed(ctx: OrchestrationContext, name: String) -> Result<String, Error> {
    ctx.call_activity::<String>("audit", &name).await?;
    greet(ctx, name).await
}

/// The registry with the orchestrator as recorded, or with the changed one.
fn registry(changed: bool) -> Registry {
    let mut registry = Registry::new();
    registry.add_activity("echo", echo).expect("a valid registration");
    if changed {
        registry
            .add_orchestrator("greet", greet_changed)
            .expect("a valid registration");
    } else {
        registry.add_orchestrator("greet", greet).expect("a valid registration");
    }
    registry
}

#[tokio::test]
async fn histories_from_the_engine_replay_and_catch_a_change() {
    let engine = Engine::start().await;
    let worker = RunningWorker::spawn(registry(false), test_options(), engine.url());
    let client = engine.client();
    for name in ["ada", "grace"] {
        let id = client
            .start_orchestration("greet", Some(&format!("greet-{name}")), &name)
            .await
            .unwrap();
        let state = client.wait_for_instance_completion(&id, WAIT).await.unwrap().unwrap();
        assert_eq!(state.status, OrchestrationStatus::Completed, "{state:?}");
    }
    worker.stop().await.unwrap();

    let histories = engine::task_hub_histories(&client, &InstanceQuery::default())
        .await
        .unwrap();
    assert_eq!(histories.len(), 2);
    assert!(histories
        .iter()
        .all(|h| h.orchestrator() == Some("greet") && h.events.len() > 6));

    // Through a history file and back, unchanged.
    let reread = read_history_file(&history_file(&histories)).unwrap();
    assert_eq!(reread, histories);

    assert!(check_histories(&registry(false), &reread).passed());
    let report = check_histories(&registry(true), &reread);
    assert_eq!(report.breaks().count(), 2);
    for instance in &report.instances {
        let Verdict::Nondeterministic(step) = &instance.verdict else {
            panic!("{instance}")
        };
        assert_eq!(step.task_id, 1);
        assert!(instance
            .to_string()
            .contains("history records activity 'echo', the code now schedules activity 'audit'"));
    }
}

#[tokio::test]
async fn an_unknown_instance_and_an_unreachable_engine_are_clear_errors() {
    let engine = Engine::start().await;
    let missing = engine::instance_history(&engine.client(), "nobody").await.unwrap_err();
    assert!(
        missing.to_string().starts_with("StreamInstanceHistory: not found"),
        "{missing}"
    );

    let options = ClientOptions::default().with_call_timeout(std::time::Duration::from_secs(5));
    let nowhere = DurableClient::connect_lazy(&url(free_port()), options).unwrap();
    let error = engine::task_hub_histories(&nowhere, &InstanceQuery::default())
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(
        error.to_string().contains("unavailable") || error.to_string().contains("cannot connect"),
        "{error}"
    );
}
