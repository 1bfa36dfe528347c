//! Settings of a durable client: which task hub it addresses, and the limits of every call.

use std::sync::Arc;
use std::time::Duration;

use super::credential::{BearerToken, TokenCredential};
use super::transport::TlsOptions;
use crate::functions::DurableClientBinding;

/// The default deadline of each call.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The default time allowed to open the connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default largest answer accepted from the engine: 64 MiB.
///
/// gRPC's usual 4 MiB is too small for a durable client: an entity's state or an instance's input and output
/// travel whole in one answer (`GetEntity`, `GetInstance`, pages of `QueryInstances`), and the Durable extension's
/// own gRPC endpoint accepts and sends messages up to 2 GiB. An answer above the limit fails with
/// [`Code::OutOfRange`](tonic::Code::OutOfRange) instead of being buffered whole.
pub const DEFAULT_MAX_RECEIVE_MESSAGE_SIZE: usize = 64 * 1024 * 1024;
/// The default largest request sent to the engine (inputs of signals, new instances, events): 64 MiB. A larger
/// request fails before it is sent.
pub const DEFAULT_MAX_SEND_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

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
    /// The task hub, when set sent as the `Durable-TaskHub` header (read by the Functions extension) and as the
    /// `taskhub` header (read by the Durable Task Scheduler); the engine's default hub otherwise.
    pub task_hub: Option<String>,
    /// The storage connection name, sent as the `Durable-ConnectionName` header when set.
    pub connection_name: Option<String>,
    /// The deadline of every call except the `wait_for_*` ones, which take their own.
    pub call_timeout: Duration,
    /// How long opening the connection may take.
    pub connect_timeout: Duration,
    /// The largest answer accepted (decoded), in bytes.
    pub max_receive_message_size: usize,
    /// The largest request sent (encoded), in bytes.
    pub max_send_message_size: usize,
    /// TLS settings for `https://` endpoints (needs the `tls` feature).
    pub tls: TlsOptions,
    /// The credential whose tokens go out as `Authorization: Bearer …` on every call, if any.
    pub bearer: Option<BearerToken>,
    /// Lets a credential's tokens go to an `http://` endpoint (local tests only; refused by default, as the
    /// official SDKs do).
    pub allow_insecure_credentials: bool,
    /// Further gRPC metadata sent with every call (lowercase ASCII names, printable ASCII values).
    pub metadata: Vec<(String, String)>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            task_hub: None,
            connection_name: None,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_receive_message_size: DEFAULT_MAX_RECEIVE_MESSAGE_SIZE,
            max_send_message_size: DEFAULT_MAX_SEND_MESSAGE_SIZE,
            tls: TlsOptions::default(),
            bearer: None,
            allow_insecure_credentials: false,
            metadata: Vec::new(),
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

    /// Sets the largest answer accepted, in bytes.
    pub fn with_max_receive_message_size(mut self, bytes: usize) -> Self {
        self.max_receive_message_size = bytes;
        self
    }

    /// Sets the largest request sent, in bytes.
    pub fn with_max_send_message_size(mut self, bytes: usize) -> Self {
        self.max_send_message_size = bytes;
        self
    }

    /// Uses these TLS settings for an `https://` endpoint.
    pub fn with_tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// Sends tokens of `credential` for `scope` (e.g.
    /// [`DURABLE_TASK_SCHEDULER_SCOPE`](super::DURABLE_TASK_SCHEDULER_SCOPE)) as `Authorization: Bearer …`,
    /// refreshing them before they expire.
    pub fn with_credential(self, credential: Arc<dyn TokenCredential>, scope: impl Into<String>) -> Self {
        self.with_bearer_token(BearerToken::new(credential, scope))
    }

    /// Sends the tokens of `bearer` (whose cache is shared with every other holder of it).
    pub fn with_bearer_token(mut self, bearer: BearerToken) -> Self {
        self.bearer = Some(bearer);
        self
    }

    /// Lets the credential's tokens go to an `http://` endpoint. Only for tests on loopback.
    pub fn allow_insecure_credentials(mut self) -> Self {
        self.allow_insecure_credentials = true;
        self
    }

    /// Sends the gRPC metadata `name: value` with every call.
    pub fn with_metadata(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((name.into(), value.into()));
        self
    }

    /// Applies what a `durableClient` binding says: its task hub and connection name; its
    /// `maxGrpcMessageSizeInBytes` as the receive limit when that is larger than the current one; its
    /// `grpcHttpClientTimeout` as an upper bound of the call deadline (a shorter deadline chosen by the app is
    /// kept). Settings the binding leaves out keep their current values.
    ///
    /// The size only ever raises the limit because extension 3.x sends its default (4 MiB) whether or not anybody
    /// configured it (`extensions.durableTask.maxGrpcMessageSizeInBytes` in host.json): a binding value cannot tell
    /// a deliberate limit from the default, and the app's own setting is the deliberate one. A host.json that
    /// raises the setting raises the client's limit with it.
    pub fn with_binding(mut self, binding: &DurableClientBinding) -> Self {
        if let Some(task_hub) = &binding.task_hub_name {
            self.task_hub = Some(task_hub.clone());
        }
        if let Some(connection_name) = &binding.connection_name {
            self.connection_name = Some(connection_name.clone());
        }
        if let Some(size) = binding.max_grpc_message_size_in_bytes {
            self.max_receive_message_size = self.max_receive_message_size.max(size);
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
        binding.max_grpc_message_size_in_bytes = Some(128 << 20);
        let options = ClientOptions::default()
            .with_connection_name("Storage")
            .with_binding(&binding);
        assert_eq!(options.task_hub.as_deref(), Some("Hub"));
        assert_eq!(options.connection_name.as_deref(), Some("Storage"));
        assert_eq!(options.max_receive_message_size, 128 << 20);
        assert_eq!(options.max_send_message_size, DEFAULT_MAX_SEND_MESSAGE_SIZE);
        assert_eq!(options.call_timeout, DEFAULT_CALL_TIMEOUT);
    }

    #[test]
    fn the_binding_size_only_raises_the_receive_limit() {
        // Extension 3.x sends its 4 MiB default even when host.json does not set it.
        let mut binding = DurableClientBinding::new("http://127.0.0.1:4001");
        binding.max_grpc_message_size_in_bytes = Some(4_194_304);
        assert_eq!(
            ClientOptions::default().with_binding(&binding).max_receive_message_size,
            DEFAULT_MAX_RECEIVE_MESSAGE_SIZE
        );
        let small = ClientOptions::default().with_max_receive_message_size(1024);
        assert_eq!(small.with_binding(&binding).max_receive_message_size, 4_194_304);
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
