//! Why a worker stopped with an error.

use crate::client::ClientError;

/// Why [`Worker::run`](super::Worker::run) returned an error. Lost connections are not errors: the worker
/// reconnects, unless [`WorkerOptions::max_reconnect_attempts`](super::WorkerOptions::max_reconnect_attempts)
/// says to give up.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The endpoint URL or an option cannot be used.
    #[error("invalid worker configuration: {0}")]
    InvalidConfig(#[source] ClientError),
    /// The work-item filter names something that is not registered.
    #[error("invalid worker configuration: {0}")]
    InvalidWorkItemFilter(#[from] super::UnregisteredFilterName),
    /// The engine could not be reached (or kept dropping the stream) for the allowed number of attempts.
    #[error(
        "gave up on the durable engine at {endpoint} after {attempts} failed attempts; last failure: {last_failure}"
    )]
    GaveUp {
        /// The engine's endpoint.
        endpoint: String,
        /// How many consecutive attempts failed.
        attempts: u32,
        /// What went wrong the last time.
        last_failure: String,
    },
}
