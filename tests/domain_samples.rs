//! The committed samples and the domain agree: folding `samples/messages.jsonl` (in file order and reversed)
//! through `parse_event` and `ReturnAggregate::apply` gives exactly what `samples/expected.json` promises, and each
//! scenario file gives what `samples/scenarios/expected.json` promises. End-to-end tests rely on these files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use returns_aggregator::domain::{
    parse_event, Disposition, DomainConfig, InvalidEvent, ReturnAggregate, ReturnSettledNotification, ReturnStatus,
};
use serde_json::{json, Value};

/// One Service Bus message of a sample file, as the trigger would see it.
struct Message {
    message_id: Option<String>,
    type_hint: Option<String>,
    body: Vec<u8>,
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn read_messages(path: &Path) -> Vec<Message> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let message: Value = serde_json::from_str(line).unwrap();
            assert_eq!(message["function"], "ServiceBusTrigger");
            let body = match &message["body"] {
                Value::String(text) => text.clone().into_bytes(),
                other => serde_json::to_vec(other).unwrap(),
            };
            let text_of = |value: &Value| value.as_str().map(str::to_owned);
            Message {
                message_id: text_of(&message["messageId"]),
                type_hint: text_of(&message["subject"])
                    .or_else(|| text_of(&message["applicationProperties"]["eventType"])),
                body,
            }
        })
        .collect()
}

/// What folding a stream of messages produced.
#[derive(Default)]
struct Folded {
    aggregates: BTreeMap<String, ReturnAggregate>,
    invalid: Vec<Value>,
    settlements: usize,
    duplicates: usize,
    late: usize,
    rejected: usize,
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 4, 1, 0, 0, 0).unwrap()
}

fn fold<'a>(messages: impl Iterator<Item = &'a Message>) -> Folded {
    let mut folded = Folded::default();
    for (i, message) in messages.enumerate() {
        let parsed = parse_event(
            message.type_hint.as_deref(),
            message.message_id.as_deref(),
            &message.body,
        );
        let event = match parsed {
            Ok(event) => event,
            Err(error) => {
                folded.invalid.push(invalid_json(message, &error));
                continue;
            }
        };
        let aggregate = folded
            .aggregates
            .entry(event.return_id().to_string())
            .or_insert_with(|| ReturnAggregate::new(event.return_id().clone()));
        let outcome = aggregate.apply(&event, start() + Duration::seconds(i as i64));
        folded.settlements += usize::from(outcome.became_settled());
        match outcome.disposition {
            Disposition::Applied => {}
            Disposition::Duplicate => folded.duplicates += 1,
            Disposition::Late => folded.late += 1,
            Disposition::Rejected(_) | Disposition::Refused(_) => folded.rejected += 1,
        }
    }
    folded
}

fn invalid_json(message: &Message, error: &InvalidEvent) -> Value {
    json!({
        "messageId": message.message_id,
        "reasonCode": error.reason_code(),
        "field": error.field(),
        "error": error.to_string(),
    })
}

impl Folded {
    fn with_status(&self, status: ReturnStatus) -> impl Iterator<Item = &ReturnAggregate> {
        self.aggregates.values().filter(move |a| a.status() == status)
    }

    /// The per-return summary the generator writes for settled returns, computed from the notification.
    fn settled_summaries(&self) -> Vec<Value> {
        self.with_status(ReturnStatus::Settled)
            .map(|aggregate| {
                let sent = ReturnSettledNotification::from_aggregate(aggregate).unwrap();
                let total = |f: fn(&returns_aggregator::domain::notification::SettledItem) -> u32| -> u32 {
                    sent.items.iter().map(f).sum()
                };
                json!({
                    "returnId": sent.return_id,
                    "orderId": sent.order_id,
                    "currency": sent.refund.currency,
                    "itemsBooked": total(|i| i.quantity_booked),
                    "itemsReceived": total(|i| i.quantity_received),
                    "itemsMissing": total(|i| i.quantity_missing),
                    "itemsRefundable": total(|i| i.quantity_refundable),
                    "parcelCount": aggregate.counted_parcels().len(),
                    "refundCount": sent.refund.refunds.len(),
                    "expectedRefundMinor": sent.refund.expected_minor,
                    "refundTotalMinor": sent.refund.total_minor,
                })
            })
            .collect()
    }

    /// Open returns with what they miss, checked through the stuck alert raised after the deadline.
    fn open_returns(&self) -> Vec<Value> {
        let config = DomainConfig::default();
        self.with_status(ReturnStatus::Open)
            .map(|aggregate| {
                let mut aggregate = aggregate.clone();
                let alert = aggregate
                    .check_stuck(start() + Duration::days(365), &config)
                    .expect("an open return gets stuck");
                let missing: Vec<String> = alert.missing.iter().map(ToString::to_string).collect();
                assert_eq!(alert.summary, missing.join("; "));
                json!({"returnId": aggregate.return_id(), "missing": missing})
            })
            .collect()
    }
}

/// Keeps only `keys` of every object in `items` (the expected files carry extra descriptive keys such as `kind`).
fn project(items: &Value, keys: &[&str]) -> Vec<Value> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| Value::Object(keys.iter().map(|k| (k.to_string(), item[*k].clone())).collect()))
        .collect()
}

const SETTLED_KEYS: [&str; 11] = [
    "returnId",
    "orderId",
    "currency",
    "itemsBooked",
    "itemsReceived",
    "itemsMissing",
    "itemsRefundable",
    "parcelCount",
    "refundCount",
    "expectedRefundMinor",
    "refundTotalMinor",
];

#[test]
fn the_demo_traffic_produces_the_expected_outcome_in_file_order_and_reversed() {
    let expected = read_json(&samples().join("expected.json"));
    let messages = read_messages(&samples().join("messages.jsonl"));
    assert_eq!(messages.len() as u64, expected["messages"]["total"].as_u64().unwrap());

    for folded in [fold(messages.iter()), fold(messages.iter().rev())] {
        let count = |status| folded.with_status(status).count() as u64;
        assert_eq!(
            folded.aggregates.len() as u64,
            expected["returns"]["total"].as_u64().unwrap()
        );
        assert_eq!(
            count(ReturnStatus::Settled),
            expected["returns"]["settled"].as_u64().unwrap()
        );
        assert_eq!(count(ReturnStatus::Open), expected["returns"]["open"].as_u64().unwrap());
        assert_eq!(
            count(ReturnStatus::Cancelled),
            expected["returns"]["cancelled"].as_u64().unwrap()
        );
        assert_eq!(
            folded.settlements as u64,
            expected["notifications"].as_u64().unwrap(),
            "one settlement per return"
        );
        assert_eq!(folded.rejected, 0, "the demo traffic holds no conflicting events");
        assert!(folded.aggregates.values().all(|a| a.rejected().is_empty()));

        let mut invalid = folded.invalid.clone();
        let mut expected_invalid = expected["invalid"].as_array().unwrap().clone();
        let by_id = |v: &Value| v["messageId"].as_str().unwrap_or_default().to_owned();
        invalid.sort_by_key(by_id);
        expected_invalid.sort_by_key(by_id);
        assert_eq!(invalid, expected_invalid);

        assert_eq!(folded.settled_summaries(), project(&expected["settled"], &SETTLED_KEYS));
        assert_eq!(
            folded.open_returns(),
            project(&expected["open"], &["returnId", "missing"])
        );
        let cancelled: Vec<Value> = folded
            .with_status(ReturnStatus::Cancelled)
            .map(|a| json!(a.return_id()))
            .collect();
        assert_eq!(Value::Array(cancelled), expected["cancelled"]);

        // Every duplicated message is recognised (as a duplicate, or ignored when its return already closed).
        let repeats = folded.duplicates + folded.late;
        assert!(repeats >= expected["messages"]["duplicates"].as_u64().unwrap() as usize);
    }
}

#[test]
fn each_scenario_file_produces_its_expected_outcome() {
    let dir = samples().join("scenarios");
    let expected = read_json(&dir.join("expected.json"));
    let files = expected.as_object().unwrap();
    let on_disk = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "jsonl"))
        .count();
    assert_eq!(
        files.len(),
        on_disk,
        "samples/scenarios/expected.json names every scenario file"
    );
    for (file, promise) in files {
        let folded = fold(read_messages(&dir.join(file)).iter());
        assert_eq!(
            folded.settlements as u64,
            promise["notifications"].as_u64().unwrap(),
            "{file}"
        );
        let open = folded.open_returns();
        assert_eq!(open.len() as u64, promise["stuckAlerts"].as_u64().unwrap(), "{file}");
        if let Some(settled) = promise.get("settled") {
            assert_eq!(folded.settled_summaries(), project(settled, &SETTLED_KEYS), "{file}");
        }
        if let Some(expected_open) = promise.get("open") {
            assert_eq!(open, project(expected_open, &["returnId", "missing"]), "{file}");
        }
        if let Some(invalid) = promise.get("invalid") {
            assert_eq!(Value::Array(folded.invalid.clone()), *invalid, "{file}");
        } else {
            assert!(folded.invalid.is_empty(), "{file}");
        }
        if let Some(duplicates) = promise.get("duplicates") {
            assert_eq!(folded.duplicates as u64, duplicates.as_u64().unwrap(), "{file}");
        }
        if let Some(late) = promise.get("lateEvents") {
            assert_eq!(folded.late as u64, late.as_u64().unwrap(), "{file}");
        }
    }
}
