//! The notification orchestrator: publishes one finished [`Publication`](super::Publication) through its activity
//! with retries and backoff, reports back to the return's entity, and keeps a custom status that support can read.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use durabletask_sdk::{Error, OrchestrationContext};
use serde::Serialize;

use super::contract::{AggregateOperation, PublicationInput, Published};
use super::settings::DurableSettings;
use crate::domain::ReturnId;

/// The orchestration version from which the report to the return is a call the orchestration waits for, not a
/// one-way signal: a finished orchestration then means the return has recorded the message (its status never shows
/// a finished publication as unrecorded), or its custom status says why not (`reportFailed`). Instances started at
/// an older version keep signalling when they replay, so a deploy does not break them (README, "Deploying a new
/// version safely").
pub const REPORT_AWAITED_SINCE: &str = "2.0";

/// The orchestrator.
pub async fn orchestrate(
    ctx: OrchestrationContext,
    publication: PublicationInput,
    settings: Arc<DurableSettings>,
) -> Result<serde_json::Value, Error> {
    let return_id = publication.return_id();
    ctx.set_custom_status(&Status {
        stage: "publishing",
        return_id,
        published_at: None,
        report_failed: None,
    })?;
    let receipt: serde_json::Value = ctx
        .call_activity(publication.activity(), &publication.message())
        .with_retry(settings.publish_retry.clone())
        .await?;
    let published_at = ctx.current_utc_datetime();
    let entity = return_id.and_then(|id| ReturnId::parse(id).ok());
    let mut status = Status {
        stage: "published",
        return_id,
        published_at: Some(published_at),
        report_failed: None,
    };
    if let (Some(kind), Some(return_id)) = (publication.published_kind(), entity) {
        let report = AggregateOperation::Published(Published { kind, published_at });
        let entity = super::contract::aggregate_entity_id(&return_id);
        if ctx.compare_version(REPORT_AWAITED_SINCE).is_ge() {
            // From 2.0 the report is a call (a `sendEntityMessage` action), so the status says whether the return
            // recorded it. An extension that cannot convert that action fails the instance after the message went
            // out; `RedriveNotification` then finds the publication in its history and records it (README,
            // "The `published` signal on every extension release"). The message is out: a refused report must not
            // fail the instance (a restart would publish again).
            let answer = ctx
                .call_entity::<serde_json::Value>(&entity, report.name(), &report.input())
                .await;
            if let Err(problem) = answer {
                status.report_failed = Some(problem.to_string());
            }
        } else {
            // Before 2.0: sent as the `op` event of the framework's first entity protocol, not as a
            // `sendEntityMessage` action: extension releases before that action existed fail the orchestration
            // that returns it (after the message went out, so the entity would never record it), and the releases
            // that know it convert it into this very event (Azure/azure-functions-durable-extension,
            // `ProtobufUtils.ToOrchestratorAction`, `EntityOperationSignaled` → `SendEventOrchestratorAction` "op"
            // + `RequestMessage` JSON).
            ctx.signal_entity_as_event(&entity, report.name(), &report.input());
        }
    }
    ctx.set_custom_status(&status)?;
    Ok(receipt)
}

/// The custom status support reads: the stage, the return, once published when, and why the return did not
/// record the report if it refused it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status<'a> {
    stage: &'static str,
    return_id: Option<&'a str>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::domain::timestamp_json::option"
    )]
    published_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report_failed: Option<String>,
}
