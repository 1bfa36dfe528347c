//! History files: the format the replay check reads and the recording tools write.
//!
//! A history file is JSON lines, one instance per line:
//!
//! ```json
//! {"instanceId": "order-1", "history": [{"eventId": -1, "timestamp": "2025-03-15T09:00:00Z", "orchestratorStarted": {}}, ...]}
//! ```
//!
//! Each event is a `HistoryEvent` of `orchestrator_service.proto` in the canonical protobuf JSON mapping (camelCase
//! field names, timestamps as RFC 3339 text, `google.protobuf.StringValue` as plain strings, 64-bit integers as
//! strings) — what any protobuf library prints for the events `StreamInstanceHistory` streams. Other members of a
//! line (`name`, `status`, …) are ignored; blank lines are skipped.
//!
//! The Durable Functions HTTP management API (`GET /runtime/webhooks/durabletask/instances/{id}?showHistory=true`)
//! is not a replayable source: its `historyEvents` leave out every event id, the `orchestratorStarted` /
//! `orchestratorCompleted` events, the `taskScheduled` and `subOrchestrationInstanceCreated` events of finished
//! tasks (merged into their completions), timer ids, the instance's version, its input and the payloads of raised
//! events (`DurableClient.GetDurableOrchestrationStatusAsync` in the extension). Such a document is refused with
//! an error that says so.

use std::fmt;
use std::sync::LazyLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::InstanceHistory;
use crate::proto;

/// The descriptors of `orchestrator_service.proto`, compiled by the build script.
static DESCRIPTORS: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(include_bytes!(concat!(env!("OUT_DIR"), "/orchestrator_service.fds")).as_ref())
        .expect("the build script writes valid descriptors")
});

fn history_event_descriptor() -> MessageDescriptor {
    DESCRIPTORS
        .get_message_by_name("HistoryEvent")
        .expect("orchestrator_service.proto defines HistoryEvent")
}

/// Why a history file (or one event) cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryFileError {
    /// A line is not JSON.
    #[error("line {line}: not JSON: {source}")]
    NotJson {
        /// The 1-based line number.
        line: usize,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
    /// A line is JSON but not `{"instanceId": "...", "history": [...]}`.
    #[error("line {line}: expected {{\"instanceId\": \"<id>\", \"history\": [<events>]}}: {problem}")]
    NotAnInstance {
        /// The 1-based line number.
        line: usize,
        /// What is missing or wrong.
        problem: String,
    },
    /// An event is not a `HistoryEvent` in the protobuf JSON mapping.
    #[error("line {line}, instance {instance_id}, event {index}: not a HistoryEvent in the protobuf JSON mapping: {problem}")]
    BadEvent {
        /// The 1-based line number.
        line: usize,
        /// The instance.
        instance_id: String,
        /// The 0-based position of the event in the history.
        index: usize,
        /// What is wrong.
        problem: String,
    },
    /// The document is the Functions HTTP management API's status with `historyEvents`, which cannot be replayed.
    #[error(
        "line {line}: this is the Durable Functions HTTP management API's status document (historyEvents): it cannot \
         be replayed, because the extension leaves out event ids, the scheduling events of finished tasks, timer \
         ids, the instance's version, its input and event payloads; export the history with StreamInstanceHistory \
         (Durable Task Scheduler, durabletask sidecars) instead"
    )]
    ManagementApiDocument {
        /// The 1-based line number where the document starts.
        line: usize,
    },
}

/// One line of a history file.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    instance_id: String,
    history: Vec<Value>,
}

/// Reads a history file's text (see the module docs).
///
/// ```
/// use durabletask_sdk::replay_check::history_json::read_history_file;
///
/// let text = r#"{"instanceId": "a", "history": [{"eventId": -1, "orchestratorStarted": {}},
///     {"executionStarted": {"name": "Hello", "input": "\"Tokyo\""}}]}"#.replace('\n', "");
/// let histories = read_history_file(&text).unwrap();
/// assert_eq!(histories[0].orchestrator(), Some("Hello"));
/// assert!(read_history_file("{\"instanceId\": \"a\"}").unwrap_err().to_string().starts_with("line 1: expected"));
/// ```
pub fn read_history_file(text: &str) -> Result<Vec<InstanceHistory>, HistoryFileError> {
    if let Some(line) = management_api_document(text) {
        return Err(HistoryFileError::ManagementApiDocument { line });
    }
    let mut histories = Vec::new();
    for (index, text) in text.lines().enumerate() {
        let line = index + 1;
        if text.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(text).map_err(|source| HistoryFileError::NotJson { line, source })?;
        if is_management_api_status(&value) {
            return Err(HistoryFileError::ManagementApiDocument { line });
        }
        let parsed: Line = serde_json::from_value(value).map_err(|error| HistoryFileError::NotAnInstance {
            line,
            problem: error.to_string(),
        })?;
        let events = parsed
            .history
            .into_iter()
            .enumerate()
            .map(|(index, event)| {
                event_from_json(event).map_err(|problem| HistoryFileError::BadEvent {
                    line,
                    instance_id: parsed.instance_id.clone(),
                    index,
                    problem: problem.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        histories.push(InstanceHistory::new(parsed.instance_id, events));
    }
    Ok(histories)
}

/// One line of a history file for `history` (without the newline).
pub fn history_line(history: &InstanceHistory) -> String {
    let line = Line {
        instance_id: history.instance_id.clone(),
        history: history.events.iter().map(event_to_json).collect(),
    };
    serde_json::to_string(&line).expect("JSON values always encode")
}

/// A history file of `histories`: one line each, in order.
pub fn history_file<'h>(histories: impl IntoIterator<Item = &'h InstanceHistory>) -> String {
    histories
        .into_iter()
        .map(|history| history_line(history) + "\n")
        .collect()
}

/// Why one event's JSON could not be read.
#[derive(Debug)]
pub struct EventJsonError(String);

impl fmt::Display for EventJsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EventJsonError {}

/// A history event in the protobuf JSON mapping.
pub fn event_to_json(event: &proto::HistoryEvent) -> Value {
    let dynamic = DynamicMessage::decode(history_event_descriptor(), event.encode_to_vec().as_slice())
        .expect("a HistoryEvent re-decodes with its own descriptor");
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
        .expect("protobuf messages always map to JSON")
}

/// A history event from the protobuf JSON mapping (members this proto does not know are ignored, so files from
/// newer protocol versions still read).
pub fn event_from_json(value: Value) -> Result<proto::HistoryEvent, EventJsonError> {
    let options = DeserializeOptions::new().deny_unknown_fields(false);
    let dynamic = DynamicMessage::deserialize_with_options(history_event_descriptor(), value, &options)
        .map_err(|error| EventJsonError(error.to_string()))?;
    if !dynamic.fields().any(|(field, _)| field.containing_oneof().is_some()) {
        return Err(EventJsonError(
            "no event type (e.g. \"taskScheduled\") is set".to_string(),
        ));
    }
    proto::HistoryEvent::decode(dynamic.encode_to_vec().as_slice()).map_err(|error| EventJsonError(error.to_string()))
}

/// The line where a (possibly pretty-printed) management API status document starts, if the text is one.
fn management_api_document(text: &str) -> Option<usize> {
    let value: Value = serde_json::from_str(text).ok()?;
    let is_status = match &value {
        Value::Array(items) => items.iter().any(is_management_api_status),
        other => is_management_api_status(other),
    };
    is_status.then(|| text.lines().position(|line| !line.trim().is_empty()).unwrap_or(0) + 1)
}

fn is_management_api_status(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|object| object.keys().any(|key| key.eq_ignore_ascii_case("historyEvents")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::history;

    #[test]
    fn events_round_trip_through_the_protobuf_json_mapping() {
        let events = vec![
            history::orchestrator_started(crate::testing::canned::t0()),
            history::execution_started_with_version("Publish", "order-1", Some("{\"a\":[1,2]}"), "2.0"),
            history::task_scheduled(1, "Publish", Some("\"x\"")),
            history::task_failed(1, "Boom", "it broke"),
            history::timer_created(2, crate::testing::canned::t0()),
            history::entity_operation_signaled(3, "req-1", "@counter@a", "add"),
            history::execution_terminated(Some("\"enough\"")),
        ];
        for event in events {
            let json = event_to_json(&event);
            assert_eq!(event_from_json(json.clone()).unwrap(), event, "{json}");
        }
    }

    #[test]
    fn the_json_is_the_canonical_mapping() {
        let event = history::execution_started_with_version("Publish", "order-1", Some("\"x\""), "2.0");
        let json = event_to_json(&event);
        assert_eq!(json["eventId"], -1);
        assert_eq!(json["executionStarted"]["name"], "Publish");
        assert_eq!(
            json["executionStarted"]["version"], "2.0",
            "StringValue as a plain string"
        );
        assert_eq!(json["executionStarted"]["input"], "\"x\"");
        let timed = event_to_json(&history::orchestrator_started(crate::testing::canned::t0()));
        assert!(timed["timestamp"].as_str().unwrap().ends_with('Z'), "{timed}");
    }

    #[test]
    fn a_file_round_trips_and_names_its_instances() {
        let histories = vec![
            InstanceHistory::new("a", crate::testing::canned::started("Hello", "a", Some("1"))),
            InstanceHistory::new("b:0001", crate::testing::canned::started("Child", "b:0001", None)),
        ];
        let text = history_file(&histories);
        assert_eq!(text.lines().count(), 2);
        assert_eq!(read_history_file(&format!("\n{text}\n")).unwrap(), histories);
    }

    #[test]
    fn bad_lines_and_events_are_named() {
        let not_json = read_history_file("{\"instanceId\": \"a\", \"history\": []}\nnope").unwrap_err();
        assert!(not_json.to_string().starts_with("line 2: not JSON"), "{not_json}");
        let bad_event =
            read_history_file(r#"{"instanceId": "a", "history": [{"taskScheduled": {"name": 3}}]}"#).unwrap_err();
        assert!(
            bad_event
                .to_string()
                .starts_with("line 1, instance a, event 0: not a HistoryEvent in the protobuf JSON mapping"),
            "{bad_event}"
        );
        let empty_event = read_history_file(r#"{"instanceId": "a", "history": [{"eventId": 3}]}"#).unwrap_err();
        assert!(empty_event.to_string().contains("no event type"), "{empty_event}");
    }

    #[test]
    fn unknown_members_are_ignored() {
        let text =
            r#"{"instanceId": "a", "status": "Completed", "history": [{"orchestratorStarted": {}, "future": 1}]}"#;
        assert_eq!(read_history_file(text).unwrap()[0].events.len(), 1);
    }

    #[test]
    fn management_api_documents_are_refused_with_the_reason() {
        let pretty =
            "{\n  \"name\": \"Orchestrator\",\n  \"instanceId\": \"a\",\n  \"runtimeStatus\": \"Completed\",\n  \
                      \"historyEvents\": [{\"EventType\": \"ExecutionStarted\"}]\n}\n";
        let error = read_history_file(pretty).unwrap_err();
        assert!(matches!(error, HistoryFileError::ManagementApiDocument { line: 1 }));
        assert!(error.to_string().contains("cannot be replayed"), "{error}");
        let one_line = r#"{"instanceId": "a", "historyEvents": []}"#;
        assert!(matches!(
            read_history_file(one_line),
            Err(HistoryFileError::ManagementApiDocument { .. })
        ));
    }
}
