//! OTLP/gRPC export of spans and metrics, only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! Spans go through a bounded queue: a span that finds it full is dropped and counted
//! ([`names::SPANS_DROPPED`](super::metrics::names::SPANS_DROPPED)), so a slow or unreachable collector costs an
//! invocation nothing but the span. Exports run on the batch processor's own thread.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;

/// Why the exporters could not be built (a malformed endpoint).
#[derive(Debug, thiserror::Error)]
#[error("OTEL_EXPORTER_OTLP_ENDPOINT={endpoint:?}: {reason}")]
pub struct ExportError {
    endpoint: String,
    reason: String,
}

/// The span processor and the metric reader for `endpoint`, with `queue_size` spans at most waiting for export.
pub fn exporters(
    endpoint: &str,
    queue_size: usize,
    dropped: Arc<AtomicU64>,
) -> Result<(BoundedSpanProcessor, PeriodicReader<opentelemetry_otlp::MetricExporter>), ExportError> {
    let error = |reason: String| ExportError {
        endpoint: endpoint.to_owned(),
        reason,
    };
    let spans = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| error(e.to_string()))?;
    let metrics = opentelemetry_otlp::MetricExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| error(e.to_string()))?;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let batch = BatchSpanProcessor::builder(SettlingExporter {
        inner: spans,
        in_flight: in_flight.clone(),
    })
    .with_batch_config(BatchConfigBuilder::default().with_max_queue_size(queue_size).build())
    .build();
    let processor = BoundedSpanProcessor {
        inner: batch,
        in_flight,
        capacity: queue_size,
        dropped,
    };
    Ok((processor, PeriodicReader::builder(metrics).build()))
}

/// A resource naming the service.
pub fn resource(service_name: &str) -> Resource {
    Resource::builder().with_service_name(service_name.to_owned()).build()
}

/// The batch processor behind an admission count: at most `capacity` spans queued or being exported; beyond
/// that a span is dropped and counted here (the batch processor's own count is private and only logged).
#[derive(Debug)]
pub struct BoundedSpanProcessor {
    inner: BatchSpanProcessor,
    in_flight: Arc<AtomicUsize>,
    capacity: usize,
    dropped: Arc<AtomicU64>,
}

impl SpanProcessor for BoundedSpanProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The OTLP exporter, giving the admission count back once a batch is exported or given up.
#[derive(Debug)]
struct SettlingExporter<E> {
    inner: E,
    in_flight: Arc<AtomicUsize>,
}

impl<E: SpanExporter> SpanExporter for SettlingExporter<E> {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let count = batch.len();
        let in_flight = self.in_flight.clone();
        let export = self.inner.export(batch);
        async move {
            let result = export.await;
            in_flight.fetch_sub(count, Ordering::AcqRel);
            result
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A meter provider exporting through `reader`.
pub fn meter_provider(
    reader: PeriodicReader<opentelemetry_otlp::MetricExporter>,
    resource: Resource,
) -> SdkMeterProvider {
    SdkMeterProvider::builder()
        .with_reader(reader)
        .with_resource(resource)
        .build()
}
