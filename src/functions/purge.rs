//! `PurgeTimer`: every night, delete the history of finished orchestration instances older than the retention,
//! then clean entity storage (remove empty entities, release orphaned locks), and log what was removed.
//!
//! The purge filters on creation time (the engine has no completion-time filter). Returns settle within days, so
//! "created more than 90 days ago and Completed" is, in practice, "finished more than ~90 days ago".

use chrono::{DateTime, Utc};
use durabletask_sdk::client::PurgeFilter;
use durabletask_sdk::functions::{InvokeRequest, InvokeResponse};

use crate::app::AppState;
use crate::error::AppError;

/// The timer trigger binding.
pub const TIMER_BINDING: &str = "timer";
/// The durable client binding.
pub const CLIENT_BINDING: &str = "client";
/// How many more purge calls one run makes when the engine reports it stopped early.
const MAX_PURGE_ROUNDS: usize = 20;

/// Runs one purge.
pub async fn handle(state: &AppState, request: &InvokeRequest) -> Result<InvokeResponse, AppError> {
    let timer = request.timer(TIMER_BINDING)?;
    let client = state.clients.client_for(&request.durable_client(CLIENT_BINDING)?)?;
    let filter = purge_filter(state, Utc::now());
    // The engine may stop early on large backlogs (is_complete = false); keep going, a bounded number of times.
    let mut purged = client.purge_instances(&filter).await?;
    for _ in 0..MAX_PURGE_ROUNDS {
        if purged.is_complete {
            break;
        }
        let more = client.purge_instances(&filter).await?;
        purged.deleted_instance_count += more.deleted_instance_count;
        purged.is_complete = more.is_complete;
    }
    let cleaned = client.clean_entity_storage(true, true).await?;
    let summary = format!(
        "purge: {} instance(s) created before {} with status {} deleted (complete: {}); entity storage: {} empty \
         entities removed, {} orphaned locks released{}",
        purged.deleted_instance_count,
        filter.created_to.map_or_else(|| "-".to_string(), |t| t.to_rfc3339()),
        filter
            .statuses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        purged.is_complete,
        cleaned.empty_entities_removed,
        cleaned.orphaned_locks_released,
        if timer.is_past_due {
            " (the timer was past due)"
        } else {
            ""
        },
    );
    tracing::info!("{summary}");
    Ok(InvokeResponse::new().with_log(summary))
}

/// Finished instances (of the configured statuses) created before `now - retention`.
pub fn purge_filter(state: &AppState, now: DateTime<Utc>) -> PurgeFilter {
    let retention = chrono::Duration::from_std(state.config.purge_retention).unwrap_or(chrono::Duration::MAX);
    let cutoff = now.checked_sub_signed(retention).unwrap_or(DateTime::UNIX_EPOCH);
    let mut filter = PurgeFilter::created_before(cutoff);
    filter.statuses = state.config.purge_statuses.clone();
    filter
}
