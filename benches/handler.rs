//! The handler in process: each host payload of `benches/payloads` through the real router
//! (`app(state).oneshot(..)`), from request bytes to response bytes, without sockets. The difference with the
//! load test of `scripts/bench-handler.sh` is what HTTP on loopback costs.
//!
//! ```text
//! cargo bench --bench handler
//! ```
//!
//! With `BENCH_COUNT=<payload>:<n>` it instead runs `n` invocations of one payload inside `counted_invocations`,
//! for an instruction count that does not move with the machine's load:
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
use tower::ServiceExt;

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
    assert_eq!(runtime.block_on(invoke(&router, &payload)).0, StatusCode::OK);
    counted_invocations(&runtime, &router, &payload, times);
}

#[inline(never)]
fn counted_invocations(runtime: &tokio::runtime::Runtime, router: &Router, payload: &payloads::Payload, times: u32) {
    for _ in 0..times {
        std::hint::black_box(runtime.block_on(invoke(router, payload)));
    }
}

criterion_group!(benches, invocations);

fn main() {
    if let Ok(spec) = std::env::var("BENCH_COUNT") {
        count(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
