//! Handlers of the functions that are not durable triggers, and the error every invocation can end with.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;

use futures::future::BoxFuture;

use crate::functions::{ActivityInvocationError, EnvelopeError, FailureKind, InvokeRequest, InvokeResponse};

/// A failed invocation, with the [`FailureKind`] that decides the status of the answer.
///
/// ```
/// use durabletask_sdk::functions::{FailureKind, InvocationError};
///
/// let error = InvocationError::new(FailureKind::Unavailable, "the engine is unreachable");
/// assert_eq!(error.status_code(), 503);
/// assert_eq!(error.to_string(), "the engine is unreachable");
/// ```
pub struct InvocationError {
    kind: FailureKind,
    error: Box<dyn StdError + Send + Sync>,
}

impl InvocationError {
    /// An error of `kind`; its message (and source) is `error`'s.
    pub fn new(kind: FailureKind, error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind,
            error: error.into(),
        }
    }

    /// The request is malformed (400).
    pub fn bad_request(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new(FailureKind::BadRequest, error)
    }

    /// The handler failed on a well-formed request (500).
    pub fn handler_failed(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new(FailureKind::HandlerFailed, error)
    }

    /// A dependency is unavailable for now (503).
    pub fn unavailable(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new(FailureKind::Unavailable, error)
    }

    /// No function named `function` is served (404).
    pub fn unknown_function(function: &str) -> Self {
        Self::new(
            FailureKind::NotFound,
            format!("no function named '{function}' is served by this handler"),
        )
    }

    /// Whose fault it is.
    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// The HTTP status of the answer.
    pub fn status_code(&self) -> u16 {
        self.kind.status_code()
    }
}

impl fmt::Debug for InvocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvocationError")
            .field("kind", &self.kind)
            .field("error", &self.error)
            .finish()
    }
}

impl fmt::Display for InvocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl StdError for InvocationError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error.source()
    }
}

impl From<EnvelopeError> for InvocationError {
    fn from(error: EnvelopeError) -> Self {
        Self::new(error.kind(), error)
    }
}

impl From<ActivityInvocationError> for InvocationError {
    fn from(error: ActivityInvocationError) -> Self {
        Self::new(error.kind(), error)
    }
}

/// Serves the invocations of one function that is not a durable trigger (Service Bus, timer, HTTP, …).
///
/// Implemented by every `Fn(InvokeRequest) -> impl Future<Output = Result<InvokeResponse, InvocationError>>`, so
/// an async closure capturing the app's state is a handler.
pub trait FunctionHandler: Send + Sync + 'static {
    /// Answers one invocation.
    fn call(&self, request: InvokeRequest) -> BoxFuture<'static, Result<InvokeResponse, InvocationError>>;
}

impl<F, Fut> FunctionHandler for F
where
    F: Fn(InvokeRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<InvokeResponse, InvocationError>> + Send + 'static,
{
    fn call(&self, request: InvokeRequest) -> BoxFuture<'static, Result<InvokeResponse, InvocationError>> {
        Box::pin(self(request))
    }
}
