//! What a run produced and how it went: published and dead-lettered messages ([`published`]), counters and the
//! summary ([`stats`]), work lost or stuck ([`problems`]), quiescence ([`idle`]) and CPU use ([`process_cpu`]).

pub mod idle;
pub mod problems;
pub mod process_cpu;
pub mod published;
pub mod stats;
