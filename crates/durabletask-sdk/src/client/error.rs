//! The error type of every durable client call, with the retry-or-give-up decision built in.

use tonic::{Code, Status};

use crate::json::PayloadError;

/// Why a durable client call failed.
///
/// [`ClientError::is_transient`] tells callers whether trying again later can succeed (the engine was
/// unreachable, too slow or overloaded) or whether the request itself is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint URL or a client option cannot be used (bad URL, a header value that is not ASCII).
    #[error("invalid durable client configuration: {message}")]
    InvalidConfig {
        /// What is wrong.
        message: String,
    },
    /// The connection to the engine could not be established.
    #[error("cannot connect to the durable engine at {endpoint}: {source}")]
    Transport {
        /// The endpoint that was dialled.
        endpoint: String,
        /// The transport failure.
        #[source]
        source: tonic::transport::Error,
    },
    /// The engine is unreachable or refused the call (`UNAVAILABLE`).
    #[error("{rpc}: the durable engine is unavailable: {message}")]
    Unavailable {
        /// The RPC that failed.
        rpc: &'static str,
        /// The status message.
        message: String,
    },
    /// The call's deadline passed before the engine answered.
    #[error("{rpc}: no answer from the durable engine before the deadline: {message}")]
    DeadlineExceeded {
        /// The RPC that failed.
        rpc: &'static str,
        /// The status message.
        message: String,
    },
    /// The instance to create already exists (`ALREADY_EXISTS`).
    #[error("{rpc}: already exists: {message}")]
    AlreadyExists {
        /// The RPC that failed.
        rpc: &'static str,
        /// The status message.
        message: String,
    },
    /// The instance does not exist (`NOT_FOUND`).
    #[error("{rpc}: not found: {message}")]
    NotFound {
        /// The RPC that failed.
        rpc: &'static str,
        /// The status message.
        message: String,
    },
    /// The request was rejected as malformed, by the engine (`INVALID_ARGUMENT`) or before it was sent.
    #[error("{rpc}: invalid argument: {message}")]
    InvalidArgument {
        /// The RPC that failed (or would have been called).
        rpc: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Any other gRPC failure.
    #[error("{rpc}: the durable engine answered {code:?}: {message}")]
    Rpc {
        /// The RPC that failed.
        rpc: &'static str,
        /// The gRPC status code.
        code: Code,
        /// The status message.
        message: String,
    },
    /// The request is larger than [`ClientOptions::max_send_message_size`](super::ClientOptions) allows; it was
    /// not sent.
    #[error("{rpc}: the request is {size} bytes, above the client's send limit of {limit} bytes")]
    RequestTooLarge {
        /// The RPC that would have been called.
        rpc: &'static str,
        /// The encoded size of the request.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The engine's answer could not be understood (for example an unknown orchestration status).
    #[error("{rpc}: unexpected answer from the durable engine: {message}")]
    UnexpectedResponse {
        /// The RPC whose answer was unexpected.
        rpc: &'static str,
        /// What was unexpected.
        message: String,
    },
    /// A payload could not be encoded to or decoded from JSON.
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

impl ClientError {
    /// True when the same call may succeed if retried later: the engine was unreachable, timed out,
    /// was overloaded, or failed internally.
    ///
    /// `INTERNAL` and `UNKNOWN` count as transient because the Functions extension reports storage
    /// outages that way; a caller fed by a queue loses nothing by retrying, since the queue dead-letters
    /// a message after its maximum delivery count.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport { .. } | ClientError::Unavailable { .. } | ClientError::DeadlineExceeded { .. } => {
                true
            }
            ClientError::Rpc { code, .. } => matches!(
                code,
                Code::ResourceExhausted | Code::Aborted | Code::Internal | Code::Unknown | Code::Cancelled
            ),
            ClientError::InvalidConfig { .. }
            | ClientError::AlreadyExists { .. }
            | ClientError::NotFound { .. }
            | ClientError::InvalidArgument { .. }
            | ClientError::RequestTooLarge { .. }
            | ClientError::UnexpectedResponse { .. }
            | ClientError::Payload(_) => false,
        }
    }

    /// Classifies the status a call to `rpc` ended with.
    pub(crate) fn from_status(rpc: &'static str, status: Status) -> Self {
        let message = status.message().to_string();
        match status.code() {
            Code::Unavailable => ClientError::Unavailable { rpc, message },
            Code::DeadlineExceeded => ClientError::DeadlineExceeded { rpc, message },
            // tonic reports its own client-side deadline as CANCELLED with the `TimeoutExpired` text.
            Code::Cancelled if message == tonic::TimeoutExpired(()).to_string() => {
                ClientError::DeadlineExceeded { rpc, message }
            }
            Code::AlreadyExists => ClientError::AlreadyExists { rpc, message },
            Code::NotFound => ClientError::NotFound { rpc, message },
            Code::InvalidArgument => ClientError::InvalidArgument { rpc, message },
            code => ClientError::Rpc { rpc, code, message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_variants_with_the_right_retry_decision() {
        let cases = [
            (Status::unavailable("down"), true),
            (Status::deadline_exceeded("slow"), true),
            (Status::cancelled(tonic::TimeoutExpired(()).to_string()), true),
            (Status::internal("storage"), true),
            (Status::already_exists("dup"), false),
            (Status::not_found("gone"), false),
            (Status::invalid_argument("bad"), false),
            (Status::failed_precondition("state"), false),
            (Status::unimplemented("no"), false),
        ];
        for (status, transient) in cases {
            let code = status.code();
            let error = ClientError::from_status("StartInstance", status);
            assert_eq!(error.is_transient(), transient, "{code:?} -> {error}");
            assert!(error.to_string().starts_with("StartInstance: "), "{error}");
        }
    }

    #[test]
    fn client_side_timeouts_are_deadline_errors() {
        let error = ClientError::from_status("GetInstance", Status::cancelled(tonic::TimeoutExpired(()).to_string()));
        assert!(matches!(error, ClientError::DeadlineExceeded { .. }), "{error:?}");
    }
}
