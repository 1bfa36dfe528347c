//! Shared set-up of the end-to-end tests: the real handler binary, the real local engine, and local-host playing
//! the Functions host between them.
//!
//! Each end-to-end test file compiles this module and uses a different part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use durabletask_sdk::client::{ClientOptions, DurableClient};
use durabletask_sdk::EntityId;
use local_host::output::stats::FunctionCounts;
use local_host::triggers::messages::MessageLine;
use local_host::{
    EngineChoice, HandlerOutput, HostOptions, IdleOptions, InvocationFault, LocalHost, PlanOptions, ServiceBusMessage,
};
use serde_json::{json, Value};

/// The repository root (the function app root).
pub fn repo_root() -> PathBuf {
    test_support::workspace_root()
}

/// The sample or scenario file at `relative` (from `samples/`).
pub fn sample(relative: &str) -> Vec<local_host::triggers::messages::MessageLine> {
    let path = repo_root().join("samples").join(relative);
    local_host::triggers::messages::read_message_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON file under `samples/`.
pub fn expected(relative: &str) -> Value {
    let path = repo_root().join("samples").join(relative);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Starts the local engine and the real handler under local-host, with extra app settings.
pub async fn start_host(settings: &[(&str, &str)], test: &str) -> LocalHost {
    start_host_with(host_options(settings, test)).await
}

/// The options [`start_host`] uses: the real handler, a fresh local engine, extra app settings, and output files
/// under `target/e2e/<test>`; change them before [`start_host_with`].
pub fn host_options(settings: &[(&str, &str)], test: &str) -> HostOptions {
    install_host_log();
    let root = repo_root();
    let out = root.join("target").join("e2e").join(test);
    std::fs::create_dir_all(&out).unwrap();
    let mut options = HostOptions::new(&root, EngineChoice::Launch(test_support::engine::launcher()));
    options.handler = Some(PathBuf::from(env!("CARGO_BIN_EXE_handler")));
    options.settings = settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    options.published_path = Some(out.join("published.jsonl"));
    options.dead_letter_path = Some(out.join("dead-letter.jsonl"));
    options.handler_output = HandlerOutput::File(out.join("handler.log"));
    options
}

/// Writes local-host's own log lines (fault injection, retries, restarts, delivery) of every end-to-end test of this
/// test binary to `target/e2e/<binary>.host.log`, so that a failed run can be read afterwards (cargo test shows only
/// the failed test's output, which does not include them).
fn install_host_log() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let binary = std::env::current_exe()
            .ok()
            .and_then(|path| path.file_stem().map(|stem| stem.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "e2e".to_owned());
        let directory = repo_root().join("target").join("e2e");
        let _ = std::fs::create_dir_all(&directory);
        if let Ok(file) = std::fs::File::create(directory.join(format!("{binary}.host.log"))) {
            // Fails only when this binary installed a subscriber of its own: that one stays.
            let _ = tracing_subscriber::fmt()
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false)
                .with_env_filter("warn,local_host=info")
                .try_init();
        }
    });
}

/// Starts local-host with `options` (see [`host_options`]).
pub async fn start_host_with(options: HostOptions) -> LocalHost {
    LocalHost::start(options).await.expect("local host starts")
}

/// Waits until `count` messages were published (or the run is idle), with a deadline.
pub async fn wait_for_published(host: &LocalHost, count: Option<usize>) {
    let options = IdleOptions {
        deadline: Duration::from_secs(180),
        settle: Duration::from_millis(500),
        wait_for_published: count,
        timer_horizon: Duration::from_secs(2),
    };
    host.wait_idle(&options).await.expect("the run becomes idle");
}

/// Polls `condition` until it holds; panics with `what` after three minutes.
pub async fn wait_until(what: &str, condition: impl FnMut() -> bool) {
    test_support::wait::until(what, Duration::from_secs(180), condition).await;
}

/// Polls `condition` until it holds; panics with `what` once `limit` has passed.
pub async fn wait_until_within(what: &str, limit: Duration, condition: impl FnMut() -> bool) {
    test_support::wait::until(what, limit, condition).await;
}

/// Waits until the run is idle: nothing in flight, nothing happening for half a second, and no orchestration
/// running except ones parked on timers more than 2 s away.
pub async fn wait_idle(host: &LocalHost) {
    wait_for_published(host, None).await;
}

/// Like [`wait_idle`], but also waits for the timers and scheduled signals due within a minute (an activity's
/// retry, a short deadline check), as `local-host run` does by default.
pub async fn wait_idle_including_timers(host: &LocalHost) {
    let options = IdleOptions {
        deadline: Duration::from_secs(180),
        ..IdleOptions::default()
    };
    host.wait_idle(&options).await.expect("the run becomes idle");
}

/// Message lines for messages built in code, numbered from 1.
pub fn lines_of(messages: Vec<ServiceBusMessage>) -> Vec<MessageLine> {
    messages
        .into_iter()
        .enumerate()
        .map(|(index, message)| MessageLine {
            line: index + 1,
            message,
        })
        .collect()
}

/// The serialized state of the return's aggregate entity, if the entity exists.
pub async fn aggregate_state(host: &LocalHost, return_id: &str) -> Option<String> {
    let client = DurableClient::connect(host.engine_address(), ClientOptions::default())
        .await
        .expect("the engine answers");
    client
        .get_entity(&EntityId::new("EntityFunction", return_id))
        .await
        .expect("the engine answers")
        .and_then(|entity| entity.serialized_state)
}

/// Prints the run's statistics (cargo test shows them for a failed test, or with `--nocapture`) and stops the host.
pub async fn finish(host: LocalHost) {
    eprintln!("{}", host.stats());
    host.shutdown().await;
}

/// The counts of invocations of `function` so far (all zero if it was never invoked).
pub fn invocations_of(host: &LocalHost, function: &str) -> FunctionCounts {
    host.stats().invocations.get(function).copied().unwrap_or_default()
}

/// Delivers lines with a plan.
pub async fn deliver(
    host: &LocalHost,
    lines: &[local_host::triggers::messages::MessageLine],
    seed: Option<u64>,
    duplicates: f64,
) {
    let plan = PlanOptions {
        shuffle_seed: seed,
        duplicate_ratio: duplicates,
    };
    host.deliver(lines, plan).await.expect("messages are delivered");
}

/// The published message bodies by destination.
pub fn published_by_destination(host: &LocalHost) -> BTreeMap<String, Vec<Value>> {
    let mut by_destination: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for message in host.published() {
        by_destination
            .entry(message.destination)
            .or_default()
            .push(message.body);
    }
    by_destination
}

/// The messages published to `destination`.
pub fn published_to(host: &LocalHost, destination: &str) -> Vec<Value> {
    published_by_destination(host).remove(destination).unwrap_or_default()
}

/// A copy of the single return under the id `RET-2025-9100<n>`: the same events with new event and message ids, so
/// several returns can go through one host, one fault each.
pub fn single_return_copy(n: u32) -> (String, Vec<MessageLine>) {
    let return_id = format!("RET-2025-9100{n:02}");
    let lines = sample("scenarios/single_return.jsonl")
        .into_iter()
        .map(|mut line| {
            let suffix = format!("-copy{n}");
            let body = line.message.body.as_mut().and_then(Value::as_object_mut).unwrap();
            let event_id = body["eventId"].as_str().unwrap().to_owned() + &suffix;
            body.insert("eventId".into(), json!(event_id));
            body.insert("returnId".into(), json!(return_id));
            line.message.message_id = Some(event_id);
            line
        })
        .collect();
    (return_id, lines)
}

/// How long one fault may take to be applied and recovered from.
pub const FAULT_DEADLINE: Duration = Duration::from_secs(60);

/// Delivers a copy of the single return (see [`single_return_copy`]) in two steps: four events, then — once the run
/// is idle and `fault` is armed for `function` — the settling event. Returns the return id once the fault applied.
///
/// The settling event's message is delivered to the end (trigger answered, message completed) before the durable
/// work it causes runs, so a fault on that work cannot also take the trigger's answer down with the process (which
/// would redeliver the message and signal the event again).
pub async fn settle_a_return_with_a_fault(host: &LocalHost, n: u32, function: &str, fault: InvocationFault) -> String {
    let (return_id, lines) = single_return_copy(n);
    let (first, last) = lines.split_at(lines.len() - 1);
    deliver(host, first, None, 0.0).await;
    wait_idle(host).await;
    let armed = host.inject_fault(function, fault).unwrap();
    host.pause_durable_work();
    deliver(host, last, None, 0.0).await;
    host.resume_durable_work();
    let applied = tokio::time::timeout(FAULT_DEADLINE, armed.wait()).await;
    assert_eq!(applied, Ok(true), "the {fault:?} fault on {function} applied");
    return_id
}

/// Starts local-host with `options`, serving the app's HTTP functions on a free port.
pub async fn start_serving_http(mut options: HostOptions) -> LocalHost {
    options.http_port = Some(0);
    start_host_with(options).await
}

/// The documented recovery of lost events: the return's messages from the audit copy, posted to the re-send
/// function (`POST /api/returns/{returnId}/events`); the status code and the JSON answer.
pub async fn resend_from_audit(host: &LocalHost, return_id: &str) -> (u16, Value) {
    let messages = local_host::triggers::audit::messages_of_return(&host.audited(), return_id);
    // The audit copy holds the messages the ingress refused too: they are skipped (they were kept at first delivery).
    let url = format!(
        "http://{}/api/returns/{return_id}/events?skipInvalid=true",
        serving_address(host)
    );
    let response = local_host::triggers::audit::resend(&url, &messages)
        .await
        .expect("the re-send function answers");
    (response.status, json_answer(&response.body))
}

/// The documented re-drive of a failed notification: `POST /api/returns/{returnId}/redrive`; the status code and
/// the JSON answer.
pub async fn redrive(host: &LocalHost, return_id: &str) -> (u16, Value) {
    use local_host::handler::http_client::{empty_body, HttpClient};
    let url = format!("http://{}/api/returns/{return_id}/redrive", serving_address(host));
    let request = http::Request::post(&url).body(empty_body()).unwrap();
    let response = HttpClient::default()
        .send(request)
        .await
        .expect("the re-drive function answers");
    (response.status, json_answer(&response.body))
}

fn serving_address(host: &LocalHost) -> std::net::SocketAddr {
    host.http_address()
        .expect("the host serves HTTP functions (start_serving_http)")
}

fn json_answer(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| panic!("not a JSON answer: {}", String::from_utf8_lossy(body)))
}

/// The file path of a sample, for messages in error reports.
pub fn sample_path(relative: &str) -> PathBuf {
    Path::new("samples").join(relative)
}
