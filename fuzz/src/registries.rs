//! The registries the executor targets run against: the app's own (built from default settings) and a small one
//! whose orchestrators reach every kind of task the context offers.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::DateTime;
use durabletask_sdk::orchestration::{when_all, when_any, RetryPolicy};
use durabletask_sdk::{ActivityContext, EntityContext, EntityId, Error, OrchestrationContext, Registry, TaskError};
use returns_aggregator::config::Config;
use serde::Deserialize;
use serde_json::Value;

/// The app's registry (`returns_aggregator::durable::registry`) with the default settings.
pub fn app_registry() -> Registry {
    let settings = HashMap::from([("FUNCTIONS_CUSTOMHANDLER_PORT", "7071")]);
    let config = Config::from_map(&settings).expect("the default settings are valid");
    returns_aggregator::durable::registry(&config)
}

/// The orchestrators of [`small_registry`].
pub const SMALL_ORCHESTRATORS: [&str; 3] = ["chain", "fan_out", "steps"];

/// A small registry: `echo` (activity), `counter` (entity) and three orchestrators:
/// - `chain`: calls `echo` `n` times one after the other (input: `n`);
/// - `fan_out`: calls `echo` `n` times at once, at most 64 (input: `n`);
/// - `steps`: runs a list of step codes (input: `{"steps": [..], "generation": g}`), see [`Step`].
pub fn small_registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .add_activity("echo", echo)
        .and_then(|r| r.add_orchestrator("chain", chain))
        .and_then(|r| r.add_orchestrator("fan_out", fan_out))
        .and_then(|r| r.add_orchestrator("steps", steps))
        .and_then(|r| r.add_entity("counter", counter))
        .expect("distinct, valid names");
    registry
}

async fn echo(_ctx: ActivityContext, value: Value) -> Result<Value, Error> {
    Ok(value)
}

fn counter(ctx: &mut EntityContext) -> Result<i64, Error> {
    let value: i64 = ctx.get_state()?.unwrap_or(0);
    let sum = value.saturating_add(ctx.input::<Option<i64>>()?.unwrap_or(0));
    ctx.set_state(&sum)?;
    Ok(sum)
}

async fn chain(ctx: OrchestrationContext, n: u32) -> Result<Vec<Value>, Error> {
    let mut results = Vec::new();
    for index in 0..n {
        ctx.set_custom_status(&index)?;
        results.push(ctx.call_activity::<Value>("echo", &index).await?);
    }
    Ok(results)
}

async fn fan_out(ctx: OrchestrationContext, n: u32) -> Result<Vec<Value>, Error> {
    let calls = (0..n.min(64))
        .map(|index| ctx.call_activity::<Value>("echo", &index))
        .collect();
    Ok(when_all(calls).await?)
}

/// The input of `steps`.
#[derive(Debug, Deserialize)]
struct StepsInput {
    steps: Vec<u8>,
    #[serde(default)]
    generation: u32,
}

/// One step of `steps`, chosen by `code % 12`.
#[derive(Debug, Clone, Copy)]
enum Step {
    Activity,
    TimerAfter(u8),
    ExternalEvent,
    SubOrchestration,
    CallEntity,
    SignalEntity,
    ActivityOrTimer,
    TwoActivities,
    ContinueAsNew,
    CustomStatus,
    ActivityWithRetry,
    TimerAtExtreme(u8),
}

impl Step {
    fn from_code(code: u8) -> Self {
        let argument = code / 12;
        match code % 12 {
            0 => Step::Activity,
            1 => Step::TimerAfter(argument),
            2 => Step::ExternalEvent,
            3 => Step::SubOrchestration,
            4 => Step::CallEntity,
            5 => Step::SignalEntity,
            6 => Step::ActivityOrTimer,
            7 => Step::TwoActivities,
            8 => Step::ContinueAsNew,
            9 => Step::CustomStatus,
            10 => Step::ActivityWithRetry,
            _ => Step::TimerAtExtreme(argument),
        }
    }
}

type BoxedTask = Pin<Box<dyn Future<Output = Result<Value, TaskError>>>>;

async fn steps(ctx: OrchestrationContext, input: StepsInput) -> Result<Vec<Value>, Error> {
    let counter = EntityId::new("counter", "fuzz");
    let mut results = Vec::new();
    for (index, code) in input.steps.iter().enumerate() {
        let result = match Step::from_code(*code) {
            Step::Activity => ctx.call_activity::<Value>("echo", &index).await?,
            Step::TimerAfter(seconds) => {
                // Up to 21 days: long timers are chained in three-day steps.
                ctx.create_timer_after(Duration::from_secs(u64::from(seconds) * 86_400))
                    .await?;
                Value::Null
            }
            Step::ExternalEvent => ctx.wait_for_external_event::<Value>("go").await?,
            Step::SubOrchestration => ctx.call_sub_orchestrator::<Value>("chain", &1, None).await?,
            Step::CallEntity => ctx.call_entity::<Value>(&counter, "add", &1).await?,
            Step::SignalEntity => {
                ctx.signal_entity(&counter, "add", &1);
                Value::Null
            }
            Step::ActivityOrTimer => {
                let activity: BoxedTask = Box::pin(ctx.call_activity::<Value>("echo", &index));
                let timer = ctx.create_timer_after(Duration::from_secs(60));
                let timer: BoxedTask = Box::pin(async move { timer.await.map(|()| Value::Null) });
                let (winner, outcome) = when_any(vec![activity, timer]).await;
                serde_json::json!([winner, outcome?])
            }
            Step::TwoActivities => {
                let calls = vec![
                    ctx.call_activity::<Value>("echo", &"a"),
                    ctx.call_activity::<Value>("echo", &"b"),
                ];
                Value::Array(when_all(calls).await?)
            }
            Step::ContinueAsNew => {
                if input.generation < 2 {
                    let rest = input.steps[index + 1..].to_vec();
                    ctx.continue_as_new(&serde_json::json!({ "steps": rest, "generation": input.generation + 1 }));
                    return Ok(results);
                }
                Value::Null
            }
            Step::CustomStatus => {
                ctx.set_custom_status(&serde_json::json!({ "step": index }))?;
                Value::Null
            }
            Step::ActivityWithRetry => {
                let policy = RetryPolicy::new(3, Duration::from_secs(5)).with_backoff_coefficient(2.0);
                ctx.call_activity::<Value>("echo", &index).with_retry(policy).await?
            }
            Step::TimerAtExtreme(which) => {
                let fire_at = match which % 3 {
                    0 => DateTime::UNIX_EPOCH,
                    1 => DateTime::<chrono::Utc>::MAX_UTC,
                    _ => DateTime::<chrono::Utc>::MIN_UTC,
                };
                ctx.create_timer(fire_at).await?;
                Value::Null
            }
        };
        results.push(result);
    }
    Ok(results)
}
