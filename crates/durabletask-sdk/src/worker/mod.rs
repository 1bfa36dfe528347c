//! A standalone worker: runs a [`Registry`] against any durabletask engine that speaks the
//! `TaskHubSidecarService` gRPC protocol (a durabletask sidecar, the Durable Task Scheduler, the local
//! in-memory engine of `scripts/local_engine.py`), without the Azure Functions host.
//!
//! [`Worker::run`] opens the engine's `GetWorkItems` stream and, for every work item, runs the matching executor
//! and sends the completion back (with the work item's completion token):
//!
//! | work item | executor | completion |
//! |---|---|---|
//! | `orchestratorRequest` | [`execute_orchestrator`](crate::orchestration::execute_orchestrator) | `CompleteOrchestratorTask` |
//! | `activityRequest` | [`execute_activity`](crate::activity::execute_activity) | `CompleteActivityTask` |
//! | `entityRequestV2` | [`execute_entity_request`](crate::entity::execute_entity_request) | `CompleteEntityTask` |
//! | `entityRequest` (V1) | [`execute_entity_batch`](crate::entity::execute_entity_batch) | `CompleteEntityTask` |
//!
//! Work runs concurrently up to the limits in [`WorkerOptions`] (announced to the engine as well, with the
//! worker's capabilities — it streams the history of a work item that comes without one — and, when configured,
//! the work-item filter). Completions larger than [`WorkerOptions::completion_chunk_size`] go in chunks. When the
//! stream fails or ends (the engine restarted, the network broke), the worker reconnects after an exponential
//! backoff; work in flight carries on meanwhile. When the `shutdown` future completes, the worker stops taking
//! work, lets in-flight work finish (for up to [`WorkerOptions::shutdown_timeout`]) and returns.
//!
//! ```no_run
//! use durabletask_sdk::worker::{Worker, WorkerOptions};
//! use durabletask_sdk::{ActivityContext, Error, OrchestrationContext, Registry};
//!
//! async fn greet(_ctx: ActivityContext, city: String) -> Result<String, Error> {
//!     Ok(format!("Hello, {city}!"))
//! }
//!
//! async fn hello(ctx: OrchestrationContext, city: String) -> Result<String, Error> {
//!     Ok(ctx.call_activity("greet", &city).await?)
//! }
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let mut registry = Registry::new();
//! registry.add_activity("greet", greet)?.add_orchestrator("hello", hello)?;
//! let worker = Worker::new(registry, WorkerOptions::default());
//! worker.run("http://127.0.0.1:4001", async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

mod backoff;
mod chunking;
mod connection;
mod dispatch;
mod error;
mod filters;
mod options;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;

use crate::client::{ClientOptions, DurableClient};
use crate::proto;
use crate::registry::Registry;

pub use backoff::ReconnectBackoff;
pub use chunking::{DEFAULT_COMPLETION_CHUNK_SIZE, MIN_COMPLETION_CHUNK_SIZE};
pub use error::WorkerError;
pub use filters::{UnregisteredFilterName, WorkItemFilter};
pub use options::{
    WorkerOptions, DEFAULT_ACTIVITIES_PER_CPU, DEFAULT_MAX_WORK_ITEM_SIZE, DEFAULT_REPLAYS_PER_CPU,
    DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_SILENT_DISCONNECT_TIMEOUT,
};

/// The gRPC header carrying the worker's identity ([`WorkerOptions::worker_instance_id`]).
pub const WORKER_ID_HEADER: &str = "workerid";

use connection::StreamEnd;
use dispatch::Dispatcher;

/// Runs orchestrators, activities and entities for a durable engine. Cheap to clone.
#[derive(Clone)]
pub struct Worker {
    registry: Arc<Registry>,
    options: WorkerOptions,
}

impl Worker {
    /// A worker for everything registered in `registry`.
    pub fn new(registry: Registry, options: WorkerOptions) -> Self {
        Self {
            registry: Arc::new(registry),
            options,
        }
    }

    /// The worker's settings.
    pub fn options(&self) -> &WorkerOptions {
        &self.options
    }

    /// Works for the engine at `endpoint` (`http://host:port`; `http://` is assumed without a scheme) until
    /// `shutdown` completes, then finishes in-flight work and returns `Ok`.
    ///
    /// Connection failures are retried with backoff; the only errors are an unusable endpoint or option, and
    /// running out of [`WorkerOptions::max_reconnect_attempts`].
    pub async fn run(&self, endpoint: &str, shutdown: impl Future<Output = ()>) -> Result<(), WorkerError> {
        self.run_with(endpoint, self.options.client.clone(), shutdown).await
    }

    /// Works for the Durable Task Scheduler a connection string names (`Endpoint=…;Authentication=…;TaskHub=…`, see
    /// [`SchedulerConnectionString`](crate::client::SchedulerConnectionString)) until `shutdown` completes, as
    /// [`Worker::run`] does. The connection string's task hub and credential are added to
    /// [`WorkerOptions::client`] (a credential set there wins).
    pub async fn run_with_connection_string(
        &self,
        connection_string: &str,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), WorkerError> {
        let (endpoint, options) = crate::client::scheduler_connection(connection_string, self.options.client.clone())
            .map_err(WorkerError::InvalidConfig)?;
        self.run_with(&endpoint, options, shutdown).await
    }

    async fn run_with(
        &self,
        endpoint: &str,
        client_options: ClientOptions,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), WorkerError> {
        let worker_id = self
            .options
            .worker_instance_id
            .clone()
            .unwrap_or_else(default_worker_id);
        // The scheduler reads the worker's identity from the `workerid` header, as the official SDKs send it.
        let client_options = client_options.with_metadata(WORKER_ID_HEADER, worker_id.clone());
        let client = DurableClient::connect_lazy(endpoint, client_options).map_err(WorkerError::InvalidConfig)?;
        let request = self.work_items_request(worker_id)?;
        let mut shutdown = pin!(shutdown);
        let mut dispatcher = Dispatcher::new(self.registry.clone(), client.clone(), &self.options);
        let mut failures: u32 = 0;
        tracing::info!(endpoint, "worker starting");
        let outcome = loop {
            let end = connection::pump(
                &client,
                &request,
                &mut dispatcher,
                shutdown.as_mut(),
                self.options.silent_disconnect_timeout,
            )
            .await;
            if let StreamEnd::ShutdownRequested = end {
                break Ok(());
            }
            failures = if end.received() { 1 } else { failures.saturating_add(1) };
            let failure = end.describe();
            if self.options.max_reconnect_attempts.is_some_and(|max| failures > max) {
                tracing::error!(endpoint, attempts = failures, failure, "giving up on the engine");
                break Err(WorkerError::GaveUp {
                    endpoint: endpoint.to_string(),
                    attempts: failures,
                    last_failure: failure,
                });
            }
            let delay = self.options.reconnect_backoff.delay(failures, backoff::random_jitter());
            tracing::warn!(endpoint, attempt = failures, retry_in = ?delay, failure, "lost the work item stream");
            if !connection::back_off(delay, &mut dispatcher, shutdown.as_mut()).await {
                break Ok(());
            }
        };
        tracing::info!("worker stopping: finishing in-flight work");
        dispatcher.drain(self.options.shutdown_timeout).await;
        tracing::info!("worker stopped");
        outcome
    }

    fn work_items_request(&self, worker_id: String) -> Result<proto::GetWorkItemsRequest, WorkerError> {
        let limit = |value: usize| i32::try_from(value.max(1)).unwrap_or(i32::MAX);
        Ok(proto::GetWorkItemsRequest {
            max_concurrent_orchestration_work_items: limit(self.options.max_concurrent_orchestrations),
            max_concurrent_activity_work_items: limit(self.options.max_concurrent_activities),
            max_concurrent_entity_work_items: limit(self.options.max_concurrent_entities),
            worker_instance_id: worker_id,
            capabilities: filters::capabilities(),
            work_item_filters: self.options.work_item_filter.resolve(&self.registry)?,
        })
    }
}

/// `<host>,<process id>,<random id>`: the shape of the .NET SDK's default worker id (machine name, process id, a
/// GUID), with the host name from `HOSTNAME` when the environment has it.
fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|host| !host.is_empty() && host.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b','))
        .unwrap_or_else(|| "unknown-host".to_string());
    format!("{host},{},{}", std::process::id(), uuid::Uuid::new_v4().simple())
}
