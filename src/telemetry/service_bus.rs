//! The span of one Service Bus message (consumer), where a return's trace starts: the message's own W3C context
//! (`traceparent` / `tracestate` application properties, or `Diagnostic-Id`, which the Service Bus SDKs stamp on
//! the messages they send) is its parent; a message without one starts a new trace.

use durabletask_sdk::functions::InvokeRequest;
use durabletask_sdk::tracing_spans::{parse_traceparent, set_parent};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::Context;
use serde_json::{Map, Value};

/// The span of the message `request` carries (to instrument its handling with).
pub fn message_span(function: &str, request: &InvokeRequest) -> tracing::Span {
    let properties = request.metadata_object("ApplicationProperties").ok().flatten();
    let message_id = request.metadata_string("MessageId").ok().flatten();
    let delivery_count = request.metadata_int("DeliveryCount").ok().flatten();
    let span = tracing::info_span!(
        target: "returns_aggregator::telemetry",
        "message",
        otel.name = format!("{function} process"),
        otel.kind = "consumer",
        "messaging.system" = "servicebus",
        "messaging.operation.type" = "process",
        "messaging.message.id" = message_id.as_deref().unwrap_or(""),
        "messaging.servicebus.message.delivery_count" = delivery_count.unwrap_or(0),
        "faas.trigger" = "pubsub",
    );
    set_parent(&span, properties.as_ref().and_then(message_parent));
    span
}

/// The parent a message's application properties name: `traceparent` (with `tracestate`), else `Diagnostic-Id`
/// when it is a W3C traceparent (the .NET SDK's default id format).
pub fn message_parent(properties: &Map<String, Value>) -> Option<Context> {
    let text = |name: &str| properties.get(name).and_then(Value::as_str);
    let span = text("traceparent")
        .and_then(|traceparent| parse_traceparent(traceparent, text("tracestate")))
        .or_else(|| parse_traceparent(text("Diagnostic-Id")?, None))?;
    Some(Context::new().with_remote_span_context(span))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn properties(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect()
    }

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn traceparent_comes_first_then_diagnostic_id() {
        let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let parent = message_parent(&properties(&[("traceparent", PARENT), ("Diagnostic-Id", other)])).unwrap();
        assert_eq!(
            parent.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let parent = message_parent(&properties(&[("Diagnostic-Id", other)])).unwrap();
        assert_eq!(
            parent.span().span_context().trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
    }

    #[test]
    fn a_legacy_or_missing_id_starts_a_new_trace() {
        assert!(message_parent(&properties(&[("Diagnostic-Id", "|abc.1.")])).is_none());
        assert!(message_parent(&properties(&[])).is_none());
    }
}
