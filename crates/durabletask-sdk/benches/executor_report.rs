//! A plain measuring binary for `scripts/bench-executors.sh`: writes the request vectors, times the executors
//! on them and reports peak memory, in tab-separated lines the script can join with the Python side's.
//!
//! ```text
//! cargo bench -p durabletask-sdk --bench executor_report -- vectors
//! cargo bench -p durabletask-sdk --bench executor_report -- time [--samples N] [--min-sample-ms MS] [CASE...]
//! cargo bench -p durabletask-sdk --bench executor_report -- rss CASE
//! cargo bench -p durabletask-sdk --bench executor_report -- breakdown [CASE...]
//! valgrind --tool=callgrind --toggle-collect='*counted_*' target/release/deps/executor_report-* count CASE [STEP] [N]
//! target/release/deps/executor_report-* pipe < REQUEST_LINES
//! ```
//!
//! `time` prints `case  median_us  iterations_per_sample  samples  answer`: each sample runs decode → execute →
//! encode back to back enough times to last at least `--min-sample-ms`; the median over the samples, divided by
//! the iterations, is the time of one work item. `rss` runs one case once in this fresh process and prints
//! `case  peak_kib  baseline_kib` from `/proc/self/status` (VmHWM at the end, VmRSS before loading the request).
//! `breakdown` times the steps separately: `case  decode_us  execute_us  encode_us  prost_decode_us`, where decode
//! reads the request's framing and every field but the history, execute replays the history straight from the
//! bytes (reading each event as it goes) and runs the episode, and prost_decode is what decoding the whole request
//! with prost would cost instead (for comparison; it is not part of the work item).
//!
//! `count` runs one step (`work`, the default: decode → execute → encode; or `decode`, `execute`, `encode`,
//! `prost_decode`) N times (default 10) after one warm-up, inside functions named `counted_*`, so that callgrind
//! started with `--toggle-collect='*counted_*'` counts the instructions of exactly those runs; the script divides
//! by N.
//!
//! `pipe` serves the line protocol of `crates/conformance/src/serve.rs` (and `oracle.py serve`) on stdin/stdout
//! with the benchmark's registry: one JSON request line in (`{"orchestratorRequest": "<base64 protobuf>"}` or
//! `{"entityBatchRequest": ...}`, the two kinds the cases use), one answer line out (`{"response": "<base64
//! protobuf>"}`, or `{"error": "..."}` for a line that is not such a request), each work item run by the same
//! [`try_execute_bytes`] that `time` measures. `bench_python_executors.py pipe-time` drives it.

mod support;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use durabletask_sdk::entity::execute_entity_batch;
use durabletask_sdk::orchestration::OrchestratorRequestBytes;
use durabletask_sdk::{proto, Registry};
use prost::Message;
use support::{
    answer_of, app, execute_bytes, load_or_write, try_execute_bytes, vectors, vectors_dir, Case, RequestKind,
};

const DEFAULT_SAMPLES: usize = 11;
const DEFAULT_MIN_SAMPLE: Duration = Duration::from_millis(50);

fn main() -> ExitCode {
    // `cargo bench` passes `--bench` to every bench binary.
    let args: Vec<String> = std::env::args().skip(1).filter(|arg| arg != "--bench").collect();
    let outcome = match args.first().map(String::as_str) {
        Some("vectors") => write_vectors(),
        Some("time") => time_cases(&args[1..]),
        Some("rss") => peak_rss(&args[1..]),
        Some("breakdown") => breakdown(&args[1..]),
        Some("count") => count(&args[1..]),
        Some("pipe") if args.len() == 1 => serve_pipe(),
        _ => Err(
            "usage: executor_report (vectors | time [--samples N] [--min-sample-ms MS] [CASE...] | rss CASE \
                  | breakdown [CASE...] | count CASE [STEP] [N] | pipe)"
                .to_string(),
        ),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("executor_report: {message}");
            ExitCode::FAILURE
        }
    }
}

fn write_vectors() -> Result<(), String> {
    let dir = vectors_dir();
    vectors::write_all(&dir).map_err(|e| format!("cannot write the vectors to {}: {e}", dir.display()))?;
    println!("{}", dir.display());
    Ok(())
}

struct TimingOptions {
    samples: usize,
    min_sample: Duration,
    cases: Vec<Case>,
}

fn parse_timing_options(args: &[String]) -> Result<TimingOptions, String> {
    let mut options = TimingOptions {
        samples: DEFAULT_SAMPLES,
        min_sample: DEFAULT_MIN_SAMPLE,
        cases: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut number = |flag: &str| -> Result<u64, String> {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            value
                .parse()
                .map_err(|_| format!("{flag} needs a whole number, got '{value}'"))
        };
        match arg.as_str() {
            "--samples" => options.samples = number("--samples")?.max(1) as usize,
            "--min-sample-ms" => options.min_sample = Duration::from_millis(number("--min-sample-ms")?),
            name => options
                .cases
                .push(case_named(name).ok_or_else(|| format!("unknown case '{name}'"))?),
        }
    }
    if options.cases.is_empty() {
        options.cases = Case::ALL.to_vec();
    }
    Ok(options)
}

fn time_cases(args: &[String]) -> Result<(), String> {
    let options = parse_timing_options(args)?;
    let registry = app::registry();
    for case in &options.cases {
        let request = checked_request(&registry, case)?;
        let run = || execute_bytes(&registry, case.kind(), black_box(&request));
        let (median, iterations) = median_per_iteration(run, &options);
        println!(
            "{}\t{:.3}\t{iterations}\t{}\t{}",
            case.name(),
            median.as_secs_f64() * 1e6,
            options.samples,
            case.expected_answer()
        );
    }
    Ok(())
}

fn breakdown(args: &[String]) -> Result<(), String> {
    let options = parse_timing_options(args)?;
    let registry = app::registry();
    for case in &options.cases {
        let request = checked_request(&registry, case)?;
        let micros = |step: Step| {
            let (median, _) = median_per_iteration(prepared_step(&registry, case.kind(), step, &request), &options);
            median.as_secs_f64() * 1e6
        };
        println!(
            "{}\t{:.3}\t{:.3}\t{:.3}\t{:.3}",
            case.name(),
            micros(Step::Decode),
            micros(Step::Execute),
            micros(Step::Encode),
            micros(Step::ProstDecode)
        );
    }
    Ok(())
}

/// A part of one work item, measured on its own.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Decode → execute → encode.
    Work,
    /// For orchestrations, the framing and every field but the history (the events are read while replaying);
    /// for entity batches, the whole request with prost.
    Decode,
    /// The episode or batch, from the decoded request.
    Execute,
    /// The response to protobuf bytes.
    Encode,
    /// The whole request decoded with prost (what `Decode` replaces for orchestrations).
    ProstDecode,
}

impl Step {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "work" => Step::Work,
            "decode" => Step::Decode,
            "execute" => Step::Execute,
            "encode" => Step::Encode,
            "prost_decode" => Step::ProstDecode,
            _ => return None,
        })
    }
}

/// One step of a work item on `request`, ready to run again and again: its input (the decoded request, the
/// response) is prepared here, outside what is measured. The value returned keeps the optimiser from skipping it.
fn prepared_step<'a>(
    registry: &'a Registry,
    kind: RequestKind,
    step: Step,
    request: &'a [u8],
) -> Box<dyn FnMut() -> usize + 'a> {
    match (kind, step) {
        (_, Step::Work) => Box::new(move || execute_bytes(registry, kind, black_box(request)).len()),
        (RequestKind::Orchestrator, Step::Decode) => Box::new(move || {
            let decoded = OrchestratorRequestBytes::decode(black_box(request)).expect("a valid request");
            decoded.instance_id().len()
        }),
        (RequestKind::Orchestrator, Step::Execute) => {
            let decoded = OrchestratorRequestBytes::decode(request).expect("a valid request");
            Box::new(move || {
                let response = black_box(&decoded).execute(registry).expect("a valid history");
                response.actions.len()
            })
        }
        (RequestKind::Orchestrator, Step::ProstDecode) => Box::new(move || {
            let decoded = proto::OrchestratorRequest::decode(black_box(request)).expect("a valid request");
            decoded.past_events.len()
        }),
        (RequestKind::EntityBatch, Step::Decode | Step::ProstDecode) => Box::new(move || {
            let decoded = proto::EntityBatchRequest::decode(black_box(request)).expect("a valid request");
            decoded.operations.len()
        }),
        (RequestKind::EntityBatch, Step::Execute) => {
            let decoded = proto::EntityBatchRequest::decode(request).expect("a valid request");
            Box::new(move || {
                let result = execute_entity_batch(registry, black_box(&decoded), chrono::DateTime::UNIX_EPOCH);
                result.results.len()
            })
        }
        (_, Step::Encode) => {
            let response = execute_bytes(registry, kind, request);
            let response: Box<dyn Fn() -> Vec<u8>> = match kind {
                RequestKind::Orchestrator => {
                    let decoded = proto::OrchestratorResponse::decode(response.as_slice()).expect("a response");
                    Box::new(move || black_box(&decoded).encode_to_vec())
                }
                RequestKind::EntityBatch => {
                    let decoded = proto::EntityBatchResult::decode(response.as_slice()).expect("a result");
                    Box::new(move || black_box(&decoded).encode_to_vec())
                }
            };
            Box::new(move || response().len())
        }
    }
}

fn count(args: &[String]) -> Result<(), String> {
    let (name, step, iterations) = match args {
        [name] => (name, "work", "10"),
        [name, step] => (name, step.as_str(), "10"),
        [name, step, iterations] => (name, step.as_str(), iterations.as_str()),
        _ => return Err("count needs CASE [STEP] [N]".to_string()),
    };
    let case = case_named(name).ok_or_else(|| format!("unknown case '{name}'"))?;
    let step = Step::named(step).ok_or_else(|| format!("unknown step '{step}'"))?;
    let iterations: u32 = iterations
        .parse()
        .map_err(|_| format!("N needs a whole number, got '{iterations}'"))?;
    let registry = app::registry();
    let request = checked_request(&registry, &case)?;
    let mut run = prepared_step(&registry, case.kind(), step, &request);
    run(); // warm-up
    let checksum = counted_runs(&mut run, iterations);
    println!("{name}\t{iterations}\t{checksum}");
    Ok(())
}

/// The runs callgrind counts (`--toggle-collect='*counted_*'`): `iterations` calls of `run`, nothing else.
#[inline(never)]
fn counted_runs(run: &mut dyn FnMut() -> usize, iterations: u32) -> usize {
    (0..iterations).map(|_| run()).sum()
}

/// Reads a case's request and checks that running it gives the expected answer.
fn checked_request(registry: &Registry, case: &Case) -> Result<Vec<u8>, String> {
    let request = load_or_write(&vectors_dir(), case).map_err(|e| format!("cannot read {}: {e}", case.name()))?;
    let answer = answer_of(case.kind(), &execute_bytes(registry, case.kind(), &request));
    if answer != case.expected_answer() {
        return Err(format!(
            "{} answered '{answer}', expected '{}'",
            case.name(),
            case.expected_answer()
        ));
    }
    Ok(request)
}

/// The median time of one call of `run`, over `options.samples` samples of back-to-back calls that each last at
/// least `options.min_sample` (the calibration doubles as the warm-up); also the calls per sample.
fn median_per_iteration<T>(mut run: impl FnMut() -> T, options: &TimingOptions) -> (Duration, u32) {
    let mut sample = |iterations: u32| {
        let started = Instant::now();
        for _ in 0..iterations {
            black_box(run());
        }
        started.elapsed()
    };
    let mut iterations: u32 = 1;
    loop {
        let elapsed = sample(iterations);
        if elapsed >= options.min_sample || iterations >= 1 << 24 {
            break;
        }
        let wanted = options.min_sample.as_secs_f64() / elapsed.as_secs_f64().max(1e-9) * f64::from(iterations);
        iterations = (wanted.ceil() as u32).clamp(iterations + 1, iterations.saturating_mul(10));
    }
    let mut per_iteration: Vec<Duration> = (0..options.samples).map(|_| sample(iterations) / iterations).collect();
    per_iteration.sort_unstable();
    (per_iteration[per_iteration.len() / 2], iterations)
}

fn peak_rss(args: &[String]) -> Result<(), String> {
    let [name] = args else {
        return Err("rss needs exactly one case name".to_string());
    };
    let case = case_named(name).ok_or_else(|| format!("unknown case '{name}'"))?;
    let registry = app::registry();
    let baseline = status_kib("VmRSS")?;
    // One run, checked: the peak covers the request bytes, the decoded request, the replay and the response.
    checked_request(&registry, &case)?;
    println!("{name}\t{}\t{baseline}", status_kib("VmHWM")?);
    Ok(())
}

/// The case named `name`.
fn case_named(name: &str) -> Option<Case> {
    Case::ALL.into_iter().find(|case| case.name() == name)
}

/// A `kB` field of `/proc/self/status`.
fn status_kib(field: &str) -> Result<u64, String> {
    let status =
        std::fs::read_to_string("/proc/self/status").map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|line| {
            line.strip_prefix(field)?
                .strip_prefix(':')?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .ok_or_else(|| format!("/proc/self/status has no {field}"))
}

/// Why a request line was answered with `{"error": ...}`.
#[derive(Debug, thiserror::Error)]
enum PipeError {
    #[error("the line is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("expected an object with exactly one key (orchestratorRequest or entityBatchRequest) whose value is a base64 string")]
    Shape,
    #[error("{0} is not served by this pipe: it runs the benchmark's cases (orchestratorRequest, entityBatchRequest)")]
    NotServed(String),
    #[error("unknown request kind '{0}'")]
    UnknownKind(String),
    #[error("{0} is not valid base64: {1}")]
    Base64(&'static str, #[source] base64::DecodeError),
    #[error("{0} is not a valid request: {1}")]
    Protobuf(&'static str, #[source] prost::DecodeError),
}

/// One answer line of the pipe: `{"response": "<base64>"}` or `{"error": "<message>"}`.
#[derive(serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Answer {
    Response(String),
    Error(String),
}

/// Serves the line protocol on stdin/stdout until end of input. Each answer is flushed as soon as it is written, as
/// a worker must: the host may be waiting for it before it sends the next request. (The output is still buffered
/// so that a line goes out in one write.)
fn serve_pipe() -> Result<(), String> {
    let registry = app::registry();
    let mut input = std::io::stdin().lock();
    let mut output = std::io::BufWriter::new(std::io::stdout().lock());
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        if read == 0 {
            return Ok(());
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        let answer = match answer_request(&registry, &line) {
            Ok(response) => Answer::Response(base64_simd::STANDARD.encode_to_string(response)),
            Err(error) => Answer::Error(error.to_string()),
        };
        serde_json::to_writer(&mut output, &answer)
            .map_err(std::io::Error::from)
            .and_then(|()| output.write_all(b"\n"))
            .and_then(|()| output.flush())
            .map_err(|e| format!("cannot write stdout: {e}"))?;
    }
}

/// The response bytes to one request line: JSON → base64 → the work item `time` measures.
fn answer_request(registry: &Registry, line: &[u8]) -> Result<Vec<u8>, PipeError> {
    // The payload is borrowed from the line as bytes: base64 needs no unescaping, and its decoder checks every byte,
    // so neither a copy nor a UTF-8 check of the 172 KB string is needed. A payload with JSON escapes is refused.
    let fields: BTreeMap<String, &[u8]> = serde_json::from_slice(line).map_err(|error| match error.classify() {
        serde_json::error::Category::Data => PipeError::Shape,
        _ => PipeError::NotJson(error),
    })?;
    let mut fields = fields.into_iter();
    let (Some((key, payload)), None) = (fields.next(), fields.next()) else {
        return Err(PipeError::Shape);
    };
    let (key, kind) = match key.as_str() {
        "orchestratorRequest" => ("orchestratorRequest", RequestKind::Orchestrator),
        "entityBatchRequest" => ("entityBatchRequest", RequestKind::EntityBatch),
        "entityRequestV2" | "activityRequest" => return Err(PipeError::NotServed(key)),
        _ => return Err(PipeError::UnknownKind(key)),
    };
    // As the SDK decodes the host's payloads: SIMD, and the scalar decoder only to say what is wrong.
    let request = match base64_simd::STANDARD.decode_to_vec(payload) {
        Ok(request) => request,
        Err(_) => BASE64.decode(payload).map_err(|e| PipeError::Base64(key, e))?,
    };
    try_execute_bytes(registry, kind, &request).map_err(|e| PipeError::Protobuf(key, e))
}
