//! A small OTLP/gRPC collector for the tests: the trace and metrics services of the published
//! `opentelemetry-proto` crate on a loopback port, keeping everything it receives.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use tonic::{Request, Response, Status};

/// One received span, flattened (local-host's reading of an OTLP span).
pub use local_host::traces::CollectedSpan as ReceivedSpan;
use local_host::traces::SpanCollector;

/// The text of the attribute `key` among `pairs` (empty when absent or not text).
fn attribute_text(pairs: &[KeyValue], key: &str) -> String {
    pairs
        .iter()
        .find(|pair| pair.key == key)
        .and_then(|pair| match pair.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(text) => Some(text.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The collector: clone it freely, every clone sees the same data. Spans are kept by local-host's
/// [`SpanCollector`], metric exports here.
#[derive(Debug, Clone, Default)]
pub struct Collector {
    spans: SpanCollector,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.metrics.lock().unwrap().push(request.into_inner());
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
            .add_service(collector.spans.trace_service())
            .add_service(MetricsServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        tokio::spawn(server);
        (collector, format!("http://{address}"))
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.spans()
    }

    /// The latest value of each cumulative counter (the sum over its attribute sets), by metric name, and of each
    /// histogram's count.
    pub fn metric_totals(&self) -> BTreeMap<String, f64> {
        let received = self.metrics.lock().unwrap();
        let mut totals = BTreeMap::new();
        for request in received.iter() {
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
        let received = self.metrics.lock().unwrap();
        let mut latest = BTreeMap::new();
        for request in received.iter() {
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
                        let key = attribute_text(&point.attributes, attribute);
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
