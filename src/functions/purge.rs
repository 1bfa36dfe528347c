//! `PurgeTimer`: every night, delete the history of finished orchestration instances older than the retention,
//! then clean entity storage (remove empty entities, release orphaned locks), and log what was removed.
//!
//! The purge filters on creation time (the engine has no completion-time filter). Returns settle within days, so
//! "created more than 90 days ago and Completed" is, in practice, "finished more than ~90 days ago".
//!
//! A backlog can be far larger than one call can purge (the Durable extension on Azure Storage deletes instance by
//! instance). So the purge runs in rounds: each call carries a filter timeout, the engine answers with what it
//! deleted so far and whether anything is left, and the run calls again until nothing is left or its time budget
//! (well below the function timeout) is spent. The entity storage clean-up runs either way, and a purge that ran
//! out of time is continued by the next night's run.

use std::time::Duration;

use chrono::{DateTime, Utc};
use durabletask_sdk::client::{
    CleanEntityStorageOptions, ClientError, DurableClient, PurgeBudget, PurgeFilter, PurgeRound,
};
use durabletask_sdk::functions::{InvokeRequest, InvokeResponse};

use crate::error::AppError;
use crate::functions::CLIENT_BINDING;
use crate::state::AppState;
use crate::telemetry::metrics::metrics;

/// The timer trigger binding.
pub const TIMER_BINDING: &str = "timer";
/// The time one run may spend purging. host.json's `functionTimeout` is 5 minutes; the last purge call may end up
/// to the SDK's `PURGE_ANSWER_MARGIN` (30 s) after the budget, and the entity storage clean-up follows.
pub const PURGE_BUDGET: Duration = Duration::from_secs(3 * 60);
/// How long the engine may purge in one call before it reports its progress.
pub const PURGE_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs one purge.
pub async fn handle(state: &AppState, request: &InvokeRequest) -> Result<InvokeResponse, AppError> {
    let timer = request.timer(TIMER_BINDING)?;
    let client = state.clients.client_for(&request.durable_client(CLIENT_BINDING)?)?;
    let filter = purge_filter(state, Utc::now());
    let budget = PurgeBudget::new(PURGE_BUDGET).with_per_call(PURGE_CALL_TIMEOUT);
    let logs = run(&client, &filter, budget, timer.is_past_due).await?;
    Ok(logs.into_iter().fold(InvokeResponse::new(), InvokeResponse::with_log))
}

/// Purges in rounds within `budget`, then cleans entity storage; returns the log lines: one per purge round, then
/// the summary. Fails only when the engine fails (not when the budget runs out).
pub async fn run(
    client: &DurableClient,
    filter: &PurgeFilter,
    budget: PurgeBudget,
    is_past_due: bool,
) -> Result<Vec<String>, ClientError> {
    let mut logs = Vec::new();
    let purged = client
        .purge_instances_within(filter, budget, |round| logs.push(round_line(round)))
        .await?;
    if !purged.is_complete {
        tracing::warn!(
            deleted = purged.deleted_instance_count,
            rounds = purged.rounds,
            "the purge ran out of time before the engine reported it complete; the next run continues it"
        );
    }
    let cleaned = client.clean_entity_storage(CleanEntityStorageOptions::all()).await?;
    metrics().purged(purged.deleted_instance_count, u64::from(cleaned.empty_entities_removed));
    let summary = format!(
        "purge: {} instance(s) created before {} with status {} deleted in {} round(s) (complete: {}); entity \
         storage: {} empty entities removed, {} orphaned locks released{}",
        purged.deleted_instance_count,
        filter.created_to.map_or_else(|| "-".to_string(), |t| t.to_rfc3339()),
        filter
            .statuses_sent()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        purged.rounds,
        purged.is_complete,
        cleaned.empty_entities_removed,
        cleaned.orphaned_locks_released,
        if is_past_due { " (the timer was past due)" } else { "" },
    );
    tracing::info!("{summary}");
    logs.push(summary);
    Ok(logs)
}

fn round_line(round: &PurgeRound) -> String {
    tracing::info!(
        round = round.round,
        deleted = round.deleted_instance_count,
        complete = round.is_complete,
        "purge round"
    );
    format!(
        "purge round {}: {} instance(s) deleted, {}",
        round.round,
        round.deleted_instance_count,
        if round.is_complete {
            "nothing left"
        } else {
            "more remain"
        }
    )
}

/// Finished instances (of the configured statuses, never an empty list: the settings require at least one)
/// created before `now - retention`.
pub fn purge_filter(state: &AppState, now: DateTime<Utc>) -> PurgeFilter {
    let retention = chrono::Duration::from_std(state.config.purge_retention).unwrap_or(chrono::Duration::MAX);
    let cutoff = now.checked_sub_signed(retention).unwrap_or(DateTime::UNIX_EPOCH);
    PurgeFilter::created_before(cutoff).with_statuses(state.config.purge_statuses.clone())
}
