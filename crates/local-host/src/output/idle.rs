//! Quiescence: the run is idle when no invocation or work item is in flight, nothing happened for a settle window
//! (the engine dispatches at least every 100 ms when it has work), no signal or timer the local host saw scheduled
//! is due within a horizon, and every orchestration that is not terminal is parked on a timer that fires later
//! than that horizon (or is suspended). With a published target, the run is idle as soon as that many messages
//! were published and nothing is in flight.

use std::time::{Duration, Instant};

use chrono::Utc;
use durabletask_sdk::proto::{
    history_event::EventType, HistoryEvent, InstanceQuery, OrchestrationStatus, QueryInstancesRequest,
    StreamInstanceHistoryRequest,
};

use crate::durable::scheduled::{Scheduled, Waiting};
use crate::engine::client::{with_deadline, SidecarClient};
use crate::output::published::Records;
use crate::output::stats::Stats;

/// How to wait for quiescence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleOptions {
    /// Give up after this long.
    pub deadline: Duration,
    /// How long nothing must happen before the engine is asked about orchestrations.
    pub settle: Duration,
    /// Idle as soon as this many messages were published in total (and nothing is in flight).
    pub wait_for_published: Option<usize>,
    /// Timers and scheduled signals due within this horizon are waited for; later ones do not keep the run busy.
    pub timer_horizon: Duration,
}

/// The default [`IdleOptions::timer_horizon`]: long enough for retries and short deadlines, not for retention.
pub const DEFAULT_TIMER_HORIZON: Duration = Duration::from_secs(60);

impl Default for IdleOptions {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(120),
            settle: Duration::from_millis(500),
            wait_for_published: None,
            timer_horizon: DEFAULT_TIMER_HORIZON,
        }
    }
}

/// A non-terminal orchestration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingInstance {
    /// Instance id.
    pub instance_id: String,
    /// Orchestration name.
    pub name: String,
    /// Runtime status.
    pub status: OrchestrationStatus,
    /// The next timer it waits on, if any.
    pub next_timer: Option<chrono::DateTime<Utc>>,
}

/// The state at quiescence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdleReport {
    /// Orchestrations parked on later timers (or suspended).
    pub parked: Vec<PendingInstance>,
    /// Signals and timers due after the horizon, not waited for.
    pub later: Waiting,
}

/// Why the run did not become idle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdleError {
    /// The deadline passed.
    #[error("not idle after {} s: still waiting for {}", waited.as_secs(), reasons.join("; "))]
    Deadline {
        /// How long it waited.
        waited: Duration,
        /// What it was still waiting for at the deadline.
        reasons: Vec<String>,
    },
}

fn describe(busy: &[PendingInstance]) -> String {
    let shown: Vec<String> = busy
        .iter()
        .take(5)
        .map(|i| format!("{} ({}, {:?})", i.instance_id, i.name, i.status))
        .collect();
    let more = busy.len().saturating_sub(shown.len());
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(", "))
}

/// Waits until the run is idle (see the module docs).
pub async fn wait_idle(
    stats: &Stats,
    records: &Records,
    engine: &SidecarClient,
    scheduled: &Scheduled,
    options: &IdleOptions,
) -> Result<IdleReport, IdleError> {
    let started = Instant::now();
    let deadline = started + options.deadline;
    let horizon = chrono::Duration::from_std(options.timer_horizon).unwrap_or_default();
    let mut activity = stats.subscribe();
    let mut busy = Vec::new();
    loop {
        let in_flight = stats.snapshot().busy();
        let waiting = scheduled.waiting(Utc::now(), horizon);
        if let Some(target) = options.wait_for_published {
            if in_flight == 0 && records.published_count() >= target {
                return Ok(IdleReport {
                    later: waiting,
                    ..IdleReport::default()
                });
            }
        } else if in_flight == 0 && waiting.within == 0 && stats.quiet_for() >= options.settle {
            match pending_instances(engine).await {
                Ok(pending) => {
                    let limit = Utc::now() + horizon;
                    let (parked, still_busy): (Vec<_>, Vec<_>) = pending.into_iter().partition(|instance| {
                        instance.status == OrchestrationStatus::Suspended
                            || instance.next_timer.is_some_and(|fire_at| fire_at > limit)
                    });
                    // Only trust the answer if nothing happened while asking.
                    if still_busy.is_empty() && stats.quiet_for() >= options.settle && stats.snapshot().busy() == 0 {
                        return Ok(IdleReport { parked, later: waiting });
                    }
                    busy = still_busy;
                }
                Err(status) => tracing::warn!("cannot query the engine's orchestrations: {}", status.message()),
            }
        }
        let now = Instant::now();
        if now >= deadline {
            let mut reasons = Vec::new();
            if let Some(target) = options.wait_for_published {
                reasons.push(format!(
                    "{target} published messages ({} so far)",
                    records.published_count()
                ));
            }
            if in_flight > 0 {
                reasons.push(format!("{in_flight} invocations or work items in flight"));
            }
            if let Some(until) = waiting.until {
                reasons.push(format!(
                    "{} scheduled signals or timers due by {}",
                    waiting.within,
                    until.format("%H:%M:%S UTC")
                ));
            }
            if !busy.is_empty() {
                reasons.push(format!("{} running orchestrations: {}", busy.len(), describe(&busy)));
            }
            if reasons.is_empty() {
                reasons.push("a quiet moment (work kept arriving)".to_owned());
            }
            return Err(IdleError::Deadline {
                waited: now - started,
                reasons,
            });
        }
        let poll = options
            .settle
            .saturating_sub(stats.quiet_for())
            .max(Duration::from_millis(50));
        tokio::select! {
            _ = activity.changed() => {}
            () = tokio::time::sleep(poll.min(deadline - now)) => {}
        }
    }
}

/// The orchestrations that are not terminal, with the timer each waits on.
pub async fn pending_instances(engine: &SidecarClient) -> Result<Vec<PendingInstance>, tonic::Status> {
    let statuses = [
        OrchestrationStatus::Running,
        OrchestrationStatus::Pending,
        OrchestrationStatus::Suspended,
        OrchestrationStatus::ContinuedAsNew,
    ];
    let mut pending = Vec::new();
    let mut continuation_token: Option<String> = None;
    loop {
        let query = InstanceQuery {
            runtime_status: statuses.iter().map(|status| *status as i32).collect(),
            max_instance_count: 500,
            continuation_token: continuation_token.clone(),
            ..InstanceQuery::default()
        };
        let page = engine
            .clone()
            .query_instances(with_deadline(QueryInstancesRequest { query: Some(query) }))
            .await?
            .into_inner();
        for state in page.orchestration_state {
            let next_timer = next_timer(engine, &state.instance_id).await;
            pending.push(PendingInstance {
                status: OrchestrationStatus::try_from(state.orchestration_status)
                    .unwrap_or(OrchestrationStatus::Running),
                instance_id: state.instance_id,
                name: state.name,
                next_timer,
            });
        }
        continuation_token = page.continuation_token.filter(|token| !token.is_empty());
        if continuation_token.is_none() {
            return Ok(pending);
        }
    }
}

/// The earliest timer the instance created and that has not fired (none when the history is unavailable).
async fn next_timer(engine: &SidecarClient, instance_id: &str) -> Option<chrono::DateTime<Utc>> {
    let request = StreamInstanceHistoryRequest {
        instance_id: instance_id.to_owned(),
        ..Default::default()
    };
    let mut stream = engine
        .clone()
        .stream_instance_history(with_deadline(request))
        .await
        .ok()?
        .into_inner();
    let mut events = Vec::new();
    while let Ok(Some(chunk)) = stream.message().await {
        events.extend(chunk.events);
    }
    outstanding_timer(&events)
}

/// The earliest created-but-not-fired timer of a history.
pub fn outstanding_timer(history: &[HistoryEvent]) -> Option<chrono::DateTime<Utc>> {
    let fired: Vec<i32> = history
        .iter()
        .filter_map(|event| match &event.event_type {
            Some(EventType::TimerFired(fired)) => Some(fired.timer_id),
            _ => None,
        })
        .collect();
    history
        .iter()
        .filter_map(|event| match &event.event_type {
            Some(EventType::TimerCreated(created)) if !fired.contains(&event.event_id) => created.fire_at,
            _ => None,
        })
        .filter_map(|fire_at| {
            chrono::DateTime::from_timestamp(fire_at.seconds, u32::try_from(fire_at.nanos).unwrap_or(0))
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use durabletask_sdk::proto::{TimerCreatedEvent, TimerFiredEvent};

    fn created(id: i32, seconds: i64) -> HistoryEvent {
        HistoryEvent {
            event_id: id,
            timestamp: None,
            event_type: Some(EventType::TimerCreated(TimerCreatedEvent {
                fire_at: Some(prost_types::Timestamp { seconds, nanos: 0 }),
            })),
        }
    }

    fn fired(id: i32) -> HistoryEvent {
        HistoryEvent {
            event_id: -1,
            timestamp: None,
            event_type: Some(EventType::TimerFired(TimerFiredEvent {
                fire_at: None,
                timer_id: id,
            })),
        }
    }

    #[test]
    fn outstanding_timers() {
        assert_eq!(outstanding_timer(&[]), None);
        assert_eq!(outstanding_timer(&[created(1, 100), fired(1)]), None);
        let earliest = outstanding_timer(&[created(1, 100), fired(1), created(3, 500), created(4, 300)]);
        assert_eq!(earliest, chrono::DateTime::from_timestamp(300, 0));
    }
}
