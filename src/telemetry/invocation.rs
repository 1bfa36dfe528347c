//! The span of one invocation from the host (`function`, `invocation_id`: context for the logs, not exported),
//! with the host's W3C trace headers handed to the SDK, whose activity spans take them as their parent.

use std::future::Future;

use axum::http::HeaderMap;
use durabletask_sdk::tracing_spans::activity::with_invocation_headers;
use tracing::Instrument as _;

/// The host's invocation id header.
pub const INVOCATION_ID_HEADER: &str = "x-azure-functions-invocationid";

/// Runs `work` (the invocation of `function`) inside its span, with the request's trace headers at hand.
pub async fn scope<F: Future>(function: &str, headers: &HeaderMap, work: F) -> F::Output {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let span = tracing::info_span!(
        target: "returns_aggregator::invocation",
        "invocation",
        function,
        invocation_id = header(INVOCATION_ID_HEADER).unwrap_or(""),
    );
    with_invocation_headers(header("traceparent"), header("tracestate"), work.instrument(span)).await
}
