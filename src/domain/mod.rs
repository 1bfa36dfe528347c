//! The pure domain of returns: events, the per-return aggregate, the completion rule and the messages it produces.
//!
//! No I/O, no clock (callers pass `now`), no Durable Task types: the function handlers feed this module and act on
//! what it answers.
//!
//! | step | call |
//! |---|---|
//! | a Service Bus message arrives | [`parse_event`] → [`ReturnEvent`] or an [`InvalidEvent`] naming the field |
//! | the entity receives the event | [`ReturnAggregate::apply`] → [`ApplyOutcome`] (applied, duplicate, rejected, refused, late; settled?) |
//! | it just settled | [`ReturnSettledNotification::from_aggregate`], then start the orchestration |
//! | the notification went out | [`ReturnAggregate::compact`] keeps the [tombstone](tombstone::Tombstone) |
//! | the first event was seen | schedule a check at [`ReturnAggregate::stuck_deadline`] |
//! | the ingress accepted an event | [`accepted_event`]; its check at acceptance + `stuck_after` asks [`ReturnAggregate::note_accepted`] whether it was recorded |
//! | the deadline check fires, or a cap was reached | [`ReturnAggregate::check_stuck`] → at most one [`ReturnStuckAlert`] |
//! | status endpoint | [`ReturnStatusReport::of`], [`missing_pieces`] |
//! | purge | [`ReturnAggregate::is_purgeable`] |
//!
//! The completion rule is stated in [`completion::ready_to_settle`]; the limits in [`limits`].
//!
//! Layers, each using only those above it (`tests/domain_layers.rs` checks it): `timestamp_json`, `log_text`, `limits`,
//! `identifiers`, `invalid_event`, `money`, `json_fields` → `events`, `event_parser` → `records`, `tombstone` →
//! `aggregate` (recording facts) → `completion`, `lifecycle` (the rule, settling, late events, compaction) →
//! `notification`, `status_report`.

pub mod aggregate;
pub mod completion;
pub mod event_parser;
pub mod events;
pub mod identifiers;
pub mod invalid_event;
mod json_fields;
pub mod lifecycle;
pub mod limits;
pub mod log_text;
pub mod money;
pub mod notification;
pub mod records;
pub mod status_report;
pub mod timestamp_json;
pub mod tombstone;

pub use aggregate::{accepted_event, Conflict, ReturnAggregate, ReturnStatus};
pub use completion::{missing_pieces, ready_to_settle, MissingPiece};
pub use event_parser::parse_event;
pub use events::{EventPayload, EventType, ItemCondition, ReturnEvent};
pub use identifiers::{EventKey, ReturnId};
pub use invalid_event::{InvalidEvent, InvalidEventRecord, KeptBody, Problem};
pub use lifecycle::{AcceptedCheck, ApplyOutcome, Disposition, DomainConfig, Transition};
pub use limits::Limit;
pub use money::{Currency, Money};
pub use notification::{ReturnLateEventAlert, ReturnSettledNotification, ReturnStuckAlert};
pub use records::AcceptedEvent;
pub use status_report::ReturnStatusReport;
