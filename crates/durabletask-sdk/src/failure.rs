//! Failure details and the error type user code returns.
//!
//! [`FailureDetails`] is the wire-level description of a failure (`TaskFailureDetails`). [`Error`] is what
//! orchestrators, activities and entity operations return: any `std::error::Error` converts into it with
//! `?`, keeping its type name, message and source chain, and task failures ([`TaskError`]) keep the failure
//! details of the task that failed as the inner failure.

use std::any::Any;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::proto;

/// The error-type names this SDK writes into failure details, as the engine stores them and as the other
/// Durable Task SDKs name the same failures (so a caller in any language can match on them).
pub mod error_types {
    /// An awaited task (activity, sub-orchestration, entity call) failed and the orchestrator did not handle it.
    pub const TASK_FAILED: &str = "TaskFailedError";
    /// History and the orchestrator disagree about what happened at a sequence number.
    pub const NON_DETERMINISM: &str = "NonDeterminismError";
    /// No orchestrator of the requested name is registered.
    pub const ORCHESTRATOR_NOT_REGISTERED: &str = "OrchestratorNotRegisteredError";
    /// No activity of the requested name is registered.
    pub const ACTIVITY_NOT_REGISTERED: &str = "ActivityNotRegisteredError";
    /// No entity of the requested name is registered.
    pub const ENTITY_NOT_REGISTERED: &str = "EntityNotRegisteredError";
    /// An entity batch named an instance id that is not `@name@key`.
    pub const INVALID_ENTITY_ID: &str = "InvalidEntityIdError";
    /// An orchestration's input could not be decoded into the orchestrator's input type.
    pub const INVALID_INPUT: &str = "InvalidInputError";
    /// A value the orchestrator asked to send could not be encoded as JSON.
    pub const INVALID_PAYLOAD: &str = "InvalidPayloadError";
    /// An entity call failed and the answer did not say how.
    pub const ENTITY_OPERATION_FAILED: &str = "EntityOperationFailed";
    /// The engine's answer to an entity call could not be read.
    pub const INVALID_ENTITY_RESPONSE: &str = "InvalidEntityResponseError";
    /// A wait for an external event timed out and the orchestrator did not handle it.
    pub const EVENT_TIMEOUT: &str = "EventTimeoutError";
    /// A task failed without failure details.
    pub const UNKNOWN: &str = "UnknownError";
    /// User code panicked.
    pub const PANIC: &str = "panic";
}

/// A description of a failure as it travels through the durable engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureDetails {
    /// The name of the error type (for Rust errors, the type name).
    pub error_type: String,
    /// The human-readable message.
    pub message: String,
    /// A stack trace or backtrace, when one is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_trace: Option<String>,
    /// The failure that caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inner: Option<Box<FailureDetails>>,
    /// When true, retry policies do not retry this failure.
    #[serde(default)]
    pub is_non_retriable: bool,
}

impl FailureDetails {
    /// Failure details with a type name and a message.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            message: message.into(),
            stack_trace: None,
            inner: None,
            is_non_retriable: false,
        }
    }

    /// Sets the inner (causing) failure.
    pub fn with_inner(mut self, inner: FailureDetails) -> Self {
        self.inner = Some(Box::new(inner));
        self
    }

    /// Describes a caught panic payload.
    pub fn from_panic(payload: &(dyn Any + Send)) -> Self {
        let message = if let Some(text) = payload.downcast_ref::<&str>() {
            (*text).to_string()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.clone()
        } else {
            "panic with a non-string payload".to_string()
        };
        Self::new(error_types::PANIC, message)
    }
}

impl fmt::Display for FailureDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl From<&proto::TaskFailureDetails> for FailureDetails {
    fn from(details: &proto::TaskFailureDetails) -> Self {
        Self {
            error_type: details.error_type.clone(),
            message: details.error_message.clone(),
            stack_trace: details.stack_trace.clone(),
            inner: details
                .inner_failure
                .as_deref()
                .map(|inner| Box::new(FailureDetails::from(inner))),
            is_non_retriable: details.is_non_retriable,
        }
    }
}

impl From<FailureDetails> for proto::TaskFailureDetails {
    fn from(details: FailureDetails) -> Self {
        proto::TaskFailureDetails {
            error_type: details.error_type,
            error_message: details.message,
            stack_trace: details.stack_trace,
            inner_failure: details.inner.map(|inner| Box::new((*inner).into())),
            is_non_retriable: details.is_non_retriable,
            properties: Default::default(),
        }
    }
}

/// Why an awaited durable task (activity, sub-orchestration, entity call) did not produce a value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TaskError {
    /// The activity failed, after any retries.
    #[error("activity '{name}' (task #{task_id}) failed: {}", details.message)]
    ActivityFailed {
        /// The activity name.
        name: String,
        /// The sequence number of the (last) attempt.
        task_id: i32,
        /// What the activity reported.
        details: FailureDetails,
    },
    /// The sub-orchestration failed, after any retries.
    #[error("sub-orchestration '{name}' ({instance_id}, task #{task_id}) failed: {}", details.message)]
    SubOrchestrationFailed {
        /// The orchestrator name.
        name: String,
        /// The sub-orchestration's instance id.
        instance_id: String,
        /// The sequence number of the (last) attempt.
        task_id: i32,
        /// What the sub-orchestration reported.
        details: FailureDetails,
    },
    /// The entity operation failed.
    #[error("operation '{operation}' on entity {entity} failed: {}", details.message)]
    EntityOperationFailed {
        /// The entity instance id (`@name@key`).
        entity: String,
        /// The operation name.
        operation: String,
        /// What the entity reported.
        details: FailureDetails,
    },
    /// A wait for an external event gave up: its timeout passed first (see
    /// [`OrchestrationContext::wait_for_external_event_with_timeout`](crate::OrchestrationContext::wait_for_external_event_with_timeout)).
    #[error("the wait for external event '{name}' timed out after {timeout:?}")]
    EventTimedOut {
        /// The event name.
        name: String,
        /// The timeout.
        timeout: std::time::Duration,
    },
    /// The task finished but its result could not be decoded into the requested type.
    #[error("the result of task #{task_id} could not be decoded: {message}")]
    InvalidResult {
        /// The task's sequence number.
        task_id: i32,
        /// The decoding error.
        message: String,
    },
}

impl TaskError {
    /// The failure details reported by the failed task, when it reported any.
    pub fn failure_details(&self) -> Option<&FailureDetails> {
        match self {
            TaskError::ActivityFailed { details, .. }
            | TaskError::SubOrchestrationFailed { details, .. }
            | TaskError::EntityOperationFailed { details, .. } => Some(details),
            TaskError::InvalidResult { .. } | TaskError::EventTimedOut { .. } => None,
        }
    }
}

/// The error type of orchestrators, activities and entity operations.
///
/// Like `anyhow::Error`, any `std::error::Error` converts into it, so `?` works on every fallible call.
/// It records the error's type name, message and cause chain as [`FailureDetails`], which is what the durable
/// engine stores and what a caller of the failed function receives.
///
/// ```
/// use durabletask_sdk::Error;
///
/// fn parse(text: &str) -> Result<u32, Error> {
///     Ok(text.parse::<u32>()?)
/// }
/// let err = parse("x").unwrap_err();
/// assert!(err.details().error_type.ends_with("ParseIntError"));
/// ```
pub struct Error {
    details: FailureDetails,
}

impl Error {
    /// An error with an explicit type name and message.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            details: FailureDetails::new(error_type, message),
        }
    }

    /// An error with just a message (type name `Error`).
    pub fn msg(message: impl Into<String>) -> Self {
        Self::new("Error", message)
    }

    /// Marks the error as not worth retrying: retry policies give up at once.
    pub fn non_retriable(mut self) -> Self {
        self.details.is_non_retriable = true;
        self
    }

    /// The failure details this error is reported as.
    pub fn details(&self) -> &FailureDetails {
        &self.details
    }

    /// Consumes the error, returning its failure details.
    pub fn into_details(self) -> FailureDetails {
        self.details
    }
}

impl From<FailureDetails> for Error {
    fn from(details: FailureDetails) -> Self {
        Self { details }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for Error {
    fn from(error: E) -> Self {
        let error_type = std::any::type_name::<E>().to_string();
        let mut details = FailureDetails::new(error_type, error.to_string());
        if let Some(task_error) = (&error as &dyn Any).downcast_ref::<TaskError>() {
            details.error_type = match task_error {
                TaskError::EventTimedOut { .. } => error_types::EVENT_TIMEOUT,
                _ => error_types::TASK_FAILED,
            }
            .to_string();
            details.inner = task_error.failure_details().cloned().map(Box::new);
        } else if let Some(source) = error.source() {
            details.inner = Some(Box::new(chain_details(source, 8)));
        }
        Self { details }
    }
}

fn chain_details(error: &(dyn std::error::Error + 'static), depth: usize) -> FailureDetails {
    let mut details = FailureDetails::new("Error", error.to_string());
    if depth > 0 {
        if let Some(source) = error.source() {
            details.inner = Some(Box::new(chain_details(source, depth - 1)));
        }
    }
    details
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.details, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.details.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_errors_keep_the_failed_task_details_as_inner_failure() {
        let task_error = TaskError::ActivityFailed {
            name: "boom".into(),
            task_id: 1,
            details: FailureDetails::new("ValueError", "boom:7"),
        };
        let error = Error::from(task_error);
        assert_eq!(error.details().error_type, "TaskFailedError");
        assert_eq!(error.details().inner.as_ref().unwrap().message, "boom:7");
    }

    #[test]
    fn failure_details_round_trip_through_proto() {
        let details = FailureDetails::new("A", "a").with_inner(FailureDetails::new("B", "b"));
        let wire: proto::TaskFailureDetails = details.clone().into();
        assert_eq!(FailureDetails::from(&wire), details);
    }

    #[test]
    fn panics_become_failure_details() {
        let payload: Box<dyn Any + Send> = Box::new("it broke");
        assert_eq!(FailureDetails::from_panic(payload.as_ref()).message, "it broke");
    }
}
