//! [`CallTask`]: the task of a call to an activity or a sub-orchestration, which can be awaited as it is or
//! retried with [`CallTask::with_retry`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::de::DeserializeOwned;

use super::context::OrchestrationContext;
use super::retry::RetryPolicy;
use super::task::{CompositeTask, DurableFuture};
use crate::failure::TaskError;

/// What was called, kept so that a retry can make the same call again.
#[derive(Debug, Clone)]
pub(crate) enum Call {
    Activity {
        name: String,
        input: Option<String>,
    },
    SubOrchestration {
        name: String,
        input: Option<String>,
        /// The instance id of the first attempt; every retry targets the same instance.
        instance_id: String,
    },
}

/// The task of a call to an activity or a sub-orchestration, resolving to `T` (decoded from JSON) or a
/// [`TaskError`].
///
/// Await it as it is, or make it retry on failure with [`with_retry`](Self::with_retry). Like every durable task,
/// the call is scheduled when the context method is called, not when the task is first awaited.
#[must_use = "a durable task does nothing useful unless awaited"]
pub struct CallTask<T> {
    first: DurableFuture<T>,
    ctx: OrchestrationContext,
    call: Call,
}

impl<T> CallTask<T> {
    pub(crate) fn new(first: DurableFuture<T>, ctx: OrchestrationContext, call: Call) -> Self {
        Self { first, ctx, call }
    }

    /// The sequence number of the call.
    pub fn task_id(&self) -> i32 {
        self.first.task_id()
    }
}

impl<T: DeserializeOwned + 'static> CallTask<T> {
    /// Retries the call on failure according to `policy`, waiting the policy's delays on durable timers (so a
    /// retried call survives restarts and costs nothing while it waits). A failure marked non-retriable, the last
    /// allowed attempt or the policy's timeout ends the retries; the task then fails with the last failure.
    ///
    /// ```
    /// # use std::time::Duration;
    /// use durabletask_sdk::prelude::*;
    ///
    /// async fn publish(ctx: OrchestrationContext, message: String) -> Result<(), Error> {
    ///     let policy = RetryPolicy::new(5, Duration::from_secs(10)).with_backoff_coefficient(2.0);
    ///     ctx.call_activity::<()>("Publish", &message).with_retry(policy).await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn with_retry(self, policy: RetryPolicy) -> CompositeTask<T> {
        let CallTask { first, ctx, call } = self;
        CompositeTask::new(retry_loop(ctx, policy, first, call))
    }
}

impl<T: DeserializeOwned> Future for CallTask<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.first).poll(cx)
    }
}

impl<T> Unpin for CallTask<T> {}

/// Awaits `first`; on failure waits the policy's delay on a durable timer and makes the call again.
async fn retry_loop<T: DeserializeOwned>(
    ctx: OrchestrationContext,
    policy: RetryPolicy,
    first: DurableFuture<T>,
    call: Call,
) -> Result<T, TaskError> {
    let started_at = ctx.current_utc_datetime();
    let mut current = first;
    let mut attempt_number = 1;
    loop {
        let error = match current.await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        attempt_number += 1;
        let non_retriable = error.failure_details().is_some_and(|d| d.is_non_retriable);
        let timed_out = policy.retry_timeout().is_some_and(|timeout| {
            chrono::Duration::from_std(timeout)
                .ok()
                .and_then(|timeout| started_at.checked_add_signed(timeout))
                .is_some_and(|deadline| ctx.current_utc_datetime() >= deadline)
        });
        let delay = match policy.delay_before_attempt(attempt_number) {
            Some(delay) if !non_retriable && !timed_out => delay,
            _ => return Err(error),
        };
        ctx.create_timer_after(delay).await?;
        current = match &call {
            Call::Activity { name, input } => ctx.schedule_activity::<T>(name, input.clone()).first,
            Call::SubOrchestration {
                name,
                input,
                instance_id,
            } => {
                ctx.schedule_sub_orchestration::<T>(name, input.clone(), Some(instance_id.clone()))
                    .first
            }
        };
    }
}
