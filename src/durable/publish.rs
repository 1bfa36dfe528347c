//! The publishing activities: they hand the message to the host through a Service Bus output binding, which the
//! host sends after the activity returns successfully. If sending fails the invocation fails, and the
//! orchestrator's retry policy runs the activity again.

use durabletask_sdk::{ActivityContext, Error};
use serde_json::{json, Value};

use super::contract::{AlertMessage, ALERT_BINDING, INVALID_EVENT_BINDING, NOTIFICATION_BINDING};
use crate::domain::{InvalidEventRecord, ReturnSettledNotification};
use crate::telemetry::metrics::metrics;

/// Publishes the settled notification.
pub async fn publish_notification(
    ctx: ActivityContext,
    notification: ReturnSettledNotification,
) -> Result<Value, Error> {
    ctx.set_output(NOTIFICATION_BINDING, &notification)?;
    let settle_seconds = (chrono::Utc::now() - notification.first_event_at())
        .to_std()
        .ok()
        .map(|elapsed| elapsed.as_secs_f64());
    metrics().notification_published(settle_seconds);
    tracing::info!(
        return_id = notification.return_id.as_str(),
        notification_id = %notification.notification_id,
        settle_seconds,
        "settled notification handed to the notifications topic"
    );
    Ok(json!({ "notificationId": notification.notification_id, "binding": NOTIFICATION_BINDING }))
}

/// Publishes an alert: a stuck return, an unrecorded event, or an event that reached a closed return.
pub async fn publish_alert(ctx: ActivityContext, alert: AlertMessage) -> Result<Value, Error> {
    ctx.set_output(ALERT_BINDING, &alert)?;
    let (kind, missing) = match &alert {
        AlertMessage::Stuck(stuck) => {
            metrics().stuck_alert();
            // The kinds of what is missing (`bookingNotSeen`, `itemsOutstanding`, …): the operations queries
            // group by them.
            let missing = stuck
                .missing
                .iter()
                .filter_map(|piece| {
                    serde_json::to_value(piece)
                        .ok()?
                        .get("kind")?
                        .as_str()
                        .map(str::to_owned)
                })
                .collect::<Vec<_>>()
                .join(",");
            ("stuck", missing)
        }
        AlertMessage::LateEvent(_) => ("late-event", String::new()),
    };
    tracing::warn!(
        return_id = alert.return_id().as_str(),
        alert_id = %alert.alert_id(),
        kind,
        missing,
        "alert handed to the alerts queue"
    );
    Ok(json!({ "alertId": alert.alert_id(), "binding": ALERT_BINDING }))
}

/// Keeps an event the entity refused on the invalid-events queue.
pub async fn publish_invalid_event(ctx: ActivityContext, record: InvalidEventRecord) -> Result<Value, Error> {
    ctx.set_output(INVALID_EVENT_BINDING, &record)?;
    tracing::warn!(
        return_id = record.return_id.as_deref().unwrap_or(""),
        reason = record.reason.as_str(),
        "refused event handed to the invalid-events queue"
    );
    Ok(json!({ "reason": record.reason, "binding": INVALID_EVENT_BINDING }))
}
