//! What a run produced and how it went: published and dead-lettered messages ([`published`]), counters and the
//! summary ([`stats`]), work lost or stuck ([`problems`]), quiescence ([`idle`]), CPU use ([`process_cpu`]), and
//! the terminal: the progress display ([`progress`]) and lines printed around it ([`console`]).

pub mod console;
pub mod idle;
pub mod problems;
pub mod process_cpu;
pub mod progress;
pub mod published;
pub mod stats;
