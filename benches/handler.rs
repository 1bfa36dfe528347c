//! The handler in process: each host payload of `benches/payloads` through the real router
//! (`app(state).oneshot(..)`), from request bytes to response bytes, without sockets. The difference with the
//! load test of `scripts/bench-handler.sh` is what HTTP on loopback costs.
//!
//! ```text
//! cargo bench --bench handler
//! ```

mod payloads;

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http_body_util::BodyExt;
use returns_aggregator::app::app;
use returns_aggregator::state::AppState;
use tower::ServiceExt;

fn invocations(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let router = app(AppState::new(payloads::config()));
    let mut group = c.benchmark_group("invocation");
    group.throughput(Throughput::Elements(1));
    for payload in payloads::all(Path::new(env!("CARGO_MANIFEST_DIR")), None) {
        let invoke = || async {
            let request = Request::post(format!("/{}", payload.function))
                .header("content-type", "application/json")
                .body(Body::from(payload.body.clone()))
                .expect("a valid request");
            let response = router.clone().oneshot(request).await.expect("the router is infallible");
            let status = response.status();
            let body = response.into_body().collect().await.expect("a body").to_bytes();
            (status, body)
        };
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

criterion_group!(benches, invocations);
criterion_main!(benches);
