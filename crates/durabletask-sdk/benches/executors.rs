//! Criterion benches of the executors: one work item's decode → execute → encode, per request vector (see
//! `support::vectors`). `scripts/bench-executors.sh` compares the same vectors against durabletask-python.

mod support;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use support::{answer_of, app, execute_bytes, load_or_write, vectors_dir, Case};

fn executors(c: &mut Criterion) {
    let registry = app::registry();
    let dir = vectors_dir();
    let mut group = c.benchmark_group("executors");
    for case in Case::ALL {
        let request = load_or_write(&dir, &case).expect("the request vector can be read");
        let response = execute_bytes(&registry, case.kind(), &request);
        assert_eq!(
            answer_of(case.kind(), &response),
            case.expected_answer(),
            "{}",
            case.name()
        );
        group.throughput(Throughput::Bytes(request.len() as u64));
        // The largest history takes tens of milliseconds per run; fewer samples keep the bench short.
        group.sample_size(if request.len() > 1_000_000 { 20 } else { 100 });
        group.bench_with_input(BenchmarkId::from_parameter(case.name()), &request, |b, request| {
            b.iter(|| execute_bytes(&registry, case.kind(), black_box(request)))
        });
    }
    group.finish();
}

criterion_group!(benches, executors);
criterion_main!(benches);
