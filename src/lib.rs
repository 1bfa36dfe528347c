//! # returns-aggregator: a Durable Functions app in Rust
//!
//! Independent Service Bus events about a customer's return (booked, items received, refund issued, cancelled)
//! are folded into one durable entity per return; when the return is settled an orchestration publishes one
//! consolidated notification; a stuck return raises one alert; a nightly timer purges old instances.
//!
//! The crate is the custom handler the Azure Functions host starts (see `main.rs`):
//! - [`app`]: the axum router (`GET /` readiness, `POST /{FunctionName}` invocations);
//! - [`functions`]: one module per trigger kind (Service Bus, durable triggers, timer, HTTP);
//! - [`durable`]: the entity, orchestrator and activities, registered with the `durabletask-sdk` SDK;
//! - [`domain`]: the pure return model (events, aggregate, completion rule, messages);
//! - [`config`]: app settings, validated at start-up;
//! - [`function_folders`]: the check that the function folders and the handler agree;
//! - [`host_checks`]: the check of the worker runtime and the extension bundle range the host is configured with;
//! - [`replay_check`]: the `replay-check` and `export-histories` commands (recorded histories replayed through
//!   this build before it is deployed).

pub mod app;
pub mod config;
pub mod domain;
pub mod durable;
pub mod error;
pub mod function_folders;
pub mod functions;
pub mod host_checks;
pub mod replay_check;
