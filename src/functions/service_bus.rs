//! `ServiceBusTrigger`: one return event from Service Bus → validated → signalled to the return's aggregate
//! entity through the durable client, with its later check ([`super::ingress`]).
//!
//! Failure policy (see the README, "Bad input"):
//! - an invalid event (not JSON, unknown type, missing or malformed return id, wrong shapes) is never signalled;
//!   the handler answers 2xx and puts the message, with a reason naming the field, on the invalid-events queue
//!   (output binding `invalidEvents`), where a person can find, fix and resubmit it;
//! - an unreachable or failing engine answers 503, so Service Bus redelivers the message and dead-letters it after
//!   its maximum delivery count: nothing is lost either way.

use chrono::Utc;
use durabletask_sdk::functions::{InvokeRequest, InvokeResponse};
use serde_json::Value;

use crate::domain::log_text::for_log;
use crate::domain::{parse_event, InvalidEvent, InvalidEventRecord, KeptBody, ReturnEvent};
use crate::error::AppError;
use crate::functions::ingress::{event_type_hint, signal_accepted_event};
use crate::json_budget;
use crate::state::AppState;
use crate::telemetry::metrics::metrics;

use crate::durable::contract::CLIENT_BINDING;

/// The trigger binding (`function.json`).
pub const MESSAGE_BINDING: &str = "message";
/// The output binding of the invalid-events queue.
pub const INVALID_EVENTS_BINDING: &str = "invalidEvents";

/// The most JSON values a message may hold to be read as an event: a real event has a few hundred, and up to this
/// many the parse stays within a few MB. A message of more (50 MiB of `[1,1,…]` would become a 1 GB tree) is kept
/// on the invalid-events queue without being parsed. Long text fields cost no more than their bytes.
pub const MAX_EVENT_JSON_VALUES: usize = 100_000;

/// Handles one Service Bus message. The invocation is consumed: its (base64) message text is freed as soon as the
/// message is decoded.
pub async fn handle(state: &AppState, request: InvokeRequest) -> Result<InvokeResponse, AppError> {
    let message = ReceivedMessage::read(&request)?;
    let binding = request.durable_client(CLIENT_BINDING);
    drop(request);
    let parsed = if json_budget::exceeds(&message.body, MAX_EVENT_JSON_VALUES) {
        Err(InvalidEvent::invalid(
            "body",
            format!("holds more than {MAX_EVENT_JSON_VALUES} JSON values; an event holds a few hundred"),
        ))
    } else {
        parse_event(
            message.type_hint.as_deref(),
            message.message_id.as_deref(),
            &message.body,
        )
    };
    let event = match parsed {
        Ok(event) => event,
        Err(invalid) => return Ok(reject(message, &invalid)),
    };
    let binding = binding?;
    let client = state.clients.client_for(&binding)?;
    let return_id = event.return_id().clone();
    let event_type = event.event_type();
    let log = accepted_log(&event);
    let message_id = message.message_id.as_deref();
    signal_accepted_event(&client, &state.durable_settings, event, message_id, Utc::now()).await?;
    metrics().event_accepted(event_type.as_str());
    tracing::info!(
        message_id = for_log(message_id.unwrap_or("")),
        return_id = return_id.as_str(),
        event_type = %event_type,
        "event signalled to its return, its check scheduled"
    );
    Ok(InvokeResponse::new().with_log(log))
}

fn accepted_log(event: &ReturnEvent) -> String {
    format!(
        "{} {} for return {} signalled",
        event.event_type(),
        for_log(&event.envelope.event_id),
        event.return_id().as_str()
    )
}

/// Answers 2xx (so the message completes) with the message and the reason on the invalid-events queue. The body
/// moves into the record (no copy: it can be up to 100 MB).
fn reject(message: ReceivedMessage, invalid: &InvalidEvent) -> InvokeResponse {
    // Message ids, subjects and error texts come from outside: escaped and cut before they reach a log line.
    metrics().event_invalid(invalid.reason_code(), message.type_hint.as_deref());
    let error = for_log(&invalid.to_string());
    let message_id = for_log(message.message_id.as_deref().unwrap_or("<no message id>"));
    tracing::warn!(
        message_id,
        subject = for_log(message.subject.as_deref().unwrap_or("")),
        reason = invalid.reason_code(),
        field = for_log(invalid.field()),
        "invalid event kept on the invalid-events queue: {error}"
    );
    let record = InvalidEventRecord {
        reason: invalid.reason_code().to_owned(),
        field: invalid.field().to_owned(),
        error: invalid.to_string(),
        message_id: message.message_id.clone(),
        subject: message.subject.clone(),
        delivery_count: message.delivery_count,
        return_id: None,
        rejected_by: None,
        rejected_at: Utc::now(),
        body: KeptBody::from_bytes(message.body),
    };
    InvokeResponse::new()
        .with_output(
            INVALID_EVENTS_BINDING,
            serde_json::to_value(record).expect("the record serialises"),
        )
        .with_log(format!("invalid event {message_id}: {error}"))
}

/// The parts of a Service Bus invocation the handler uses.
struct ReceivedMessage {
    body: Vec<u8>,
    message_id: Option<String>,
    subject: Option<String>,
    type_hint: Option<String>,
    delivery_count: Option<i64>,
}

impl ReceivedMessage {
    fn read(request: &InvokeRequest) -> Result<Self, AppError> {
        let body = request.service_bus_body(MESSAGE_BINDING)?;
        let message_id = request.metadata_string("MessageId")?;
        let subject = request
            .metadata_string("Subject")?
            .or(request.metadata_string("Label")?);
        let properties = request.metadata_object("ApplicationProperties")?;
        let type_property = properties
            .as_ref()
            .and_then(|properties| properties.get("eventType").and_then(Value::as_str));
        Ok(Self {
            body,
            message_id,
            type_hint: event_type_hint(type_property, subject.as_deref()),
            subject,
            delivery_count: request.metadata_int("DeliveryCount")?,
        })
    }
}
