//! The guard for adding an event type (README, "Adding an event type"): every variant of the domain's `EventType`
//! must be parsed, recorded and reported, appear in the settled notification's lineage (or say why it cannot), in
//! the demo traffic (`samples/messages.jsonl`, written by `scripts/generate_samples.py`), in the property tests and
//! in the fuzz seeds of the event parser. A new variant does not compile until its row in [`coverage`] is written,
//! and then fails here, naming what is missing, until every place knows it.

mod domain_common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::Duration;
use domain_common::{aggregate, at, booked, cancelled, event, parcel, refund};
use returns_aggregator::domain::{
    parse_event, DomainConfig, EventType, ReturnSettledNotification, ReturnStatus, ReturnStatusReport,
};
use serde_json::Value;

const R: &str = "RET-GUARD";

/// Where an event type shows up.
struct Coverage {
    /// A valid event of this type for return `R` (a `domain_common` builder), consistent with the other types'
    /// samples: together, the samples of the lineage types settle the return.
    sample: fn() -> Value,
    /// The `domain_common` builder the property tests must call to generate events of this type.
    property_builder: &'static str,
    /// Whether the settled notification names events of this type among its `sourceEvents`.
    in_lineage: bool,
}

/// One row per event type. No wildcard on purpose: a new variant stops this file from compiling until its row says
/// how it is sampled, generated and whether the notification names it.
fn coverage(event_type: EventType) -> Coverage {
    match event_type {
        EventType::ReturnBooked => Coverage {
            sample: || booked(R, "b", &[("L1", 2, 2499)]),
            property_builder: "booked(",
            in_lineage: true,
        },
        EventType::ReturnItemsReceived => Coverage {
            sample: || parcel(R, "p1", "P1", &[("L1", 2, "Resellable")]),
            property_builder: "parcel(",
            in_lineage: true,
        },
        EventType::RefundIssued => Coverage {
            sample: || refund(R, "r1", "R1", 4998),
            property_builder: "refund_in(",
            in_lineage: true,
        },
        // A cancelled return never settles, so no notification names a cancellation.
        EventType::ReturnCancelled => Coverage {
            sample: || cancelled(R, "c"),
            property_builder: "cancelled(",
            in_lineage: false,
        },
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

fn config() -> DomainConfig {
    DomainConfig {
        stuck_after: Duration::days(30),
        tombstone_retention: Duration::days(90),
    }
}

#[test]
fn every_variant_is_in_event_type_all() {
    // `EventType::ALL` drives everything that iterates over the types; count the enum's variants in its source.
    let source = read(&repo().join("src/domain/events.rs"));
    let body = source
        .split("pub enum EventType {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .expect("src/domain/events.rs declares `pub enum EventType`");
    let variants: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("//") && line.ends_with(','))
        .map(|line| line.trim_end_matches(','))
        .collect();
    let listed: Vec<&str> = EventType::ALL.iter().map(|event_type| event_type.as_str()).collect();
    assert_eq!(
        listed, variants,
        "EventType::ALL must list every variant, in declaration order"
    );
}

#[test]
fn every_type_is_parsed_recorded_and_reported() {
    for event_type in EventType::ALL {
        let sample = (coverage(event_type).sample)();
        let parsed = event(&sample);
        assert_eq!(parsed.event_type(), event_type, "the sample of {event_type:?}");
        let mut state = aggregate(R);
        if event_type != EventType::ReturnBooked {
            let _ = state.apply(&event(&(coverage(EventType::ReturnBooked).sample)()), at(0));
        }
        let _ = state.apply(&parsed, at(1));
        let report = serde_json::to_value(ReturnStatusReport::of(&state, &config())).unwrap();
        assert!(
            report.to_string().contains(&format!("\"{}\"", event_type.as_str())),
            "the status report does not show the {} it recorded: {report}",
            event_type.as_str()
        );
    }
}

#[test]
fn the_settled_notification_names_exactly_the_lineage_types() {
    let lineage: Vec<EventType> = EventType::ALL
        .into_iter()
        .filter(|event_type| coverage(*event_type).in_lineage)
        .collect();
    let mut state = aggregate(R);
    for (minute, event_type) in lineage.iter().enumerate() {
        let _ = state.apply(&event(&(coverage(*event_type).sample)()), at(minute as i64));
    }
    assert_eq!(
        state.status(),
        ReturnStatus::Settled,
        "the lineage types' samples settle the return"
    );
    let notification = serde_json::to_value(ReturnSettledNotification::from_aggregate(&state).unwrap()).unwrap();
    let named: BTreeSet<String> = notification["sourceEvents"]
        .as_array()
        .expect("sourceEvents")
        .iter()
        .map(|source| source["eventType"].as_str().unwrap_or_default().to_owned())
        .collect();
    let expected: BTreeSet<String> = lineage
        .iter()
        .map(|event_type| event_type.as_str().to_owned())
        .collect();
    assert_eq!(
        named, expected,
        "src/domain/notification.rs names these types in sourceEvents"
    );
}

/// The event types of a set of Service Bus bodies, as the handler parses them (aliases included).
fn types_of<'a>(bodies: impl Iterator<Item = (Option<&'a str>, Vec<u8>)>) -> BTreeSet<&'static str> {
    bodies
        .filter_map(|(hint, body)| parse_event(hint, Some("m"), &body).ok())
        .map(|parsed| parsed.event_type().as_str())
        .collect()
}

fn assert_every_type_in(found: &BTreeSet<&'static str>, place: &str) {
    for event_type in EventType::ALL {
        assert!(
            found.contains(event_type.as_str()),
            "{place} has no valid {} event (found {found:?})",
            event_type.as_str()
        );
    }
}

#[test]
fn the_demo_traffic_holds_every_type() {
    let lines = read(&repo().join("samples/messages.jsonl"));
    let messages: Vec<Value> = lines
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let found = types_of(messages.iter().map(|message| {
        let body = match &message["body"] {
            Value::String(text) => text.clone().into_bytes(),
            other => other.to_string().into_bytes(),
        };
        (message["subject"].as_str(), body)
    }));
    assert_every_type_in(&found, "samples/messages.jsonl (scripts/generate_samples.py)");
}

#[test]
fn the_parser_fuzz_seeds_hold_every_type() {
    let dir = repo().join("fuzz/corpus/parse_event");
    let seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path()).ok())
        .collect();
    // A seed is `hint NUL message-id NUL body` (fuzz/src/targets.rs, `event`); the body is the last part.
    let found = types_of(seeds.iter().map(|seed| {
        let parts: Vec<&[u8]> = seed.splitn(3, |byte| *byte == 0).collect();
        let hint = (parts.len() > 1).then(|| std::str::from_utf8(parts[0]).unwrap_or_default());
        (hint, parts.last().copied().unwrap_or_default().to_vec())
    }));
    assert_every_type_in(
        &found,
        "fuzz/corpus/parse_event (cargo run --manifest-path fuzz/Cargo.toml --example seed_corpus)",
    );
}

#[test]
fn the_property_tests_generate_every_type() {
    let source = read(&repo().join("tests/domain_properties.rs"));
    for event_type in EventType::ALL {
        let builder = coverage(event_type).property_builder;
        assert!(
            source.contains(builder),
            "tests/domain_properties.rs never generates a {} (it does not call domain_common::{builder}..))",
            event_type.as_str()
        );
    }
}
