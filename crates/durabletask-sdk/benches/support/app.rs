//! The benchmark app: the same registrations `scripts/bench_python_executors.py` makes in Python.

use durabletask_sdk::orchestration::when_all;
use durabletask_sdk::{ActivityContext, EntityContext, Error, OrchestrationContext, Registry};

/// Returns its input.
async fn echo(_ctx: ActivityContext, value: u64) -> Result<u64, Error> {
    Ok(value)
}

/// Calls `echo` with 0..n one after the other and sums the results.
async fn chain(ctx: OrchestrationContext, n: u64) -> Result<u64, Error> {
    let mut total = 0;
    for index in 0..n {
        total += ctx.call_activity::<u64>("echo", &index).await?;
    }
    Ok(total)
}

/// Calls `echo` with 0..n all at once and sums the results.
async fn fan_out(ctx: OrchestrationContext, n: u64) -> Result<u64, Error> {
    let calls = (0..n).map(|index| ctx.call_activity::<u64>("echo", &index)).collect();
    Ok(when_all(calls).await?.into_iter().sum())
}

/// A counter: `add` adds the input and answers the new value, `get` answers the value.
fn counter(ctx: &mut EntityContext) -> Result<u64, Error> {
    let value: u64 = ctx.get_state()?.unwrap_or(0);
    match ctx.operation() {
        "add" => {
            let sum = value + ctx.input::<u64>()?;
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

/// The registry every bench runs against.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .add_activity("echo", echo)
        .and_then(|r| r.add_orchestrator("chain", chain))
        .and_then(|r| r.add_orchestrator("fan_out", fan_out))
        .and_then(|r| r.add_entity("counter", counter))
        .expect("distinct, valid names");
    registry
}
