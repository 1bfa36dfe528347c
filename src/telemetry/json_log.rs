//! `LOG_FORMAT=json`: one JSON object per line, with the event's fields and, from the spans it happened in, the
//! function, the invocation id, the durable instance id, the return id and the OpenTelemetry trace and span ids.

use std::fmt;

use durabletask_sdk::tracing_spans;
use serde_json::{Map, Value};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::{Extensions, LookupSpan};

/// Span fields copied onto every line logged inside the span, with the key they get on the line.
const SPAN_FIELDS: &[(&str, &str)] = &[
    ("function", "function"),
    ("invocation_id", "invocation_id"),
    ("durabletask.task.instance_id", "instance_id"),
    ("return_id", "return_id"),
];

/// The JSON-lines event format (span fields must be recorded with [`JsonFields`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLines;

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert("timestamp".into(), chrono::Utc::now().to_rfc3339().into());
        line.insert("level".into(), metadata.level().as_str().into());
        line.insert("target".into(), metadata.target().into());
        if let Some(scope) = ctx.event_scope() {
            let mut ids = None;
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<FormattedFields<JsonFields>>() {
                    copy_span_fields(fields, &mut line);
                }
                ids = trace_ids(&span.extensions(), &span.id()).or(ids);
            }
            if let Some((trace_id, span_id)) = ids {
                line.insert("trace_id".into(), trace_id.into());
                line.insert("span_id".into(), span_id.into());
            }
        }
        let mut fields = String::new();
        JsonFields::new().format_fields(Writer::new(&mut fields), event)?;
        if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&fields) {
            line.extend(fields);
        }
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

fn copy_span_fields(fields: &FormattedFields<JsonFields>, line: &mut Map<String, Value>) {
    let Ok(Value::Object(recorded)) = serde_json::from_str::<Value>(fields) else {
        return;
    };
    for (field, key) in SPAN_FIELDS {
        if let Some(value) = recorded.get(*field).filter(|value| !value.is_null()) {
            line.insert((*key).into(), value.clone());
        }
    }
}

/// The trace and span ids of the span `id`, when a layer gives it some: the SDK's `TraceIdsLayer` (in the span's
/// extensions), else the OpenTelemetry bridge (through the global dispatcher, the one the handler installs).
fn trace_ids(extensions: &Extensions<'_>, id: &tracing::span::Id) -> Option<(String, String)> {
    let context = tracing_spans::ids::span_context_in(extensions)
        .or_else(|| tracing::dispatcher::get_default(|dispatch| tracing_spans::span_context_by_id(dispatch, id)))?;
    Some(tracing_spans::hex_ids(&context))
}
