//! Purging finished orchestration instances: by id, by filter in one call, or by filter round after round within
//! a time budget, so that a large backlog is purged in steps that each report their progress.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::orchestration_types::status_numbers;
use super::{ClientError, DurableClient, OrchestrationStatus};
use crate::proto::{self, purge_instances_request};
use crate::time::to_timestamp;

/// How long the engine gets to answer a purge call after the filter's timeout has passed (it finishes the instance
/// it is deleting, then answers). A purge call's deadline is the filter's timeout plus this margin.
pub const PURGE_ANSWER_MARGIN: Duration = Duration::from_secs(30);
/// The deadline of a purge call whose filter has no timeout (or that names one instance), unless the client's own
/// call deadline is longer.
pub const DEFAULT_PURGE_DEADLINE: Duration = Duration::from_secs(5 * 60);

/// Which finished instances a purge deletes, and how long the engine may work on one purge call.
///
/// The Functions extension 2.x fails a purge without a lower creation bound, so the client always sends
/// one: the Unix epoch when `created_from` is `None`.
///
/// ```
/// use std::time::Duration;
/// use chrono::Utc;
/// use durabletask_sdk::client::{OrchestrationStatus, PurgeFilter};
///
/// let filter = PurgeFilter::created_before(Utc::now() - chrono::Duration::days(90))
///     .with_statuses([OrchestrationStatus::Completed])
///     .with_timeout(Duration::from_secs(60));
/// assert!(filter.created_from.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeFilter {
    /// Only instances created at or after this time (the Unix epoch when unset).
    pub created_from: Option<DateTime<Utc>>,
    /// Only instances created before this time.
    pub created_to: Option<DateTime<Utc>>,
    /// Only instances in one of these finished statuses (Completed, Failed, Terminated, Canceled). When empty the
    /// client sends all four explicitly: an empty list means *no* status filter to the Durable extension on Azure
    /// Storage, which would purge running instances as well. Any other status is refused.
    pub statuses: Vec<OrchestrationStatus>,
    /// How long the engine may purge in one call before answering with what it deleted so far
    /// ([`PurgeResult::is_complete`] false while more instances match). `None` lets the engine take as long as
    /// it needs, which on a large backlog outlasts any deadline while the purge goes on unreported. Engines that
    /// do not support it (extension 2.x, durabletask's in-memory engine) purge everything in one call.
    pub timeout: Option<Duration>,
    /// Also purge the sub-orchestrations of every purged instance. Honoured by the Durable Task Scheduler; the
    /// Durable Functions extension and durabletask's in-memory engine ignore it.
    pub recursive: bool,
}

impl PurgeFilter {
    /// Instances created before `time`.
    pub fn created_before(time: DateTime<Utc>) -> Self {
        Self {
            created_to: Some(time),
            ..Self::default()
        }
    }

    /// Only instances in one of these finished statuses.
    pub fn with_statuses(mut self, statuses: impl IntoIterator<Item = OrchestrationStatus>) -> Self {
        self.statuses = statuses.into_iter().collect();
        self
    }

    /// Only instances created at or after `time`.
    pub fn with_created_from(mut self, time: DateTime<Utc>) -> Self {
        self.created_from = Some(time);
        self
    }

    /// Purges the sub-orchestrations of the matching instances as well (see [`PurgeFilter::recursive`]).
    pub fn with_recursive(mut self) -> Self {
        self.recursive = true;
        self
    }

    /// Lets the engine purge for at most `timeout` per call (see [`PurgeFilter::timeout`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The statuses sent to the engine: the chosen ones, or every finished status when none was chosen.
    pub fn statuses_sent(&self) -> Vec<OrchestrationStatus> {
        if self.statuses.is_empty() {
            OrchestrationStatus::ALL
                .into_iter()
                .filter(|status| status.is_terminal())
                .collect()
        } else {
            self.statuses.clone()
        }
    }

    /// The protocol's filter; a status that is not a finished one is refused.
    pub(crate) fn to_proto(&self) -> Result<proto::PurgeInstanceFilter, String> {
        if let Some(unfinished) = self.statuses.iter().find(|status| !status.is_terminal()) {
            return Err(format!(
                "only finished instances can be purged (Completed, Failed, Terminated, Canceled), not {unfinished}"
            ));
        }
        let timeout = self
            .timeout
            .map(|timeout| prost_types::Duration::try_from(timeout).map_err(|error| format!("timeout: {error}")))
            .transpose()?;
        Ok(proto::PurgeInstanceFilter {
            created_time_from: Some(to_timestamp(self.created_from.unwrap_or(DateTime::UNIX_EPOCH))),
            created_time_to: self.created_to.map(to_timestamp),
            runtime_status: status_numbers(&self.statuses_sent()),
            timeout,
        })
    }
}

/// How [`DurableClient::purge_instance_with`] purges one instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeInstanceOptions {
    /// Also purge the instance's sub-orchestrations, and theirs. Honoured by the Durable Task Scheduler; the
    /// Durable Functions extension and durabletask's in-memory engine ignore it.
    pub recursive: bool,
}

impl PurgeInstanceOptions {
    /// Purges the sub-orchestrations as well.
    pub fn recursive() -> Self {
        Self { recursive: true }
    }
}

/// What a purge deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeResult {
    /// How many instances were deleted.
    pub deleted_instance_count: u32,
    /// False when the engine stopped early (for example on its own timeout) and more instances match:
    /// purge again to continue. Engines that do not report it purge everything in one call.
    pub is_complete: bool,
}

impl From<proto::PurgeInstancesResponse> for PurgeResult {
    fn from(response: proto::PurgeInstancesResponse) -> Self {
        Self {
            deleted_instance_count: u32::try_from(response.deleted_instance_count).unwrap_or(0),
            is_complete: response.is_complete.unwrap_or(true),
        }
    }
}

/// The time allowed to a [`DurableClient::purge_instances_within`] run.
///
/// ```
/// use std::time::Duration;
/// use durabletask_sdk::client::PurgeBudget;
///
/// let budget = PurgeBudget::new(Duration::from_secs(180)).with_per_call(Duration::from_secs(30));
/// assert_eq!(budget.per_call, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeBudget {
    /// No purge call starts once this much time has passed; each call's filter timeout is cut to what remains.
    /// A call still ends up to [`PURGE_ANSWER_MARGIN`] later, so keep the total that far below any outer limit
    /// (a function timeout).
    pub total: Duration,
    /// The filter timeout of each call: how long the engine purges before it reports progress.
    pub per_call: Duration,
}

impl PurgeBudget {
    /// The default time one call may purge before it reports progress.
    pub const DEFAULT_PER_CALL: Duration = Duration::from_secs(60);

    /// A budget of `total`, with calls of at most [`PurgeBudget::DEFAULT_PER_CALL`].
    pub fn new(total: Duration) -> Self {
        Self {
            total,
            per_call: Self::DEFAULT_PER_CALL.min(total),
        }
    }

    /// Lets each call purge for at most `per_call`.
    pub fn with_per_call(mut self, per_call: Duration) -> Self {
        self.per_call = per_call;
        self
    }
}

/// One call of a [`DurableClient::purge_instances_within`] run, as reported after it returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeRound {
    /// 1 for the first call.
    pub round: u32,
    /// How many instances this call deleted.
    pub deleted_instance_count: u32,
    /// True when the engine reported that nothing matching is left.
    pub is_complete: bool,
}

/// What a [`DurableClient::purge_instances_within`] run achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeProgress {
    /// Instances deleted over all rounds.
    pub deleted_instance_count: u64,
    /// How many purge calls were made.
    pub rounds: u32,
    /// True when the engine reported that nothing matching is left; false when the budget ran out first (or a
    /// call passed its deadline, in which case the engine may still be purging): purge again later to continue.
    pub is_complete: bool,
}

impl DurableClient {
    /// Deletes one finished instance and its history (engines refuse to purge a running one).
    pub async fn purge_instance(&self, instance_id: &str) -> Result<PurgeResult, ClientError> {
        self.purge_instance_with(instance_id, PurgeInstanceOptions::default())
            .await
    }

    /// Deletes one finished instance and its history, with `options`.
    pub async fn purge_instance_with(
        &self,
        instance_id: &str,
        options: PurgeInstanceOptions,
    ) -> Result<PurgeResult, ClientError> {
        let request = proto::PurgeInstancesRequest {
            request: Some(purge_instances_request::Request::InstanceId(instance_id.to_string())),
            recursive: options.recursive,
            ..Default::default()
        };
        self.purge(request, self.call_timeout).await
    }

    /// Deletes the finished instances matching `filter`, with their history, in one call.
    ///
    /// The call's deadline is the filter's [`timeout`](PurgeFilter::timeout) plus [`PURGE_ANSWER_MARGIN`], or
    /// [`DEFAULT_PURGE_DEADLINE`] without one (never less than the client's call deadline): purges take longer
    /// than other calls. Set a timeout on large backlogs and call again while [`PurgeResult::is_complete`] is
    /// false, or use [`DurableClient::purge_instances_within`].
    pub async fn purge_instances(&self, filter: &PurgeFilter) -> Result<PurgeResult, ClientError> {
        const RPC: &str = "PurgeInstances";
        let purge_filter = filter
            .to_proto()
            .map_err(|message| ClientError::InvalidArgument { rpc: RPC, message })?;
        let request = proto::PurgeInstancesRequest {
            request: Some(purge_instances_request::Request::PurgeInstanceFilter(purge_filter)),
            recursive: filter.recursive,
            ..Default::default()
        };
        let deadline = filter
            .timeout
            .map_or(DEFAULT_PURGE_DEADLINE, |timeout| timeout + PURGE_ANSWER_MARGIN)
            .max(self.call_timeout);
        self.purge(request, deadline).await
    }

    /// Purges the finished instances matching `filter` round after round, each call with the filter timeout
    /// [`PurgeBudget::per_call`] (cut to what remains of the budget), until the engine reports that nothing
    /// matching is left or the budget is spent. `on_round` is told about every call, for logging.
    ///
    /// A call that passes its deadline ends the run as incomplete rather than as an error: the engine may still
    /// be purging, and the next run continues where it stopped. Other failures are errors.
    pub async fn purge_instances_within(
        &self,
        filter: &PurgeFilter,
        budget: PurgeBudget,
        mut on_round: impl FnMut(&PurgeRound),
    ) -> Result<PurgeProgress, ClientError> {
        let started = Instant::now();
        let mut progress = PurgeProgress::default();
        loop {
            let remaining = budget.total.saturating_sub(started.elapsed());
            if remaining.is_zero() {
                return Ok(progress);
            }
            let round = filter.clone().with_timeout(budget.per_call.min(remaining));
            let result = match self.purge_instances(&round).await {
                Ok(result) => result,
                Err(ClientError::DeadlineExceeded { message, .. }) => {
                    tracing::warn!(
                        round = progress.rounds + 1,
                        "a purge call passed its deadline ({message}); the engine may still be purging"
                    );
                    return Ok(progress);
                }
                Err(error) => return Err(error),
            };
            progress.rounds += 1;
            progress.deleted_instance_count += u64::from(result.deleted_instance_count);
            progress.is_complete = result.is_complete;
            on_round(&PurgeRound {
                round: progress.rounds,
                deleted_instance_count: result.deleted_instance_count,
                is_complete: result.is_complete,
            });
            if result.is_complete {
                return Ok(progress);
            }
        }
    }

    async fn purge(
        &self,
        request: proto::PurgeInstancesRequest,
        deadline: Duration,
    ) -> Result<PurgeResult, ClientError> {
        let response = self
            .call("PurgeInstances", request, deadline, |mut sidecar, request| async move {
                sidecar.purge_instances(request).await
            })
            .await?;
        Ok(response.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purge_filters_always_carry_a_lower_creation_bound() {
        let filter = PurgeFilter::default().to_proto().unwrap();
        assert_eq!(filter.created_time_from, Some(to_timestamp(DateTime::UNIX_EPOCH)));
        assert_eq!(filter.created_time_to, None);
        assert_eq!(filter.timeout, None);
    }

    #[test]
    fn an_empty_status_list_is_sent_as_every_finished_status() {
        let sent = PurgeFilter::default().to_proto().unwrap().runtime_status;
        let finished = [
            proto::OrchestrationStatus::Completed,
            proto::OrchestrationStatus::Failed,
            proto::OrchestrationStatus::Canceled,
            proto::OrchestrationStatus::Terminated,
        ];
        assert_eq!(sent, finished.map(|status| status as i32));
        let chosen = PurgeFilter::default().with_statuses([OrchestrationStatus::Failed]);
        assert_eq!(
            chosen.to_proto().unwrap().runtime_status,
            [proto::OrchestrationStatus::Failed as i32]
        );
    }

    #[test]
    fn unfinished_statuses_are_refused() {
        let filter =
            PurgeFilter::default().with_statuses([OrchestrationStatus::Completed, OrchestrationStatus::Running]);
        let error = filter.to_proto().unwrap_err();
        assert!(error.contains("not Running"), "{error}");
    }

    #[test]
    fn the_timeout_is_sent_as_a_protobuf_duration() {
        let filter = PurgeFilter::default().with_timeout(Duration::from_millis(1500));
        let timeout = filter.to_proto().unwrap().timeout.unwrap();
        assert_eq!((timeout.seconds, timeout.nanos), (1, 500_000_000));
    }
}
