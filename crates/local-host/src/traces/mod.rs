//! Traces locally: a receiver for the spans the handler exports ([`collector`]) and one return's timeline built
//! from them ([`timeline`]), what `local-host run --timeline <id>` prints at the end of a run.

pub mod collector;
pub mod timeline;

pub use collector::{CollectedSpan, SpanCollector};
pub use timeline::Timeline;
