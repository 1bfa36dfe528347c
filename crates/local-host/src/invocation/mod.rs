//! Invoking functions as the Functions host does: the request envelope and the reading of answers
//! ([`envelope`]), one payload builder per trigger ([`payloads`]), the invocation itself with the function timeout
//! and output bindings ([`invoke`]), and faults injected into chosen invocations for fault tests ([`faults`]).

pub mod envelope;
pub mod faults;
pub mod invoke;
pub mod payloads;
