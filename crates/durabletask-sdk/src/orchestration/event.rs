//! [`Event`]: one history event as replay reads it. The kinds every orchestration repeats (episodes, activities,
//! timers) carry only the fields replay uses, borrowed; every other kind is the full protocol message.
//!
//! An event comes either from a decoded `proto::HistoryEvent` ([`Event::of`], borrowing) or straight from the
//! request's protobuf bytes ([`Event::read`], see `request_bytes`), where the fields replay does not use, such as
//! the input of an activity scheduled in an earlier episode, are skipped rather than copied.

use prost::Message;
use prost_types::Timestamp;

use crate::proto;
use crate::proto::history_event::EventType;
use crate::wire::{self, Fields, Unsupported};

/// One history event as replay reads it.
#[derive(Debug, Clone)]
pub(crate) enum Event<'a> {
    /// `orchestratorStarted`: an episode began at this time.
    OrchestratorStarted(Option<Timestamp>),
    /// `taskScheduled`: the activity `name` was scheduled at sequence number `id`.
    TaskScheduled { id: i32, name: &'a str },
    /// `taskCompleted`: the activity scheduled at `task_id` returned `result`.
    TaskCompleted { task_id: i32, result: Option<&'a str> },
    /// `timerCreated`: a timer was created at sequence number `id`.
    TimerCreated { id: i32 },
    /// `timerFired`: the timer created at `timer_id` fired.
    TimerFired { timer_id: i32, fire_at: Option<Timestamp> },
    /// An event that changes nothing replay can observe: `orchestratorCompleted`, or no kind at all.
    Ignored,
    /// Any other kind, in full.
    Full(&'a proto::HistoryEvent),
    /// Any other kind read from bytes by prost (or a frequent kind prost had to read, see [`Event::read`]).
    Decoded(Box<proto::HistoryEvent>),
}

/// `HistoryEvent` field numbers (`proto/orchestrator_service.proto`).
mod field {
    pub const EVENT_ID: u32 = 1;
    pub const TIMESTAMP: u32 = 2;
    /// The `eventType` oneof spans these numbers.
    pub const FIRST_KIND: u32 = 3;
    pub const LAST_KIND: u32 = 30;
    pub const TASK_SCHEDULED: u32 = 6;
    pub const TASK_COMPLETED: u32 = 7;
    pub const TIMER_CREATED: u32 = 12;
    pub const TIMER_FIRED: u32 = 13;
    pub const ORCHESTRATOR_STARTED: u32 = 14;
    pub const ORCHESTRATOR_COMPLETED: u32 = 15;
    pub const EXECUTION_REWOUND: u32 = 30;
}

impl<'a> Event<'a> {
    /// The replay view of a decoded event.
    pub(crate) fn of(event: &'a proto::HistoryEvent) -> Self {
        let id = event.event_id;
        match &event.event_type {
            Some(EventType::OrchestratorStarted(_)) => Event::OrchestratorStarted(event.timestamp),
            Some(EventType::TaskScheduled(scheduled)) => Event::TaskScheduled {
                id,
                name: &scheduled.name,
            },
            Some(EventType::TaskCompleted(done)) => Event::TaskCompleted {
                task_id: done.task_scheduled_id,
                result: done.result.as_deref(),
            },
            Some(EventType::TimerCreated(_)) => Event::TimerCreated { id },
            Some(EventType::TimerFired(fired)) => Event::TimerFired {
                timer_id: fired.timer_id,
                fire_at: fired.fire_at,
            },
            Some(EventType::OrchestratorCompleted(_)) | None => Event::Ignored,
            Some(_) => Event::Full(event),
        }
    }

    /// Whether the event ends a suspension: `executionResumed`, or `executionTerminated` (the only events not held
    /// back while the instance is suspended).
    pub(crate) fn ends_suspension(&self) -> bool {
        let event = match self {
            Event::Full(event) => event,
            Event::Decoded(event) => event.as_ref(),
            _ => return false,
        };
        matches!(
            event.event_type,
            Some(EventType::ExecutionResumed(_) | EventType::ExecutionTerminated(_))
        )
    }

    /// Whether the `HistoryEvent` in `bytes` is an `executionRewound` (looking at its fields' numbers only).
    pub(crate) fn is_execution_rewound(bytes: &[u8]) -> bool {
        Fields::new(bytes).any(|field| matches!(field, Ok((field::EXECUTION_REWOUND, _))))
    }

    /// Reads a `HistoryEvent` from its protobuf bytes: the frequent kinds field by field, the others with prost.
    pub(crate) fn read(bytes: &'a [u8]) -> Result<Self, prost::DecodeError> {
        match Self::read_frequent(bytes) {
            Ok(Some(event)) => Ok(event),
            // Another kind, or bytes this reader leaves to prost: prost reads them, or names what is wrong.
            // (Frequent kinds only get here when oddly encoded, a field repeated, say: rare enough to keep in full.)
            Ok(None) | Err(Unsupported) => Ok(Event::Decoded(Box::new(proto::HistoryEvent::decode(bytes)?))),
        }
    }

    /// The event if it is of a frequent kind, read without allocating; `None` for the other kinds.
    fn read_frequent(bytes: &'a [u8]) -> Result<Option<Self>, Unsupported> {
        let (mut id, mut timestamp, mut kind) = (None, None, None);
        for field in Fields::new(bytes) {
            match field? {
                // Decoded below, only for the kinds that use it.
                (field::EVENT_ID, value) => wire::once(&mut id, value)?,
                // Read below, only for the one kind that uses it.
                (field::TIMESTAMP, value) => wire::once(&mut timestamp, value)?,
                (number @ field::FIRST_KIND..=field::LAST_KIND, value) => {
                    wire::once(&mut kind, (number, wire::message(value)?))?
                }
                _ => {}
            }
        }
        let id = || id.map(wire::int32).transpose().map(Option::unwrap_or_default);
        let Some((number, body)) = kind else {
            return Ok(Some(Event::Ignored));
        };
        let body = Fields::new(body);
        Ok(Some(match number {
            field::ORCHESTRATOR_STARTED => Event::OrchestratorStarted(timestamp.map(wire::timestamp).transpose()?),
            field::ORCHESTRATOR_COMPLETED => Event::Ignored,
            field::TASK_SCHEDULED => Event::TaskScheduled {
                id: id()?,
                name: read_task_scheduled(body)?,
            },
            field::TASK_COMPLETED => {
                let (task_id, result) = read_task_completed(body)?;
                Event::TaskCompleted { task_id, result }
            }
            field::TIMER_CREATED => Event::TimerCreated { id: id()? },
            field::TIMER_FIRED => {
                let (timer_id, fire_at) = read_timer_fired(body)?;
                Event::TimerFired { timer_id, fire_at }
            }
            _ => return Ok(None),
        }))
    }
}

/// `TaskScheduledEvent`: the name (field 1); the version, input, trace context and tags are skipped.
fn read_task_scheduled(body: Fields<'_>) -> Result<&str, Unsupported> {
    let mut name = None;
    for field in body {
        if let (1, value) = field? {
            wire::once(&mut name, wire::string(value)?)?;
        }
    }
    Ok(name.unwrap_or_default())
}

/// `TaskCompletedEvent`: the task id (field 1) and the result (field 2).
fn read_task_completed(body: Fields<'_>) -> Result<(i32, Option<&str>), Unsupported> {
    let (mut task_id, mut result) = (None, None);
    for field in body {
        match field? {
            (1, value) => wire::once(&mut task_id, wire::int32(value)?)?,
            (2, value) => wire::once(&mut result, wire::string_value(value)?)?,
            _ => {}
        }
    }
    Ok((task_id.unwrap_or_default(), result))
}

/// `TimerFiredEvent`: the fire time (field 1) and the timer id (field 2).
fn read_timer_fired(body: Fields<'_>) -> Result<(i32, Option<Timestamp>), Unsupported> {
    let (mut fire_at, mut timer_id) = (None, None);
    for field in body {
        match field? {
            (1, value) => wire::once(&mut fire_at, wire::timestamp(value)?)?,
            (2, value) => wire::once(&mut timer_id, wire::int32(value)?)?,
            _ => {}
        }
    }
    Ok((timer_id.unwrap_or_default(), fire_at))
}
