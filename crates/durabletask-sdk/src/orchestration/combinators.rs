//! Deterministic fan-in: [`when_all`] and [`when_any`].
//!
//! Children are polled in the order given, so when several are ready at once the lowest index wins; results keep
//! the input order. Both work with any futures (durable tasks, `async` blocks over them, or a mix).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// Waits for every future; returns all results in input order, or the first failure observed once every future
/// has finished (failures do not cancel the others, matching the other Durable Task SDKs).
///
/// ```
/// # use durabletask_sdk::{Error, OrchestrationContext};
/// use durabletask_sdk::orchestration::when_all;
///
/// async fn fan_out(ctx: OrchestrationContext, items: Vec<u32>) -> Result<u32, Error> {
///     let calls = items.iter().map(|item| ctx.call_activity::<u32>("double", item)).collect();
///     Ok(when_all(calls).await?.into_iter().sum())
/// }
/// ```
pub fn when_all<F, T, E>(futures: Vec<F>) -> WhenAll<F, T, E>
where
    F: Future<Output = Result<T, E>> + Unpin,
{
    let pending = futures.len();
    let ready = Arc::new(ReadyChildren::default());
    let wakers = (0..pending)
        .map(|index| {
            Waker::from(Arc::new(ChildWaker {
                index,
                ready: ready.clone(),
            }))
        })
        .collect();
    WhenAll {
        children: futures.into_iter().map(Some).collect(),
        results: std::iter::repeat_with(|| None).take(pending).collect(),
        first_error: None,
        pending,
        ready,
        wakers,
        started: false,
    }
}

/// The future returned by [`when_all`].
///
/// Each child is polled with its own waker, so when one task finishes only that child is polled again: waiting for
/// n tasks costs O(n) polls in all, not O(n²).
#[must_use = "futures do nothing unless awaited"]
pub struct WhenAll<F, T, E> {
    children: Vec<Option<F>>,
    results: Vec<Option<T>>,
    first_error: Option<E>,
    pending: usize,
    ready: Arc<ReadyChildren>,
    wakers: Vec<Waker>,
    started: bool,
}

/// The children woken since the last poll, and the waker of the task polling the combinator.
#[derive(Default)]
struct ReadyChildren {
    indices: Mutex<Vec<usize>>,
    parent: Mutex<Option<Waker>>,
}

struct ChildWaker {
    index: usize,
    ready: Arc<ReadyChildren>,
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.ready.indices).push(self.index);
        if let Some(parent) = lock(&self.ready.parent).as_ref() {
            parent.wake_by_ref();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<F, T, E> Unpin for WhenAll<F, T, E> {}

impl<F, T, E> WhenAll<F, T, E>
where
    F: Future<Output = Result<T, E>> + Unpin,
{
    fn poll_child(&mut self, index: usize) {
        let Some(future) = self.children[index].as_mut() else {
            return;
        };
        let mut cx = Context::from_waker(&self.wakers[index]);
        if let Poll::Ready(outcome) = Pin::new(future).poll(&mut cx) {
            self.children[index] = None;
            self.pending -= 1;
            match outcome {
                Ok(value) => self.results[index] = Some(value),
                Err(error) => {
                    if self.first_error.is_none() {
                        self.first_error = Some(error);
                    }
                }
            }
        }
    }
}

impl<F, T, E> Future for WhenAll<F, T, E>
where
    F: Future<Output = Result<T, E>> + Unpin,
{
    type Output = Result<Vec<T>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        *lock(&this.ready.parent) = Some(cx.waker().clone());
        let mut woken = std::mem::take(&mut *lock(&this.ready.indices));
        if !this.started || woken.is_empty() {
            // The first poll, or a poll nobody announced (a child future that does not use wakers): poll them all.
            this.started = true;
            woken = (0..this.children.len()).collect();
        } else {
            // Lowest index first, so simultaneous completions are handled in a deterministic order.
            woken.sort_unstable();
            woken.dedup();
        }
        for index in woken {
            this.poll_child(index);
        }
        if this.pending > 0 {
            return Poll::Pending;
        }
        if let Some(error) = this.first_error.take() {
            return Poll::Ready(Err(error));
        }
        Poll::Ready(Ok(this
            .results
            .iter_mut()
            .map(|r| r.take().expect("every child finished"))
            .collect()))
    }
}

/// Waits for the first future to finish (successfully or not) and returns its index and output. The others keep
/// running (durable tasks cannot be un-scheduled); drop them or await them later.
///
/// ```
/// # use std::time::Duration;
/// # use durabletask_sdk::{Error, OrchestrationContext};
/// use durabletask_sdk::orchestration::when_any;
///
/// async fn approval(ctx: OrchestrationContext, _input: ()) -> Result<bool, Error> {
///     let approved = Box::pin(ctx.wait_for_external_event::<bool>("Approval"));
///     let timeout = Box::pin(async {
///         ctx.create_timer_after(Duration::from_secs(3600)).await?;
///         Ok(false)
///     });
///     let futures: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, _>>>>> = vec![approved, timeout];
///     let (_winner, outcome) = when_any(futures).await;
///     Ok(outcome?)
/// }
/// ```
pub fn when_any<F: Future + Unpin>(futures: Vec<F>) -> WhenAny<F> {
    WhenAny { children: futures }
}

/// The future returned by [`when_any`].
#[must_use = "futures do nothing unless awaited"]
pub struct WhenAny<F> {
    children: Vec<F>,
}

impl<F: Future + Unpin> Future for WhenAny<F> {
    type Output = (usize, F::Output);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        for (index, child) in self.children.iter_mut().enumerate() {
            if let Poll::Ready(output) = Pin::new(child).poll(cx) {
                return Poll::Ready((index, output));
            }
        }
        Poll::Pending
    }
}

impl<F> Unpin for WhenAny<F> {}
