//! Deterministic fan-in: [`when_all`] and [`when_any`].
//!
//! Children are polled in the order given, so when several are ready at once the lowest index wins; results keep
//! the input order. Both work with any futures (durable tasks, `async` blocks over them, or a mix).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Waits for every future; returns all results in input order, or the first failure observed once every future
/// has finished (failures do not cancel the others, matching the other Durable Task SDKs).
///
/// ```
/// # use durabletask::{Error, OrchestrationContext};
/// use durabletask::orchestration::when_all;
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
    WhenAll {
        children: futures.into_iter().map(Some).collect(),
        results: std::iter::repeat_with(|| None).take(pending).collect(),
        first_error: None,
        pending,
    }
}

/// The future returned by [`when_all`].
#[must_use = "futures do nothing unless awaited"]
pub struct WhenAll<F, T, E> {
    children: Vec<Option<F>>,
    results: Vec<Option<T>>,
    first_error: Option<E>,
    pending: usize,
}

impl<F, T, E> Unpin for WhenAll<F, T, E> {}

impl<F, T, E> Future for WhenAll<F, T, E>
where
    F: Future<Output = Result<T, E>> + Unpin,
{
    type Output = Result<Vec<T>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        for (index, child) in this.children.iter_mut().enumerate() {
            let Some(future) = child else { continue };
            if let Poll::Ready(outcome) = Pin::new(future).poll(cx) {
                *child = None;
                this.pending -= 1;
                match outcome {
                    Ok(value) => this.results[index] = Some(value),
                    Err(error) => {
                        if this.first_error.is_none() {
                            this.first_error = Some(error);
                        }
                    }
                }
            }
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
/// # use durabletask::{Error, OrchestrationContext};
/// use durabletask::orchestration::when_any;
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
