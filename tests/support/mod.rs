//! Shared helpers of the router tests: invocations built exactly as the Functions host sends them, the router
//! driven in-process, realistic return events, and the local durable engine for the tests that need one.
#![allow(dead_code)] // each test binary uses a different subset

pub mod engine;
pub mod events;
pub mod host;
pub mod router;
