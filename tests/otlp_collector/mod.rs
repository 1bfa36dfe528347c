//! A small OTLP/gRPC collector for the tests: the trace and metrics services of the published
//! `opentelemetry-proto` crate on a loopback port, keeping everything it receives.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use tonic::{Request, Response, Status};

/// One received span, flattened.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub kind: i32,
    pub attributes: HashMap<String, String>,
    pub error: bool,
}

impl ReceivedSpan {
    fn from_proto(span: &Span) -> Self {
        Self {
            name: span.name.clone(),
            trace_id: hex(&span.trace_id),
            span_id: hex(&span.span_id),
            parent_span_id: hex(&span.parent_span_id),
            kind: span.kind,
            attributes: attributes(&span.attributes),
            error: span.status.as_ref().is_some_and(|status| status.code == 2),
        }
    }

    /// An attribute's value as text.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attributes(pairs: &[KeyValue]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|pair| {
            let value = match pair.value.as_ref().and_then(|value| value.value.as_ref()) {
                Some(AnyValue::StringValue(text)) => text.clone(),
                Some(AnyValue::IntValue(number)) => number.to_string(),
                Some(AnyValue::BoolValue(flag)) => flag.to_string(),
                Some(AnyValue::DoubleValue(number)) => number.to_string(),
                _ => String::new(),
            };
            (pair.key.clone(), value)
        })
        .collect()
}

/// What the collector received.
#[derive(Debug, Default)]
struct Received {
    spans: Vec<ReceivedSpan>,
    metrics: Vec<ExportMetricsServiceRequest>,
}

/// The collector: clone it freely, every clone sees the same data.
#[derive(Debug, Clone, Default)]
pub struct Collector {
    received: Arc<Mutex<Received>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .flat_map(|scope| &scope.spans)
            .map(ReceivedSpan::from_proto)
            .collect::<Vec<_>>();
        self.received.lock().unwrap().spans.extend(spans);
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.received.lock().unwrap().metrics.push(request.into_inner());
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

impl Collector {
    /// Serves the collector on a free loopback port; answers its `http://` endpoint.
    pub async fn start() -> (Self, String) {
        let collector = Collector::default();
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("a loopback port");
        let address = listener.local_addr().unwrap();
        let server = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .add_service(MetricsServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        tokio::spawn(server);
        (collector, format!("http://{address}"))
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.received.lock().unwrap().spans.clone()
    }

    /// The latest value of each cumulative counter (the sum over its attribute sets), by metric name, and of each
    /// histogram's count.
    pub fn metric_totals(&self) -> BTreeMap<String, f64> {
        let received = self.received.lock().unwrap();
        let mut totals = BTreeMap::new();
        for request in received.metrics.iter() {
            let metrics = request
                .resource_metrics
                .iter()
                .flat_map(|resource| &resource.scope_metrics)
                .flat_map(|scope| &scope.metrics);
            for metric in metrics {
                let total = match &metric.data {
                    Some(Data::Sum(sum)) => sum
                        .data_points
                        .iter()
                        .map(|point| match point.value {
                            Some(NumberValue::AsInt(value)) => value as f64,
                            Some(NumberValue::AsDouble(value)) => value,
                            None => 0.0,
                        })
                        .sum(),
                    Some(Data::Histogram(histogram)) => {
                        histogram.data_points.iter().map(|point| point.count as f64).sum()
                    }
                    _ => continue,
                };
                // Cumulative: a later export supersedes an earlier one.
                totals.insert(metric.name.clone(), total);
            }
        }
        totals
    }

    /// The total of one metric by one attribute's values.
    pub fn metric_by_attribute(&self, name: &str, attribute: &str) -> BTreeMap<String, f64> {
        let received = self.received.lock().unwrap();
        let mut latest = BTreeMap::new();
        for request in received.metrics.iter() {
            let metrics = request
                .resource_metrics
                .iter()
                .flat_map(|resource| &resource.scope_metrics)
                .flat_map(|scope| &scope.metrics)
                .filter(|metric| metric.name == name);
            for metric in metrics {
                if let Some(Data::Sum(sum)) = &metric.data {
                    let mut values = BTreeMap::new();
                    for point in &sum.data_points {
                        let key = attributes(&point.attributes).remove(attribute).unwrap_or_default();
                        let value = match point.value {
                            Some(NumberValue::AsInt(value)) => value as f64,
                            Some(NumberValue::AsDouble(value)) => value,
                            None => 0.0,
                        };
                        *values.entry(key).or_insert(0.0) += value;
                    }
                    latest = values;
                }
            }
        }
        latest
    }
}
