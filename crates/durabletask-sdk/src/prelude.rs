//! The names an orchestrator, activity or entity module usually needs, in one import:
//! `use durabletask_sdk::prelude::*;`.

pub use crate::activity::ActivityContext;
pub use crate::entity::EntityContext;
pub use crate::entity_id::EntityId;
pub use crate::failure::{Error, FailureDetails, TaskError};
pub use crate::orchestration::{
    when_all, when_any, ActivityHandle, OrchestrationContext, OrchestrationHandle, RetryPolicy,
};
pub use crate::registry::Registry;
