//! The handler in process: each host payload of `benches/payloads` through the real router
//! (`app(state).oneshot(..)`), from request bytes to response bytes, without sockets. The difference with the
//! load test of `scripts/bench-handler.sh` is what HTTP on loopback costs.
//!
//! ```text
//! cargo bench --bench handler
//! ```
//!
//! The `telemetry` group runs some payloads under the handler's `tracing` subscriber: `logs` is a text log at
//! `info` alone (what the handler had before it traced), `export_off` is what the handler installs when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is unset (the same log, plus spans bridged to OpenTelemetry so trace ids exist,
//! exported nowhere). Both write to `io::sink`. The difference is what tracing costs when nothing is exported.
//!
//! With `BENCH_COUNT=<payload>:<n>` it instead runs `n` invocations of one payload inside `counted_invocations`,
//! for an instruction count that does not move with the machine's load; `BENCH_TELEMETRY=logs|export_off` runs
//! them under that subscriber (none by default):
//!
//! ```text
//! BENCH_COUNT=orchestrator_start:100 valgrind --tool=callgrind --toggle-collect='*counted_*' \
//!     --callgrind-out-file=/dev/null target/release/deps/handler-<hash> --bench
//! ```

mod payloads;

use std::path::Path;

use axum::body::Body;
use axum::body::Bytes;
use axum::http::{Request, StatusCode};
use axum::Router;
use criterion::{criterion_group, Criterion, Throughput};
use http_body_util::BodyExt;
use returns_aggregator::app::app;
use returns_aggregator::state::AppState;
use returns_aggregator::telemetry::{LogFormat, Telemetry, TelemetrySettings};
use tower::ServiceExt;
use tracing::Dispatch;

/// One invocation of `payload` through `router`: its status and body.
async fn invoke(router: &Router, payload: &payloads::Payload) -> (StatusCode, Bytes) {
    let request = Request::post(format!("/{}", payload.function))
        .header("content-type", "application/json")
        .body(Body::from(payload.body.clone()))
        .expect("a valid request");
    let response = router.clone().oneshot(request).await.expect("the router is infallible");
    let status = response.status();
    let body = response.into_body().collect().await.expect("a body").to_bytes();
    (status, body)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn invocations(c: &mut Criterion) {
    let runtime = runtime();
    let router = app(AppState::new(payloads::config()));
    let mut group = c.benchmark_group("invocation");
    group.throughput(Throughput::Elements(1));
    for payload in payloads::all(Path::new(env!("CARGO_MANIFEST_DIR")), None) {
        let invoke = || invoke(&router, &payload);
        let (status, body) = runtime.block_on(invoke());
        assert_eq!(
            status,
            StatusCode::OK,
            "{}: {}",
            payload.name,
            String::from_utf8_lossy(&body)
        );
        group.bench_function(payload.name, |b| b.iter(|| runtime.block_on(invoke())));
    }
    group.finish();
}

/// The subscribers the `telemetry` group compares (see the crate docs).
const SUBSCRIBERS: [&str; 2] = ["logs", "export_off"];

/// The `tracing` subscriber called `name`, writing its log to `io::sink`.
fn subscriber(name: &str) -> Dispatch {
    match name {
        "logs" => Dispatch::new(
            tracing_subscriber::fmt()
                .with_writer(std::io::sink)
                .with_ansi(false)
                .with_env_filter("info")
                .finish(),
        ),
        "export_off" => {
            let settings = TelemetrySettings {
                log_filter: "info".into(),
                log_format: LogFormat::Text,
                otlp_endpoint: None,
                service_name: "bench".into(),
                span_queue_size: 2048,
            };
            let (_telemetry, dispatch) = Telemetry::build(&settings, std::io::sink).expect("telemetry without export");
            dispatch
        }
        other => panic!("no subscriber named {other}: logs or export_off"),
    }
}

fn telemetry(c: &mut Criterion) {
    let runtime = runtime();
    let router = app(AppState::new(payloads::config()));
    let mut group = c.benchmark_group("telemetry");
    group.throughput(Throughput::Elements(1));
    let measured = [
        "orchestrator_start",
        "entity_apply",
        "activity_publish",
        "service_bus_invalid",
    ];
    for payload in payloads::all(Path::new(env!("CARGO_MANIFEST_DIR")), None)
        .into_iter()
        .filter(|payload| measured.contains(&payload.name))
    {
        for name in SUBSCRIBERS {
            let dispatch = subscriber(name);
            tracing::dispatcher::with_default(&dispatch, || {
                assert_eq!(runtime.block_on(invoke(&router, &payload)).0, StatusCode::OK);
                group.bench_function(format!("{}/{name}", payload.name), |b| {
                    b.iter(|| runtime.block_on(invoke(&router, &payload)))
                });
            });
        }
    }
    group.finish();
}

/// `BENCH_COUNT=<payload>:<n>`: `n` invocations of one payload (after one to warm up), for callgrind.
fn count(spec: &str) {
    let (name, times) = spec.split_once(':').expect("BENCH_COUNT is <payload>:<n>");
    let times: u32 = times.parse().expect("BENCH_COUNT's n is a number");
    let runtime = runtime();
    let router = app(AppState::new(payloads::config()));
    let payload = payloads::all(Path::new(env!("CARGO_MANIFEST_DIR")), None)
        .into_iter()
        .find(|payload| payload.name == name)
        .unwrap_or_else(|| panic!("no payload named {name}"));
    let dispatch = match std::env::var("BENCH_TELEMETRY") {
        Ok(name) => subscriber(&name),
        Err(_) => Dispatch::none(),
    };
    tracing::dispatcher::with_default(&dispatch, || {
        assert_eq!(runtime.block_on(invoke(&router, &payload)).0, StatusCode::OK);
        counted_invocations(&runtime, &router, &payload, times);
    });
}

#[inline(never)]
fn counted_invocations(runtime: &tokio::runtime::Runtime, router: &Router, payload: &payloads::Payload, times: u32) {
    for _ in 0..times {
        std::hint::black_box(runtime.block_on(invoke(router, payload)));
    }
}

criterion_group!(benches, invocations, telemetry);

fn main() {
    if let Ok(spec) = std::env::var("BENCH_COUNT") {
        count(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
