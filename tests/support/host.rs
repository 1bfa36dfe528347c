//! Invocation bodies as the Functions host sends them and views of the handler's durable answers: the workspace's
//! shared builders (`crates/test-support`).

pub use test_support::host::*;
