//! The payloads of the Durable Functions triggers: base64 protobuf for orchestrations and entities, JSON
//! text for activities.
//!
//! The extension hands the orchestration and entity triggers a base64 string of the protobuf request,
//! which the host then JSON-encodes once more; it expects back, as `ReturnValue`, one JSON string holding
//! the standard base64 of the protobuf response, with no further quoting.

use prost::Message;
use serde_json::Value;

use super::error::{EnvelopeError, EnvelopeProblem};
use super::value::{decode_base64, peel_host_string, peeled};
use crate::orchestration::OrchestratorRequestBytes;
use crate::proto;
use crate::registry::Registry;

/// Decodes the `orchestrationTrigger` value into the protocol's `OrchestratorRequest`.
///
/// An empty value, or a request without an `instanceId` (which the extension always sets), is refused: running
/// the orchestrator on it would answer 200 with an empty response the extension cannot use.
pub fn decode_orchestrator_request(value: &Value) -> Result<proto::OrchestratorRequest, EnvelopeError> {
    const MESSAGE: &str = "OrchestratorRequest";
    let request: proto::OrchestratorRequest = decode_nonempty_protobuf(value, MESSAGE)?;
    require_instance_id(&request.instance_id, MESSAGE)?;
    Ok(request)
}

/// Runs one orchestration episode from the `orchestrationTrigger` value, straight from the request's protobuf bytes
/// (see [`OrchestratorRequestBytes`]): what [`decode_orchestrator_request`] then
/// [`execute_orchestrator`](crate::orchestration::execute_orchestrator) answer, without materialising the history.
/// The same requests are refused, with the same errors.
pub fn run_orchestrator_value(
    registry: &Registry,
    value: &Value,
) -> Result<proto::OrchestratorResponse, EnvelopeError> {
    const MESSAGE: &str = "OrchestratorRequest";
    let invalid = |source| {
        EnvelopeError::value(EnvelopeProblem::InvalidProtobuf {
            message: MESSAGE,
            source,
        })
    };
    let bytes = nonempty_protobuf_bytes(value, MESSAGE)?;
    let request = OrchestratorRequestBytes::decode(&bytes).map_err(invalid)?;
    require_instance_id(request.instance_id(), MESSAGE)?;
    request.execute(registry).map_err(invalid)
}

/// Decodes the `entityTrigger` value into the protocol's (V1) `EntityBatchRequest`.
///
/// An empty value, or a batch without the entity's `instanceId`, is refused (see
/// [`decode_orchestrator_request`]).
pub fn decode_entity_batch_request(value: &Value) -> Result<proto::EntityBatchRequest, EnvelopeError> {
    const MESSAGE: &str = "EntityBatchRequest";
    let request: proto::EntityBatchRequest = decode_nonempty_protobuf(value, MESSAGE)?;
    require_instance_id(&request.instance_id, MESSAGE)?;
    Ok(request)
}

/// [`decode_protobuf`], refusing a value with no bytes at all (which decodes to a message of defaults).
fn decode_nonempty_protobuf<M: Message + Default>(value: &Value, message: &'static str) -> Result<M, EnvelopeError> {
    M::decode(nonempty_protobuf_bytes(value, message)?.as_slice())
        .map_err(|source| EnvelopeError::value(EnvelopeProblem::InvalidProtobuf { message, source }))
}

/// The protobuf bytes of a binding value holding base64 (JSON-encoded once more or not), refusing a value with no
/// bytes at all.
fn nonempty_protobuf_bytes(value: &Value, message: &'static str) -> Result<Vec<u8>, EnvelopeError> {
    let Value::String(text) = value else {
        return Err(EnvelopeError::shape("a base64 string", value));
    };
    let text = peeled(text);
    if text.trim().is_empty() {
        return Err(EnvelopeError::value(EnvelopeProblem::EmptyMessage { message }));
    }
    decode_base64(&text)
}

fn require_instance_id(instance_id: &str, message: &'static str) -> Result<(), EnvelopeError> {
    if instance_id.is_empty() {
        return Err(EnvelopeError::value(EnvelopeProblem::MissingField {
            message,
            field: "instanceId",
        }));
    }
    Ok(())
}

/// Decodes a binding value holding base64 protobuf (JSON-encoded once more or not) into `M`; `message`
/// names the type in errors.
pub fn decode_protobuf<M: Message + Default>(value: &Value, message: &'static str) -> Result<M, EnvelopeError> {
    let Value::String(text) = value else {
        return Err(EnvelopeError::shape("a base64 string", value));
    };
    let bytes = decode_base64(&peeled(text))?;
    M::decode(bytes.as_slice())
        .map_err(|source| EnvelopeError::value(EnvelopeProblem::InvalidProtobuf { message, source }))
}

/// The `ReturnValue` answering a durable trigger: one JSON string holding the standard base64 of `message`.
///
/// ```
/// use durabletask_sdk::functions::encode_return_value;
/// use durabletask_sdk::proto::OrchestratorResponse;
///
/// let response = OrchestratorResponse { instance_id: "abc123".into(), ..Default::default() };
/// assert_eq!(encode_return_value(&response), serde_json::json!("CgZhYmMxMjM="));
/// ```
pub fn encode_return_value(message: &impl Message) -> Value {
    Value::String(base64_simd::STANDARD.encode_to_string(message.encode_to_vec()))
}

/// The raw JSON text of an activity's input, or `None` when the activity was called without one.
///
/// The host sends the input's JSON text as a JSON string whose content is JSON-encoded once more (on the
/// wire `"\"\\\"Tokyo\\\"\""` for the input `"Tokyo"`), and the text `null` when there is no input; JSON
/// `null` is read as no input too.
pub fn activity_input(value: &Value) -> Result<Option<String>, EnvelopeError> {
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(encoded) => peel_host_string(encoded),
        other => other.to_string(),
    };
    if let Err(source) = serde_json::from_str::<serde::de::IgnoredAny>(&text) {
        return Err(EnvelopeError::value(EnvelopeProblem::InvalidJson {
            expected: "the JSON text of the activity input",
            source,
        }));
    }
    Ok(Some(text).filter(|text| text.trim() != "null"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn protobuf_round_trips_through_the_return_value_shape() {
        let request = proto::EntityBatchRequest {
            instance_id: "@counter@k".into(),
            entity_state: Some("5".into()),
            ..Default::default()
        };
        let wire = encode_return_value(&request);
        let Value::String(base64) = &wire else {
            panic!("not a string")
        };
        assert!(!base64.contains('"'));
        assert_eq!(decode_entity_batch_request(&wire).unwrap(), request);
        let double_encoded = Value::String(serde_json::to_string(base64).unwrap());
        assert_eq!(decode_entity_batch_request(&double_encoded).unwrap(), request);
    }

    #[test]
    fn wrong_shapes_and_bad_bytes_are_named() {
        let error = decode_orchestrator_request(&json!({"instanceId": "x"})).unwrap_err();
        assert_eq!(
            error.in_binding("context").to_string(),
            "binding 'context': expected a base64 string, found an object"
        );
        let error = decode_orchestrator_request(&json!("\"!!\"")).unwrap_err();
        assert!(error.to_string().contains("base64"), "{error}");
        let error = decode_orchestrator_request(&json!("/w==")).unwrap_err();
        assert!(
            error.to_string().contains("expected a protobuf OrchestratorRequest"),
            "{error}"
        );
    }

    #[test]
    fn empty_requests_and_requests_without_an_instance_id_are_named() {
        for empty in [json!(""), json!("\"\""), json!("  ")] {
            let error = decode_orchestrator_request(&empty).unwrap_err().in_binding("context");
            assert_eq!(
                error.to_string(),
                "binding 'context': the OrchestratorRequest is empty (no bytes after base64 decoding)"
            );
            let error = decode_entity_batch_request(&empty).unwrap_err();
            assert!(error.to_string().contains("the EntityBatchRequest is empty"), "{error}");
        }
        let anonymous = encode_return_value(&proto::EntityBatchRequest {
            entity_state: Some("1".into()),
            ..Default::default()
        });
        let error = decode_entity_batch_request(&anonymous).unwrap_err();
        assert_eq!(
            error.to_string(),
            "binding value: the EntityBatchRequest has no instanceId"
        );
        let anonymous = encode_return_value(&proto::OrchestratorRequest {
            new_events: vec![proto::HistoryEvent::default()],
            ..Default::default()
        });
        let error = decode_orchestrator_request(&anonymous).unwrap_err();
        assert_eq!(
            error.to_string(),
            "binding value: the OrchestratorRequest has no instanceId"
        );
    }

    #[test]
    fn activity_inputs() {
        assert_eq!(
            activity_input(&json!("\"\\\"Tokyo\\\"\"")).unwrap().as_deref(),
            Some("\"Tokyo\"")
        );
        assert_eq!(activity_input(&json!("\"42\"")).unwrap().as_deref(), Some("42"));
        assert_eq!(activity_input(&json!({"n": 2})).unwrap().as_deref(), Some("{\"n\":2}"));
        assert_eq!(activity_input(&Value::Null).unwrap(), None);
        assert_eq!(activity_input(&json!("\"null\"")).unwrap(), None);
        let error = activity_input(&json!("\"not json\"")).unwrap_err();
        assert!(error.to_string().contains("JSON text of the activity input"), "{error}");
    }
}
