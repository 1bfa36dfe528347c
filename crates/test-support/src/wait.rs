//! Waiting on conditions with deadlines: tests poll what they wait for, never sleep a guessed time.

use std::future::Future;
use std::time::Duration;

/// How often conditions are polled.
const POLL: Duration = Duration::from_millis(10);

/// Polls `condition` until it holds; panics naming `what` once `limit` has passed.
pub async fn until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Polls the async `probe` until it returns `Some`, and returns that; panics naming `what` once `limit` has passed.
pub async fn until_some<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}
