//! Decodes fuzzer bytes into a structurally plausible orchestrator request: a history built from the events the
//! engine really sends, with sequence numbers, names and times drawn from small sets, so that mutations land on
//! matching and mismatching task ids instead of on protobuf framing.
//!
//! Layout: byte 0 picks the orchestrator and where the history splits into past and new events; the bytes up to
//! the first 0xFF are the orchestrator's input (step codes for `steps`, a count for the others); every following
//! pair of bytes `(kind, argument)` is one history event.

use chrono::{DateTime, Utc};
use durabletask_sdk::testing::history;
use durabletask_sdk::proto;

use crate::registries::SMALL_ORCHESTRATORS;

/// The instance every script runs as.
pub const INSTANCE_ID: &str = "fuzz-instance";

/// Activity and orchestrator names a history may mention: the registered ones and one that is not.
const TASK_NAMES: [&str; 4] = ["echo", "chain", "steps", "missing"];

/// Builds the request the bytes describe.
pub fn decode(data: &[u8]) -> proto::OrchestratorRequest {
    let Some((&header, rest)) = data.split_first() else {
        return proto::OrchestratorRequest {
            instance_id: INSTANCE_ID.to_string(),
            ..Default::default()
        };
    };
    let orchestrator = SMALL_ORCHESTRATORS[usize::from(header % 3)];
    let (input_bytes, event_bytes) = match rest.iter().position(|byte| *byte == 0xFF) {
        Some(end) => (&rest[..end], &rest[end + 1..]),
        None => (rest, &[][..]),
    };
    let input = orchestrator_input(orchestrator, input_bytes);
    let mut events = vec![
        history::orchestrator_started(time_of(header / 3)),
        history::execution_started(orchestrator, INSTANCE_ID, Some(&input)),
    ];
    events.extend(event_bytes.chunks_exact(2).map(|pair| event_of(pair[0], pair[1])));
    let split = usize::from(header / 3 % 8).min(events.len());
    let new_events = events.split_off(events.len() - split);
    proto::OrchestratorRequest {
        instance_id: INSTANCE_ID.to_string(),
        past_events: events,
        new_events,
        ..Default::default()
    }
}

fn orchestrator_input(orchestrator: &str, bytes: &[u8]) -> String {
    if orchestrator == "steps" {
        serde_json::json!({ "steps": bytes }).to_string()
    } else {
        // A count, or (rarely) an input the orchestrator cannot read.
        match bytes.first() {
            Some(&0xFE) => "\"not a number\"".to_string(),
            Some(&count) => count.to_string(),
            None => "3".to_string(),
        }
    }
}

/// Times the history may carry, including the edges of what a timestamp can hold.
fn time_of(selector: u8) -> DateTime<Utc> {
    match selector % 6 {
        0 => DateTime::from_timestamp(1_704_067_200, 0).expect("2024-01-01"),
        1 => DateTime::from_timestamp(1_704_067_200 + 3 * 86_400, 0).expect("2024-01-04"),
        2 => DateTime::UNIX_EPOCH,
        3 => DateTime::from_timestamp(-62_135_596_800, 0).expect("year 1"),
        4 => DateTime::<Utc>::MAX_UTC,
        _ => DateTime::<Utc>::MIN_UTC,
    }
}

/// A sequence number: mostly small, sometimes the "no task" id or a large one.
fn task_id(argument: u8) -> i32 {
    match argument % 16 {
        14 => -1,
        15 => i32::MAX,
        id => i32::from(id),
    }
}

fn name_of(argument: u8) -> &'static str {
    TASK_NAMES[usize::from(argument >> 4) % TASK_NAMES.len()]
}

/// A task result: JSON of several shapes, or text that is not JSON.
fn result_of(argument: u8) -> Option<&'static str> {
    match argument >> 6 {
        0 => None,
        1 => Some("1"),
        2 => Some("{\"a\":[1,2]}"),
        _ => Some("{not json"),
    }
}

fn event_of(kind: u8, argument: u8) -> proto::HistoryEvent {
    let id = task_id(argument);
    let name = name_of(argument);
    let time = time_of(argument >> 4);
    match kind % 18 {
        0 => history::orchestrator_started(time),
        1 => history::task_scheduled(id, name, None),
        2 => history::task_completed(id, result_of(argument)),
        3 => history::task_failed(id, "FuzzError", if argument & 1 == 0 { "failed" } else { "" }),
        4 => history::timer_created(id, time),
        5 => history::timer_fired(id, time),
        6 => history::event_raised(if argument & 1 == 0 { "go" } else { "GO" }, result_of(argument)),
        7 => history::sub_orchestration_created(id, name, "child"),
        8 => history::sub_orchestration_completed(id, result_of(argument)),
        9 => history::sub_orchestration_failed(id, "FuzzError", "child failed"),
        10 => history::execution_suspended(),
        11 => history::execution_resumed(),
        12 => history::execution_terminated(result_of(argument)),
        13 => history::entity_operation_called(id, "request", "@counter@fuzz", "add"),
        14 => history::entity_operation_signaled(id, "request", "@counter@fuzz", "add"),
        15 => history::entity_operation_completed("request", result_of(argument)),
        16 => history::execution_started(name, INSTANCE_ID, result_of(argument)),
        _ => history::orchestrator_completed(),
    }
}
