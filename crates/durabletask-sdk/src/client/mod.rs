//! A durable client: start, query, signal, terminate and purge orchestrations and entities through the
//! engine's `TaskHubSidecarService` gRPC endpoint.
//!
//! In an Azure Functions app the endpoint comes from the `durableClient` input binding
//! ([`DurableClientBinding::rpc_base_url`](crate::functions::DurableClientBinding)); never assume a fixed
//! port. [`ClientCache`] keeps one HTTP/2 channel per endpoint (for the most recently used endpoints, a bounded
//! number) so every invocation reuses it. Answers up to [`DEFAULT_MAX_RECEIVE_MESSAGE_SIZE`] (64 MiB, not gRPC's
//! usual 4 MiB) are read by default.
//!
//! Every call carries a deadline ([`ClientOptions::call_timeout`], or the timeout given to the `wait_for_*`
//! calls) and the task hub headers (`Durable-TaskHub` for the Functions extension, `taskhub` for the Durable Task
//! Scheduler) and `Durable-ConnectionName` when they are configured. For the Durable Task Scheduler,
//! [`DurableClient::from_connection_string`] reads its connection string ([`SchedulerConnectionString`]); `https://`
//! endpoints need the `tls` feature, and a [`TokenCredential`] puts `Authorization: Bearer …` on every call
//! ([`ClientOptions::with_credential`]; Microsoft's credentials with the `azure-identity` feature).
//! Failures are [`ClientError`]s, whose [`is_transient`](ClientError::is_transient) separates "try again"
//! from "the request is wrong".
//!
//! ```no_run
//! # async fn example() -> Result<(), durabletask_sdk::client::ClientError> {
//! use durabletask_sdk::client::{ClientOptions, DurableClient};
//! use durabletask_sdk::EntityId;
//!
//! let options = ClientOptions::default().with_task_hub("Hub");
//! let client = DurableClient::connect("http://127.0.0.1:4001", options).await?;
//! client.signal_entity(&EntityId::new("counter", "c1"), "add", &5).await?;
//! let id = client.start_orchestration("Greet", None, &"Tokyo").await?;
//! let state = client.get_instance(&id).await?;
//! # Ok(()) }
//! ```

#[cfg(feature = "azure-identity")]
mod azure;
mod cache;
mod credential;
mod entities;
mod entity_types;
mod error;
mod history;
mod options;
mod orchestration_types;
mod orchestrations;
mod page;
mod purge;
mod scheduler;
mod start;
mod status;
mod transport;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::functions::DurableClientBinding;
use crate::proto::task_hub_sidecar_service_client::TaskHubSidecarServiceClient;

#[cfg(feature = "azure-identity")]
pub use azure::AzureIdentityCredential;
pub use cache::{ClientCache, DEFAULT_MAX_CACHED_ENDPOINTS};
pub use credential::{
    AccessToken, BearerToken, CredentialError, TokenCredential, DEFAULT_TOKEN_REFRESH_MARGIN,
    DURABLE_TASK_SCHEDULER_SCOPE,
};
pub use entity_types::{CleanEntityStorageOptions, CleanEntityStorageResult, EntityMetadata, EntityQuery};
pub use error::ClientError;
pub use options::{
    ClientOptions, DEFAULT_CALL_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RECEIVE_MESSAGE_SIZE,
    DEFAULT_MAX_SEND_MESSAGE_SIZE,
};
pub use orchestration_types::{InstanceIdQuery, InstanceQuery, OrchestrationMetadata, DEFAULT_PAGE_SIZE};
pub use orchestrations::{RestartOptions, TerminateOptions};
pub use page::Page;
pub use purge::{
    PurgeBudget, PurgeFilter, PurgeInstanceOptions, PurgeProgress, PurgeResult, PurgeRound, DEFAULT_PURGE_DEADLINE,
    PURGE_ANSWER_MARGIN,
};
pub use scheduler::{
    ConnectionStringError, SchedulerAuthentication, SchedulerConnectionString, DEFAULT_SCHEDULER_RESOURCE_ID,
};
pub use start::StartOptions;
pub use status::{OrchestrationStatus, ParseStatusError};
/// The gRPC status codes carried by [`ClientError::Rpc`].
pub use tonic::Code;
pub use transport::{TlsOptions, Transport};

/// The gRPC header naming the task hub for the Functions extension (gRPC metadata keys are lowercase; the server
/// matches any case).
pub const TASK_HUB_HEADER: &str = "durable-taskhub";
/// The gRPC header naming the task hub for the Durable Task Scheduler (and durabletask sidecars).
pub const SCHEDULER_TASK_HUB_HEADER: &str = "taskhub";
/// The gRPC header naming the storage connection.
pub const CONNECTION_NAME_HEADER: &str = "durable-connectionname";
/// The gRPC header naming this SDK (`user-agent` itself belongs to the HTTP/2 layer), as the official SDKs send it.
pub const USER_AGENT_HEADER: &str = "x-user-agent";
/// The value of [`USER_AGENT_HEADER`].
pub const USER_AGENT: &str = concat!("durabletask-sdk-rust/", env!("CARGO_PKG_VERSION"));

/// The generated gRPC client over the client's [`Transport`].
pub type SidecarClient = TaskHubSidecarServiceClient<Transport>;

/// An async client of a durable engine. Cheap to clone: clones share one HTTP/2 channel.
#[derive(Debug, Clone)]
pub struct DurableClient {
    sidecar: SidecarClient,
    headers: Arc<[(AsciiMetadataKey, AsciiMetadataValue)]>,
    call_timeout: Duration,
    max_send_message_size: usize,
}

impl DurableClient {
    /// Connects to the engine at `endpoint` (`http://host:port`; `http://` is assumed when no scheme is
    /// given; `https://` needs the `tls` feature), failing when it cannot be reached.
    pub async fn connect(endpoint: &str, options: ClientOptions) -> Result<Self, ClientError> {
        let channel = transport::endpoint_for(endpoint, &options)?
            .connect()
            .await
            .map_err(|source| ClientError::Transport {
                endpoint: endpoint.to_string(),
                source,
            })?;
        Self::with_channel(channel, options)
    }

    /// A client that connects on its first call, so building it does no I/O. Must be called within a
    /// Tokio runtime.
    pub fn connect_lazy(endpoint: &str, options: ClientOptions) -> Result<Self, ClientError> {
        let channel = transport::endpoint_for(endpoint, &options)?.connect_lazy();
        Self::with_channel(channel, options)
    }

    /// A lazily connecting client for the engine a `durableClient` binding names, with the binding's task
    /// hub, connection name, message size limit and timeout (see [`ClientOptions::with_binding`]).
    pub fn from_binding(binding: &DurableClientBinding) -> Result<Self, ClientError> {
        Self::connect_lazy(&binding.rpc_base_url, ClientOptions::default().with_binding(binding))
    }

    /// A lazily connecting client for the Durable Task Scheduler a connection string names
    /// (`Endpoint=…;Authentication=…;TaskHub=…`, see [`SchedulerConnectionString`]), on top of `options` (deadlines,
    /// limits, TLS; a credential set there wins over the connection string's `Authentication`).
    pub fn from_connection_string(connection_string: &str, options: ClientOptions) -> Result<Self, ClientError> {
        let (endpoint, options) = scheduler_connection(connection_string, options)?;
        Self::connect_lazy(&endpoint, options)
    }

    /// A client over an existing channel (for sharing a channel, or a custom transport). The options' credential,
    /// headers, deadline and size limits apply; their endpoint settings (TLS, connect timeout) are the channel's.
    pub fn with_channel(channel: Channel, options: ClientOptions) -> Result<Self, ClientError> {
        let headers = request_headers(&options)?;
        Ok(Self {
            sidecar: TaskHubSidecarServiceClient::new(Transport::new(channel, &options))
                .max_decoding_message_size(options.max_receive_message_size)
                .max_encoding_message_size(options.max_send_message_size),
            headers: headers.into(),
            call_timeout: options.call_timeout,
            max_send_message_size: options.max_send_message_size,
        })
    }

    /// The deadline applied to each call.
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// The generated gRPC client, for RPCs this type does not wrap. Build its requests with
    /// [`DurableClient::request`] so they carry the headers and the deadline.
    pub fn sidecar(&self) -> SidecarClient {
        self.sidecar.clone()
    }

    /// A request carrying the task hub and connection headers and the default deadline.
    pub fn request<T>(&self, message: T) -> Request<T> {
        self.request_with_timeout(message, self.call_timeout)
    }

    /// A request carrying the task hub and connection headers and the given deadline.
    pub fn request_with_timeout<T>(&self, message: T, timeout: Duration) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(timeout);
        let metadata = request.metadata_mut();
        for (name, value) in self.headers.iter() {
            metadata.insert(name.clone(), value.clone());
        }
        request
    }

    /// Checks that the engine answers (`Hello`).
    pub async fn hello(&self) -> Result<(), ClientError> {
        self.call("Hello", (), self.call_timeout, |mut sidecar, request| async move {
            sidecar.hello(request).await
        })
        .await
    }

    /// Sends one unary call with the headers and `timeout`, and classifies its failure.
    async fn call<Req, Resp, F, Fut>(
        &self,
        rpc: &'static str,
        message: Req,
        timeout: Duration,
        send: F,
    ) -> Result<Resp, ClientError>
    where
        Req: prost::Message,
        F: FnOnce(SidecarClient, Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        // Checked here because tonic reports its own send limit as a broken HTTP/2 stream (INTERNAL), which would
        // read as transient and be retried forever.
        let size = message.encoded_len();
        if size > self.max_send_message_size {
            return Err(ClientError::RequestTooLarge {
                rpc,
                size,
                limit: self.max_send_message_size,
            });
        }
        let request = self.request_with_timeout(message, timeout);
        match send(self.sidecar.clone(), request).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => {
                tracing::debug!(rpc, code = ?status.code(), message = status.message(), "durable client call failed");
                Err(ClientError::from_status(rpc, status))
            }
        }
    }
}

/// The endpoint and options a scheduler connection string stands for.
pub(crate) fn scheduler_connection(
    connection_string: &str,
    options: ClientOptions,
) -> Result<(String, ClientOptions), ClientError> {
    let invalid = |error: ConnectionStringError| ClientError::InvalidConfig {
        message: error.to_string(),
    };
    let connection = SchedulerConnectionString::parse(connection_string).map_err(invalid)?;
    let options = connection.apply_to(options).map_err(invalid)?;
    Ok((connection.endpoint_url(), options))
}

/// The metadata every call carries, checked once.
fn request_headers(options: &ClientOptions) -> Result<Vec<(AsciiMetadataKey, AsciiMetadataValue)>, ClientError> {
    let mut headers = Vec::new();
    let mut push = |name: &str, value: &str| -> Result<(), ClientError> {
        let key = AsciiMetadataKey::from_bytes(name.as_bytes()).map_err(|_| ClientError::InvalidConfig {
            message: format!(
                "'{name}' is not a valid gRPC metadata name (lowercase ASCII letters, digits, '-', '_', '.')"
            ),
        })?;
        if let Some(value) = header_value(name, Some(value))? {
            headers.push((key, value));
        }
        Ok(())
    };
    if let Some(task_hub) = options.task_hub.as_deref() {
        push(TASK_HUB_HEADER, task_hub)?;
        push(SCHEDULER_TASK_HUB_HEADER, task_hub)?;
    }
    if let Some(connection_name) = options.connection_name.as_deref() {
        push(CONNECTION_NAME_HEADER, connection_name)?;
    }
    push(USER_AGENT_HEADER, USER_AGENT)?;
    for (name, value) in &options.metadata {
        push(name, value)?;
    }
    Ok(headers)
}

fn header_value(header: &str, value: Option<&str>) -> Result<Option<AsciiMetadataValue>, ClientError> {
    value
        .filter(|value| !value.is_empty())
        .map(|value| {
            let invalid = || ClientError::InvalidConfig {
                message: format!("the {header} header value '{value}' must be printable ASCII"),
            };
            // gRPC metadata values are ASCII; the HTTP layer alone would let other bytes through.
            if !value.bytes().all(|byte| (0x20..0x7f).contains(&byte)) {
                return Err(invalid());
            }
            AsciiMetadataValue::try_from(value).map_err(|_| invalid())
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_carry_the_headers_and_a_deadline() {
        let options = ClientOptions::default()
            .with_task_hub("ReturnsHub")
            .with_connection_name("Storage")
            .with_call_timeout(Duration::from_secs(7));
        let client = DurableClient::connect_lazy("127.0.0.1:1", options).unwrap();
        let request = client.request(());
        let metadata = request.metadata();
        assert_eq!(metadata.get(TASK_HUB_HEADER).unwrap(), "ReturnsHub");
        assert_eq!(metadata.get(SCHEDULER_TASK_HUB_HEADER).unwrap(), "ReturnsHub");
        assert_eq!(metadata.get(CONNECTION_NAME_HEADER).unwrap(), "Storage");
        assert_eq!(metadata.get(USER_AGENT_HEADER).unwrap(), USER_AGENT);
        assert_eq!(metadata.get("grpc-timeout").unwrap(), "7000000u");
    }

    #[tokio::test]
    async fn no_headers_are_sent_for_the_default_hub() {
        let client = DurableClient::connect_lazy("http://127.0.0.1:1", ClientOptions::default()).unwrap();
        let request = client.request(());
        assert!(request.metadata().get(TASK_HUB_HEADER).is_none());
        assert!(request.metadata().get(SCHEDULER_TASK_HUB_HEADER).is_none());
        assert!(request.metadata().get(CONNECTION_NAME_HEADER).is_none());
        assert!(request.metadata().get("grpc-timeout").is_some());
    }

    #[tokio::test]
    async fn bad_configuration_is_reported() {
        let error = DurableClient::connect_lazy("http://exa mple:1", ClientOptions::default()).unwrap_err();
        assert!(matches!(error, ClientError::InvalidConfig { .. }), "{error:?}");
        let error = DurableClient::connect_lazy("http://127.0.0.1:1", ClientOptions::default().with_task_hub("hüb"))
            .unwrap_err();
        assert!(error.to_string().contains("durable-taskhub"), "{error}");
        let error = DurableClient::connect_lazy(
            "http://127.0.0.1:1",
            ClientOptions::default().with_metadata("Bad Name", "x"),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("'Bad Name' is not a valid gRPC metadata name"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn https_and_credentials_are_checked_before_any_call() {
        #[cfg(not(feature = "tls"))]
        {
            let error = DurableClient::connect_lazy("https://127.0.0.1:1", ClientOptions::default()).unwrap_err();
            assert!(error.to_string().contains("`tls` feature"), "{error}");
        }
        let tls = ClientOptions::default().with_tls(TlsOptions::default().with_domain_name("engine"));
        let error = DurableClient::connect_lazy("http://127.0.0.1:1", tls).unwrap_err();
        assert!(error.to_string().contains("not https://"), "{error}");
    }

    #[tokio::test]
    async fn extra_metadata_goes_out_with_every_call() {
        let options = ClientOptions::default().with_metadata("workerid", "host,42,abc");
        let client = DurableClient::connect_lazy("http://127.0.0.1:1", options).unwrap();
        assert_eq!(client.request(()).metadata().get("workerid").unwrap(), "host,42,abc");
    }
}
