//! # durabletask-sdk: Durable Functions and Durable Task orchestrations in Rust
//!
//! A Durable Task SDK speaking the protobuf protocol of `microsoft/durabletask-protobuf`: the protocol the Azure
//! Durable Functions extension uses to drive custom handlers, and that durabletask sidecars (the Durable Task
//! Scheduler, the in-memory engine of durabletask-python) serve over gRPC.
//!
//! - **Write** orchestrators as `async fn(OrchestrationContext, Input) -> Result<Output, Error>`
//!   ([`orchestration`]), activities as `async fn(ActivityContext, Input) -> Result<Output, Error>` ([`activity`]),
//!   and entities as `fn(&mut EntityContext) -> Result<Output, Error>` or as a state type whose operations are a
//!   serde enum ([`entity::TypedEntity`]) ([`entity`]); register them in a
//!   [`Registry`], by name or with typed handles ([`ActivityHandle`], [`OrchestrationHandle`]) that are also what
//!   orchestrators call them with; [`prelude`] has the usual imports.
//! - **Orchestrate** with the [`OrchestrationContext`]: activities and sub-orchestrations retried with
//!   `.with_retry(policy)` or a custom handler and tagged with `.with_tags(..)`, durable timers (chained past a
//!   configurable maximum interval), external events with or without a timeout (dropping a wait withdraws it),
//!   entity calls and signals, entity locks (critical sections: `lock_entities`), `when_all` / `when_any`,
//!   continue-as-new, replay-safe logging
//!   (`unless_replaying`). Entities read their operation's time from the [`EntityContext`] and can signal
//!   themselves later.
//! - **Run** them with pure executors — [`orchestration::execute_orchestrator`] (replay: history in, new actions
//!   out), [`entity::execute_entity_batch`] / [`entity::execute_entity_request`] (one transaction per operation) —
//!   behind an Azure Functions custom handler ([`functions`]: the host's envelope, ready-made trigger handlers,
//!   and [`functions::FunctionApp`], one model of the app's functions that dispatches invocations, writes and
//!   checks the function folders, and — with the `axum` feature — serves the host) or a standalone gRPC worker
//!   ([`worker`]).
//! - **Manage** instances and entities with the gRPC [`client::DurableClient`]: signal, query and clean entities;
//!   start (with a scheduled time, tags, a version, an instance-id reuse policy), wait for, raise events to,
//!   suspend, terminate (recursively), rewind, restart, query, list the ids of and purge (recursively; a large
//!   backlog in rounds within a time budget) orchestrations, and read their history. The client and the
//!   [`worker`] reach the Durable Task Scheduler from its connection string, over TLS with a bearer token.
//! - **Deploy safely**: [orchestration versioning](orchestration::versioning) (`ctx.version()`, default versions,
//!   match and failure strategies) and the [`replay_check`]: recorded histories replayed through the current code
//!   before it is deployed, instance by instance (ok / non-deterministic at which step / failed).
//! - **Trace** across processes ([`tracing_spans`]): spans for orchestration episodes, entity operations, activities
//!   and client calls, with W3C trace context in the protocol fields the official SDKs use; an OpenTelemetry layer
//!   (`tracing-opentelemetry`) exports them.
//! - **Test** orchestrators and entities without any engine ([`testing`]: history builders, canned histories,
//!   expected actions and views of the executors' answers).
//!
//! ```
//! use durabletask_sdk::orchestration::execute_orchestrator;
//! use durabletask_sdk::proto::orchestrator_action::OrchestratorActionType as Action;
//! use durabletask_sdk::testing::history;
//! use durabletask_sdk::{proto, Error, OrchestrationContext, Registry};
//!
//! async fn greet(ctx: OrchestrationContext, name: String) -> Result<String, Error> {
//!     Ok(ctx.call_activity("SayHello", &name).await?)
//! }
//!
//! let mut registry = Registry::new();
//! registry.add_orchestrator("Greet", greet).unwrap();
//! let past = vec![
//!     history::orchestrator_started_now(),
//!     history::execution_started("Greet", "id-1", Some("\"Ada\"")),
//!     history::task_scheduled(1, "SayHello", Some("\"Ada\"")),
//! ];
//! let new = vec![history::orchestrator_started_now(), history::task_completed(1, Some("\"Hello, Ada!\""))];
//! let request = proto::OrchestratorRequest { instance_id: "id-1".into(), past_events: past, new_events: new, ..Default::default() };
//! let response = execute_orchestrator(&registry, &request);
//! let Some(Action::CompleteOrchestration(done)) = &response.actions[0].orchestrator_action_type else { panic!() };
//! assert_eq!(done.result.as_deref(), Some("\"Hello, Ada!\""));
//! ```
//!
//! Behaviour is checked against Microsoft's durabletask-python executors (the `durabletask-conformance` crate).
//!
//! Cargo features (all off by default): `axum` adds `functions::FunctionApp::into_router`, the custom handler's HTTP
//! server; `tls` lets the client and the worker reach `https://` engines (rustls with ring, which compiles C code);
//! `azure-identity` (implies `tls`) makes the token credentials a Durable Task Scheduler connection string names
//! (managed identity, workload identity, Azure CLI, …) with Microsoft's `azure_identity` crate.
//!
//! Not in this SDK, of what the official SDKs offer, and why:
//!
//! - **Externalised large payloads** (payloads above a threshold stored in Azure Blob Storage, the
//!   `LARGE_PAYLOADS` capability): it needs a blob client and a storage design of its own; large completions are
//!   sent in chunks instead, and a single action above the chunk size fails its instance with a clear error.
//! - **Durable HTTP calls** (`CallHttpAsync`): a Functions-extension feature built on its own built-in activity,
//!   with no message of its own in the protocol this SDK speaks.
//! - **Analyzers** (compile-time checks of orchestrator determinism, as Roslyn analyzers do for .NET): Rust would
//!   need a lint tool (a Clippy-style driver); determinism is checked at replay instead (`NonDeterminismError`).
//! - **Scheduled tasks** (the `SCHEDULED_TASKS` capability and its schedule entity) and the export-history
//!   feature: preview features of some SDKs, not taken up.
//! - **`DefaultAzure` as .NET defines it**: `azure_identity` 1.x for Rust has no `DefaultAzureCredential`; the
//!   `azure-identity` feature chains environment, workload identity, managed identity and developer tools (Azure
//!   CLI, azd) in .NET's order, and refuses `AzurePowerShell` and `AuthorityHost` by name.

#![warn(missing_docs)]

pub mod activity;
pub mod client;
pub mod entity;
mod entity_id;
pub mod failure;
pub mod functions;
pub mod json;
pub mod orchestration;
pub mod prelude;
mod registry;
pub mod replay_check;
pub mod testing;
pub mod time;
pub mod tracing_spans;
mod wire;
pub mod worker;

/// The history event builders, now at [`testing::history`].
#[deprecated(note = "moved to `durabletask_sdk::testing::history`")]
pub mod history {
    pub use crate::testing::history::*;
}

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
pub use orchestration::{ActivityHandle, OrchestrationContext, OrchestrationHandle};
pub use registry::{ActivityName, OrchestratorName, Registry, RegistryError};
