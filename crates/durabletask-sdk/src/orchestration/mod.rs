//! Orchestrations: durable, replayed async functions that coordinate activities, timers, events, entities and
//! other orchestrations.
//!
//! An orchestrator is an `async fn(OrchestrationContext, Input) -> Result<Output, Error>`. It must be
//! deterministic: everything that can differ between runs (time, GUIDs, results of I/O) comes from the context,
//! whose answers are recorded in the instance's history and replayed. [`execute_orchestrator`] runs one episode.

mod combinators;
mod context;
mod executor;
mod guid;
mod retry;
mod state;
mod task;

pub use combinators::{when_all, when_any, WhenAll, WhenAny};
pub use context::{OrchestrationContext, MAXIMUM_TIMER_INTERVAL};
pub use executor::{execute_orchestrator, NondeterminismError};
pub use retry::RetryPolicy;
pub use task::{CompositeTask, DurableFuture};
