//! The notification orchestrator: builds the consolidated message, publishes it through an activity with retries
//! and backoff, reports back to the entity, and keeps a custom status that support can read.

use std::sync::Arc;

use durabletask_sdk::{Error, OrchestrationContext};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::aggregate_entity::{Published, PUBLISHED_OPERATION};
use super::{aggregate_entity_id, DurableSettings, PUBLISH_ALERT, PUBLISH_NOTIFICATION};
use crate::domain::{ReturnAggregate, ReturnId, ReturnSettledNotification, ReturnStuckAlert};

/// Which message an orchestration publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NotifyKind {
    /// The consolidated "return settled" notification.
    Settled,
    /// The "return stuck" alert.
    Stuck,
}

/// The orchestrator's input, sent by the entity.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum NotifyInput {
    /// Publish the settled notification built from this aggregate.
    Settled {
        /// The settled aggregate.
        aggregate: Box<ReturnAggregate>,
    },
    /// Publish this alert.
    Stuck {
        /// The alert.
        alert: ReturnStuckAlert,
    },
}

/// The orchestration instance id for `kind` of `return_id`: derived from the return id, so a return has at most
/// one of each.
pub fn orchestration_instance_id(kind: NotifyKind, return_id: &ReturnId) -> String {
    match kind {
        NotifyKind::Settled => format!("returns-settled-{return_id}"),
        NotifyKind::Stuck => format!("returns-stuck-{return_id}"),
    }
}

/// The orchestrator.
pub async fn orchestrate(
    ctx: OrchestrationContext,
    input: NotifyInput,
    settings: Arc<DurableSettings>,
) -> Result<serde_json::Value, Error> {
    let (kind, return_id, activity, message) = match input {
        NotifyInput::Settled { aggregate } => {
            let notification = ReturnSettledNotification::from_aggregate(&aggregate)
                .map_err(|e| Error::new("NotificationError", e.to_string()).non_retriable())?;
            let message = serde_json::to_value(&notification)?;
            (
                NotifyKind::Settled,
                aggregate.return_id().clone(),
                PUBLISH_NOTIFICATION,
                message,
            )
        }
        NotifyInput::Stuck { alert } => {
            let return_id = alert.return_id.clone();
            (
                NotifyKind::Stuck,
                return_id,
                PUBLISH_ALERT,
                serde_json::to_value(&alert)?,
            )
        }
    };
    ctx.set_custom_status(&json!({ "stage": "publishing", "returnId": return_id }))?;
    let receipt: serde_json::Value = ctx
        .call_activity_with_retry(activity, &message, settings.publish_retry.clone())
        .await?;
    let published = Published {
        kind,
        published_at: ctx.current_utc_datetime(),
    };
    ctx.signal_entity(&aggregate_entity_id(&return_id), PUBLISHED_OPERATION, &published);
    ctx.set_custom_status(
        &json!({ "stage": "published", "returnId": return_id, "publishedAt": published.published_at }),
    )?;
    Ok(receipt)
}
