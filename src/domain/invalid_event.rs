//! The error of [`parse_event`](super::parse_event): which field is wrong and how; and the record that keeps a
//! refused event on the invalid-events queue.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A message that is not a valid event. Displays as `"<field>: <problem>"`, for example
/// `items[2].quantity: must be a positive integer, got 0` or `body: not JSON (expected value at line 1 column 1)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidEvent {
    field: String,
    problem: Problem,
}

/// What is wrong with the field named by an [`InvalidEvent`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The body is not JSON at all.
    #[error("not JSON ({0})")]
    NotJson(String),
    /// A required field is absent (or `null`).
    #[error("missing")]
    Missing,
    /// The event type is not one this build knows.
    #[error("unknown type '{0}'")]
    UnknownEventType(String),
    /// The event declares a schema major version this build does not read.
    #[error("unsupported major version {0} (this build reads version 1)")]
    UnsupportedSchemaVersion(u64),
    /// The field is present but its value breaks a rule (the text says which).
    #[error("{0}")]
    InvalidValue(String),
}

impl InvalidEvent {
    /// A field-level error.
    pub fn new(field: impl Into<String>, problem: Problem) -> Self {
        Self {
            field: field.into(),
            problem,
        }
    }

    /// A present field with a bad value: `problem` completes the sentence `"<field>: …"`.
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::new(field, Problem::InvalidValue(problem.into()))
    }

    /// A required field that is absent.
    pub fn missing(field: impl Into<String>) -> Self {
        Self::new(field, Problem::Missing)
    }

    /// The path of the offending field (`returnId`, `items[2].quantity`, `body`).
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// A short stable code for dead-letter reasons and metrics: `NotJson`, `MissingField`, `UnknownEventType`,
    /// `UnsupportedSchemaVersion` or `InvalidField`.
    pub fn reason_code(&self) -> &'static str {
        match self.problem {
            Problem::NotJson(_) => "NotJson",
            Problem::Missing => "MissingField",
            Problem::UnknownEventType(_) => "UnknownEventType",
            Problem::UnsupportedSchemaVersion(_) => "UnsupportedSchemaVersion",
            Problem::InvalidValue(_) => "InvalidField",
        }
    }
}

/// An event kept on the invalid-events queue: what was refused, why, by whom, and the original body, so a person
/// can find it, fix it and send it again.
///
/// The Service Bus function keeps events that fail [`parse_event`](super::parse_event); the aggregate entity keeps
/// the few it cannot record (an event for another return, a return at one of its limits, an
/// operation it cannot read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvalidEventRecord {
    /// A short stable code: an [`InvalidEvent::reason_code`], or the entity's (`ReturnTooLarge`, `WrongReturn`…).
    pub reason: String,
    /// The offending field's path (`body` when the event as a whole is refused).
    pub field: String,
    /// The whole explanation, `"<field>: <problem>"`.
    pub error: String,
    /// The Service Bus message id, when known.
    pub message_id: Option<String>,
    /// The Service Bus subject, when known.
    pub subject: Option<String>,
    /// The delivery count of the message, when known.
    pub delivery_count: Option<i64>,
    /// The return the event was meant for, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_id: Option<String>,
    /// The function that refused it, when not the Service Bus trigger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_by: Option<String>,
    /// When it was refused.
    #[serde(with = "super::timestamp_json")]
    pub rejected_at: DateTime<Utc>,
    /// The original body.
    pub body: KeptBody,
}

/// A message body as kept: the text when it is UTF-8, else base64 (`{"text": …}` or `{"base64": …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KeptBody {
    /// The body as UTF-8 text.
    Text(String),
    /// The body's bytes in base64, when they are not UTF-8.
    Base64(String),
}

impl KeptBody {
    /// The body of `bytes`: text when they are UTF-8.
    pub fn of(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => KeptBody::Text(text.to_owned()),
            Err(_) => KeptBody::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    /// Like [`KeptBody::of`], taking the bytes over: a UTF-8 body (up to 100 MB) is kept without a copy.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        match String::from_utf8(bytes) {
            Ok(text) => KeptBody::Text(text),
            Err(error) => KeptBody::Base64(base64::engine::general_purpose::STANDARD.encode(error.into_bytes())),
        }
    }
}
