//! # local-host: the Azure Functions host and the Durable extension, locally
//!
//! Runs a custom-handler function app exactly as the Functions host would invoke it, against a real
//! durable engine (Microsoft's in-memory Durable Task backend, or any `TaskHubSidecarService`), so the
//! same handler binary runs unchanged under `func start`:
//!
//! * [`app_model`]: `host.json`, `local.settings.json` and the `function.json` folders;
//! * [`handler_process`]: starting, readiness-polling and restarting the handler;
//! * [`envelope`], [`payloads`], [`invoke`]: the invocation requests, byte-faithful, and their responses;
//! * [`durable`], [`durable_protocol`], [`failure_rules`]: engine work items turned into orchestrator, activity
//!   and entity invocations, answers turned into completions, and failed invocations retried or failed for good
//!   exactly as the Durable extension does;
//! * [`service_bus`], [`messages`], [`timers`], [`http_trigger`]: the other triggers;
//! * [`published`], [`stats`], [`problems`], [`idle`], [`process_cpu`]: what came out, counters, what was lost
//!   or stuck, quiescence, CPU use;
//! * [`faults`]: faults injected into chosen invocations, for fault tests;
//! * [`engine`]: starting the local engine (`scripts/local_engine.py`);
//! * [`host`]: [`LocalHost`], everything assembled, the API of end-to-end tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), local_host::HostError> {
//! use local_host::{EngineChoice, EngineLauncher, HostOptions, IdleOptions, LocalHost, PlanOptions};
//! let options = HostOptions::new(".", EngineChoice::Launch(EngineLauncher::from_workspace()));
//! let host = LocalHost::start(options).await?;
//! let lines = local_host::messages::read_message_file("samples/messages.jsonl".as_ref()).expect("readable");
//! let classified = host.classify(lines)?;
//! host.deliver(&classified.messages, PlanOptions::default()).await?;
//! host.wait_idle(&IdleOptions::default()).await?;
//! println!("{} published", host.published().len());
//! host.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod app_model;
pub mod cli;
pub mod durable;
pub mod durable_protocol;
pub mod engine;
pub mod engine_client;
pub mod envelope;
pub mod failure_rules;
pub mod faults;
pub mod handler_process;
pub mod host;
pub mod http_client;
pub mod http_trigger;
pub mod idle;
pub mod invoke;
pub mod messages;
pub mod payloads;
pub mod problems;
pub mod process_cpu;
pub mod published;
pub mod service_bus;
pub mod stats;
pub mod timers;

pub use app_model::FunctionApp;
pub use engine::{EngineLauncher, LocalEngine};
pub use faults::{FaultFired, InvocationFault};
pub use handler_process::HandlerOutput;
pub use host::{EngineChoice, HostError, HostOptions, LocalHost};
pub use idle::{IdleOptions, IdleReport};
pub use messages::{DeadLetteredMessage, ServiceBusMessage};
pub use process_cpu::ProcessCpu;
pub use published::PublishedMessage;
pub use service_bus::PlanOptions;
