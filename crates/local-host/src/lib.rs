//! # local-host: the Azure Functions host and the Durable extension, locally
//!
//! Runs a custom-handler function app exactly as the Functions host would invoke it, against a real
//! durable engine (Microsoft's in-memory Durable Task backend, or any `TaskHubSidecarService`), so the
//! same handler binary runs unchanged under `func start`:
//!
//! * [`app_model`]: `host.json`, `local.settings.json` and the `function.json` folders;
//! * [`handler`]: starting, readiness-polling and restarting the handler process, and the HTTP client to it;
//! * [`invocation`]: the invocation requests, byte-faithful, their answers, the function timeout, and faults
//!   injected into chosen invocations for fault tests;
//! * [`durable`]: engine work items turned into orchestrator, activity and entity invocations, answers turned
//!   into completions, failed invocations retried or failed for good exactly as the Durable extension does, and
//!   the signals and timers the run still waits for;
//! * [`triggers`]: Service Bus messages from files, timers, HTTP functions;
//! * [`output`]: what came out (published and dead-lettered messages), counters and the summary, what was lost
//!   or stuck, quiescence, CPU use, the progress display;
//! * [`engine`]: starting the local engine (`scripts/local_engine.py`) and the gRPC client of any engine;
//! * [`traces`]: a receiver for the spans the handler exports and one return's timeline built from them;
//! * [`host`]: [`LocalHost`], everything assembled, the API of end-to-end tests; [`cli`]: the command line.
//!
//! ```no_run
//! # async fn demo() -> Result<(), local_host::HostError> {
//! use local_host::{EngineChoice, EngineLauncher, HostOptions, IdleOptions, LocalHost, PlanOptions};
//! let options = HostOptions::new(".", EngineChoice::Launch(EngineLauncher::from_workspace()));
//! let host = LocalHost::start(options).await?;
//! let lines = local_host::triggers::messages::read_message_file("samples/messages.jsonl".as_ref()).expect("readable");
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
pub mod engine;
pub mod handler;
pub mod host;
pub mod invocation;
pub mod output;
pub mod traces;
pub mod triggers;

pub use app_model::FunctionApp;
pub use engine::{EngineLauncher, LocalEngine};
pub use handler::process::HandlerOutput;
pub use host::{EngineChoice, HostError, HostOptions, LocalHost};
pub use invocation::faults::{FaultFired, InvocationFault};
pub use output::idle::{IdleOptions, IdleReport};
pub use output::process_cpu::ProcessCpu;
pub use output::published::PublishedMessage;
pub use triggers::messages::{DeadLetteredMessage, ServiceBusMessage};
pub use triggers::service_bus::PlanOptions;
