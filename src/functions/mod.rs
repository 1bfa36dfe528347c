//! One module per kind of function the host invokes. Each takes the decoded invocation and answers with the
//! outputs, logs and return value the host expects.

pub use crate::durable::contract::CLIENT_BINDING;

pub mod durable;
pub mod ingress;
pub mod purge;
pub mod redrive;
pub mod resend;
pub mod service_bus;
pub mod status;
