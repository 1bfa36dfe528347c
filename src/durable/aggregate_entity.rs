//! The return aggregate entity: one per return, keyed by return id. It folds events into the domain aggregate,
//! starts the notification orchestration exactly once, raises the stuck alert once, and deletes its tombstone
//! after the retention period, all through its own state and scheduled self-signals.

use chrono::{DateTime, Utc};
use durabletask_sdk::{EntityContext, Error};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::notify::{orchestration_instance_id, NotifyInput, NotifyKind};
use super::{DurableSettings, ORCHESTRATOR};
use crate::domain::{parse_event, Disposition, ReturnAggregate, ReturnId, ReturnStatus};

/// Folds one event (its canonical JSON) into the aggregate.
pub const APPLY_EVENT_OPERATION: &str = "apply";
/// The scheduled check of the stuck deadline.
pub const CHECK_DEADLINE_OPERATION: &str = "checkDeadline";
/// The orchestrator reports that a message went out.
pub const PUBLISHED_OPERATION: &str = "published";
/// The scheduled deletion of the tombstone.
pub const EXPIRE_OPERATION: &str = "expire";

/// The entity's state: the aggregate and what was published about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregateEntityState {
    /// The facts about the return.
    pub aggregate: ReturnAggregate,
    /// When the settled notification was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_published_at: Option<DateTime<Utc>>,
    /// When the stuck alert was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_published_at: Option<DateTime<Utc>>,
}

/// What the orchestrator reports with [`PUBLISHED_OPERATION`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    /// Which message.
    pub kind: NotifyKind,
    /// When (orchestration time).
    pub published_at: DateTime<Utc>,
}

/// Runs one operation.
pub fn run(ctx: &mut EntityContext, settings: &DurableSettings) -> Result<Value, Error> {
    let return_id = ReturnId::parse(ctx.entity_id().key()).map_err(|e| {
        Error::new(
            "InvalidReturnId",
            format!("entity key '{}': {e}", ctx.entity_id().key()),
        )
    })?;
    let state: Option<AggregateEntityState> = ctx.get_state()?;
    // Entities are not replayed: each operation runs once and commits, so the clock is fine here.
    let now = Utc::now();
    match ctx.operation() {
        APPLY_EVENT_OPERATION => apply_event(ctx, settings, return_id, state, now),
        CHECK_DEADLINE_OPERATION => check_deadline(ctx, settings, state, now),
        PUBLISHED_OPERATION => published(ctx, settings, state),
        EXPIRE_OPERATION => expire(ctx, settings, state, now),
        other => Err(Error::new(
            "UnknownOperation",
            format!("the return aggregate has no operation '{other}'"),
        )
        .non_retriable()),
    }
}

fn apply_event(
    ctx: &mut EntityContext,
    settings: &DurableSettings,
    return_id: ReturnId,
    state: Option<AggregateEntityState>,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    let input = ctx.input_json().unwrap_or("null").as_bytes().to_vec();
    let event = parse_event(None, None, &input).map_err(|e| Error::new("InvalidEvent", e.to_string()))?;
    if event.return_id() != &return_id {
        return Err(Error::new(
            "WrongReturn",
            format!(
                "event for return {} was sent to the entity of return {return_id}",
                event.return_id()
            ),
        ));
    }
    let mut state = state.unwrap_or_else(|| AggregateEntityState {
        aggregate: ReturnAggregate::new(return_id.clone()),
        notification_published_at: None,
        alert_published_at: None,
    });
    let outcome = state.aggregate.apply(&event, now);
    if outcome.first_event {
        if let Some(deadline) = state.aggregate.stuck_deadline(&settings.domain) {
            ctx.signal_entity_at(&ctx.entity_id().clone(), CHECK_DEADLINE_OPERATION, &(), deadline)?;
        }
    }
    match state.aggregate.status() {
        ReturnStatus::Settled if outcome.became_settled() => {
            let input = NotifyInput::Settled {
                aggregate: Box::new(state.aggregate.clone()),
            };
            let instance_id = orchestration_instance_id(NotifyKind::Settled, &return_id);
            ctx.start_new_orchestration(ORCHESTRATOR, &input, Some(&instance_id))?;
            tracing::info!(
                return_id = return_id.as_str(),
                instance_id,
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
    if let Disposition::Rejected(conflict) = &outcome.disposition {
        tracing::warn!(
            return_id = return_id.as_str(),
            event_id = event.envelope.event_id,
            "event rejected: {conflict}"
        );
    }
    ctx.set_state(&state)?;
    Ok(serde_json::json!({ "disposition": outcome.disposition.label(), "status": state.aggregate.status().as_str() }))
}

fn check_deadline(
    ctx: &mut EntityContext,
    settings: &DurableSettings,
    state: Option<AggregateEntityState>,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    let Some(mut state) = state else { return Ok(Value::Null) };
    let Some(alert) = state.aggregate.check_stuck(now, &settings.domain) else {
        // Delivered early (the scheduler's clock runs ahead of ours): look again when the deadline is due.
        let waiting = state.aggregate.status() == ReturnStatus::Open && state.aggregate.stuck_alerted_at().is_none();
        if let Some(deadline) = state
            .aggregate
            .stuck_deadline(&settings.domain)
            .filter(|d| waiting && now < *d)
        {
            ctx.signal_entity_at(&ctx.entity_id().clone(), CHECK_DEADLINE_OPERATION, &(), deadline)?;
        }
        return Ok(Value::Bool(false));
    };
    let instance_id = orchestration_instance_id(NotifyKind::Stuck, state.aggregate.return_id());
    ctx.start_new_orchestration(ORCHESTRATOR, &NotifyInput::Stuck { alert }, Some(&instance_id))?;
    tracing::warn!(
        return_id = state.aggregate.return_id().as_str(),
        "return stuck: alert started"
    );
    ctx.set_state(&state)?;
    Ok(Value::Bool(true))
}

fn published(
    ctx: &mut EntityContext,
    settings: &DurableSettings,
    state: Option<AggregateEntityState>,
) -> Result<Value, Error> {
    let Some(mut state) = state else { return Ok(Value::Null) };
    let report: Published = ctx.input()?;
    match report.kind {
        NotifyKind::Settled => {
            state.notification_published_at.get_or_insert(report.published_at);
            // The details were only needed for the notification; keep the small tombstone from now on.
            state.aggregate.compact();
            schedule_expiry(ctx, settings, &state)?;
        }
        NotifyKind::Stuck => {
            state.alert_published_at.get_or_insert(report.published_at);
        }
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
        ctx.signal_entity_at(&ctx.entity_id().clone(), EXPIRE_OPERATION, &(), at)?;
    }
    Ok(())
}
