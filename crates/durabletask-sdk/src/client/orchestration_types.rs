//! What the client reports about orchestration instances, and the filter it queries them with.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::{ClientError, OrchestrationStatus};
use crate::json::{self, PayloadError};
use crate::time::{to_datetime, to_timestamp};
use crate::{proto, FailureDetails};

/// The state of one orchestration instance.
///
/// Input, output and custom status are JSON text as the engine stores them; they are only filled when the
/// payloads were requested (`fetch_payloads`). The `read_*` helpers decode them.
#[derive(Debug, Clone, PartialEq)]
pub struct OrchestrationMetadata {
    /// The instance id.
    pub instance_id: String,
    /// The orchestrator name.
    pub name: String,
    /// The runtime status.
    pub status: OrchestrationStatus,
    /// When the instance was created.
    pub created_at: Option<DateTime<Utc>>,
    /// When the instance last changed.
    pub last_updated_at: Option<DateTime<Utc>>,
    /// When the instance reached a terminal status (not reported by every engine).
    pub completed_at: Option<DateTime<Utc>>,
    /// The input, as JSON text.
    pub input: Option<String>,
    /// The output, as JSON text.
    pub output: Option<String>,
    /// The custom status, as JSON text.
    pub custom_status: Option<String>,
    /// Why the instance failed, when it did.
    pub failure_details: Option<FailureDetails>,
    /// The execution id of the current execution, when the engine reports it.
    pub execution_id: Option<String>,
    /// The parent orchestration of a sub-orchestration, when the engine reports it.
    pub parent_instance_id: Option<String>,
    /// The orchestrator version, when the engine reports it.
    pub version: Option<String>,
    /// When the instance was scheduled to start, when the engine reports it.
    pub scheduled_start_at: Option<DateTime<Utc>>,
    /// The instance's tags, when the engine reports them.
    pub tags: BTreeMap<String, String>,
}

impl OrchestrationMetadata {
    /// Converts the protocol's state, rejecting a status this client does not know.
    pub(crate) fn from_proto(rpc: &'static str, state: proto::OrchestrationState) -> Result<Self, ClientError> {
        let status = OrchestrationStatus::from_proto(state.orchestration_status).ok_or_else(|| {
            ClientError::UnexpectedResponse {
                rpc,
                message: format!(
                    "instance '{}' has the unknown orchestration status {}",
                    state.instance_id, state.orchestration_status
                ),
            }
        })?;
        Ok(Self {
            instance_id: state.instance_id,
            name: state.name,
            status,
            created_at: state.created_timestamp.as_ref().map(to_datetime),
            last_updated_at: state.last_updated_timestamp.as_ref().map(to_datetime),
            completed_at: state.completed_timestamp.as_ref().map(to_datetime),
            input: state.input,
            output: state.output,
            custom_status: state.custom_status,
            failure_details: state.failure_details.as_ref().map(FailureDetails::from),
            execution_id: state.execution_id,
            parent_instance_id: state.parent_instance_id,
            version: state.version,
            scheduled_start_at: state.scheduled_start_timestamp.as_ref().map(to_datetime),
            tags: state.tags.into_iter().collect(),
        })
    }

    /// Decodes the input (JSON `null` when there is none or it was not fetched).
    pub fn read_input<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        json::decode(self.input.as_deref())
    }

    /// Decodes the output (JSON `null` when there is none or it was not fetched).
    pub fn read_output<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        json::decode(self.output.as_deref())
    }

    /// Decodes the custom status (JSON `null` when there is none).
    pub fn read_custom_status<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        json::decode(self.custom_status.as_deref())
    }
}

/// The page size of instance queries that do not choose one (an explicit size, because engines read
/// zero differently).
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Which orchestration instances a query returns. Every condition left unset matches everything.
///
/// ```
/// use durabletask_sdk::client::{InstanceQuery, OrchestrationStatus};
///
/// let query = InstanceQuery::new()
///     .with_statuses([OrchestrationStatus::Running, OrchestrationStatus::Pending])
///     .with_instance_id_prefix("return-")
///     .with_page_size(100);
/// assert_eq!(query.page_size, Some(100));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceQuery {
    /// Only instances in one of these statuses (all statuses when empty).
    pub statuses: Vec<OrchestrationStatus>,
    /// Only instances created at or after this time.
    pub created_from: Option<DateTime<Utc>>,
    /// Only instances created before this time.
    pub created_to: Option<DateTime<Utc>>,
    /// Only instances whose id starts with this text.
    pub instance_id_prefix: Option<String>,
    /// At most this many instances per page ([`DEFAULT_PAGE_SIZE`] when unset).
    pub page_size: Option<u32>,
    /// Include inputs and outputs.
    pub fetch_payloads: bool,
}

impl InstanceQuery {
    /// A query matching every instance.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only instances in one of these statuses.
    pub fn with_statuses(mut self, statuses: impl IntoIterator<Item = OrchestrationStatus>) -> Self {
        self.statuses = statuses.into_iter().collect();
        self
    }

    /// Only instances created in `[from, to)`; either bound may be left open.
    pub fn with_created_between(mut self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Self {
        self.created_from = from;
        self.created_to = to;
        self
    }

    /// Only instances whose id starts with `prefix`.
    pub fn with_instance_id_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.instance_id_prefix = Some(prefix.into());
        self
    }

    /// At most `size` instances per page.
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// Include inputs and outputs in the results.
    pub fn with_payloads(mut self) -> Self {
        self.fetch_payloads = true;
        self
    }

    pub(crate) fn to_proto(&self, continuation_token: Option<&str>) -> proto::InstanceQuery {
        proto::InstanceQuery {
            runtime_status: status_numbers(&self.statuses),
            created_time_from: self.created_from.map(to_timestamp),
            created_time_to: self.created_to.map(to_timestamp),
            task_hub_names: Vec::new(),
            max_instance_count: i32::try_from(self.page_size.unwrap_or(DEFAULT_PAGE_SIZE)).unwrap_or(i32::MAX),
            continuation_token: continuation_token.map(str::to_string),
            instance_id_prefix: self.instance_id_prefix.clone(),
            fetch_inputs_and_outputs: self.fetch_payloads,
        }
    }
}

/// Which finished instances [`DurableClient::list_instance_ids`](super::DurableClient::list_instance_ids) lists.
///
/// ```
/// use durabletask_sdk::client::{InstanceIdQuery, OrchestrationStatus};
///
/// let query = InstanceIdQuery::new().with_statuses([OrchestrationStatus::Failed]).with_page_size(500);
/// assert_eq!(query.page_size, Some(500));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceIdQuery {
    /// Only instances in one of these statuses (every finished status when empty).
    pub statuses: Vec<OrchestrationStatus>,
    /// Only instances completed at or after this time.
    pub completed_from: Option<DateTime<Utc>>,
    /// Only instances completed before this time.
    pub completed_to: Option<DateTime<Utc>>,
    /// At most this many ids per page ([`DEFAULT_PAGE_SIZE`] when unset).
    pub page_size: Option<u32>,
}

impl InstanceIdQuery {
    /// Every finished instance.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only instances in one of these statuses.
    pub fn with_statuses(mut self, statuses: impl IntoIterator<Item = OrchestrationStatus>) -> Self {
        self.statuses = statuses.into_iter().collect();
        self
    }

    /// Only instances completed in `[from, to)`; either bound may be left open.
    pub fn with_completed_between(mut self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Self {
        self.completed_from = from;
        self.completed_to = to;
        self
    }

    /// At most `size` ids per page.
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    pub(crate) fn to_proto(&self, continuation_token: Option<&str>) -> proto::ListInstanceIdsRequest {
        proto::ListInstanceIdsRequest {
            runtime_status: status_numbers(&self.statuses),
            completed_time_from: self.completed_from.map(to_timestamp),
            completed_time_to: self.completed_to.map(to_timestamp),
            page_size: i32::try_from(self.page_size.unwrap_or(DEFAULT_PAGE_SIZE)).unwrap_or(i32::MAX),
            last_instance_key: continuation_token.map(str::to_string),
        }
    }
}

pub(super) fn status_numbers(statuses: &[OrchestrationStatus]) -> Vec<i32> {
    statuses
        .iter()
        .map(|status| proto::OrchestrationStatus::from(*status) as i32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_statuses_from_the_engine_are_reported() {
        let state = proto::OrchestrationState {
            instance_id: "i".into(),
            orchestration_status: 99,
            ..Default::default()
        };
        let error = OrchestrationMetadata::from_proto("GetInstance", state).unwrap_err();
        assert!(error.to_string().contains("unknown orchestration status 99"), "{error}");
    }

    #[test]
    fn payloads_decode_as_json() {
        let state = proto::OrchestrationState {
            instance_id: "i".into(),
            orchestration_status: proto::OrchestrationStatus::Completed as i32,
            output: Some("[1,2]".into()),
            ..Default::default()
        };
        let metadata = OrchestrationMetadata::from_proto("GetInstance", state).unwrap();
        assert_eq!(metadata.read_output::<Vec<u8>>().unwrap(), vec![1, 2]);
        assert_eq!(metadata.read_input::<Option<u8>>().unwrap(), None);
    }
}
