//! The audit copy of the events topic, and re-sending a return's messages from it.
//!
//! In Azure, an audit subscription on the events topic with a long time to live and no consumer keeps a copy of
//! every event, whatever the app does with its own subscription (README, "Recovering lost events"). The local host
//! keeps the same copy: every message sent to a Service Bus trigger, as sent (message-file format, so the copy can
//! also be delivered again with `local-host run --messages`). [`messages_of_return`] picks a return's messages from
//! it, as an operator exports them from the audit subscription, and [`resend`] posts them to the app's re-send
//! function, as the operator does in Azure with `curl`.

use bytes::Bytes;
use serde_json::Value;

use crate::handler::http_client::{chunked_body, BufferedResponse, HttpClient};
use crate::triggers::messages::ServiceBusMessage;

/// The `returnId` a message's body names: a JSON object body, or a text body holding one.
pub fn body_return_id(message: &ServiceBusMessage) -> Option<String> {
    let parsed;
    let body = match &message.body {
        Some(Value::String(text)) => {
            parsed = serde_json::from_str::<Value>(text).ok()?;
            &parsed
        }
        Some(body) => body,
        None => return None,
    };
    body.get("returnId").and_then(Value::as_str).map(str::to_owned)
}

/// The messages of `audited` about `return_id`, in the order sent, each once (the broker delivering a message twice
/// does not put it on the topic twice, but a producer sending it twice does).
pub fn messages_of_return(audited: &[ServiceBusMessage], return_id: &str) -> Vec<ServiceBusMessage> {
    let mut picked: Vec<ServiceBusMessage> = Vec::new();
    for message in audited {
        if body_return_id(message).as_deref() == Some(return_id) && !picked.contains(message) {
            picked.push(message.clone());
        }
    }
    picked
}

/// The messages as JSON lines, the body the re-send function reads.
pub fn json_lines(messages: &[ServiceBusMessage]) -> String {
    messages
        .iter()
        .map(|message| serde_json::to_string(message).unwrap_or_default() + "\n")
        .collect()
}

/// `POST url` with `messages` as JSON lines (`Content-Type: text/plain`): the app's re-send function.
pub async fn resend(url: &str, messages: &[ServiceBusMessage]) -> Result<BufferedResponse, String> {
    let request = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(chunked_body(Bytes::from(json_lines(messages))))
        .map_err(|error| format!("{url}: {error}"))?;
    HttpClient::default()
        .send(request)
        .await
        .map_err(|error| format!("POST {url} failed: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(id: &str, body: Value) -> ServiceBusMessage {
        ServiceBusMessage {
            message_id: Some(id.to_owned()),
            ..ServiceBusMessage::new("ServiceBusTrigger", body)
        }
    }

    #[test]
    fn a_returns_messages_are_picked_once_in_the_order_sent() {
        let audited = vec![
            message("m1", json!({"returnId": "R1", "eventId": "E1"})),
            message("m2", json!({"returnId": "R2", "eventId": "E2"})),
            message("m3", json!("{\"returnId\": \"R1\", \"eventId\": \"E3\"}")),
            message("m1", json!({"returnId": "R1", "eventId": "E1"})),
            message("m4", json!("not json")),
            ServiceBusMessage {
                body: None,
                ..message("m5", json!(null))
            },
        ];
        let picked = messages_of_return(&audited, "R1");
        let ids: Vec<&str> = picked.iter().filter_map(|m| m.message_id.as_deref()).collect();
        assert_eq!(ids, ["m1", "m3"]);
        assert!(messages_of_return(&audited, "R3").is_empty());
    }

    #[test]
    fn json_lines_are_message_file_lines() {
        let lines = json_lines(&[message("m1", json!({"returnId": "R1"}))]);
        assert_eq!(
            lines,
            "{\"function\":\"ServiceBusTrigger\",\"body\":{\"returnId\":\"R1\"},\"messageId\":\"m1\"}\n"
        );
        let parsed = crate::triggers::messages::parse_messages(&lines).unwrap();
        assert_eq!(parsed[0].message.message_id.as_deref(), Some("m1"));
    }
}
