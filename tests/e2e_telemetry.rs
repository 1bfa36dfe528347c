//! End-to-end telemetry: the real handler exporting over OTLP to a collector in the test, local-host forwarding
//! trace context as the host and the Durable extension do, the local engine. One trace per notified return,
//! from the Service Bus message through the entity and the orchestration to the publishing activity; metrics
//! equal to what was published; JSON log lines without customer data.

mod e2e_support;
mod otlp_collector;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use e2e_support::*;
use otlp_collector::{Collector, ReceivedSpan};
use serde_json::Value;

const NOTIFICATIONS: &str = "return-notifications";
const INVALID: &str = "return-events-invalid";

/// The W3C parent given to message `index` (every fifth message has none and starts a trace of its own).
fn parent_of(index: usize) -> Option<(String, String)> {
    (index % 5 != 4).then(|| (format!("{:032x}", 0xa000 + index), format!("{:016x}", 0xb000 + index)))
}

fn by_type<'a>(spans: &'a [&'a ReceivedSpan], kind: &str) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .copied()
        .filter(|span| span.attribute("durabletask.type") == Some(kind))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_trace_per_notified_return_metrics_as_published_and_json_logs() {
    let (collector, endpoint) = Collector::start().await;
    let mut lines = sample("messages.jsonl");
    let mut parents = HashMap::new();
    for (index, line) in lines.iter_mut().enumerate() {
        if let Some((trace_id, span_id)) = parent_of(index) {
            let traceparent = format!("00-{trace_id}-{span_id}-01");
            line.message
                .application_properties
                .insert("traceparent".into(), Value::from(traceparent));
            parents.insert(trace_id, span_id);
        }
    }
    let host = start_host(
        &[
            ("STUCK_RETURN_AFTER", "1h"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_METRIC_EXPORT_INTERVAL", "500"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ("LOG_FORMAT", "json"),
        ],
        "telemetry",
    )
    .await;
    deliver(&host, &lines, Some(7), 0.2).await;
    wait_idle(&host).await;
    let published = host.published();
    let notifications = published_to(&host, NOTIFICATIONS);
    assert!(
        notifications.len() >= 10,
        "the sample settles returns: {}",
        notifications.len()
    );
    let invalid = published_to(&host, INVALID).len();
    let ingress_invalid = published
        .iter()
        .filter(|m| m.destination == INVALID && m.function == "ServiceBusTrigger")
        .count();
    let stats = host.stats();
    let service_bus = stats.invocations.get("ServiceBusTrigger").copied().unwrap_or_default();
    let orchestrator_runs = stats.invocations.get("Orchestrator").copied().unwrap_or_default();

    // The handler exports metrics every half second and spans every 200 ms (cumulative metrics: the latest
    // export holds the totals); local-host stops the handler with SIGKILL, so everything is awaited before that.
    let expected = notifications.len() as f64;
    let accepted_or_invalid = |totals: &BTreeMap<String, f64>| {
        totals.get("returns.events.accepted").copied().unwrap_or(0.0) + ingress_invalid as f64
    };
    wait_until("the metrics of the whole run reach the collector", || {
        let totals = collector.metric_totals();
        totals.get("returns.notifications.published") == Some(&expected)
            && accepted_or_invalid(&totals) == service_bus.succeeded as f64
    })
    .await;
    wait_until("the spans of every notification reach the collector", || {
        let exported: BTreeSet<String> = collector.spans().into_iter().map(|s| s.trace_id).collect();
        notifications
            .iter()
            .all(|n| n["traceId"].as_str().is_some_and(|id| exported.contains(id)))
    })
    .await;
    wait_until("every orchestration episode's span reaches the collector", || {
        let episodes = collector
            .spans()
            .iter()
            .filter(|s| s.attribute("durabletask.type") == Some("orchestration") && s.kind == 2)
            .count();
        episodes as u64 >= orchestrator_runs.succeeded
    })
    .await;
    finish(host).await;
    let totals = collector.metric_totals();
    assert_eq!(totals.get("returns.settle.duration"), Some(&expected), "{totals:?}");
    assert_eq!(
        totals.get("returns.events.invalid").copied().unwrap_or(0.0),
        invalid as f64,
        "{totals:?}"
    );
    eprintln!(
        "{} notifications, {invalid} invalid, metrics {totals:?}",
        notifications.len()
    );
    assert_eq!(
        accepted_or_invalid(&totals),
        service_bus.succeeded as f64,
        "every message that succeeded was accepted or kept as invalid: {totals:?}"
    );
    assert!(
        totals.get("returns.events.duplicate").copied().unwrap_or(0.0) > 0.0,
        "redelivered events: {totals:?}"
    );
    assert_eq!(totals.get("durabletask.orchestrations.failed"), None, "{totals:?}");
    assert_eq!(totals.get("returns.telemetry.spans_dropped"), Some(&0.0), "{totals:?}");

    // Traces.
    let spans = collector.spans();
    let distinct: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    assert_eq!(distinct.len(), spans.len(), "no span exported twice");
    let orchestration_spans = spans
        .iter()
        .filter(|s| s.attribute("durabletask.type") == Some("orchestration") && s.kind == 2)
        .count();
    assert_eq!(
        orchestration_spans as u64, orchestrator_runs.succeeded,
        "one span per orchestration episode, none for replayed work"
    );
    let by_id: HashMap<&str, &ReceivedSpan> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut traces: BTreeMap<&str, Vec<&ReceivedSpan>> = BTreeMap::new();
    for span in &spans {
        traces.entry(span.trace_id.as_str()).or_default().push(span);
    }
    for notification in &notifications {
        let return_id = notification["returnId"].as_str().unwrap();
        let trace_id = notification["traceId"]
            .as_str()
            .unwrap_or_else(|| panic!("{return_id}: the notification names its trace"));
        let trace = traces
            .get(trace_id)
            .unwrap_or_else(|| panic!("{return_id}: trace {trace_id} exported"));
        let parent = |span: &ReceivedSpan| by_id.get(span.parent_span_id.as_str()).copied();

        let publishing = by_type(trace, "activity")
            .into_iter()
            .filter(|s| s.attribute("durabletask.task.name") == Some("PublishNotification"))
            .collect::<Vec<_>>();
        assert_eq!(publishing.len(), 1, "{return_id}: one publishing activity span");
        let episode = parent(publishing[0]).unwrap_or_else(|| panic!("{return_id}: the activity's parent"));
        assert_eq!(
            episode.attribute("durabletask.type"),
            Some("orchestration"),
            "{return_id}"
        );
        let operation = parent(episode).unwrap_or_else(|| panic!("{return_id}: the episode's parent"));
        assert_eq!(operation.attribute("durabletask.type"), Some("entity"), "{return_id}");
        assert_eq!(
            operation.attribute("durabletask.entity.operation"),
            Some("apply"),
            "{return_id}"
        );
        let signal = parent(operation).unwrap_or_else(|| panic!("{return_id}: the operation's parent"));
        assert_eq!(
            signal.attribute("durabletask.type"),
            Some("signal_entity"),
            "{return_id}"
        );
        let message = parent(signal).unwrap_or_else(|| panic!("{return_id}: the signal's parent"));
        assert_eq!(message.attribute("messaging.system"), Some("servicebus"), "{return_id}");
        assert_eq!(message.kind, 5, "{return_id}: a consumer span");
        match parents.get(trace_id) {
            Some(span_id) => assert_eq!(&message.parent_span_id, span_id, "{return_id}: the message's parent"),
            None => assert!(message.parent_span_id.is_empty(), "{return_id}: a new root"),
        }
        for span in trace {
            assert!(!span.error, "{return_id}: {} failed", span.name);
        }
    }

    // JSON logs: every line an object with the context fields, no customer id anywhere.
    let log = std::fs::read_to_string(repo_root().join("target/e2e/telemetry/handler.log")).unwrap();
    let customers: BTreeSet<String> = lines
        .iter()
        .filter_map(|line| {
            line.message
                .body
                .as_ref()?
                .get("customerId")?
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(!customers.is_empty());
    let mut with_trace = 0;
    for text in log.lines().filter(|text| !text.trim().is_empty()) {
        let line: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not a JSON line ({e}): {text}"));
        for key in ["timestamp", "level", "target"] {
            assert!(line.get(key).is_some(), "{key} missing: {text}");
        }
        if line.get("trace_id").is_some() && line.get("invocation_id").is_some() && line.get("function").is_some() {
            with_trace += 1;
        }
        for customer in &customers {
            assert!(
                !text.contains(customer.as_str()),
                "customer id {customer} in a log line: {text}"
            );
        }
    }
    assert!(with_trace > 0, "log lines carry the trace and the invocation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_collector_fails_no_invocation_and_drops_are_counted() {
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut lines = sample("scenarios/single_return.jsonl");
    lines.extend(sample("scenarios/malformed.jsonl"));
    let host = start_host(
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &format!("http://127.0.0.1:{port}")),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "2"),
            ("LOG_FORMAT", "json"),
        ],
        "telemetry-unreachable",
    )
    .await;
    deliver(&host, &lines, None, 0.0).await;
    wait_until("the single return is notified", || {
        !published_to(&host, NOTIFICATIONS).is_empty()
    })
    .await;
    wait_idle(&host).await;
    let stats = host.stats();
    for (function, counts) in &stats.invocations {
        assert_eq!(
            counts.failed + counts.timed_out + counts.lost,
            0,
            "{function}: {counts:?}"
        );
    }
    assert!(host.dead_lettered().is_empty());
    let log_path = repo_root().join("target/e2e/telemetry-unreachable/handler.log");
    wait_until("the handler reports the spans it dropped", || {
        std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .lines()
            .any(|text| {
                serde_json::from_str::<Value>(text)
                    .ok()
                    .and_then(|line| line.get("dropped_total").and_then(Value::as_u64))
                    .is_some_and(|count| count > 0)
            })
    })
    .await;
    finish(host).await;
}
