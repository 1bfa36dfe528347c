//! The standalone worker against a real engine: durabletask 1.12.0's in-memory backend, started per test by
//! `scripts/local_engine.py` (`bash scripts/setup-venv.sh` first). Instances are started and awaited through
//! [`DurableClient`](durabletask_sdk::client::DurableClient).

mod worker_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use durabletask_sdk::client::{DurableClient, OrchestrationMetadata, OrchestrationStatus};
use durabletask_sdk::orchestration::when_all;
use durabletask_sdk::{ActivityContext, EntityContext, EntityId, Error, OrchestrationContext, Registry};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};
use worker_support::{test_options, Engine, RunningWorker, WAIT};

async fn greet(_ctx: ActivityContext, city: String) -> Result<String, Error> {
    Ok(format!("Hello, {city}!"))
}

async fn double(_ctx: ActivityContext, value: u64) -> Result<u64, Error> {
    Ok(value * 2)
}

async fn charge(_ctx: ActivityContext, amount: u64) -> Result<(), Error> {
    Err(Error::new(
        "PaymentDeclined",
        format!("the card was declined for {amount}"),
    ))
}

async fn greet_cities(ctx: OrchestrationContext, cities: Vec<String>) -> Result<Vec<String>, Error> {
    let mut greetings = Vec::new();
    for city in &cities {
        greetings.push(ctx.call_activity::<String>("greet", city).await?);
    }
    Ok(greetings)
}

async fn double_all(ctx: OrchestrationContext, count: u64) -> Result<u64, Error> {
    let calls = (1..=count)
        .map(|value| ctx.call_activity::<u64>("double", &value))
        .collect();
    Ok(when_all(calls).await?.into_iter().sum())
}

async fn checkout(ctx: OrchestrationContext, amount: u64) -> Result<String, Error> {
    ctx.call_activity::<()>("charge", &amount).await?;
    Ok("charged".to_string())
}

async fn count_visits(ctx: OrchestrationContext, key: String) -> Result<i64, Error> {
    let counter = EntityId::new("counter", &key);
    let total = ctx.call_entity::<i64>(&counter, "add", &3).await?;
    Ok(total)
}

fn counter(ctx: &mut EntityContext) -> Result<i64, Error> {
    let value: i64 = ctx.get_state()?.unwrap_or(0);
    match ctx.operation() {
        "add" => {
            let sum = value + ctx.input::<i64>()?;
            ctx.set_state(&sum)?;
            Ok(sum)
        }
        "get" => Ok(value),
        other => Err(Error::new(
            "UnknownOperation",
            format!("counter has no operation '{other}'"),
        )),
    }
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .add_activity("greet", greet)
        .and_then(|r| r.add_activity("double", double))
        .and_then(|r| r.add_activity("charge", charge))
        .and_then(|r| r.add_orchestrator("greet_cities", greet_cities))
        .and_then(|r| r.add_orchestrator("double_all", double_all))
        .and_then(|r| r.add_orchestrator("checkout", checkout))
        .and_then(|r| r.add_orchestrator("count_visits", count_visits))
        .and_then(|r| r.add_entity("counter", counter))
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

#[tokio::test]
async fn a_chain_of_activities_completes_with_the_right_output() {
    let engine = Engine::start().await;
    let worker = RunningWorker::spawn(registry(), test_options(), engine.url());
    let client = engine.client();

    let id = client
        .start_orchestration("greet_cities", None, &["Tokyo", "Seattle", "London"])
        .await
        .unwrap();
    let state = finished(&client, &id).await;

    assert_eq!(state.status, OrchestrationStatus::Completed, "{state:?}");
    assert_eq!(
        state.read_output::<Vec<String>>().unwrap(),
        ["Hello, Tokyo!", "Hello, Seattle!", "Hello, London!"]
    );
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn a_fan_out_completes_with_every_result() {
    let engine = Engine::start().await;
    let worker = RunningWorker::spawn(registry(), test_options(), engine.url());
    let client = engine.client();

    let id = client
        .start_orchestration("double_all", Some("fan-out-1"), &50)
        .await
        .unwrap();
    let state = finished(&client, &id).await;

    assert_eq!(state.status, OrchestrationStatus::Completed, "{state:?}");
    assert_eq!(state.read_output::<u64>().unwrap(), 2 * (1..=50).sum::<u64>());
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn an_entity_signalled_by_the_client_and_called_by_an_orchestration_keeps_its_state() {
    let engine = Engine::start().await;
    let worker = RunningWorker::spawn(registry(), test_options(), engine.url());
    let client = engine.client();
    let entity = EntityId::new("counter", "visits");

    client.signal_entity(&entity, "add", &5).await.unwrap();
    let id = client
        .start_orchestration("count_visits", None, &"visits")
        .await
        .unwrap();
    let state = finished(&client, &id).await;

    assert_eq!(state.status, OrchestrationStatus::Completed, "{state:?}");
    assert_eq!(state.read_output::<i64>().unwrap(), 8, "the call runs after the signal");
    let stored = client.get_entity(&entity).await.unwrap().expect("the entity exists");
    assert_eq!(stored.state::<i64>().unwrap(), Some(8));
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn a_failing_activity_fails_the_instance_with_its_details() {
    let engine = Engine::start().await;
    let worker = RunningWorker::spawn(registry(), test_options(), engine.url());
    let client = engine.client();

    let id = client.start_orchestration("checkout", None, &42).await.unwrap();
    let state = finished(&client, &id).await;

    assert_eq!(state.status, OrchestrationStatus::Failed, "{state:?}");
    let details = state.failure_details.expect("a failed instance has failure details");
    assert_eq!(details.error_type, "TaskFailedError");
    assert!(details.message.contains("charge"), "{details:?}");
    let cause = details.inner.expect("the activity's failure is the inner failure");
    assert_eq!(cause.error_type, "PaymentDeclined");
    assert_eq!(cause.message, "the card was declined for 42");
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn an_unregistered_orchestrator_fails_the_instance() {
    let engine = Engine::start().await;
    let worker = RunningWorker::spawn(registry(), test_options(), engine.url());
    let client = engine.client();

    let id = client
        .start_orchestration("nobody_registered_this", None, &())
        .await
        .unwrap();
    let state = finished(&client, &id).await;

    assert_eq!(state.status, OrchestrationStatus::Failed, "{state:?}");
    assert_eq!(
        state.failure_details.unwrap().error_type,
        "OrchestratorNotRegisteredError"
    );
    worker.stop().await.unwrap();
}

/// An activity that reports when it starts and then waits to be released.
fn gated_registry(started: mpsc::UnboundedSender<()>, release: Arc<Notify>, runs: Arc<AtomicUsize>) -> Registry {
    let mut registry = Registry::new();
    registry
        .add_activity("gated", move |_ctx: ActivityContext, value: Value| {
            let started = started.clone();
            let release = release.clone();
            let runs = runs.clone();
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                let _ = started.send(());
                release.notified().await;
                Ok::<_, Error>(value)
            }
        })
        .and_then(|r| {
            r.add_orchestrator("gate", |ctx: OrchestrationContext, input: Value| async move {
                Ok::<Value, Error>(ctx.call_activity("gated", &input).await?)
            })
        })
        .expect("valid registrations");
    registry
}

#[tokio::test]
async fn shutdown_finishes_in_flight_work_before_returning() {
    let engine = Engine::start().await;
    let client = engine.client();
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let mut worker = RunningWorker::spawn(
        gated_registry(started_tx, release.clone(), runs.clone()),
        test_options(),
        engine.url(),
    );

    let id = client
        .start_orchestration("gate", None, &json!({"order": 7}))
        .await
        .unwrap();
    tokio::time::timeout(WAIT, started.recv())
        .await
        .expect("the activity starts")
        .unwrap();
    worker.request_stop();
    let early = tokio::time::timeout(Duration::from_millis(300), worker.handle()).await;
    assert!(
        early.is_err(),
        "the worker returned while an activity was still running"
    );
    release.notify_one();
    worker.stop().await.unwrap();

    // The activity's result reached the engine: a new worker finishes the orchestration without re-running it.
    let (started_tx, _started) = mpsc::unbounded_channel();
    let successor = RunningWorker::spawn(
        gated_registry(started_tx, release, runs.clone()),
        test_options(),
        engine.url(),
    );
    let state = finished(&client, &id).await;
    assert_eq!(state.status, OrchestrationStatus::Completed, "{state:?}");
    assert_eq!(state.read_output::<Value>().unwrap(), json!({"order": 7}));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    successor.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_gives_up_on_work_that_outlives_the_shutdown_timeout() {
    let engine = Engine::start().await;
    let client = engine.client();
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let never_released = Arc::new(Notify::new());
    let options = test_options().with_shutdown_timeout(Duration::from_millis(100));
    let worker = RunningWorker::spawn(
        gated_registry(started_tx, never_released, Arc::new(AtomicUsize::new(0))),
        options,
        engine.url(),
    );

    client.start_orchestration("gate", None, &1).await.unwrap();
    tokio::time::timeout(WAIT, started.recv())
        .await
        .expect("the activity starts")
        .unwrap();
    worker.stop().await.unwrap();
}

async fn alpha(_ctx: OrchestrationContext, _input: ()) -> Result<String, Error> {
    Ok("alpha".to_string())
}

async fn beta(_ctx: OrchestrationContext, _input: ()) -> Result<String, Error> {
    Ok("beta".to_string())
}

#[tokio::test]
async fn workers_with_registered_filters_share_a_task_hub() {
    use durabletask_sdk::worker::WorkItemFilter;

    // Each worker runs one orchestrator. Without filters the engine would hand a worker instances it cannot run
    // (they would fail as unregistered); with them every instance reaches the worker that has its orchestrator.
    let engine = Engine::start().await;
    let mut registry_a = Registry::new();
    registry_a.add_orchestrator("alpha", alpha).unwrap();
    let mut registry_b = Registry::new();
    registry_b.add_orchestrator("beta", beta).unwrap();
    let options = || test_options().with_work_item_filter(WorkItemFilter::Registered);
    let worker_a = RunningWorker::spawn(registry_a, options(), engine.url());
    let worker_b = RunningWorker::spawn(registry_b, options(), engine.url());
    let client = engine.client();

    let mut started = Vec::new();
    for n in 0..6 {
        let name = if n % 2 == 0 { "alpha" } else { "beta" };
        started.push((name, client.start_orchestration(name, None, &()).await.unwrap()));
    }
    for (name, id) in started {
        let state = finished(&client, &id).await;
        assert_eq!(state.status, OrchestrationStatus::Completed, "{name}: {state:?}");
        assert_eq!(state.read_output::<String>().unwrap(), name);
    }
    worker_a.stop().await.unwrap();
    worker_b.stop().await.unwrap();
}

fn account(ctx: &mut EntityContext) -> Result<i64, Error> {
    let balance: i64 = ctx.get_state()?.unwrap_or(100);
    match ctx.operation() {
        "add" => {
            let next = balance + ctx.input::<i64>()?;
            ctx.set_state(&next)?;
            Ok(next)
        }
        _ => Ok(balance),
    }
}

/// Moves `amount` from `from` to `to` inside a critical section, only when `from` can afford it.
async fn locked_transfer(ctx: OrchestrationContext, (from, to, amount): (String, String, i64)) -> Result<bool, Error> {
    let (from, to) = (EntityId::new("account", &from), EntityId::new("account", &to));
    let lock = ctx.lock_entities(&[from.clone(), to.clone()]).await?;
    let balance: i64 = ctx.call_entity(&from, "get", &()).await?;
    let moved = balance >= amount;
    if moved {
        ctx.call_entity::<i64>(&from, "add", &-amount).await?;
        ctx.call_entity::<i64>(&to, "add", &amount).await?;
    }
    lock.release();
    Ok(moved)
}

#[tokio::test]
async fn critical_sections_run_on_the_engine_lock_protocol() {
    // durabletask 1.12.0's in-memory engine queues lock requests per entity and grants them in order; this SDK's
    // worker runs both the orchestrations and the entities.
    let engine = Engine::start().await;
    let mut registry = Registry::new();
    registry
        .add_orchestrator("locked_transfer", locked_transfer)
        .and_then(|r| r.add_entity("account", account))
        .unwrap();
    let worker = RunningWorker::spawn(registry, test_options(), engine.url());
    let client = engine.client();

    let mut ids = Vec::new();
    for n in 0..6 {
        let (from, to) = if n % 2 == 0 { ("alice", "bob") } else { ("bob", "alice") };
        ids.push(
            client
                .start_orchestration("locked_transfer", None, &(from, to, 60))
                .await
                .unwrap(),
        );
    }
    let mut moved = 0;
    for id in &ids {
        let state = finished(&client, id).await;
        assert_eq!(state.status, OrchestrationStatus::Completed, "{state:?}");
        moved += i64::from(state.read_output::<bool>().unwrap());
    }
    let balance = |key: &str| {
        let client = client.clone();
        let key = key.to_string();
        async move {
            client
                .get_entity(&EntityId::new("account", &key))
                .await
                .unwrap()
                .and_then(|entity| entity.state::<i64>().unwrap())
                .unwrap()
        }
    };
    let (alice, bob) = (balance("alice").await, balance("bob").await);
    assert_eq!(alice + bob, 200, "money is neither made nor lost");
    assert!(alice >= 0 && bob >= 0, "no account was overdrawn: {alice}, {bob}");
    assert!(moved >= 1, "at least the first transfer moves money");
    worker.stop().await.unwrap();
}

/// A typed entity: a tally whose operations are an enum.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Tally {
    total: i64,
    entries: u32,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum TallyOperation {
    Record(i64),
    Summary,
}

impl durabletask_sdk::entity::TypedEntity for Tally {
    type Operation = TallyOperation;
    type Output = Tally;

    fn run(&mut self, operation: TallyOperation, _ctx: &mut EntityContext) -> Result<Tally, Error> {
        if let TallyOperation::Record(amount) = operation {
            self.total += amount;
            self.entries += 1;
        }
        Ok(self.clone())
    }
}

async fn record_three(ctx: OrchestrationContext, key: String) -> Result<Tally, Error> {
    let tally = EntityId::new("tally", &key);
    for amount in [5, 7, 11] {
        ctx.signal_entity(&tally, "record", &amount);
    }
    Ok(ctx.call_entity::<Tally>(&tally, "summary", &()).await?)
}

#[tokio::test]
async fn a_typed_entity_serves_calls_and_signals_on_the_engine() {
    let engine = Engine::start().await;
    let mut registry = Registry::new();
    registry
        .add_typed_entity::<Tally>("tally")
        .and_then(|r| r.add_orchestrator("record_three", record_three))
        .unwrap();
    let worker = RunningWorker::spawn(registry, test_options(), engine.url());
    let client = engine.client();
    let id = client.start_orchestration("record_three", None, &"t1").await.unwrap();
    let state = finished(&client, &id).await;
    assert_eq!(state.status, OrchestrationStatus::Completed, "{state:?}");
    assert_eq!(state.read_output::<Tally>().unwrap(), Tally { total: 23, entries: 3 });
    let stored = client.get_entity(&EntityId::new("tally", "t1")).await.unwrap().unwrap();
    assert_eq!(stored.state::<Tally>().unwrap(), Some(Tally { total: 23, entries: 3 }));
    worker.stop().await.unwrap();
}
