//! # returns-aggregator: a Durable Functions app in Rust
//!
//! Independent Service Bus events about a customer's return (booked, items received, refund issued, cancelled)
//! are folded into one durable entity per return; when the return is settled an orchestration publishes one
//! consolidated notification; a stuck return raises one alert; a nightly timer purges old instances.
//!
//! The crate is the custom handler the Azure Functions host starts (see `main.rs`). Its layers, each depending
//! only on those below it:
//! - [`server`]: the HTTP/1.1 server under the router (connection time limits, bounded shutdown drain);
//! - [`app`]: the axum router (`GET /` readiness, `POST /{FunctionName}` invocations: body limit, dispatch);
//! - [`function_app`]: every function declared once (trigger, bindings, who serves it), the SDK's `FunctionApp`;
//! - [`functions`]: one module per trigger kind (Service Bus, durable triggers, timer, HTTP);
//! - [`state`]: what every invocation shares (settings, registry, durable clients);
//! - [`durable`]: the entity, orchestrator and activities, registered with the `durabletask-sdk` SDK;
//! - [`config`]: app settings, validated at start-up;
//! - [`domain`]: the pure return model (events, aggregate, completion rule, messages).
//!
//! Beside them: [`error`] (how failures become HTTP answers), [`function_folders`] (the function folders,
//! generated from [`function_app`], and their check), [`host_checks`] (the worker runtime and the extension bundle range the host is
//! configured with), [`json_budget`] (a JSON document's size in values, counted without building it),
//! [`allocator`] (memory handed back to the system after large invocations) and [`replay_check`] (the
//! `replay-check` and `export-histories` commands: recorded histories replayed through this build before it is
//! deployed).

pub mod allocator;
pub mod app;
pub mod config;
pub mod domain;
pub mod durable;
pub mod error;
pub mod function_app;
pub mod function_folders;
pub mod functions;
pub mod host_checks;
pub mod json_budget;
pub mod replay_check;
pub mod server;
pub mod state;
pub mod telemetry;
