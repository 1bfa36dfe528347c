//! What the app does with an event it accepted, whether it came from Service Bus (`ServiceBusTrigger`) or from an
//! operator re-sending it (`ResendEvents`): two signals to the return's entity.
//!
//! 1. `apply`, now: fold the event into the return.
//! 2. `checkDeadline` naming the event, scheduled at the acceptance + `STUCK_RETURN_AFTER`: the return answers
//!    whether it recorded the event. The real Durable extension fails a whole entity batch for good when the
//!    handler crashes during it (its `apply` signals are gone, and the Service Bus message was already
//!    completed); this check is a separate signal, delivered in a later batch, so it still arrives and the return
//!    raises an alert naming the event (also when the lost batch held the return's first event, which would have
//!    scheduled the return's own deadline check).
//!
//! Both are safe to repeat: a redelivered message signals the same event again (a duplicate for the return) and
//! checks it again (the second check finds it recorded, or already listed as not recorded).

use chrono::{DateTime, Utc};
use durabletask_sdk::client::{ClientError, DurableClient};

use crate::domain::{accepted_event, ReturnEvent};
use crate::durable::contract::{aggregate_entity_id, AggregateOperation};
use crate::durable::DurableSettings;

/// The event type a message names outside its body: the `eventType` application property, else its `Subject`.
pub fn event_type_hint(event_type_property: Option<&str>, subject: Option<&str>) -> Option<String> {
    event_type_property.or(subject).map(str::to_owned)
}

/// Signals `event`, accepted at `accepted_at` from the message `message_id`, to its return, and schedules its
/// check (see the module documentation).
pub async fn signal_accepted_event(
    client: &DurableClient,
    settings: &DurableSettings,
    event: ReturnEvent,
    message_id: Option<&str>,
    accepted_at: DateTime<Utc>,
) -> Result<(), ClientError> {
    let entity = aggregate_entity_id(event.return_id());
    let check = AggregateOperation::CheckDeadline(Some(Box::new(accepted_event(&event, message_id, accepted_at))));
    let check_at = accepted_at + settings.domain.stuck_after;
    let apply = AggregateOperation::Apply(Box::new(event));
    client.signal_entity(&entity, apply.name(), &apply.input()).await?;
    client
        .signal_entity_at(&entity, check.name(), &check.input(), check_at)
        .await
}
