//! The entity request message of the Durable Task Framework's first entity protocol: what an orchestration sends an
//! entity as an ordinary event (`sendEvent` named [`ENTITY_REQUEST_EVENT`] to the entity's instance id,
//! `@name@key`), the form every Durable Functions extension release delivers.
//!
//! Extension releases before the protobuf `sendEntityMessage` action existed (2.x, and 3.x releases before
//! durabletask-protobuf PR #31 of January 2025) fail an orchestration that returns that action; newer ones convert
//! it into exactly this event (`ProtobufUtils.ToOrchestratorAction` of Azure/azure-functions-durable-extension:
//! an `entityOperationSignaled` becomes a `SendEventOrchestratorAction` named `op` whose data is the JSON of DTFx's
//! `RequestMessage`). So a signal sent in this form is delivered the same way by old and new releases.

use serde::{Deserialize, Serialize};

/// The event name of an entity request (DTFx `EntityMessageEventNames.RequestMessageEventName`).
pub const ENTITY_REQUEST_EVENT: &str = "op";

/// DTFx's `RequestMessage` as JSON (its data-contract names): the fields a signal carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityRequestMessage {
    /// The operation name.
    #[serde(rename = "op")]
    pub operation: String,
    /// True for a signal (one-way); calls are not sent in this form by the SDK.
    #[serde(rename = "signal", default, skip_serializing_if = "std::ops::Not::not")]
    pub is_signal: bool,
    /// The operation's input: JSON text, carried as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// A unique id of the request (a GUID; the entity de-duplicates on it).
    pub id: String,
}

impl EntityRequestMessage {
    /// Whether an event named `name` is an entity request: `op`, or `op@<time>` for a scheduled one.
    pub fn is_request_event(name: &str) -> bool {
        name == ENTITY_REQUEST_EVENT
            || name
                .strip_prefix(ENTITY_REQUEST_EVENT)
                .is_some_and(|rest| rest.starts_with('@'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_is_written_with_the_frameworks_field_names() {
        let message = EntityRequestMessage {
            operation: "published".into(),
            is_signal: true,
            input: Some(r#"{"kind":"ReturnSettled"}"#.into()),
            id: "d83b9155-faca-574b-a64f-d1917a26d0ab".into(),
        };
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            serde_json::json!({
                "op": "published",
                "signal": true,
                "input": "{\"kind\":\"ReturnSettled\"}",
                "id": "d83b9155-faca-574b-a64f-d1917a26d0ab"
            })
        );
    }

    #[test]
    fn request_events_are_op_or_op_at_a_time() {
        assert!(EntityRequestMessage::is_request_event("op"));
        assert!(EntityRequestMessage::is_request_event(
            "op@2025-01-01T00:00:00.0000000Z"
        ));
        assert!(!EntityRequestMessage::is_request_event("operation"));
        assert!(!EntityRequestMessage::is_request_event("release"));
    }
}
