//! The serve protocol (shared with `oracle/oracle.py serve`): one JSON request per line, one JSON answer per line.
//!
//! A request is an object with exactly one key naming its kind (`orchestratorRequest`, `entityRequestV2`,
//! `entityBatchRequest` or `activityRequest`) whose value is the base64 protobuf request. The answer is
//! `{"response": "<base64 protobuf response>"}`, or `{"error": "<what was wrong>"}` for a line that is not such
//! a request (the server then goes on with the next line).

use serde_json::{Map, Value};

use durabletask_sdk::Registry;

use crate::wire::{self, Request, RequestKind, Response, WireError};

/// Why a line is not a request.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The line is not JSON.
    #[error("the line is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The line is JSON of another shape.
    #[error("expected an object with exactly one key (orchestratorRequest, entityRequestV2, entityBatchRequest or activityRequest) whose value is a base64 string")]
    Shape,
    /// The kind or payload is invalid.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// An answer line could not be read.
    #[error("the answer is neither {{\"response\": ...}} nor {{\"error\": ...}}: {0}")]
    BadAnswer(String),
    /// The other side answered with an error.
    #[error("the server answered with an error: {0}")]
    Answered(String),
}

/// Parses a request line.
pub fn parse_request(line: &str) -> Result<Request, ServeError> {
    let value: Value = serde_json::from_str(line).map_err(ServeError::NotJson)?;
    let Value::Object(fields) = value else {
        return Err(ServeError::Shape);
    };
    let mut fields = fields.into_iter();
    let (Some((key, Value::String(payload))), None) = (fields.next(), fields.next()) else {
        return Err(ServeError::Shape);
    };
    let kind = RequestKind::from_key(&key)?;
    Ok(Request::decode_base64(kind, &payload)?)
}

/// The request line for `request`.
pub fn request_line(request: &Request) -> String {
    let mut fields = Map::new();
    fields.insert(request.kind().key().to_string(), Value::String(request.encode_base64()));
    Value::Object(fields).to_string()
}

/// Parses an answer line to a request of kind `kind`.
pub fn parse_answer(kind: RequestKind, line: &str) -> Result<Response, ServeError> {
    let value: Value = serde_json::from_str(line).map_err(|_| ServeError::BadAnswer(line.trim().to_string()))?;
    if let Some(Value::String(payload)) = value.get("response") {
        return Ok(Response::decode_base64(kind, payload)?);
    }
    match value.get("error") {
        Some(Value::String(message)) => Err(ServeError::Answered(message.clone())),
        _ => Err(ServeError::BadAnswer(line.trim().to_string())),
    }
}

/// Answers one request line with our executors.
pub fn answer_line(registry: &Registry, line: &str) -> String {
    let answer = match parse_request(line) {
        Ok(request) => ("response", wire::execute(registry, &request).encode_base64()),
        Err(error) => ("error", error.to_string()),
    };
    let mut fields = Map::new();
    fields.insert(answer.0.to_string(), Value::String(answer.1));
    Value::Object(fields).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use durabletask_sdk::proto;

    fn registry() -> Registry {
        let mut registry = Registry::new();
        crate::register(&mut registry);
        registry
    }

    #[test]
    fn a_request_line_is_answered_with_a_response() {
        let request = Request::EntityV1(proto::EntityBatchRequest {
            instance_id: "@counter@a".into(),
            entity_state: Some("1".into()),
            operations: vec![proto::OperationRequest {
                operation: "get".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        let answer = answer_line(&registry(), &request_line(&request));
        let result = parse_answer(RequestKind::EntityV1, &answer).unwrap();
        assert_eq!(result.as_entity().unwrap().results.len(), 1);
    }

    #[test]
    fn malformed_lines_are_answered_with_an_error() {
        for (line, expected) in [
            ("not json", "not JSON"),
            ("[1]", "exactly one key"),
            (r#"{"what": "AAAA"}"#, "unknown request kind 'what'"),
            (r#"{"orchestratorRequest": "%%%"}"#, "not valid base64"),
            (
                r#"{"orchestratorRequest": "/////w=="}"#,
                "not a valid OrchestratorRequest",
            ),
        ] {
            let answer = answer_line(&registry(), line);
            let error = parse_answer(RequestKind::Orchestrator, &answer).unwrap_err();
            assert!(error.to_string().contains(expected), "{line}: {error}");
        }
    }
}
