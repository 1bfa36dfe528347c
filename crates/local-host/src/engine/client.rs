//! The gRPC client of the durable engine (`TaskHubSidecarService`, plaintext HTTP/2), with a deadline on
//! every unary call (the in-memory engine fails waits that have none).

use std::time::Duration;

use durabletask_sdk::proto::task_hub_sidecar_service_client::TaskHubSidecarServiceClient;
use tonic::transport::{Channel, Endpoint};

/// The engine client type.
pub type SidecarClient = TaskHubSidecarServiceClient<Channel>;

/// The deadline of unary engine calls.
pub const UNARY_DEADLINE: Duration = Duration::from_secs(10);

/// The largest message accepted from the engine (histories of long orchestrations can be big).
const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// An engine address that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid engine address \"{address}\": {problem}")]
pub struct EngineAddressError {
    /// The address given.
    pub address: String,
    /// What is wrong.
    pub problem: String,
}

/// Normalises an engine address: `host:port` or `http://host:port`.
pub fn engine_url(address: &str) -> String {
    if address.starts_with("http://") || address.starts_with("https://") {
        address.trim_end_matches('/').to_owned()
    } else {
        format!("http://{}", address.trim_end_matches('/'))
    }
}

/// A client that connects on first use and reconnects by itself after the engine restarts.
pub fn connect_lazy(address: &str) -> Result<SidecarClient, EngineAddressError> {
    let url = engine_url(address);
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|error| EngineAddressError {
            address: address.to_owned(),
            problem: error.to_string(),
        })?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    Ok(TaskHubSidecarServiceClient::new(endpoint.connect_lazy())
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE))
}

/// A request with the unary deadline set.
pub fn with_deadline<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(UNARY_DEADLINE);
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(engine_url("127.0.0.1:4001"), "http://127.0.0.1:4001");
        assert_eq!(engine_url("http://localhost:4001/"), "http://localhost:4001");
        assert!(connect_lazy("not a url").is_err());
    }
}
