//! The durable engine: starting the local one (`scripts/local_engine.py`) and noticing when it dies
//! ([`launcher`]), and the gRPC client of any `TaskHubSidecarService` ([`client`]).

pub mod client;
pub mod launcher;

pub use launcher::{EngineError, EngineExit, EngineLauncher, LocalEngine};
