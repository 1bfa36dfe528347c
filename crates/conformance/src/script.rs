//! The `Script` orchestrator: a tiny step language interpreted the same way by `oracle/oracle.py` (the Python
//! reference) and by this module, so one program exercises both SDKs' executors identically.
//!
//! A program is `{"steps": [...], "gen": n}`. Awaited steps (activity, timer, event, sub, call_entity, all, any,
//! lock) append their value to the result list; immediate steps (signal, status, fail, continue_as_new) append
//! nothing, except `version`, which appends the instance's version. A `lock` runs its own steps inside a critical
//! section. The oracle's module docs describe each step; [`Step`] is the typed form.
//!
//! An `any` drops its losers as soon as it has a winner, so their external event waits are withdrawn (the oracle
//! cancels them). An `event` step with a `timeout` is `wait_for_external_event_with_timeout`.
//!
//! One rule keeps nested composites faithful to Python, where `when_any` resolves to the *winning task* rather
//! than its value: a step's value is an [`Outcome`] tree that is resolved only when it is appended to the
//! result list, depth first in list order, and a failed `any` winner raises at that moment. So in
//! `all[any[boom], echo]` the `all` itself succeeds and the failure surfaces afterwards, as in Python.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use durabletask_sdk::orchestration::{when_all, when_any};
use durabletask_sdk::{EntityId, Error, OrchestrationContext, TaskError};

/// The name both SDKs register the orchestrator under.
pub const SCRIPT: &str = "Script";

/// The value of an `event` step whose timeout passed first.
pub const TIMED_OUT: &str = "<timed out>";

/// A program of the step language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Program {
    /// The steps, run in order.
    pub steps: Vec<Step>,
    /// How many times the program has continued as new (absent means 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gen: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// One step of a [`Program`], tagged by `op` as in the oracle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Step {
    /// Calls activity `name` (`echo` or `boom`) with `input` and `tags`; its value is the activity's result.
    Activity {
        /// The activity name.
        name: String,
        /// The input (absent: no input).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input: Option<Value>,
        /// The tags sent with the call (absent: none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tags: Option<BTreeMap<String, String>>,
    },
    /// A durable timer `seconds` after the current orchestration time; its value is `null`.
    Timer {
        /// The delay.
        seconds: i64,
    },
    /// Waits for the external event `name`; its value is the event's payload, or [`TIMED_OUT`] when `timeout`
    /// seconds passed first (a zero or negative timeout times out at once unless the event already arrived).
    Event {
        /// The event name.
        name: String,
        /// How long to wait, in seconds (absent: no timeout).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<i64>,
    },
    /// Runs `Script` as a sub-orchestration with `input` as its program; its value is the child's result.
    Sub {
        /// The child's program (kept as JSON, as Python passes it through).
        input: Value,
        /// The child's instance id (absent: the SDK's default `<parent>:<task id in hex>`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The child's version (absent: the worker's default version).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
    },
    /// Calls `operation` on `entity` (`@counter@<key>`); its value is the operation's result.
    CallEntity {
        /// The entity instance id.
        entity: String,
        /// The operation name.
        operation: String,
        /// The input (absent: no input).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input: Option<Value>,
    },
    /// Runs every child concurrently; its value is the list of their values.
    All {
        /// The children (awaited steps only).
        of: Vec<Step>,
    },
    /// Runs every child concurrently; its value is the value of the first to finish.
    Any {
        /// The children (awaited steps only).
        of: Vec<Step>,
    },
    /// Signals `operation` on `entity` (fire and forget).
    Signal {
        /// The entity instance id.
        entity: String,
        /// The operation name.
        operation: String,
        /// The input (absent: no input).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input: Option<Value>,
    },
    /// Sets the custom status to `value`.
    Status {
        /// The status (any JSON; `null` clears it).
        value: Value,
    },
    /// Fails the orchestration with `message` (Python raises `RuntimeError(message)`).
    Fail {
        /// The failure message.
        message: String,
    },
    /// Appends the instance's version (`null`: none) without awaiting anything.
    Version,
    /// While the program's `gen` is below `times`, continues as new with `gen + 1`.
    ContinueAsNew {
        /// How many generations to run before going on with the next step.
        times: u32,
    },
    /// Locks `entities` (`lock_entities`), runs `steps` holding them, then releases them; its value is the list of
    /// the inner steps' values. Not allowed inside `all` or `any`.
    Lock {
        /// The entities to lock (`@counter@<key>`).
        entities: Vec<String>,
        /// The steps run inside the critical section.
        steps: Vec<Step>,
    },
}

/// How a `Script` run went wrong outside of awaited tasks.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The `fail` step. Its message is exactly the step's message, as Python's `RuntimeError(message)`.
    #[error("{0}")]
    Fail(String),
    /// An immediate step (signal, status, fail, version, continue_as_new) inside `all` or `any`.
    #[error("the step '{0}' cannot be awaited inside 'all' or 'any'")]
    NotAwaitable(&'static str),
}

/// What an awaited step produced, resolved into a JSON value when appended (see the module docs).
#[derive(Debug)]
pub enum Outcome {
    /// A plain value (activity, timer, event, sub-orchestration, entity call).
    Value(Value),
    /// The children of an `all`, in order.
    All(Vec<Outcome>),
    /// The first child of an `any` to finish, successfully or not.
    Winner(Box<Result<Outcome, TaskError>>),
}

impl Outcome {
    /// The JSON value, or the failure of the first failed `any` winner met depth first.
    // The SDK's TaskError is large; it is passed on whole so that `?` reports it as the task's failure.
    #[allow(clippy::result_large_err)]
    pub fn resolve(self) -> Result<Value, TaskError> {
        match self {
            Outcome::Value(value) => Ok(value),
            Outcome::All(children) => children
                .into_iter()
                .map(Outcome::resolve)
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Outcome::Winner(winner) => (*winner)?.resolve(),
        }
    }
}

type StepFuture = LocalBoxFuture<'static, Result<Outcome, TaskError>>;

/// The `Script` orchestrator.
pub async fn script(ctx: OrchestrationContext, input: Value) -> Result<Value, Error> {
    let program: Program = serde_json::from_value(input.clone())?;
    let mut values = Vec::new();
    let stopped = run_steps(&ctx, &program, &input, &program.steps, &mut values).await?;
    Ok(if stopped { Value::Null } else { Value::Array(values) })
}

/// Runs `steps` in order, appending the awaited steps' values to `values`; `true` when the program continued as
/// new (the caller stops then).
fn run_steps<'a>(
    ctx: &'a OrchestrationContext,
    program: &'a Program,
    input: &'a Value,
    steps: &'a [Step],
    values: &'a mut Vec<Value>,
) -> LocalBoxFuture<'a, Result<bool, Error>> {
    Box::pin(async move {
        for step in steps {
            match step {
                Step::Signal {
                    entity,
                    operation,
                    input,
                } => {
                    ctx.signal_entity(&entity.parse::<EntityId>()?, operation, input);
                }
                Step::Status { value } => ctx.set_custom_status(value)?,
                Step::Fail { message } => return Err(ScriptError::Fail(message.clone()).into()),
                Step::Version => values.push(ctx.version().into()),
                Step::ContinueAsNew { times } => {
                    if program.gen < *times {
                        ctx.continue_as_new(&with_generation(input, program.gen + 1));
                        return Ok(true);
                    }
                }
                Step::Lock { entities, steps } => {
                    let ids = entities
                        .iter()
                        .map(|entity| entity.parse::<EntityId>())
                        .collect::<Result<Vec<_>, _>>()?;
                    let lock = ctx.lock_entities(&ids).await?;
                    let mut inner = Vec::new();
                    // A failure inside leaves the locks to the executor, which releases them before failing the
                    // orchestration: the same actions as Python's `with` block releasing them on the way out.
                    let stopped = run_steps(ctx, program, input, steps, &mut inner).await?;
                    lock.release();
                    values.push(Value::Array(inner));
                    if stopped {
                        return Ok(true);
                    }
                }
                awaited => {
                    let outcome = start_step(ctx, awaited)?.await?;
                    values.push(outcome.resolve()?);
                }
            }
        }
        Ok(false)
    })
}

/// The program with `gen` set, every other field kept (Python's `{**program, "gen": n}`).
fn with_generation(program: &Value, generation: u32) -> Value {
    let mut next = program.clone();
    if let Value::Object(fields) = &mut next {
        fields.insert("gen".to_string(), Value::from(generation));
    }
    next
}

/// Starts the durable work of an awaited step (scheduling happens now, as in Python) and returns its future.
fn start_step(ctx: &OrchestrationContext, step: &Step) -> Result<StepFuture, Error> {
    Ok(match step {
        Step::Activity { name, input, tags } => {
            let call = ctx.call_activity::<Value>(name, input);
            plain(call.with_tags(tags.iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()))))
        }
        Step::Timer { seconds } => {
            let timer = ctx.create_timer(ctx.current_utc_datetime() + chrono::Duration::seconds(*seconds));
            Box::pin(async move {
                timer.await?;
                Ok(Outcome::Value(Value::Null))
            })
        }
        Step::Event { name, timeout: None } => plain(ctx.wait_for_external_event::<Value>(name)),
        Step::Event {
            name,
            timeout: Some(seconds),
        } => {
            let timeout = Duration::from_secs(u64::try_from(*seconds).unwrap_or(0));
            let wait = ctx.wait_for_external_event_with_timeout::<Value>(name, timeout);
            Box::pin(async move {
                match wait.await {
                    Ok(payload) => Ok(Outcome::Value(payload)),
                    Err(TaskError::EventTimedOut { .. }) => Ok(Outcome::Value(Value::from(TIMED_OUT))),
                    Err(other) => Err(other),
                }
            })
        }
        Step::Sub { input, id, version } => {
            let call = ctx.call_sub_orchestrator::<Value>(SCRIPT, input, id.as_deref());
            plain(match version {
                Some(version) => call.with_version(version.clone()),
                None => call,
            })
        }
        Step::CallEntity {
            entity,
            operation,
            input,
        } => plain(ctx.call_entity::<Value>(&entity.parse::<EntityId>()?, operation, input)),
        Step::All { of } => {
            let children = start_children(ctx, of)?;
            Box::pin(async move { Ok(Outcome::All(when_all(children).await?)) })
        }
        Step::Any { of } => {
            let children = start_children(ctx, of)?;
            Box::pin(async move {
                let (_, winner) = when_any(children).await;
                Ok(Outcome::Winner(Box::new(winner)))
            })
        }
        Step::Signal { .. } => return Err(ScriptError::NotAwaitable("signal").into()),
        Step::Status { .. } => return Err(ScriptError::NotAwaitable("status").into()),
        Step::Fail { .. } => return Err(ScriptError::NotAwaitable("fail").into()),
        Step::Version => return Err(ScriptError::NotAwaitable("version").into()),
        Step::ContinueAsNew { .. } => return Err(ScriptError::NotAwaitable("continue_as_new").into()),
        Step::Lock { .. } => return Err(ScriptError::NotAwaitable("lock").into()),
    })
}

fn start_children(ctx: &OrchestrationContext, steps: &[Step]) -> Result<Vec<StepFuture>, Error> {
    steps.iter().map(|step| start_step(ctx, step)).collect()
}

fn plain<F>(task: F) -> StepFuture
where
    F: std::future::Future<Output = Result<Value, TaskError>> + 'static,
{
    Box::pin(async move { task.await.map(Outcome::Value) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use durabletask_sdk::FailureDetails;

    #[test]
    fn steps_use_the_oracle_json_shape() {
        let json = r#"{"steps": [{"op": "activity", "name": "echo", "input": 1},
            {"op": "any", "of": [{"op": "event", "name": "Go"}, {"op": "timer", "seconds": 5}]},
            {"op": "call_entity", "entity": "@counter@a", "operation": "get"},
            {"op": "continue_as_new", "times": 2}], "gen": 1}"#;
        let program: Program = serde_json::from_str(json).unwrap();
        assert_eq!(program.gen, 1);
        assert_eq!(
            program.steps[0],
            Step::Activity {
                name: "echo".into(),
                input: Some(1.into()),
                tags: None,
            }
        );
        let back = serde_json::to_value(&program).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(json).unwrap());
    }

    #[test]
    fn a_failed_winner_fails_only_when_resolved() {
        let failure = TaskError::ActivityFailed {
            name: "boom".into(),
            task_id: 1,
            details: FailureDetails::new("ValueError", "boom:1"),
        };
        let outcome = Outcome::All(vec![
            Outcome::Value(1.into()),
            Outcome::Winner(Box::new(Err(failure.clone()))),
        ]);
        assert_eq!(outcome.resolve().unwrap_err(), failure);
        let fine = Outcome::All(vec![Outcome::Winner(Box::new(Ok(Outcome::Value("w".into()))))]);
        assert_eq!(fine.resolve().unwrap(), serde_json::json!(["w"]));
    }

    #[test]
    fn continue_as_new_keeps_the_other_fields() {
        let program = serde_json::json!({"steps": [], "extra": true});
        assert_eq!(
            with_generation(&program, 2),
            serde_json::json!({"steps": [], "extra": true, "gen": 2})
        );
    }
}
