//! Settings of a durable client: which task hub it addresses, and the limits of every call.

use std::time::Duration;

use crate::functions::DurableClientBinding;

/// The default deadline of each call.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The default time allowed to open the connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default largest response accepted (gRPC's usual 4 MiB).
pub const DEFAULT_MAX_RECEIVE_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// Settings of a [`DurableClient`](super::DurableClient).
///
/// ```
/// use std::time::Duration;
/// use durabletask_sdk::client::ClientOptions;
///
/// let options = ClientOptions::default()
///     .with_task_hub("ReturnsHub")
///     .with_call_timeout(Duration::from_secs(10));
/// assert_eq!(options.task_hub.as_deref(), Some("ReturnsHub"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// The task hub, sent as the `Durable-TaskHub` header when set (the engine's default hub otherwise).
    pub task_hub: Option<String>,
    /// The storage connection name, sent as the `Durable-ConnectionName` header when set.
    pub connection_name: Option<String>,
    /// The deadline of every call except the `wait_for_*` ones, which take their own.
    pub call_timeout: Duration,
    /// How long opening the connection may take.
    pub connect_timeout: Duration,
    /// The largest response message accepted, in bytes.
    pub max_receive_message_size: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            task_hub: None,
            connection_name: None,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_receive_message_size: DEFAULT_MAX_RECEIVE_MESSAGE_SIZE,
        }
    }
}

impl ClientOptions {
    /// Addresses the given task hub.
    pub fn with_task_hub(mut self, task_hub: impl Into<String>) -> Self {
        self.task_hub = Some(task_hub.into());
        self
    }

    /// Uses the given storage connection name.
    pub fn with_connection_name(mut self, connection_name: impl Into<String>) -> Self {
        self.connection_name = Some(connection_name.into());
        self
    }

    /// Sets the deadline of each call.
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Sets how long opening the connection may take.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the largest response message accepted, in bytes.
    pub fn with_max_receive_message_size(mut self, bytes: usize) -> Self {
        self.max_receive_message_size = bytes;
        self
    }

    /// Applies what a `durableClient` binding says: its task hub and connection name, its
    /// `maxGrpcMessageSizeInBytes` as the receive limit, and its `grpcHttpClientTimeout` as an upper bound
    /// of the call deadline (a shorter deadline chosen by the app is kept). Settings the binding leaves out
    /// keep their current values.
    pub fn with_binding(mut self, binding: &DurableClientBinding) -> Self {
        if let Some(task_hub) = &binding.task_hub_name {
            self.task_hub = Some(task_hub.clone());
        }
        if let Some(connection_name) = &binding.connection_name {
            self.connection_name = Some(connection_name.clone());
        }
        if let Some(size) = binding.max_grpc_message_size_in_bytes {
            self.max_receive_message_size = size;
        }
        if let Some(timeout) = binding.grpc_http_client_timeout {
            self.call_timeout = self.call_timeout.min(timeout);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binding_overrides_only_what_it_sets() {
        let mut binding = DurableClientBinding::new("http://127.0.0.1:4001");
        binding.task_hub_name = Some("Hub".into());
        binding.max_grpc_message_size_in_bytes = Some(64 << 20);
        let options = ClientOptions::default()
            .with_connection_name("Storage")
            .with_binding(&binding);
        assert_eq!(options.task_hub.as_deref(), Some("Hub"));
        assert_eq!(options.connection_name.as_deref(), Some("Storage"));
        assert_eq!(options.max_receive_message_size, 64 << 20);
        assert_eq!(options.call_timeout, DEFAULT_CALL_TIMEOUT);
    }

    #[test]
    fn the_binding_timeout_only_shortens_the_deadline() {
        let mut binding = DurableClientBinding::new("http://127.0.0.1:4001");
        binding.grpc_http_client_timeout = Some(Duration::from_secs(100));
        assert_eq!(
            ClientOptions::default().with_binding(&binding).call_timeout,
            DEFAULT_CALL_TIMEOUT
        );
        binding.grpc_http_client_timeout = Some(Duration::from_secs(5));
        assert_eq!(
            ClientOptions::default().with_binding(&binding).call_timeout,
            Duration::from_secs(5)
        );
    }
}
