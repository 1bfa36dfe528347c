//! The error of [`parse_event`](super::parse_event): which field is wrong and how.

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
