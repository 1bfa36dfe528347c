//! W3C trace context (`traceparent` / `tracestate`) ⇄ OpenTelemetry span contexts ⇄ the protocol's
//! `TraceContext` message.
//!
//! The parser is written here over the OpenTelemetry API's id types because the W3C propagator lives in
//! `opentelemetry_sdk`, a dependency this library does not otherwise need.

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;
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
    format!(
        "00-{}-{}-{:02x}",
        context.trace_id(),
        context.span_id(),
        context.trace_flags().to_u8()
    )
}

/// The OpenTelemetry parent a protocol `TraceContext` names (`None` when it is empty or malformed).
pub fn parent_from_proto(trace_context: Option<&proto::TraceContext>) -> Option<Context> {
    let trace_context = trace_context?;
    let span = parse_traceparent(&trace_context.trace_parent, trace_context.trace_state.as_deref())?;
    Some(Context::new().with_remote_span_context(span))
}

/// The protocol `TraceContext` of `span` (its own id as the parent of what it starts), or `None` when no
/// OpenTelemetry layer records it.
pub fn trace_context_of_span(span: &tracing::Span) -> Option<proto::TraceContext> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if !span_context.is_valid() {
        return None;
    }
    let state = span_context.trace_state().header();
    Some(proto::TraceContext {
        trace_parent: format_traceparent(&span_context),
        trace_state: (!state.is_empty()).then_some(state),
        ..Default::default()
    })
}

/// The protocol `TraceContext` of the current span.
pub fn current_trace_context() -> Option<proto::TraceContext> {
    trace_context_of_span(&tracing::Span::current())
}

/// The trace id and span id of `span` in lower-case hex (for logs and messages), or `None` when no OpenTelemetry
/// layer records it.
pub fn ids_of_span(span: &tracing::Span) -> Option<(String, String)> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| (span_context.trace_id().to_string(), span_context.span_id().to_string()))
}

/// Makes `parent` the OpenTelemetry parent of `span` (nothing when there is none or no layer records spans).
pub(crate) fn adopt_parent(span: &tracing::Span, parent: Option<Context>) {
    if let Some(parent) = parent {
        // Fails only when the span is already started without an OpenTelemetry layer: nothing to link then.
        let _ = span.set_parent(parent);
    }
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
