//! The return aggregate entity: one per return, keyed by return id. It folds events into the domain aggregate,
//! starts the notification orchestration exactly once, raises the stuck alert once, and deletes its tombstone
//! after the retention period, all through its own state and scheduled self-signals.
//!
//! It never fails an `apply`: the real Durable extension does not retry a failed entity operation, and a signal's
//! failure reaches nobody. An event it cannot record is kept on the invalid-events queue (through a
//! [`Publication::InvalidEvent`] orchestration) and logged at warn with its reason.

use chrono::{DateTime, Utc};
use durabletask_sdk::{EntityContext, Error};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::contract::{AggregateOperation, OperationError, Publication, ORCHESTRATOR};
use super::settings::DurableSettings;
use crate::domain::log_text::for_log;
use crate::domain::notification::MessageKind;
use crate::domain::{
    AcceptedCheck, AcceptedEvent, Conflict, Disposition, InvalidEventRecord, KeptBody, ReturnAggregate, ReturnEvent,
    ReturnId, ReturnSettledNotification, ReturnStatus,
};
use crate::telemetry;
use crate::telemetry::metrics::metrics;

/// The entity's state: the aggregate and what was published about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregateEntityState {
    /// The facts about the return.
    pub aggregate: ReturnAggregate,
    /// When the settled notification was published.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::domain::timestamp_json::option"
    )]
    pub notification_published_at: Option<DateTime<Utc>>,
    /// When the stuck alert was published.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::domain::timestamp_json::option"
    )]
    pub alert_published_at: Option<DateTime<Utc>>,
}

impl AggregateEntityState {
    fn new(return_id: ReturnId) -> Self {
        Self {
            aggregate: ReturnAggregate::new(return_id),
            notification_published_at: None,
            alert_published_at: None,
        }
    }
}

/// Runs one operation.
pub fn run(ctx: &mut EntityContext, settings: &DurableSettings) -> Result<Value, Error> {
    // Entities are not replayed: each operation runs once and commits, so the clock is read here, once, and the
    // domain is handed the time.
    let now = Utc::now();
    let operation = match AggregateOperation::decode(ctx.operation(), ctx.input_json()) {
        Ok(operation) => operation,
        Err(problem) => return unreadable_operation(ctx, &problem, now),
    };
    let key = ctx.entity_id().key().to_owned();
    let return_id = match ReturnId::parse(&key) {
        Ok(return_id) => return_id,
        Err(problem) => {
            let error = format!("entity key: not a return id ({problem})");
            return refuse_or_fail(ctx, &operation, "InvalidEntityKey", "returnId", &error, now);
        }
    };
    let state: Option<AggregateEntityState> = match ctx.get_state() {
        Ok(state) => state,
        Err(problem) => {
            tracing::error!(
                return_id = return_id.as_str(),
                "the state of the return cannot be read: {problem}"
            );
            let error = format!("state: the stored state of return {return_id} cannot be read");
            return refuse_or_fail(ctx, &operation, "StateUnreadable", "state", &error, now);
        }
    };
    match operation {
        AggregateOperation::Apply(event) => apply_event(ctx, settings, return_id, state, *event, now),
        AggregateOperation::CheckDeadline(None) => check_deadline(ctx, settings, state, now),
        AggregateOperation::CheckDeadline(Some(accepted)) => {
            check_accepted(ctx, settings, return_id, state, &accepted, now)
        }
        AggregateOperation::Published(report) => published(ctx, settings, state, report.kind, report.published_at),
        AggregateOperation::Expire => expire(ctx, settings, state, now),
    }
}

/// An operation whose name or input cannot be read: an `apply` keeps its input on the invalid-events queue; any
/// other fails (its failure result is all the caller, one of our own functions, can be told).
fn unreadable_operation(ctx: &mut EntityContext, problem: &OperationError, now: DateTime<Utc>) -> Result<Value, Error> {
    if let OperationError::Input { operation, .. } = problem {
        if *operation == super::contract::APPLY_EVENT_OPERATION {
            let input = ctx.input_json().unwrap_or("").to_owned();
            let record = refusal_record(ctx, "UnreadableEvent", "body", &problem.to_string(), input, now);
            keep(ctx, record)?;
            return Ok(refused("UnreadableEvent"));
        }
    }
    tracing::warn!(
        entity = for_log(&ctx.entity_id().to_string()),
        "operation refused: {}",
        for_log(&problem.to_string())
    );
    let error_type = match problem {
        OperationError::Unknown(_) => "UnknownOperation",
        OperationError::Input { .. } => "InvalidOperationInput",
    };
    Err(Error::new(error_type, problem.to_string()).non_retriable())
}

/// A problem that prevents every operation: an `apply` keeps its event on the invalid-events queue, others fail.
fn refuse_or_fail(
    ctx: &mut EntityContext,
    operation: &AggregateOperation,
    reason: &'static str,
    field: &str,
    error: &str,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    match operation {
        AggregateOperation::Apply(event) => {
            let body = event_body(event);
            let record = refusal_record(ctx, reason, field, error, body, now);
            keep(ctx, record)?;
            Ok(refused(reason))
        }
        _ => {
            tracing::warn!(
                entity = for_log(&ctx.entity_id().to_string()),
                operation = operation.name(),
                "operation refused: {}",
                for_log(error)
            );
            Err(Error::new(reason, error.to_owned()).non_retriable())
        }
    }
}

fn event_body(event: &ReturnEvent) -> String {
    event.to_wire_json().to_string()
}

fn refusal_record(
    ctx: &EntityContext,
    reason: &str,
    field: &str,
    error: &str,
    body: String,
    now: DateTime<Utc>,
) -> InvalidEventRecord {
    InvalidEventRecord {
        reason: reason.to_owned(),
        field: field.to_owned(),
        error: error.to_owned(),
        message_id: None,
        subject: None,
        delivery_count: None,
        return_id: Some(ctx.entity_id().key().to_owned()),
        rejected_by: Some(super::contract::AGGREGATE_ENTITY.to_owned()),
        rejected_at: now,
        body: KeptBody::Text(body),
    }
}

/// Starts the orchestration that keeps `record` on the invalid-events queue, and says so at warn.
fn keep(ctx: &mut EntityContext, record: InvalidEventRecord) -> Result<(), Error> {
    tracing::warn!(
        entity = for_log(&ctx.entity_id().to_string()),
        reason = record.reason.as_str(),
        "event refused by the return's entity, kept on the invalid-events queue: {}",
        for_log(&record.error)
    );
    start(ctx, &Publication::InvalidEvent(Box::new(record)))
}

fn start(ctx: &mut EntityContext, publication: &Publication) -> Result<(), Error> {
    ctx.start_new_orchestration(ORCHESTRATOR, publication, Some(&publication.instance_id()))?;
    Ok(())
}

fn refused(reason: &str) -> Value {
    json!({ "disposition": "refused", "reason": reason, "kept": "invalid-events queue" })
}

fn apply_event(
    ctx: &mut EntityContext,
    settings: &DurableSettings,
    return_id: ReturnId,
    state: Option<AggregateEntityState>,
    event: ReturnEvent,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    if event.return_id() != &return_id {
        let error = format!(
            "returnId: the event is about return {} but reached the entity of return {return_id}",
            event.return_id()
        );
        metrics().event_invalid("WrongReturn", Some(event.event_type().as_str()));
        let record = refusal_record(ctx, "WrongReturn", "returnId", &error, event_body(&event), now);
        keep(ctx, record)?;
        return Ok(refused("WrongReturn"));
    }
    let mut state = state.unwrap_or_else(|| AggregateEntityState::new(return_id.clone()));
    let outcome = state.aggregate.apply(&event, now);
    if outcome.first_event {
        if let Some(deadline) = state.aggregate.stuck_deadline(&settings.domain) {
            signal_self_at(ctx, &AggregateOperation::CheckDeadline(None), deadline)?;
        }
    }
    match &outcome.disposition {
        Disposition::Refused(conflict) => {
            let reason = match conflict {
                Conflict::LimitReached(_) => "ReturnTooLarge",
                _ => "WrongReturn",
            };
            let error = format!("body: {conflict}");
            metrics().event_invalid(reason, Some(event.event_type().as_str()));
            let record = refusal_record(ctx, reason, "body", &error, event_body(&event), now);
            keep(ctx, record)?;
        }
        Disposition::Rejected(conflict) => tracing::warn!(
            return_id = return_id.as_str(),
            event_id = for_log(&event.envelope.event_id),
            "event recorded but not counted: {}",
            for_log(&conflict.to_string())
        ),
        Disposition::Late => {
            tracing::warn!(
                return_id = return_id.as_str(),
                event_id = for_log(&event.envelope.event_id),
                event_type = %event.event_type(),
                alerted = outcome.late_event.is_some(),
                "event after the return closed: recorded on the return, changes nothing"
            );
            // After a settlement the customer was told; a late fact (a refund after the final one) may contradict
            // that, so a person hears of it. A cancelled return told nobody: its late events stay on its status.
            let settled = state.aggregate.status() == ReturnStatus::Settled;
            if let Some(late) = outcome.late_event.as_ref().filter(|_| settled) {
                let alert = state.aggregate.late_event_alert(late);
                start(ctx, &Publication::LateEvent(Box::new(alert)))?;
            }
        }
        Disposition::Duplicate => metrics().event_duplicate(event.event_type().as_str()),
        Disposition::Applied => {}
    }
    if outcome.limit_reached {
        // A return at a cap cannot settle by itself any more: say so now, not at the deadline.
        raise_stuck_alert(ctx, settings, &mut state, now)?;
    }
    match state.aggregate.status() {
        ReturnStatus::Settled if outcome.became_settled() => {
            let mut notification = ReturnSettledNotification::from_aggregate(&state.aggregate)
                .map_err(|e| Error::new("NotificationError", e.to_string()))?;
            notification.trace_id = telemetry::current_trace_id();
            let publication = Publication::Settled(Box::new(notification));
            start(ctx, &publication)?;
            tracing::info!(
                return_id = return_id.as_str(),
                instance_id = publication.instance_id(),
                "return settled: notification started"
            );
        }
        ReturnStatus::Cancelled if outcome.became_closed() => {
            state.aggregate.compact();
            schedule_expiry(ctx, settings, &state)?;
            tracing::info!(return_id = return_id.as_str(), "return cancelled: no notification");
        }
        _ => {}
    }
    ctx.set_state(&state)?;
    let mut answer = json!({ "disposition": outcome.disposition.label(), "status": state.aggregate.status().as_str() });
    if let Disposition::Refused(Conflict::LimitReached(_)) = outcome.disposition {
        answer["reason"] = json!("ReturnTooLarge");
        answer["kept"] = json!("invalid-events queue");
    }
    Ok(answer)
}

/// Starts the stuck alert's orchestration if the alert is due; returns whether it was.
fn raise_stuck_alert(
    ctx: &mut EntityContext,
    settings: &DurableSettings,
    state: &mut AggregateEntityState,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let Some(alert) = state.aggregate.check_stuck(now, &settings.domain) else {
        return Ok(false);
    };
    tracing::warn!(
        return_id = state.aggregate.return_id().as_str(),
        summary = for_log(&alert.summary),
        "return stuck: alert started"
    );
    start(ctx, &Publication::Stuck(Box::new(alert)))?;
    Ok(true)
}

fn signal_self_at(ctx: &mut EntityContext, operation: &AggregateOperation, at: DateTime<Utc>) -> Result<(), Error> {
    let me = ctx.entity_id().clone();
    ctx.signal_entity_at(&me, operation.name(), &operation.input(), at)
}

fn check_deadline(
    ctx: &mut EntityContext,
    settings: &DurableSettings,
    state: Option<AggregateEntityState>,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    let Some(mut state) = state else { return Ok(Value::Null) };
    if !raise_stuck_alert(ctx, settings, &mut state, now)? {
        // Delivered early (the scheduler's clock runs ahead of ours): look again when the deadline is due.
        let waiting = state.aggregate.status() == ReturnStatus::Open && state.aggregate.stuck_alerted_at().is_none();
        if let Some(deadline) = state
            .aggregate
            .stuck_deadline(&settings.domain)
            .filter(|d| waiting && now < *d)
        {
            signal_self_at(ctx, &AggregateOperation::CheckDeadline(None), deadline)?;
        }
        return Ok(Value::Bool(false));
    }
    ctx.set_state(&state)?;
    Ok(Value::Bool(true))
}

/// The ingress's check of one accepted event, due at its acceptance + `stuck_after`. A recorded event needs
/// nothing but the ordinary deadline check (in case the return's own check was lost with its batch). An event the
/// return never recorded (its batch was lost) is listed on the return and named in an alert: the stuck alert when
/// it has not gone out yet (a return with no recorded event at all gets its state here), else an alert of its
/// own. Redelivered messages send the same check twice; the second finds the event listed and raises nothing.
fn check_accepted(
    ctx: &mut EntityContext,
    settings: &DurableSettings,
    return_id: ReturnId,
    state: Option<AggregateEntityState>,
    accepted: &AcceptedEvent,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    let mut state = state.unwrap_or_else(|| AggregateEntityState::new(return_id));
    let check = state.aggregate.note_accepted(accepted);
    if check == AcceptedCheck::NotRecorded {
        tracing::warn!(
            return_id = state.aggregate.return_id().as_str(),
            event_id = for_log(accepted.event_key.event_id()),
            event_type = %accepted.event_type,
            message_id = for_log(accepted.message_id.as_deref().unwrap_or("")),
            "event accepted at ingress but never recorded by its return (its entity batch was lost): alert raised"
        );
        if !raise_stuck_alert(ctx, settings, &mut state, now)? {
            let alert = state.aggregate.unrecorded_alert(accepted, now, &settings.domain);
            start(ctx, &Publication::Unrecorded(Box::new(alert)))?;
        }
    } else if !raise_stuck_alert(ctx, settings, &mut state, now)? {
        return Ok(json!({ "recorded": check == AcceptedCheck::Recorded }));
    }
    ctx.set_state(&state)?;
    Ok(json!({ "recorded": check == AcceptedCheck::Recorded }))
}

fn published(
    ctx: &mut EntityContext,
    settings: &DurableSettings,
    state: Option<AggregateEntityState>,
    kind: MessageKind,
    published_at: DateTime<Utc>,
) -> Result<Value, Error> {
    let Some(mut state) = state else { return Ok(Value::Null) };
    match kind {
        MessageKind::ReturnSettled => {
            state.notification_published_at.get_or_insert(published_at);
            // The details were only needed for the notification; keep the small tombstone from now on.
            state.aggregate.compact();
            schedule_expiry(ctx, settings, &state)?;
        }
        MessageKind::ReturnStuck => {
            state.alert_published_at.get_or_insert(published_at);
        }
        // Not reported back (see `Publication::published_kind`); an old or foreign report changes nothing.
        MessageKind::ReturnLateEvent => return Ok(Value::Null),
    }
    ctx.set_state(&state)?;
    Ok(Value::Null)
}

fn expire(
    ctx: &mut EntityContext,
    settings: &DurableSettings,
    state: Option<AggregateEntityState>,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    let Some(state) = state else {
        return Ok(Value::Bool(true));
    };
    if state.aggregate.is_purgeable(now, &settings.domain) {
        ctx.delete_state();
        return Ok(Value::Bool(true));
    }
    // Not yet (a clock difference between the scheduler and this host): look again when it is due.
    schedule_expiry(ctx, settings, &state)?;
    Ok(Value::Bool(false))
}

fn schedule_expiry(
    ctx: &mut EntityContext,
    settings: &DurableSettings,
    state: &AggregateEntityState,
) -> Result<(), Error> {
    if let Some(at) = state.aggregate.purge_at(&settings.domain) {
        signal_self_at(ctx, &AggregateOperation::Expire, at)?;
    }
    Ok(())
}
