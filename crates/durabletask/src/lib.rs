//! # durabletask: Durable Functions and Durable Task orchestrations in Rust
//!
//! (Overview being written.)

#![warn(missing_docs)]

pub mod activity;
pub mod client;
pub mod entity;
mod entity_id;
pub mod failure;
pub mod functions;
pub mod history;
pub mod json;
pub mod orchestration;
mod registry;
pub mod time;

/// Protocol messages and the `TaskHubSidecarService` gRPC client and server, generated from
/// `proto/orchestrator_service.proto`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("_");
}

pub use activity::ActivityContext;
pub use entity::EntityContext;
pub use entity_id::{EntityId, EntityIdError};
pub use failure::{Error, FailureDetails, TaskError};
pub use orchestration::OrchestrationContext;
pub use registry::{Registry, RegistryError};
