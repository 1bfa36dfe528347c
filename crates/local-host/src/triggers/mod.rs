//! The other triggers: Service Bus delivery with at-least-once semantics ([`service_bus`]) from message files
//! ([`messages`]) with the audit copy of every message sent ([`audit`]), timers fired on request ([`timers`]), and
//! HTTP-triggered functions served on loopback ([`http`]).

pub mod audit;
pub mod http;
pub mod messages;
pub mod service_bus;
pub mod timers;
