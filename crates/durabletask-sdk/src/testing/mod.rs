//! Testing orchestrators and entities without an engine: build the history an engine would send, run the
//! executor, and assert on what it decided.
//!
//! * [`history`]: one builder per history event (`task_scheduled`, `timer_fired`, `event_raised`, …);
//! * [`canned`]: whole histories for common situations (the first episode, one activity scheduled, one timer);
//! * [`actions`]: the actions an orchestrator is expected to decide, for exact comparisons;
//! * [`entity`]: entity requests in both shapes (V1 batches, V2 requests of signals and calls);
//! * [`ResponseView`] and [`EntityResultView`]: read an executor's answer the way a test asks about it (the
//!   status, the result, the activities scheduled, each operation's outcome);
//! * [`replay`]: runs one episode from past and new events.
//!
//! ```
//! use durabletask_sdk::testing::{canned, history, replay, ResponseView};
//! use durabletask_sdk::{Error, OrchestrationContext, Registry};
//!
//! async fn greet(ctx: OrchestrationContext, name: String) -> Result<String, Error> {
//!     Ok(ctx.call_activity("SayHello", &name).await?)
//! }
//! let mut registry = Registry::new();
//! registry.add_orchestrator("Greet", greet).unwrap();
//!
//! // First episode: the orchestrator schedules the activity.
//! let first = replay(&registry, "id-1", vec![], canned::started("Greet", "id-1", Some("\"Ada\"")));
//! assert_eq!(ResponseView::new(&first).scheduled_activities(), [(1, "SayHello")]);
//!
//! // Second episode: the activity's result completes the orchestration.
//! let past = canned::activity_scheduled("Greet", "id-1", Some("\"Ada\""), "SayHello", Some("\"Ada\""));
//! let new = canned::episode(canned::t0(), [history::task_completed(1, Some("\"Hello, Ada!\""))]);
//! let second = replay(&registry, "id-1", past, new);
//! assert_eq!(ResponseView::new(&second).result(), Some("\"Hello, Ada!\""));
//! ```

pub mod actions;
pub mod canned;
pub mod entity;
pub mod history;
mod view;

pub use view::{EntityOutcome, EntityResultView, ResponseView};

use crate::orchestration::execute_orchestrator;
use crate::proto;
use crate::registry::Registry;

/// The `OrchestratorRequest` for one episode of `instance_id`: `past` events already seen, `new` events to react
/// to.
pub fn orchestrator_request(
    instance_id: &str,
    past: Vec<proto::HistoryEvent>,
    new: Vec<proto::HistoryEvent>,
) -> proto::OrchestratorRequest {
    proto::OrchestratorRequest {
        instance_id: instance_id.to_string(),
        past_events: past,
        new_events: new,
        ..Default::default()
    }
}

/// Runs one episode of `instance_id` with the orchestrators of `registry`.
pub fn replay(
    registry: &Registry,
    instance_id: &str,
    past: Vec<proto::HistoryEvent>,
    new: Vec<proto::HistoryEvent>,
) -> proto::OrchestratorResponse {
    execute_orchestrator(registry, &orchestrator_request(instance_id, past, new))
}
