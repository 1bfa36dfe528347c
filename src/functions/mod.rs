//! One module per kind of function the host invokes. Each takes the decoded invocation and answers with the
//! outputs, logs and return value the host expects.

/// The name of the `durableClient` input binding in the function.json of every function that calls the engine
/// (`ServiceBusTrigger`, `PurgeTimer`, `ReturnStatus`).
pub const CLIENT_BINDING: &str = "client";

pub mod durable;
pub mod purge;
pub mod service_bus;
pub mod status;
