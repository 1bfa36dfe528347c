//! Telemetry of the handler: logs (text, or JSON lines with `LOG_FORMAT=json`), distributed traces and metrics
//! with OpenTelemetry, exported over OTLP/gRPC only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! - [`invocation`]: the span of each invocation (function, invocation id) and the host's trace headers;
//! - [`service_bus`]: where a return's trace starts, the Service Bus message;
//! - the durable spans (entity operations, orchestration episodes, activities, client calls) come from the SDK
//!   ([`durabletask_sdk::tracing_spans`]);
//! - [`metrics`]: the app's counters and the settle-time histogram;
//! - [`export`]: the OTLP exporters behind a bounded queue; [`json_log`]: the JSON line format.
//!
//! Trace context is always propagated (ids are made even when nothing is exported, so the notification names its
//! trace); spans leave the process only through an exporter. With no endpoint the spans are not bridged to
//! OpenTelemetry at all: the SDK's [`TraceIdsLayer`] only gives them ids, which costs a few hundred instructions a
//! span where the bridge built every span's data to drop it (BENCHMARKS.md, "What tracing costs").

pub mod export;
pub mod invocation;
pub mod json_log;
pub mod metrics;
pub mod service_bus;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use durabletask_sdk::tracing_spans::{self, TraceIdsLayer, SPAN_TARGET};
use opentelemetry::metrics::ObservableCounter;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Dispatch;
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt as _};
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer as _;

pub use self::export::ExportError;

/// The `tracing` target of the app's own exported spans (the Service Bus message).
pub const APP_SPAN_TARGET: &str = "returns_aggregator::telemetry";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Reads `LOG_FORMAT`: `text` or `json`, in any case.
pub fn parse_log_format(value: &str) -> Result<LogFormat, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("not a log format: text or json".into()),
    }
}

/// Reads `OTEL_EXPORTER_OTLP_ENDPOINT`: an `http://` or `https://` URL with a host (the collector's OTLP/gRPC
/// port, 4317 by convention).
pub fn parse_otlp_endpoint(value: &str) -> Result<String, String> {
    let value = value.trim();
    let uri: axum::http::Uri = value
        .parse()
        .map_err(|error| format!("not a URL such as http://localhost:4317 ({error})"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(value.to_owned()),
        _ => Err("not an http:// or https:// URL with a host, such as http://localhost:4317".into()),
    }
}

/// What the telemetry needs from the environment.
#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    /// The log filter (`RUST_LOG`).
    pub log_filter: String,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: export only when set.
    pub otlp_endpoint: Option<String>,
    /// `OTEL_SERVICE_NAME`.
    pub service_name: String,
    /// `OTEL_BSP_MAX_QUEUE_SIZE`: spans waiting for export at most.
    pub span_queue_size: usize,
}

impl TelemetrySettings {
    /// The telemetry settings of the app's (checked) configuration.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            log_filter: config.log_filter.clone(),
            log_format: config.log_format,
            otlp_endpoint: config.otlp_endpoint.clone(),
            service_name: config.otel_service_name.clone(),
            span_queue_size: config.span_queue_size,
        }
    }
}

/// Whether spans of `target` are exported (the durable spans of the SDK and the app's Service Bus span).
fn is_exported(target: &str) -> bool {
    target.starts_with(SPAN_TARGET) || target.starts_with(APP_SPAN_TARGET)
}

/// The installed telemetry; [`shutdown`](Self::shutdown) exports what is left.
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    dropped_spans: Arc<AtomicU64>,
    _dropped_counter: Option<ObservableCounter<u64>>,
}

impl Telemetry {
    /// Installs the global `tracing` subscriber (logs on stdout; spans bridged to OpenTelemetry when an endpoint is
    /// set, else only given trace ids) and, when an endpoint is set, the OTLP exporters and the global meter
    /// provider.
    pub fn init(settings: &TelemetrySettings) -> Result<Self, ExportError> {
        let (telemetry, dispatch) = Self::build(settings, std::io::stdout)?;
        // Fails only when a subscriber is already installed (tests that call this twice): that one stays.
        let _ = dispatch.try_init();
        Ok(telemetry)
    }

    /// What [`init`](Self::init) installs, with logs written to `writer`, as a [`Dispatch`] to install or to use
    /// for a scope (the handler benchmark measures invocations under it). Spawns on the current tokio runtime
    /// only when an endpoint is set.
    pub fn build<W>(settings: &TelemetrySettings, writer: W) -> Result<(Self, Dispatch), ExportError>
    where
        W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
    {
        let dropped_spans = Arc::new(AtomicU64::new(0));
        let mut tracer_provider = None;
        let mut meter_provider = None;
        let mut dropped_counter = None;
        let exported = || filter_fn(|metadata| metadata.is_span() && is_exported(metadata.target()));
        let spans = match &settings.otlp_endpoint {
            Some(endpoint) => {
                let resource = export::resource(&settings.service_name);
                let (processor, reader) = export::exporters(endpoint, settings.span_queue_size, dropped_spans.clone())?;
                let provider = SdkTracerProvider::builder()
                    .with_resource(resource.clone())
                    .with_span_processor(processor)
                    .build();
                let tracer = provider.tracer(tracing_spans::TRACER_NAME);
                tracer_provider = Some(provider);
                let meters = export::meter_provider(reader, resource);
                opentelemetry::global::set_meter_provider(meters.clone());
                meter_provider = Some(meters);
                let dropped = dropped_spans.clone();
                dropped_counter = Some(
                    opentelemetry::global::meter(metrics::METER_NAME)
                        .u64_observable_counter(metrics::names::SPANS_DROPPED)
                        .with_description("spans dropped because the export queue was full")
                        .with_callback(move |observer| observer.observe(dropped.load(Ordering::Relaxed), &[]))
                        .build(),
                );
                tokio::spawn(report_dropped_spans(dropped_spans.clone()));
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    // Attributes the official SDKs do not set; the thread and the busy/idle clock cost per span.
                    .with_location(false)
                    .with_threads(false)
                    .with_tracked_inactivity(false)
                    .with_filter(exported())
                    .boxed()
            }
            None => TraceIdsLayer::new().with_filter(exported()).boxed(),
        };
        let log_filter = EnvFilter::try_new(&settings.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
        let logs = match settings.log_format {
            // Text lines keep the invocation's context but not the exported spans' attributes (long prefixes on
            // every line the host stores); JSON lines pick what they need from them.
            LogFormat::Text => tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                // One filter rather than two nested ones: each level is consulted on every span enter and exit.
                .with_filter(log_filter.and(filter_fn(|metadata| {
                    !(metadata.is_span() && is_exported(metadata.target()))
                })))
                .boxed(),
            LogFormat::Json => tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .fmt_fields(JsonFields::new())
                .event_format(json_log::JsonLines)
                .with_filter(log_filter)
                .boxed(),
        };
        let dispatch = Dispatch::new(tracing_subscriber::registry().with(logs).with(spans));
        let telemetry = Self {
            tracer_provider,
            meter_provider,
            dropped_spans,
            _dropped_counter: dropped_counter,
        };
        Ok((telemetry, dispatch))
    }

    /// Spans dropped so far because the export queue was full.
    pub fn dropped_spans(&self) -> u64 {
        self.dropped_spans.load(Ordering::Relaxed)
    }

    /// Exports what is left (bounded by the exporters' timeouts) and stops the exporters.
    pub fn shutdown(self) {
        if let Some(provider) = &self.tracer_provider {
            if let Err(error) = provider.shutdown() {
                tracing::warn!(%error, "the span exporter did not shut down cleanly");
            }
        }
        if let Some(provider) = &self.meter_provider {
            if let Err(error) = provider.shutdown() {
                tracing::warn!(%error, "the metric exporter did not shut down cleanly");
            }
        }
        let dropped = self.dropped_spans();
        if dropped > 0 {
            tracing::warn!(dropped, "spans were dropped because the export queue was full");
        }
    }
}

/// How often dropped spans are reported in the log.
const DROP_REPORT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Logs a warning whenever spans were dropped since the last report (the metric says it too, but it goes to the
/// same collector that may be the one not answering).
async fn report_dropped_spans(dropped: Arc<AtomicU64>) {
    let mut reported = 0;
    loop {
        tokio::time::sleep(DROP_REPORT_INTERVAL).await;
        let total = dropped.load(Ordering::Relaxed);
        if total > reported {
            tracing::warn!(
                dropped = total - reported,
                dropped_total = total,
                "spans dropped: the export queue was full (the collector is slow or unreachable)"
            );
            reported = total;
        }
    }
}

/// The trace id of the current span (lower-case hex), when there is one.
pub fn current_trace_id() -> Option<String> {
    tracing_spans::ids_of_span(&tracing::Span::current()).map(|(trace_id, _)| trace_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_http_urls() {
        assert!(parse_otlp_endpoint("http://localhost:4317").is_ok());
        assert!(parse_otlp_endpoint("https://collector.example:4317/").is_ok());
        assert!(parse_otlp_endpoint("localhost:4317").is_err());
        assert!(parse_otlp_endpoint("ftp://x").is_err());
        assert!(parse_log_format("yaml").is_err());
    }
}
