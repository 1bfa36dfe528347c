//! The futures an orchestrator awaits. A durable task only makes progress when history says it finished; the
//! executor then wakes the waker the task was last polled with (so combinators re-poll only that child) and polls
//! the orchestrator again.

use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use serde::de::DeserializeOwned;

use super::state::{ReplayState, SlotKey};
use crate::failure::TaskError;
use crate::json;

/// A durable task: an activity, timer, sub-orchestration, entity call or external event, resolving to `T` (decoded
/// from JSON) or a [`TaskError`].
///
/// It is created (and its action decided) when the context method is called, not when it is first awaited, so
/// `let a = ctx.call_activity(..); let b = ctx.call_activity(..);` schedules both before awaiting either.
#[must_use = "a durable task does nothing useful unless awaited"]
pub struct DurableFuture<T> {
    state: Rc<RefCell<ReplayState>>,
    key: SlotKey,
    task_id: i32,
    /// Set once the outcome was taken: nothing is left to release on drop.
    finished: bool,
    _output: PhantomData<fn() -> T>,
}

impl<T> DurableFuture<T> {
    pub(crate) fn new(state: Rc<RefCell<ReplayState>>, key: SlotKey) -> Self {
        let task_id = match key {
            SlotKey::Sequence(id) | SlotKey::LongTimer(id) => id,
            SlotKey::Event(_) => -1,
        };
        Self {
            state,
            key,
            task_id,
            finished: false,
            _output: PhantomData,
        }
    }

    /// The task's sequence number (-1 for external events, which have none).
    pub fn task_id(&self) -> i32 {
        self.task_id
    }

    pub(crate) fn state(&self) -> &Rc<RefCell<ReplayState>> {
        &self.state
    }
}

impl<T: DeserializeOwned> Future for DurableFuture<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let outcome = self.state.borrow_mut().poll_outcome(self.key, cx.waker());
        if outcome.is_some() {
            self.finished = true;
        }
        match outcome {
            None => Poll::Pending,
            Some(Err(error)) => Poll::Ready(Err(error)),
            Some(Ok(payload)) => Poll::Ready(json::decode(payload.as_deref()).map_err(|e| TaskError::InvalidResult {
                task_id: self.task_id,
                message: e.to_string(),
            })),
        }
    }
}

impl<T> Unpin for DurableFuture<T> {}

/// Dropping a task that has not finished stops waiting for it (see `ReplayState::release`). The decision it stood
/// for stays: a scheduled activity still runs, a timer still fires; only an external event wait gives up its
/// place in line.
impl<T> Drop for DurableFuture<T> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // The executor never holds the state borrowed while user code (and so a drop) can run; if that ever
        // changes, skipping the release only keeps a dead slot around.
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.release(self.key);
        }
    }
}

/// A boxed durable task built from several steps (a retried call, a timer longer than the engine's maximum).
#[must_use = "a durable task does nothing useful unless awaited"]
pub struct CompositeTask<T> {
    inner: Pin<Box<dyn Future<Output = Result<T, TaskError>>>>,
}

impl<T> CompositeTask<T> {
    pub(crate) fn new(inner: impl Future<Output = Result<T, TaskError>> + 'static) -> Self {
        Self { inner: Box::pin(inner) }
    }
}

impl<T> Future for CompositeTask<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}
