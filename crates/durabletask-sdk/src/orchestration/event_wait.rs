//! [`TimedEventWait`]: a wait for an external event that gives up after a timeout, as
//! [`OrchestrationContext::wait_for_external_event_with_timeout`](super::OrchestrationContext::wait_for_external_event_with_timeout)
//! returns it.
//!
//! The semantics are those of the official SDKs that implement the timeout in the executor (durabletask-java's
//! `waitForExternalEvent(name, timeout)`, durabletask-go's `WaitForSingleEvent(name, timeout)`):
//!
//! * an event of that name that already arrived is taken at once, and no timer is created;
//! * a zero timeout without such an event times out at once, and no timer is created;
//! * otherwise the wait is registered and a durable timer is created (the next sequence number; chained when
//!   longer than the maximum timer interval). Whichever finishes first decides: the event's payload, or
//!   [`TaskError::EventTimedOut`]. When the timer wins, the wait is withdrawn, so the next event of that name goes
//!   to the next wait (or is kept for one); when the event wins, the timer stays scheduled and its firing is
//!   ignored.
//!
//! durabletask-dotnet's `WaitForExternalEvent(name, timeout)` differs in one point: it always creates the timer,
//! before registering the wait, even when the event already arrived or the timeout is zero. durabletask-python
//! 1.12.0 has no timeout parameter; its waits can be cancelled, and the conformance tests compose the same
//! behaviour from a wait, a timer and a cancellation.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::task::DurableFuture;
use crate::failure::TaskError;

/// A wait for an external event with a timeout; resolves to the event's payload decoded as `T`, or
/// [`TaskError::EventTimedOut`].
///
/// Dropping it before it finishes withdraws the wait (the timer, once created, still fires, unobserved).
#[must_use = "a durable task does nothing useful unless awaited"]
pub struct TimedEventWait<T> {
    /// The wait; `None` once the timeout won (dropping the wait withdrew it).
    event: Option<DurableFuture<T>>,
    /// The timeout's timer; `None` when no timer was needed (the event had arrived, or the timeout is zero).
    timer: Option<DurableFuture<()>>,
    name: String,
    timeout: Duration,
}

impl<T> TimedEventWait<T> {
    pub(crate) fn new(
        event: Option<DurableFuture<T>>,
        timer: Option<DurableFuture<()>>,
        name: &str,
        timeout: Duration,
    ) -> Self {
        Self {
            event,
            timer,
            name: name.to_string(),
            timeout,
        }
    }

    fn timed_out(&mut self) -> Poll<Result<T, TaskError>> {
        self.event = None;
        self.timer = None;
        Poll::Ready(Err(TaskError::EventTimedOut {
            name: self.name.clone(),
            timeout: self.timeout,
        }))
    }
}

impl<T: DeserializeOwned> Future for TimedEventWait<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(event) = this.event.as_mut() else {
            return this.timed_out();
        };
        if let Poll::Ready(outcome) = Pin::new(event).poll(cx) {
            this.timer = None;
            return Poll::Ready(outcome);
        }
        match this.timer.as_mut() {
            // No timer and no event: a zero timeout.
            None => this.timed_out(),
            Some(timer) => match Pin::new(timer).poll(cx) {
                Poll::Ready(_) => this.timed_out(),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<T> Unpin for TimedEventWait<T> {}
