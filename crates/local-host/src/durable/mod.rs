//! The Durable extension's part: the work-item loop ([`work_items`]) that turns the engine's work items into
//! orchestrator, activity and entity invocations, the pure conversions between work items, handler answers and
//! engine completions ([`protocol`]), what the extension does when an invocation fails ([`failure_rules`]), and
//! the signals and timers the run still waits for ([`scheduled`]).

pub mod client_proxy;
pub mod failure_rules;
pub mod protocol;
pub mod scheduled;
pub mod trace_context;
pub mod work_items;

pub use work_items::{run_work_items, DurableOptions};
