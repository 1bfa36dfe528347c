//! Orchestrations: durable, replayed async functions that coordinate activities, timers, events, entities and
//! other orchestrations.
//!
//! An orchestrator is an `async fn(OrchestrationContext, Input) -> Result<Output, Error>`. It must be
//! deterministic: everything that can differ between runs (time, GUIDs, results of I/O) comes from the context,
//! whose answers are recorded in the instance's history and replayed. [`execute_orchestrator`] runs one episode.

mod call;
mod combinators;
mod context;
mod entity_lock;
mod entity_message;
mod entity_response;
mod event;
mod event_wait;
mod executor;
mod guid;
mod handle;
mod request_bytes;
mod retry;
pub mod rewind;
mod state;
mod task;
mod task_kind;
mod timer;
pub mod versioning;

pub use call::{CallTask, RetryContext};
pub use combinators::{when_all, when_any, WhenAll, WhenAny};
pub use context::OrchestrationContext;
pub use entity_lock::{EntityLock, LockTask, ENTITY_LOCKING_RULE};
pub use entity_message::{EntityRequestMessage, ENTITY_REQUEST_EVENT};
pub use event_wait::TimedEventWait;
pub(crate) use executor::execute_and_diagnose;
pub use executor::execute_orchestrator;
pub use handle::{ActivityHandle, Callable, OrchestrationHandle, SubOrchestrationCall};
pub use request_bytes::OrchestratorRequestBytes;
pub use retry::RetryPolicy;
pub use task::{CompositeTask, DurableFuture};
pub use task_kind::{NondeterminismError, Recorded, ScheduledTask, TaskKind};
pub use timer::DEFAULT_MAXIMUM_TIMER_INTERVAL;
pub use versioning::{
    compare_versions, UnknownStrategy, VersionFailureStrategy, VersionMatchStrategy, VersionMismatch, VersioningOptions,
};
