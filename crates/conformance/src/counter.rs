//! The `counter` entity, as the oracle defines it: `add` (returns the new value), `get`, `fail` (always fails and
//! changes nothing), `delete` (removes the state); any other operation returns `null` and changes nothing.

use durabletask_sdk::{EntityContext, Error};

/// The entity name both SDKs register.
pub const COUNTER: &str = "counter";

/// The `fail` operation's error. Its message is Python's `str(KeyError("bad op"))`, which quotes the key.
#[derive(Debug, thiserror::Error)]
#[error("'bad op'")]
pub struct CounterError;

/// Runs one operation of the counter.
pub fn counter(ctx: &mut EntityContext) -> Result<Option<i64>, Error> {
    let current: i64 = ctx.get_state()?.unwrap_or(0);
    match ctx.operation() {
        "add" => {
            let sum = current + ctx.input::<i64>()?;
            ctx.set_state(&sum)?;
            Ok(Some(sum))
        }
        "get" => Ok(Some(current)),
        "fail" => Err(CounterError.into()),
        "delete" => {
            ctx.delete_state();
            Ok(None)
        }
        _ => Ok(None),
    }
}
