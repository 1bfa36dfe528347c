//! An OTLP/gRPC receiver on a loopback port: the handler's exporter sends its spans here when local-host asks
//! for a timeline (`run --timeline`). Metrics sent to the same endpoint are accepted and discarded, so the
//! exporter never reports a failure.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::Span;
use tonic::{Request, Response, Status};

/// One received span, with what a timeline shows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectedSpan {
    /// The span's name (`orchestration:Orchestrator`, `ServiceBusTrigger process`, …).
    pub name: String,
    /// The trace id, lower-case hex.
    pub trace_id: String,
    /// The span id, lower-case hex.
    pub span_id: String,
    /// The parent's span id, lower-case hex; empty for a root span.
    pub parent_span_id: String,
    /// The span kind as OTLP numbers it (1 internal, 2 server, 3 client, 4 producer, 5 consumer).
    pub kind: i32,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_unix_nanos: u64,
    /// End, in nanoseconds since the Unix epoch.
    pub end_unix_nanos: u64,
    /// Attributes whose values are text, numbers or flags, as text.
    pub attributes: BTreeMap<String, String>,
    /// Whether the span ended with an error status.
    pub error: bool,
}

impl CollectedSpan {
    /// Flattens a span of an OTLP export.
    pub fn from_proto(span: &Span) -> Self {
        Self {
            name: span.name.clone(),
            trace_id: hex(&span.trace_id),
            span_id: hex(&span.span_id),
            parent_span_id: hex(&span.parent_span_id),
            kind: span.kind,
            start_unix_nanos: span.start_time_unix_nano,
            end_unix_nanos: span.end_time_unix_nano,
            attributes: attributes(&span.attributes),
            error: span
                .status
                .as_ref()
                .is_some_and(|status| status.code == StatusCode::Error as i32),
        }
    }

    /// An attribute's value as text.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn attributes(pairs: &[KeyValue]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .filter_map(|pair| {
            let value = match pair.value.as_ref()?.value.as_ref()? {
                AnyValue::StringValue(text) => text.clone(),
                AnyValue::IntValue(number) => number.to_string(),
                AnyValue::BoolValue(flag) => flag.to_string(),
                AnyValue::DoubleValue(number) => number.to_string(),
                _ => return None,
            };
            Some((pair.key.clone(), value))
        })
        .collect()
}

/// The receiver; clones share what was received.
#[derive(Debug, Clone, Default)]
pub struct SpanCollector {
    spans: Arc<Mutex<Vec<CollectedSpan>>>,
}

impl SpanCollector {
    /// Serves the receiver on a free port of 127.0.0.1; answers the endpoint to give an OTLP exporter
    /// (`http://127.0.0.1:<port>`). The server runs until the process ends.
    pub async fn start() -> std::io::Result<(Self, String)> {
        let collector = Self::default();
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let address = listener.local_addr()?;
        let server = tonic::transport::Server::builder()
            .add_service(collector.trace_service())
            .add_service(MetricsServiceServer::new(Discard))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        tokio::spawn(async move {
            if let Err(error) = server.await {
                tracing::warn!(%error, "the span receiver stopped");
            }
        });
        Ok((collector, format!("http://{address}")))
    }

    /// The OTLP trace service that keeps spans in this collector, to serve beside other services.
    pub fn trace_service(&self) -> TraceServiceServer<SpanCollector> {
        TraceServiceServer::new(self.clone())
    }

    /// Every span received so far, in the order received.
    pub fn spans(&self) -> Vec<CollectedSpan> {
        self.spans.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[tonic::async_trait]
impl TraceService for SpanCollector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let received = request
            .into_inner()
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .flat_map(|scope| &scope.spans)
            .map(CollectedSpan::from_proto)
            .collect::<Vec<_>>();
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(received);
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Accepts metric exports and keeps nothing.
#[derive(Debug, Clone, Copy)]
struct Discard;

#[tonic::async_trait]
impl MetricsService for Discard {
    async fn export(
        &self,
        _request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use opentelemetry_proto::tonic::common::v1::AnyValue as Any;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status as SpanStatus};

    fn text(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(Any {
                value: Some(AnyValue::StringValue(value.into())),
            }),
            ..KeyValue::default()
        }
    }

    #[tokio::test]
    async fn keeps_the_spans_an_exporter_sends() {
        let (collector, endpoint) = SpanCollector::start().await.unwrap();
        let mut client = TraceServiceClient::connect(endpoint).await.unwrap();
        let span = Span {
            name: "activity:PublishNotification".into(),
            trace_id: vec![0xab; 16],
            span_id: vec![0x01; 8],
            parent_span_id: vec![0x02; 8],
            start_time_unix_nano: 10,
            end_time_unix_nano: 25,
            attributes: vec![text("durabletask.task.instance_id", "returns-settled-R1")],
            status: Some(SpanStatus {
                code: StatusCode::Error as i32,
                ..SpanStatus::default()
            }),
            ..Span::default()
        };
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        client.export(request).await.unwrap();

        let spans = collector.spans();
        assert_eq!(spans.len(), 1);
        let span = &spans[0];
        assert_eq!(span.trace_id, "ab".repeat(16));
        assert_eq!(span.parent_span_id, "02".repeat(8));
        assert_eq!((span.start_unix_nanos, span.end_unix_nanos), (10, 25));
        assert_eq!(
            span.attribute("durabletask.task.instance_id"),
            Some("returns-settled-R1")
        );
        assert!(span.error);
    }
}
