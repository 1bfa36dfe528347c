//! The Service Bus message files of the local host (JSONL, one message a line; DESIGN.md §2):
//! `{"function", "body", "messageId", "subject", "applicationProperties", "correlationId", "contentType"}`,
//! only `function` required, and the dead-letter records written beside them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One message to deliver, as written in a message file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceBusMessage {
    /// The function whose trigger receives the message (or a timer function to fire).
    pub function: String,
    /// The body: a string is sent as its UTF-8 text, any other JSON value as compact JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// `MessageId`; the local host makes a stable one from the file line when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// `Subject` (also sent as the legacy `Label`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `ApplicationProperties` (also sent as the legacy `UserProperties`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub application_properties: Map<String, Value>,
    /// `CorrelationId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// `ContentType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

impl ServiceBusMessage {
    /// A message for `function` with `body`.
    pub fn new(function: impl Into<String>, body: Value) -> Self {
        Self {
            function: function.into(),
            body: Some(body),
            message_id: None,
            subject: None,
            application_properties: Map::new(),
            correlation_id: None,
            content_type: None,
        }
    }

    /// The body bytes as the sender put them on the wire: a string as is, any other value as compact JSON,
    /// no body as an empty body.
    pub fn body_text(&self) -> String {
        match &self.body {
            None => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        }
    }
}

/// A message file entry with its position, for error messages and stable message ids.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// The message.
    pub message: ServiceBusMessage,
}

/// A line of a message file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MessageFileError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not a valid message.
    #[error("{path}:{line}: {problem}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
}

/// Reads a message file.
pub fn read_message_file(path: &Path) -> Result<Vec<MessageLine>, MessageFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| MessageFileError::Read {
        path: path.into(),
        source,
    })?;
    parse_messages(&text).map_err(|(line, problem)| MessageFileError::Line {
        path: path.into(),
        line,
        problem,
    })
}

/// Parses JSONL message text; blank lines are skipped. The error is the 1-based line and the problem.
pub fn parse_messages(text: &str) -> Result<Vec<MessageLine>, (usize, String)> {
    let mut messages = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(raw).map_err(|error| (line, format!("not valid JSON: {error}")))?;
        if !value.is_object() {
            return Err((
                line,
                "expected a JSON object like {\"function\": \"ServiceBusTrigger\", \"body\": {...}}".into(),
            ));
        }
        match value.get("function") {
            Some(Value::String(name)) if !name.trim().is_empty() => {}
            Some(Value::String(_)) => return Err((line, "\"function\" must not be empty".into())),
            Some(other) => return Err((line, format!("\"function\" must be a string, found {other}"))),
            None => {
                return Err((
                    line,
                    "missing \"function\" (the function that receives the message)".into(),
                ))
            }
        }
        let message: ServiceBusMessage =
            serde_json::from_value(value).map_err(|error| (line, format!("invalid field: {error}")))?;
        messages.push(MessageLine { line, message });
    }
    Ok(messages)
}

/// Why a message was dead-lettered (Service Bus's `DeadLetterReason`).
pub const MAX_DELIVERY_COUNT_EXCEEDED: &str = "MaxDeliveryCountExceeded";

/// One line of the dead-letter file: the message as it was read, plus why it was dead-lettered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetteredMessage {
    /// The message (its fields are written at the top level, so the line can be delivered again).
    #[serde(flatten)]
    pub message: ServiceBusMessage,
    /// The delivery count reached.
    pub delivery_count: u32,
    /// The dead-letter reason, [`MAX_DELIVERY_COUNT_EXCEEDED`].
    pub reason: String,
    /// The error of the last delivery attempt.
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_full_and_minimal_lines() {
        let text = r#"
{"function": "ServiceBusTrigger", "body": {"type": "ReturnBooked"}, "messageId": "m-1", "subject": "returns", "applicationProperties": {"tenant": "t1"}, "correlationId": "c-1", "contentType": "application/json"}

{"function": "PurgeTimer"}
{"function": "ServiceBusTrigger", "body": "not json"}
"#;
        let lines = parse_messages(text).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].line, 2);
        assert_eq!(lines[0].message.message_id.as_deref(), Some("m-1"));
        assert_eq!(lines[0].message.application_properties["tenant"], json!("t1"));
        assert_eq!(lines[0].message.body_text(), r#"{"type":"ReturnBooked"}"#);
        assert_eq!(lines[1].line, 4);
        assert_eq!(lines[1].message.body_text(), "");
        assert_eq!(lines[2].message.body_text(), "not json");
    }

    #[test]
    fn reports_the_line_and_the_problem() {
        assert_eq!(
            parse_messages("{}\n").unwrap_err(),
            (
                1,
                "missing \"function\" (the function that receives the message)".into()
            )
        );
        let (line, problem) = parse_messages("{\"function\": \"F\"}\n{nope").unwrap_err();
        assert_eq!(line, 2);
        assert!(problem.starts_with("not valid JSON"), "{problem}");
        let (_, problem) = parse_messages("[1]").unwrap_err();
        assert!(problem.starts_with("expected a JSON object"), "{problem}");
        let (_, problem) = parse_messages(r#"{"function": 3}"#).unwrap_err();
        assert_eq!(problem, "\"function\" must be a string, found 3");
        let (_, problem) = parse_messages(r#"{"function": "F", "messageId": 7}"#).unwrap_err();
        assert!(problem.starts_with("invalid field"), "{problem}");
    }

    #[test]
    fn dead_letter_lines_keep_the_message_fields_at_the_top_level() {
        let record = DeadLetteredMessage {
            message: ServiceBusMessage {
                message_id: Some("m-1".into()),
                ..ServiceBusMessage::new("F", json!({"a": 1}))
            },
            delivery_count: 10,
            reason: MAX_DELIVERY_COUNT_EXCEEDED.into(),
            error: "the handler answered HTTP 500".into(),
        };
        let line = serde_json::to_value(&record).unwrap();
        assert_eq!(
            line,
            json!({"function": "F", "body": {"a": 1}, "messageId": "m-1", "deliveryCount": 10,
                   "reason": "MaxDeliveryCountExceeded", "error": "the handler answered HTTP 500"})
        );
        let parsed = parse_messages(&line.to_string()).unwrap();
        assert_eq!(parsed[0].message, record.message);
    }
}
