//! Starting orchestration instances with every option the protocol carries: instance id, version, scheduled start
//! time, tags and the instance-id reuse policy.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::orchestration_types::status_numbers;
use super::{ClientError, DurableClient, OrchestrationStatus};
use crate::json;
use crate::proto;
use crate::time::to_timestamp;
use tracing::Instrument as _;

/// How a new instance is started.
///
/// What engines do with each option differs: the Durable Task Scheduler honours all of them; the Durable Functions
/// extension (3.x) honours the version and the scheduled start time but ignores tags and the reuse policy (its
/// host.json `overridableExistingInstanceStates` decides); durabletask's in-memory engine honours the reuse policy,
/// keeps the tags on `executionStarted`, and stamps the first `orchestratorStarted` with the scheduled time but
/// dispatches the instance at once.
///
/// ```
/// use chrono::{Duration, Utc};
/// use durabletask_sdk::client::{OrchestrationStatus, StartOptions};
///
/// let options = StartOptions::new()
///     .with_instance_id("order-42")
///     .with_start_at(Utc::now() + Duration::minutes(10))
///     .with_tag("tenant", "contoso")
///     .replacing([OrchestrationStatus::Completed, OrchestrationStatus::Failed]);
/// assert_eq!(options.tags["tenant"], "contoso");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartOptions {
    /// The instance id; a random one (a UUID v4 without dashes) when unset.
    pub instance_id: Option<String>,
    /// The orchestrator version (`executionStarted.version`).
    pub version: Option<String>,
    /// When the instance should start; at once when unset.
    pub start_at: Option<DateTime<Utc>>,
    /// Tags kept with the instance.
    pub tags: BTreeMap<String, String>,
    /// When an instance with the same id exists in one of these statuses, it is replaced; in any other status (or
    /// when empty) the start fails with [`ClientError::AlreadyExists`]. `None` leaves it to the engine's default.
    pub replaceable_statuses: Option<Vec<OrchestrationStatus>>,
}

impl StartOptions {
    /// No options: a generated id, started at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `instance_id`.
    pub fn with_instance_id(mut self, instance_id: impl Into<String>) -> Self {
        self.instance_id = Some(instance_id.into());
        self
    }

    /// Starts the orchestrator's `version`.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Starts the instance at `time` instead of at once.
    pub fn with_start_at(mut self, time: DateTime<Utc>) -> Self {
        self.start_at = Some(time);
        self
    }

    /// Adds the tag `name` = `value`.
    pub fn with_tag(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(name.into(), value.into());
        self
    }

    /// Replaces an existing instance with the same id when it is in one of `statuses` (the instance-id reuse
    /// policy).
    pub fn replacing(mut self, statuses: impl IntoIterator<Item = OrchestrationStatus>) -> Self {
        self.replaceable_statuses = Some(statuses.into_iter().collect());
        self
    }
}

impl DurableClient {
    /// Schedules a new instance of the orchestrator `name` and returns its instance id.
    ///
    /// Without an `instance_id` a random one (a UUID v4 without dashes) is generated: the client always sends
    /// an id, because some engine versions mishandle an empty one. The input is serialized as JSON; `()` or
    /// `None` mean no input. [`DurableClient::start_orchestration_with`] takes every other option.
    pub async fn start_orchestration<T: Serialize + ?Sized>(
        &self,
        name: &str,
        instance_id: Option<&str>,
        input: &T,
    ) -> Result<String, ClientError> {
        let mut options = StartOptions::new();
        options.instance_id = instance_id.map(str::to_string);
        self.start_orchestration_with(name, input, &options).await
    }

    /// Schedules a new instance of the orchestrator `name` with `options` and returns its instance id. An instance
    /// that already exists (and may not be replaced) fails with [`ClientError::AlreadyExists`].
    pub async fn start_orchestration_with<T: Serialize + ?Sized>(
        &self,
        name: &str,
        input: &T,
        options: &StartOptions,
    ) -> Result<String, ClientError> {
        const RPC: &str = "StartInstance";
        let instance_id = match options.instance_id.as_deref() {
            Some("") => {
                return Err(ClientError::InvalidArgument {
                    rpc: RPC,
                    message: "the instance id is empty; leave it unset to have one generated".into(),
                })
            }
            Some(id) => id.to_string(),
            None => uuid::Uuid::new_v4().simple().to_string(),
        };
        let span =
            crate::tracing_spans::client::create_orchestration_span(name, options.version.as_deref(), &instance_id);
        let request = proto::CreateInstanceRequest {
            parent_trace_context: crate::tracing_spans::trace_context_of_span(&span),
            instance_id,
            name: name.to_string(),
            version: options.version.clone(),
            input: json::encode(input)?,
            scheduled_start_timestamp: options.start_at.map(to_timestamp),
            orchestration_id_reuse_policy: options.replaceable_statuses.as_ref().map(|statuses| {
                proto::OrchestrationIdReusePolicy {
                    replaceable_status: status_numbers(statuses),
                }
            }),
            tags: options.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            request_time: Some(to_timestamp(Utc::now())),
            ..Default::default()
        };
        let response = self
            .call(RPC, request, self.call_timeout, |mut sidecar, request| async move {
                sidecar.start_instance(request).await
            })
            .instrument(span)
            .await?;
        Ok(response.instance_id)
    }
}
