//! `ResendEvents`: `POST /api/returns/{returnId}/events` (admin key). An operator re-sends the events of one return,
//! taken from the audit copy of the events topic (README, "Recovering lost events"); each goes through the same
//! validation and the same two signals as a Service Bus message ([`super::ingress`]). Safe to repeat: the return
//! de-duplicates, so events it recorded change nothing and no second notification is sent.
//!
//! The body is a JSON array, or JSON lines (`Content-Type: text/plain`), of messages as the audit copy holds them
//! (`{"body": <event>, "messageId": "…", "subject": "…", "applicationProperties": {…}}`, the local host's message
//! file format) or of bare events. Every item is checked before anything is signalled: an invalid event, or one
//! about another return, answers 400 naming each problem, and nothing is sent. The audit copy also holds the
//! messages the ingress refused (they are on the invalid-events queue since their first delivery): with
//! `?skipInvalid=true` those are skipped and listed, and the rest is sent; an item about another return, or no
//! message at all, still refuses the request. 200 lists what was signalled (and skipped); 503 says the durable
//! engine failed part way (re-run it: the return de-duplicates).

use chrono::Utc;
use durabletask_sdk::functions::{HttpRequestData, HttpResponseData, InvokeRequest, InvokeResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::ingress::{event_type_hint, signal_accepted_event};
use super::status::{respond, route_return_id};
use crate::domain::log_text::for_log;
use crate::domain::{parse_event, ReturnEvent, ReturnId};
use crate::durable::contract::CLIENT_BINDING;
use crate::error::AppError;
use crate::state::AppState;

/// The HTTP trigger binding.
pub const REQUEST_BINDING: &str = "req";
/// The most messages one request may re-send (a return records at most a few hundred events).
pub const MAX_RESENT_MESSAGES: usize = 1_000;

/// One message to re-send, as the audit copy holds it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResentMessage {
    body: Value,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    application_properties: Map<String, Value>,
}

impl ResentMessage {
    /// An item of the request: a message (it has a `body`) or a bare event.
    fn read(item: Value) -> Result<Self, String> {
        match item {
            Value::Object(fields) if fields.contains_key("body") => {
                serde_json::from_value(Value::Object(fields)).map_err(|error| format!("not a message: {error}"))
            }
            Value::Object(fields) => Ok(Self {
                body: Value::Object(fields),
                message_id: None,
                subject: None,
                application_properties: Map::new(),
            }),
            other => Err(format!(
                "expected a message or an event object, found {}",
                kind_of(&other)
            )),
        }
    }

    /// The body bytes as the producer sent them: a string as is, any other value as compact JSON.
    fn body_text(&self) -> String {
        match &self.body {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }

    fn parse(&self, return_id: &ReturnId) -> Result<ReturnEvent, ItemProblem> {
        let property = self.application_properties.get("eventType").and_then(Value::as_str);
        let hint = event_type_hint(property, self.subject.as_deref());
        let event = parse_event(hint.as_deref(), self.message_id.as_deref(), self.body_text().as_bytes())
            .map_err(|invalid| ItemProblem::RefusedByIngress(format!("{}: {invalid}", invalid.reason_code())))?;
        if event.return_id() != return_id {
            return Err(ItemProblem::NotResendable(format!(
                "the event is about return {}, not {return_id}",
                event.return_id()
            )));
        }
        Ok(event)
    }
}

/// Why an item of the request cannot be re-sent.
enum ItemProblem {
    /// The ingress refuses this event too: it was kept on the invalid-events queue when first delivered.
    RefusedByIngress(String),
    /// Not a message or an event of this return: an operator's mistake, never skipped.
    NotResendable(String),
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Re-sends one return's events.
pub async fn handle(state: &AppState, request: &InvokeRequest) -> Result<InvokeResponse, AppError> {
    let http = request.http_request(REQUEST_BINDING)?;
    let return_id = match route_return_id(request, &http) {
        Ok(return_id) => return_id,
        Err(answer) => return Ok(respond(&answer)),
    };
    let skip_invalid = match http.query_param("skipInvalid") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            let problem = format!("skipInvalid must be true or false, got '{}'", for_log(other));
            return Ok(respond(&error(400, &return_id, &problem, Vec::new())));
        }
    };
    let items = match request_items(&http) {
        Ok(items) => items,
        Err(problem) => return Ok(respond(&error(400, &return_id, &problem, Vec::new()))),
    };
    let mut events = Vec::with_capacity(items.len());
    let (mut problems, mut skipped, mut refused_by_ingress) = (Vec::new(), Vec::new(), 0);
    for (index, item) in items.into_iter().enumerate() {
        let read = ResentMessage::read(item)
            .map_err(ItemProblem::NotResendable)
            .and_then(|message| {
                let event = message.parse(&return_id)?;
                Ok((message.message_id, event))
            });
        let (problem, refused) = match read {
            Ok(event) => {
                events.push(event);
                continue;
            }
            Err(ItemProblem::RefusedByIngress(problem)) => (problem, true),
            Err(ItemProblem::NotResendable(problem)) => (problem, false),
        };
        let entry = json!({ "item": index + 1, "error": problem });
        match (refused, skip_invalid) {
            (true, true) => skipped.push(entry),
            (true, false) => {
                refused_by_ingress += 1;
                problems.push(entry);
            }
            (false, _) => problems.push(entry),
        }
    }
    if !problems.is_empty() {
        let mut problem = format!("{} of the messages cannot be re-sent; nothing was sent", problems.len());
        if refused_by_ingress == problems.len() {
            problem.push_str(
                ". The ingress refuses them too (an audit copy holds them: they are on the invalid-events queue \
                 since their first delivery); add ?skipInvalid=true to send the others",
            );
        }
        return Ok(respond(&error(400, &return_id, &problem, problems)));
    }
    let client = state.clients.client_for(&request.durable_client(CLIENT_BINDING)?)?;
    let total = events.len();
    let mut signalled = Vec::with_capacity(total);
    for (message_id, event) in events {
        let described = json!({
            "messageId": message_id,
            "eventId": event.envelope.event_id,
            "eventType": event.event_type(),
        });
        let sent = signal_accepted_event(
            &client,
            &state.durable_settings,
            event,
            message_id.as_deref(),
            Utc::now(),
        );
        if let Err(failure) = sent.await {
            tracing::warn!(
                return_id = return_id.as_str(),
                "re-sending stopped after {} of {total} events: {failure}",
                signalled.len()
            );
            let problem = format!(
                "the durable engine failed after {} of {total} events were signalled ({failure}); run the same \
                 request again: the return de-duplicates",
                signalled.len()
            );
            return Ok(respond(&error(503, &return_id, &problem, Vec::new())));
        }
        signalled.push(described);
    }
    tracing::warn!(
        return_id = return_id.as_str(),
        events = total,
        "events re-sent to their return by an operator"
    );
    let mut body = json!({
        "returnId": return_id,
        "signalled": signalled.len(),
        "events": signalled,
        "next": format!("GET /api/returns/{return_id} shows what the return recorded"),
    });
    if skip_invalid {
        body["skipped"] = Value::Array(skipped);
    }
    Ok(respond(
        &HttpResponseData::json(200, &body).expect("JSON values serialise"),
    ))
}

/// The items of the request body: a JSON array, or one JSON value a line.
fn request_items(http: &HttpRequestData) -> Result<Vec<Value>, String> {
    let text = request_text(http)?;
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err("the body is empty: send the return's messages as a JSON array or as JSON lines".to_owned());
    }
    let items: Vec<Value> = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(|error| format!("the body is not a JSON array: {error}"))?
    } else {
        let mut items = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let item = serde_json::from_str(line)
                .map_err(|error| format!("line {} is not JSON: {}", index + 1, for_log(&error.to_string())))?;
            items.push(item);
        }
        items
    };
    if items.len() > MAX_RESENT_MESSAGES {
        return Err(format!(
            "{} messages in one request; send at most {MAX_RESENT_MESSAGES} (split the file)",
            items.len()
        ));
    }
    Ok(items)
}

/// The body as text: the host passes text and JSON bodies as they are and binary ones in base64.
fn request_text(http: &HttpRequestData) -> Result<String, String> {
    let body = http.body.clone().unwrap_or_default();
    let content_type = http.header("Content-Type").unwrap_or_default().to_ascii_lowercase();
    if content_type.starts_with("multipart/") {
        return Err("multipart bodies are not read: send a JSON array or JSON lines".to_owned());
    }
    if !content_type.starts_with("application/octet-stream") {
        return Ok(body);
    }
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|_| "the binary body is not the host's base64".to_owned())?;
    String::from_utf8(bytes).map_err(|_| "the body is not UTF-8 text".to_owned())
}

fn error(status: u16, return_id: &ReturnId, problem: &str, problems: Vec<Value>) -> HttpResponseData {
    let mut body = json!({ "returnId": return_id, "error": problem });
    if !problems.is_empty() {
        body["problems"] = Value::Array(problems);
    }
    HttpResponseData::json(status, &body).expect("JSON values serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str, content_type: &str) -> HttpRequestData {
        serde_json::from_value(json!({
            "Url": "http://localhost/api/returns/R1/events",
            "Method": "POST",
            "Headers": {"Content-Type": [content_type]},
            "Body": body,
        }))
        .unwrap()
    }

    #[test]
    fn the_body_is_a_json_array_or_json_lines() {
        let array = request_items(&request(
            r#"[{"body": {"a": 1}}, {"eventId": "E"}]"#,
            "application/json",
        ))
        .unwrap();
        assert_eq!(array.len(), 2);
        let lines = request_items(&request("{\"body\": 1}\n\n{\"body\": 2}\n", "text/plain")).unwrap();
        assert_eq!(lines, vec![json!({"body": 1}), json!({"body": 2})]);
        let problem = request_items(&request("{\"body\": 1}\nnope", "text/plain")).unwrap_err();
        assert!(problem.starts_with("line 2 is not JSON"), "{problem}");
        assert!(request_items(&request("  ", "text/plain"))
            .unwrap_err()
            .starts_with("the body is empty"));
        let too_many = format!("[{}]", vec!["{}"; MAX_RESENT_MESSAGES + 1].join(","));
        assert!(request_items(&request(&too_many, "application/json"))
            .unwrap_err()
            .contains("send at most 1000"));
    }

    #[test]
    fn a_binary_body_is_read_from_the_hosts_base64() {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode("{\"body\": 1}");
        let items = request_items(&request(&encoded, "application/octet-stream")).unwrap();
        assert_eq!(items, vec![json!({"body": 1})]);
    }

    #[test]
    fn items_are_messages_or_bare_events() {
        let message =
            ResentMessage::read(json!({"body": "text", "messageId": "M1", "subject": "ReturnBooked"})).unwrap();
        assert_eq!(
            (message.body_text(), message.message_id.as_deref()),
            ("text".to_owned(), Some("M1"))
        );
        let bare = ResentMessage::read(json!({"eventId": "E1"})).unwrap();
        assert_eq!(bare.body_text(), r#"{"eventId":"E1"}"#);
        assert_eq!(
            ResentMessage::read(json!([1])).unwrap_err(),
            "expected a message or an event object, found an array"
        );
    }
}
