//! The notification orchestrator: publishes one finished [`Publication`] through its activity with retries and
//! backoff, reports back to the return's entity, and keeps a custom status that support can read.

use std::sync::Arc;

use durabletask_sdk::{Error, OrchestrationContext};
use serde_json::json;

use super::contract::{AggregateOperation, Publication, Published};
use super::settings::DurableSettings;
use crate::domain::ReturnId;

/// The orchestrator.
pub async fn orchestrate(
    ctx: OrchestrationContext,
    publication: Publication,
    settings: Arc<DurableSettings>,
) -> Result<serde_json::Value, Error> {
    let return_id = publication.return_id().map(str::to_owned);
    let message = publication.message()?;
    ctx.set_custom_status(&json!({ "stage": "publishing", "returnId": return_id }))?;
    let receipt: serde_json::Value = ctx
        .call_activity(publication.activity(), &message)
        .with_retry(settings.publish_retry.clone())
        .await?;
    let published_at = ctx.current_utc_datetime();
    let entity = return_id.as_deref().and_then(|id| ReturnId::parse(id).ok());
    if let (Some(kind), Some(return_id)) = (publication.published_kind(), entity) {
        let report = AggregateOperation::Published(Published { kind, published_at });
        // Sent as the `op` event of the framework's first entity protocol, not as a `sendEntityMessage` action:
        // extension releases before that action existed fail the orchestration that returns it (after the message
        // went out, so the entity would never record it), and the releases that know it convert it into this very
        // event (Azure/azure-functions-durable-extension, `ProtobufUtils.ToOrchestratorAction`,
        // `EntityOperationSignaled` → `SendEventOrchestratorAction` "op" + `RequestMessage` JSON). README, "The
        // `published` signal on every extension release".
        ctx.signal_entity_as_event(
            &super::contract::aggregate_entity_id(&return_id),
            report.name(),
            &report.input(),
        );
    }
    ctx.set_custom_status(&json!({ "stage": "published", "returnId": return_id, "publishedAt": published_at }))?;
    Ok(receipt)
}
