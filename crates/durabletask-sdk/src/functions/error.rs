//! Errors of the custom-handler envelope: where the value that could not be decoded sits, and what was
//! wrong with it.

use std::fmt;

use serde_json::Value;

/// Where in an invocation a value sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueLocation {
    /// The invocation body.
    Body,
    /// `Data[<name>]`: an input binding, the trigger included.
    Binding(String),
    /// `Metadata[<key>]`: trigger metadata.
    Metadata(String),
    /// A value decoded on its own, not (yet) attributed to a binding or a metadata key.
    Value,
}

impl fmt::Display for ValueLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueLocation::Body => f.write_str("invocation body"),
            ValueLocation::Binding(name) => write!(f, "binding '{name}'"),
            ValueLocation::Metadata(key) => write!(f, "metadata '{key}'"),
            ValueLocation::Value => f.write_str("binding value"),
        }
    }
}

/// What was wrong with a value.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeProblem {
    /// The value is absent.
    #[error("it is missing")]
    Missing,
    /// The value has the wrong JSON type.
    #[error("expected {expected}, found {found}")]
    UnexpectedShape {
        /// What was expected, e.g. "a base64 string".
        expected: &'static str,
        /// The JSON type found, e.g. "an object".
        found: &'static str,
    },
    /// The text is not the JSON that was expected.
    #[error("expected {expected}: {source}")]
    InvalidJson {
        /// What was expected, e.g. "JSON text" or "a durableClient binding object".
        expected: &'static str,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// The text is not standard base64.
    #[error("expected standard base64 text: {0}")]
    InvalidBase64(#[source] base64::DecodeError),
    /// The bytes are not the protobuf message that was expected.
    #[error("expected a protobuf {message}: {source}")]
    InvalidProtobuf {
        /// The message type, e.g. "OrchestratorRequest".
        message: &'static str,
        /// The decoder's complaint.
        #[source]
        source: prost::DecodeError,
    },
    /// The text is not a valid value of the expected kind (an integer, a date, …).
    #[error("{0}")]
    InvalidText(String),
    /// The bytes decode, but to an empty message: nothing the handler could act on.
    #[error("the {message} is empty (no bytes after base64 decoding)")]
    EmptyMessage {
        /// The message type, e.g. "OrchestratorRequest".
        message: &'static str,
    },
    /// The message lacks a field every real request carries.
    #[error("the {message} has no {field}")]
    MissingField {
        /// The message type, e.g. "EntityBatchRequest".
        message: &'static str,
        /// The protocol's name of the field, e.g. "instanceId".
        field: &'static str,
    },
}

/// How a handler answers the host when an invocation fails. The Functions host treats every non-2xx alike (a
/// failed invocation: Service Bus retries the message, the Durable extension fails the task), so the status is for
/// the people reading the host's logs: it says whether the request or the handler is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The request is malformed or incomplete (400): sending the same request again cannot succeed.
    BadRequest,
    /// No function of the requested name is served (404).
    NotFound,
    /// The handler failed on a well-formed request (500).
    HandlerFailed,
    /// A dependency (the durable engine) is unavailable for now (503): a retry may succeed.
    Unavailable,
}

impl FailureKind {
    /// The HTTP status code of the answer.
    pub const fn status_code(self) -> u16 {
        match self {
            FailureKind::BadRequest => 400,
            FailureKind::NotFound => 404,
            FailureKind::HandlerFailed => 500,
            FailureKind::Unavailable => 503,
        }
    }
}

/// A binding value or metadata entry that could not be decoded. The message names the binding or key,
/// e.g. "binding 'context': expected a base64 string, found an object".
#[derive(Debug, thiserror::Error)]
#[error("{location}: {problem}")]
pub struct EnvelopeError {
    location: ValueLocation,
    problem: EnvelopeProblem,
}

impl EnvelopeError {
    /// An error at `location`.
    pub fn new(location: ValueLocation, problem: EnvelopeProblem) -> Self {
        Self { location, problem }
    }

    /// The same problem, attributed to the input binding `name`.
    pub fn in_binding(self, name: &str) -> Self {
        Self::new(ValueLocation::Binding(name.to_string()), self.problem)
    }

    /// The same problem, attributed to the metadata key `key`.
    pub fn in_metadata(self, key: &str) -> Self {
        Self::new(ValueLocation::Metadata(key.to_string()), self.problem)
    }

    /// Where the value sits.
    pub fn location(&self) -> &ValueLocation {
        &self.location
    }

    /// What was wrong with it.
    pub fn problem(&self) -> &EnvelopeProblem {
        &self.problem
    }

    /// Always [`FailureKind::BadRequest`]: a value that cannot be decoded is the request's fault.
    pub fn kind(&self) -> FailureKind {
        FailureKind::BadRequest
    }

    /// A problem with a value not yet attributed to a binding or key.
    pub(crate) fn value(problem: EnvelopeProblem) -> Self {
        Self::new(ValueLocation::Value, problem)
    }

    /// The value has the wrong JSON type.
    pub(crate) fn shape(expected: &'static str, found: &Value) -> Self {
        Self::value(EnvelopeProblem::UnexpectedShape {
            expected,
            found: json_kind(found),
        })
    }
}

/// The JSON type of a value, with its article, for messages.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_binding_and_the_problem() {
        let error = EnvelopeError::shape("a base64 string", &serde_json::json!({})).in_binding("context");
        assert_eq!(
            error.to_string(),
            "binding 'context': expected a base64 string, found an object"
        );
        let error = EnvelopeError::value(EnvelopeProblem::Missing).in_metadata("MessageId");
        assert_eq!(error.to_string(), "metadata 'MessageId': it is missing");
    }
}
