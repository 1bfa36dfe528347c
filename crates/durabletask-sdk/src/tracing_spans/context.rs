//! W3C trace context (`traceparent` / `tracestate`) ⇄ OpenTelemetry span contexts ⇄ the protocol's
//! `TraceContext` message.
//!
//! The parser is written here over the OpenTelemetry API's id types because the W3C propagator lives in
//! `opentelemetry_sdk`, a dependency this library does not otherwise need.

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;
use tracing::span::Id;
use tracing::Dispatch;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::proto;

/// The remote span context a W3C `traceparent` (and optional `tracestate`) names, or `None` when the text is not
/// a valid version-00 header (or a later version's first four fields): wrong lengths, upper-case or non-hex
/// digits, all-zero ids, version `ff`. An invalid `tracestate` is dropped; the parent stays.
pub fn parse_traceparent(traceparent: &str, tracestate: Option<&str>) -> Option<SpanContext> {
    let mut fields = traceparent.trim().split('-');
    let version = fields.next()?;
    let trace_id = fields.next()?;
    let span_id = fields.next()?;
    let flags = fields.next()?;
    let lower_hex = |text: &str, len: usize| {
        text.len() == len && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !lower_hex(version, 2) || version == "ff" || (version == "00" && fields.next().is_some()) {
        return None;
    }
    if !lower_hex(trace_id, 32) || !lower_hex(span_id, 16) || !lower_hex(flags, 2) {
        return None;
    }
    let trace_id = TraceId::from_hex(trace_id).ok().filter(|id| *id != TraceId::INVALID)?;
    let span_id = SpanId::from_hex(span_id).ok().filter(|id| *id != SpanId::INVALID)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let state = tracestate
        .and_then(|text| text.parse::<TraceState>().ok())
        .unwrap_or_default();
    Some(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags) & TraceFlags::SAMPLED,
        true,
        state,
    ))
}

/// The version-00 `traceparent` of a span context.
pub fn format_traceparent(context: &SpanContext) -> String {
    let mut text = String::with_capacity(55);
    text.push_str("00-");
    push_lower_hex(&mut text, &context.trace_id().to_bytes());
    text.push('-');
    push_lower_hex(&mut text, &context.span_id().to_bytes());
    text.push('-');
    push_lower_hex(&mut text, &[context.trace_flags().to_u8()]);
    text
}

/// `bytes` in lower-case hex (a trace or span id as W3C and OpenTelemetry print it).
pub fn lower_hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    push_lower_hex(&mut text, bytes);
    text
}

// The ids' `Display` goes through the integer formatter, which costs more than the rest of a span here.
fn push_lower_hex(text: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
}

/// The OpenTelemetry parent a protocol `TraceContext` names (`None` when it is empty or malformed).
pub fn parent_from_proto(trace_context: Option<&proto::TraceContext>) -> Option<Context> {
    let trace_context = trace_context?;
    let span = parse_traceparent(&trace_context.trace_parent, trace_context.trace_state.as_deref())?;
    Some(Context::new().with_remote_span_context(span))
}

/// The span context of `span`: from the OpenTelemetry layer when one records it, else from a
/// [`TraceIdsLayer`](super::ids::TraceIdsLayer); `None` when neither does.
pub fn span_context_of(span: &tracing::Span) -> Option<SpanContext> {
    let mut found = None;
    span.with_subscriber(|(id, dispatch)| found = span_context_by_id(dispatch, id));
    found
}

/// The span context of the span `id` of `dispatch` (see [`span_context_of`]); for event formatters, which see
/// span ids rather than [`tracing::Span`]s.
pub fn span_context_by_id(dispatch: &Dispatch, id: &Id) -> Option<SpanContext> {
    let mut found = None;
    super::ids::with_span_ids(dispatch, id, &mut |context| found = Some(context.clone()));
    if found.is_none() {
        found = tracing_opentelemetry::get_otel_context(id, dispatch)
            .map(|context| context.span().span_context().clone())
            .filter(SpanContext::is_valid);
    }
    found
}

/// The protocol `TraceContext` of `span` (its own id as the parent of what it starts), or `None` when no layer
/// gives it a span context.
pub fn trace_context_of_span(span: &tracing::Span) -> Option<proto::TraceContext> {
    span_context_of(span).map(|context| to_proto(&context))
}

/// The protocol `TraceContext` naming `context` as the parent.
pub fn to_proto(context: &SpanContext) -> proto::TraceContext {
    let state = context.trace_state().header();
    proto::TraceContext {
        trace_parent: format_traceparent(context),
        trace_state: (!state.is_empty()).then_some(state),
        ..Default::default()
    }
}

/// The protocol `TraceContext` of the current span.
pub fn current_trace_context() -> Option<proto::TraceContext> {
    trace_context_of_span(&tracing::Span::current())
}

/// The trace id and span id of `span` in lower-case hex (for logs and messages), or `None` when no layer gives it
/// a span context.
pub fn ids_of_span(span: &tracing::Span) -> Option<(String, String)> {
    span_context_of(span).as_ref().map(hex_ids)
}

/// The trace id and span id of `context` in lower-case hex.
pub fn hex_ids(context: &SpanContext) -> (String, String) {
    (
        lower_hex(&context.trace_id().to_bytes()),
        lower_hex(&context.span_id().to_bytes()),
    )
}

/// Makes `parent` the parent of `span` (nothing when there is none, or when no layer records the span). Call it
/// before the span is entered: spans started inside it earlier keep the trace they had.
pub fn set_parent(span: &tracing::Span, parent: Option<Context>) {
    let Some(parent) = parent else { return };
    let remote = parent.span().span_context().clone();
    span.with_subscriber(|(id, dispatch)| {
        super::ids::with_span_ids(dispatch, id, &mut |context| {
            *context = SpanContext::new(
                remote.trace_id(),
                context.span_id(),
                remote.trace_flags(),
                false,
                remote.trace_state().clone(),
            );
        });
    });
    // Fails only when no OpenTelemetry layer records the span (or it has started): nothing to link there then.
    let _ = OpenTelemetrySpanExt::set_parent(span, parent);
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn a_valid_traceparent_round_trips() {
        let span = parse_traceparent(VALID, Some("congo=t61rcWkgMzE")).expect("valid");
        assert!(span.is_remote() && span.is_sampled());
        assert_eq!(format_traceparent(&span), VALID);
        assert_eq!(lower_hex(&span.trace_id().to_bytes()), span.trace_id().to_string());
        assert_eq!(span.trace_state().header(), "congo=t61rcWkgMzE");
    }

    #[test]
    fn malformed_traceparents_are_refused() {
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "|abc.1.",
        ] {
            assert!(parse_traceparent(bad, None).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_later_version_keeps_its_first_four_fields() {
        let later = "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-comes";
        assert!(parse_traceparent(later, None).is_some());
    }

    #[test]
    fn no_layer_means_no_context() {
        let span = tracing::info_span!("nothing records this");
        assert!(trace_context_of_span(&span).is_none());
        assert!(ids_of_span(&span).is_none());
        assert!(parent_from_proto(None).is_none());
    }
}
