//! Settings of a [`Worker`](super::Worker): concurrency limits, reconnecting, shutting down.

use std::time::Duration;

use super::backoff::ReconnectBackoff;
use super::chunking::{DEFAULT_COMPLETION_CHUNK_SIZE, MIN_COMPLETION_CHUNK_SIZE};
use super::filters::WorkItemFilter;
use crate::client::ClientOptions;

/// The default number of activities run at once per CPU (activities mostly wait on I/O).
pub const DEFAULT_ACTIVITIES_PER_CPU: usize = 100;
/// The default number of orchestration and of entity work items run at once per CPU (they only compute).
pub const DEFAULT_REPLAYS_PER_CPU: usize = 4;
/// The default time without any message on the work item stream after which it is considered dead.
pub const DEFAULT_SILENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(120);
/// The default time in-flight work may take to finish once shutdown is requested.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// The default largest work item accepted: work items carry whole histories, so this is above gRPC's usual 4 MiB.
pub const DEFAULT_MAX_WORK_ITEM_SIZE: usize = 64 * 1024 * 1024;

/// Settings of a [`Worker`](super::Worker).
///
/// ```
/// use std::time::Duration;
/// use durabletask_sdk::worker::WorkerOptions;
///
/// let options = WorkerOptions::default()
///     .with_task_hub("ReturnsHub")
///     .with_max_concurrent_activities(16)
///     .with_reconnect_backoff(Duration::from_millis(200), Duration::from_secs(10));
/// assert_eq!(options.max_concurrent_activities, 16);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerOptions {
    /// Connection settings: task hub and connection name headers, deadlines of the completion calls, the
    /// largest work item accepted (`max_receive_message_size`).
    pub client: ClientOptions,
    /// How many orchestration work items run at once (also announced to the engine).
    pub max_concurrent_orchestrations: usize,
    /// How many activities run at once (also announced to the engine).
    pub max_concurrent_activities: usize,
    /// How many entity batches run at once (also announced to the engine).
    pub max_concurrent_entities: usize,
    /// How long to wait before reconnecting after the work item stream failed or ended.
    pub reconnect_backoff: ReconnectBackoff,
    /// Give up (and return an error from [`Worker::run`](super::Worker::run)) after this many consecutive failed
    /// connection attempts; `None` retries forever.
    pub max_reconnect_attempts: Option<u32>,
    /// Reconnect when the stream carried nothing (no work item, no health ping) for this long; `None` waits
    /// forever. Engines that send health pings make this a dead-connection detector.
    pub silent_disconnect_timeout: Option<Duration>,
    /// How long in-flight work may take to finish after shutdown was requested; work still running then is
    /// abandoned (handed back to the engine) and cancelled.
    pub shutdown_timeout: Duration,
    /// An identifier of this worker sent to the engine (`worker_instance_id` and the `workerid` header); when
    /// unset, `<host>,<process id>,<random id>`.
    pub worker_instance_id: Option<String>,
    /// Which work items to ask for ([`WorkItemFilter::Everything`] by default).
    pub work_item_filter: WorkItemFilter,
    /// Orchestration completions larger than this are sent in chunks (`isPartial`/`chunkIndex`), which the Durable
    /// Task Scheduler reassembles; an action larger than this fails its instance. `None` sends every completion
    /// whole, for engines that do not reassemble chunks but take large messages. durabletask's in-memory engine does
    /// neither: it reads every chunk as a whole completion and, with gRPC's default, takes at most 4 MiB.
    pub completion_chunk_size: Option<usize>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            client: ClientOptions {
                max_receive_message_size: DEFAULT_MAX_WORK_ITEM_SIZE,
                ..ClientOptions::default()
            },
            max_concurrent_orchestrations: DEFAULT_REPLAYS_PER_CPU * cpus,
            max_concurrent_activities: DEFAULT_ACTIVITIES_PER_CPU * cpus,
            max_concurrent_entities: DEFAULT_REPLAYS_PER_CPU * cpus,
            reconnect_backoff: ReconnectBackoff::default(),
            max_reconnect_attempts: None,
            silent_disconnect_timeout: Some(DEFAULT_SILENT_DISCONNECT_TIMEOUT),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            worker_instance_id: None,
            work_item_filter: WorkItemFilter::Everything,
            completion_chunk_size: Some(DEFAULT_COMPLETION_CHUNK_SIZE),
        }
    }
}

impl WorkerOptions {
    /// Uses these connection settings.
    pub fn with_client_options(mut self, client: ClientOptions) -> Self {
        self.client = client;
        self
    }

    /// Works for the given task hub (sent as the `Durable-TaskHub` header).
    pub fn with_task_hub(mut self, task_hub: impl Into<String>) -> Self {
        self.client.task_hub = Some(task_hub.into());
        self
    }

    /// Runs at most `limit` orchestration work items at once (at least 1).
    pub fn with_max_concurrent_orchestrations(mut self, limit: usize) -> Self {
        self.max_concurrent_orchestrations = limit.max(1);
        self
    }

    /// Runs at most `limit` activities at once (at least 1).
    pub fn with_max_concurrent_activities(mut self, limit: usize) -> Self {
        self.max_concurrent_activities = limit.max(1);
        self
    }

    /// Runs at most `limit` entity batches at once (at least 1).
    pub fn with_max_concurrent_entities(mut self, limit: usize) -> Self {
        self.max_concurrent_entities = limit.max(1);
        self
    }

    /// Waits between `initial` and `max` (doubling) before reconnecting.
    pub fn with_reconnect_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.reconnect_backoff = ReconnectBackoff::new(initial, max);
        self
    }

    /// Gives up after `attempts` consecutive failed connection attempts.
    pub fn with_max_reconnect_attempts(mut self, attempts: u32) -> Self {
        self.max_reconnect_attempts = Some(attempts);
        self
    }

    /// Reconnects after `timeout` without any message on the stream (`None`: never).
    pub fn with_silent_disconnect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.silent_disconnect_timeout = timeout;
        self
    }

    /// Lets in-flight work run for up to `timeout` after shutdown is requested.
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Identifies this worker to the engine.
    pub fn with_worker_instance_id(mut self, id: impl Into<String>) -> Self {
        self.worker_instance_id = Some(id.into());
        self
    }

    /// Asks the engine only for the work items `filter` names.
    pub fn with_work_item_filter(mut self, filter: WorkItemFilter) -> Self {
        self.work_item_filter = filter;
        self
    }

    /// Sends orchestration completions larger than `bytes` (at least 1 MiB) in chunks; `None` sends them whole.
    pub fn with_completion_chunk_size(mut self, bytes: Option<usize>) -> Self {
        self.completion_chunk_size = bytes.map(|bytes| bytes.max(MIN_COMPLETION_CHUNK_SIZE));
        self
    }
}
