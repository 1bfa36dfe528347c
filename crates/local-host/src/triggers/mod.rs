//! The other triggers: Service Bus delivery with at-least-once semantics ([`service_bus`]) from message files
//! ([`messages`]), timers fired on request ([`timers`]), and HTTP-triggered functions served on loopback
//! ([`http`]).

pub mod http;
pub mod messages;
pub mod service_bus;
pub mod timers;
