//! [`CallTask`]: the task of a call to an activity or a sub-orchestration, which can be awaited as it is or
//! retried with [`CallTask::with_retry`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::context::OrchestrationContext;
use super::retry::RetryPolicy;
use super::task::{CompositeTask, DurableFuture};
use crate::failure::{FailureDetails, TaskError};
use crate::proto;
use crate::proto::orchestrator_action::OrchestratorActionType as Action;

/// The tags of a call: string pairs the engine stores with the task (and shows in its tooling).
pub(crate) type Tags = HashMap<String, String>;

/// What was called, so that a retry can make the same call again. It is read from the call's action only when a
/// retry is asked for, so that calls that are never retried cost no copy.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub kind: CallKind,
    pub name: String,
    pub input: Option<String>,
    pub tags: Tags,
    pub version: Option<String>,
}

/// An activity, or a sub-orchestration with the instance id of its first attempt (every retry targets the same
/// instance).
#[derive(Debug, Clone)]
pub(crate) enum CallKind {
    Activity,
    SubOrchestration { instance_id: String },
}

impl Call {
    /// The call an action stands for, if it is an activity or a sub-orchestration.
    pub(crate) fn of_action(action: &proto::OrchestratorAction) -> Option<Self> {
        match action.orchestrator_action_type.as_ref()? {
            Action::ScheduleTask(task) => Some(Call {
                kind: CallKind::Activity,
                name: task.name.clone(),
                input: task.input.clone(),
                tags: task.tags.clone(),
                version: task.version.clone(),
            }),
            Action::CreateSubOrchestration(create) => Some(Call {
                kind: CallKind::SubOrchestration {
                    instance_id: create.instance_id.clone(),
                },
                name: create.name.clone(),
                input: create.input.clone(),
                tags: create.tags.clone(),
                version: create.version.clone(),
            }),
            _ => None,
        }
    }
}

/// The task of a call to an activity or a sub-orchestration, resolving to `T` (decoded from JSON) or a
/// [`TaskError`].
///
/// Await it as it is, or make it retry on failure with [`with_retry`](Self::with_retry). Like every durable task,
/// the call is scheduled when the context method is called, not when the task is first awaited.
#[must_use = "a durable task does nothing useful unless awaited"]
pub struct CallTask<T> {
    first: DurableFuture<T>,
}

impl<T> CallTask<T> {
    pub(crate) fn new(first: DurableFuture<T>) -> Self {
        Self { first }
    }

    fn context(&self) -> OrchestrationContext {
        OrchestrationContext::new(self.first.state().clone())
    }

    /// The sequence number of the call.
    pub fn task_id(&self) -> i32 {
        self.first.task_id()
    }

    /// Adds tags to the call (and to its retries): string pairs the engine stores with the activity or
    /// sub-orchestration (the `tags` of `scheduleTask` / `createSubOrchestration`), for filtering and tooling.
    /// Chain it right after the call, before awaiting anything: tags travel with the decision when the episode
    /// ends, and a decision already recorded in history is not sent again.
    ///
    /// ```
    /// use durabletask_sdk::prelude::*;
    ///
    /// async fn publish(ctx: OrchestrationContext, message: String) -> Result<(), Error> {
    ///     ctx.call_activity::<()>("Publish", &message).with_tags([("team", "returns")]).await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn with_tags<K, V>(self, tags: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let added: Vec<(String, String)> = tags.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        self.context().add_tags(self.task_id(), added);
        self
    }

    /// Sets the version of the called sub-orchestration (and of its retries), instead of the registry's default
    /// version (see [`VersioningOptions`](super::VersioningOptions)); on an activity call it sets the activity
    /// version the engine records. Chain it right after the call, like [`with_tags`](Self::with_tags).
    ///
    /// ```
    /// use durabletask_sdk::prelude::*;
    ///
    /// async fn parent(ctx: OrchestrationContext, order: String) -> Result<String, Error> {
    ///     Ok(ctx.call_sub_orchestrator("Ship", &order, None).with_version("2.0").await?)
    /// }
    /// ```
    pub fn with_version(self, version: impl Into<String>) -> Self {
        self.context().set_call_version(self.task_id(), version.into());
        self
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
        self.retried(move |attempt| policy_decision(&policy, attempt))
    }

    /// Retries the call on failure as `handler` decides, failure by failure: `Some(delay)` tries again after
    /// `delay` (waited on a durable timer; `Duration::ZERO` tries again at once), `None` gives up with the last
    /// failure. The handler runs inside the orchestrator, so it must decide only from what it is given (the
    /// attempt number, the failure, the orchestration time), never from the clock or randomness. It is asked
    /// about every failure, non-retriable ones included ([`RetryContext::failure`] says which they are).
    ///
    /// ```
    /// # use std::time::Duration;
    /// use durabletask_sdk::prelude::*;
    ///
    /// async fn publish(ctx: OrchestrationContext, message: String) -> Result<(), Error> {
    ///     ctx.call_activity::<()>("Publish", &message)
    ///         .with_retry_handler(|retry| {
    ///             let throttled = retry.failure().is_some_and(|failure| failure.error_type == "Throttled");
    ///             match retry.attempt() {
    ///                 attempt if throttled && attempt < 10 => Some(Duration::from_secs(60)),
    ///                 attempt if attempt < 3 => Some(Duration::ZERO),
    ///                 _ => None,
    ///             }
    ///         })
    ///         .await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn with_retry_handler(
        self,
        handler: impl Fn(&RetryContext<'_>) -> Option<Duration> + 'static,
    ) -> CompositeTask<T> {
        self.retried(move |attempt| match handler(attempt) {
            None => RetryDecision::GiveUp,
            Some(delay) if delay.is_zero() => RetryDecision::Now,
            Some(delay) => RetryDecision::After(delay),
        })
    }

    fn retried(self, decide: impl Fn(&RetryContext<'_>) -> RetryDecision + 'static) -> CompositeTask<T> {
        let ctx = self.context();
        let call = ctx.call_recipe(self.task_id());
        let CallTask { first } = self;
        match call {
            Some(call) => CompositeTask::new(retry_loop(ctx, first, call, decide)),
            // The call's action is always known while its task is unfinished; should it not be, the call runs
            // once.
            None => CompositeTask::new(first),
        }
    }
}

/// What a retry handler knows about a failed attempt.
#[derive(Debug)]
pub struct RetryContext<'a> {
    attempt: u32,
    error: &'a TaskError,
    first_attempt_at: DateTime<Utc>,
    now: DateTime<Utc>,
}

impl RetryContext<'_> {
    /// The number of the attempt that failed (1 for the first call).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// How the attempt failed.
    pub fn error(&self) -> &TaskError {
        self.error
    }

    /// The failure details the activity or sub-orchestration reported (type, message, whether it is
    /// non-retriable), when it reported any.
    pub fn failure(&self) -> Option<&FailureDetails> {
        self.error.failure_details()
    }

    /// The orchestration time now (when the failure was seen).
    pub fn current_utc_datetime(&self) -> DateTime<Utc> {
        self.now
    }

    /// Orchestration time passed since the first attempt was scheduled.
    pub fn elapsed(&self) -> Duration {
        (self.now - self.first_attempt_at).to_std().unwrap_or_default()
    }
}

/// What to do after a failed attempt.
enum RetryDecision {
    GiveUp,
    Now,
    After(Duration),
}

/// A retry policy's decision: give up on a non-retriable failure, after the last attempt or past the timeout;
/// otherwise wait the policy's delay on a durable timer.
fn policy_decision(policy: &RetryPolicy, attempt: &RetryContext<'_>) -> RetryDecision {
    let non_retriable = attempt.failure().is_some_and(|d| d.is_non_retriable);
    let timed_out = policy
        .retry_timeout()
        .is_some_and(|timeout| attempt.elapsed() >= timeout);
    match policy.delay_before_attempt(attempt.attempt + 1) {
        Some(delay) if !non_retriable && !timed_out => RetryDecision::After(delay),
        _ => RetryDecision::GiveUp,
    }
}

impl<T: DeserializeOwned> Future for CallTask<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.first).poll(cx)
    }
}

impl<T> Unpin for CallTask<T> {}

/// Awaits `first`; on failure asks `decide` whether and when to make the call again.
async fn retry_loop<T: DeserializeOwned>(
    ctx: OrchestrationContext,
    first: DurableFuture<T>,
    call: Call,
    decide: impl Fn(&RetryContext<'_>) -> RetryDecision,
) -> Result<T, TaskError> {
    let first_attempt_at = ctx.current_utc_datetime();
    let mut current = first;
    let mut attempt = 1;
    loop {
        let error = match current.await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let context = RetryContext {
            attempt,
            error: &error,
            first_attempt_at,
            now: ctx.current_utc_datetime(),
        };
        match decide(&context) {
            RetryDecision::GiveUp => return Err(error),
            RetryDecision::Now => {}
            RetryDecision::After(delay) => ctx.create_timer_after(delay).await?,
        }
        attempt += 1;
        current = ctx.schedule(call.clone()).first;
    }
}
