//! Lifecycle: the stuck alert fires once, tombstones refuse late events, purge times, persisted state and the
//! published documents.

mod domain_common;

use chrono::Duration;
use domain_common::{aggregate, at, booked, event, parcel, refund, refund_in};
use returns_aggregator::domain::notification::{settled_notification_id, stuck_alert_id, NotificationError};
use returns_aggregator::domain::{
    Disposition, DomainConfig, ReturnAggregate, ReturnId, ReturnSettledNotification, ReturnStatus, ReturnStatusReport,
};
use serde_json::{json, Value};

const R: &str = "RET-42";

fn config() -> DomainConfig {
    DomainConfig {
        stuck_after: Duration::days(30),
        tombstone_retention: Duration::days(90),
    }
}

fn settled() -> ReturnAggregate {
    let mut state = aggregate(R);
    for (minute, body) in [
        booked(R, "b", &[("L1", 2, 2499), ("L2", 1, 1500)]),
        parcel(R, "p1", "P1", &[("L1", 2, "Resellable"), ("L2", 1, "Damaged")]),
        refund(R, "r1", "R1", 6498),
    ]
    .iter()
    .enumerate()
    {
        let _ = state.apply(&event(body), at(minute as i64));
    }
    assert_eq!(state.status(), ReturnStatus::Settled);
    state
}

#[test]
fn the_default_config_is_thirty_days_to_settle_and_ninety_of_tombstone() {
    assert_eq!(DomainConfig::default(), config());
}

#[test]
fn the_stuck_alert_fires_once_at_the_deadline_and_names_what_is_missing() {
    let mut state = aggregate(R);
    assert_eq!(state.stuck_deadline(&config()), None);
    assert_eq!(
        state.check_stuck(at(0) + Duration::days(365), &config()),
        None,
        "no events, no deadline"
    );

    let first = state.apply(&event(&booked(R, "b", &[("L1", 2, 2499)])), at(0));
    assert!(first.first_event);
    let _ = state.apply(&event(&parcel(R, "p1", "P1", &[("L1", 1, "Resellable")])), at(10));
    let _ = state.apply(&event(&refund_in(R, "r-gbp", "R1", 100, "GBP", false)), at(20));
    let deadline = at(0) + Duration::days(30);
    assert_eq!(state.stuck_deadline(&config()), Some(deadline));

    assert_eq!(
        state.check_stuck(deadline - Duration::seconds(1), &config()),
        None,
        "not yet due"
    );
    let alert = state
        .check_stuck(deadline + Duration::minutes(5), &config())
        .expect("due");
    assert_eq!(alert.alert_id, stuck_alert_id(state.return_id()));
    assert_eq!((alert.first_event_at, alert.deadline), (at(0), deadline));
    assert_eq!(alert.raised_at, deadline + Duration::minutes(5));
    assert_eq!(alert.order_id.as_deref(), Some("O-RET-42"));
    assert_eq!(
        alert.summary,
        "line L1: 1 of 2 not received; refund: 24.99 of 24.99 EUR outstanding"
    );
    assert_eq!(alert.rejected_events.len(), 1, "the GBP refund explains the gap");
    assert_eq!(state.stuck_alerted_at(), Some(deadline + Duration::minutes(5)));

    assert_eq!(
        state.check_stuck(deadline + Duration::days(1), &config()),
        None,
        "fires once"
    );

    let json = serde_json::to_value(&alert).unwrap();
    assert_eq!(json["kind"], "ReturnStuck");
    assert_eq!(
        json["missing"][0],
        json!({"kind": "itemsOutstanding", "lineId": "L1", "sku": "SKU-L1", "booked": 2, "accounted": 1})
    );
    assert_eq!(
        json["missing"][1],
        json!({"kind": "refundOutstanding", "currency": "EUR", "expectedMinor": 2499, "refundedMinor": 0})
    );

    // A stuck return may still settle, once.
    let _ = state.apply(&event(&parcel(R, "p2", "P2", &[("L1", 1, "Resellable")])), at(50_000));
    assert!(state
        .apply(&event(&refund(R, "r1", "R1-EUR", 4998)), at(50_001))
        .became_settled());
}

#[test]
fn an_alert_without_a_booking_says_so() {
    let mut state = aggregate(R);
    let _ = state.apply(&event(&refund(R, "r1", "R1", 100)), at(0));
    let alert = state.check_stuck(at(0) + Duration::days(31), &config()).unwrap();
    assert_eq!(alert.summary, "booking: not seen");
    assert_eq!(alert.order_id, None);
}

#[test]
fn closed_returns_never_raise_the_stuck_alert() {
    let mut state = settled();
    assert_eq!(state.check_stuck(at(0) + Duration::days(400), &config()), None);
    let mut cancelled = aggregate(R);
    let _ = cancelled.apply(&event(&domain_common::cancelled(R, "c")), at(0));
    assert_eq!(cancelled.check_stuck(at(0) + Duration::days(400), &config()), None);
}

#[test]
fn the_settled_notification_consolidates_every_source() {
    let state = settled();
    let sent = ReturnSettledNotification::from_aggregate(&state).unwrap();
    assert_eq!(Some(sent.notification_id), state.notification_id());
    assert_eq!(
        sent.notification_id,
        settled_notification_id(&ReturnId::parse(R).unwrap())
    );

    let json = serde_json::to_value(&sent).unwrap();
    let expected = json!({
        "notificationId": sent.notification_id.to_string(),
        "kind": "ReturnSettled",
        "schemaVersion": 1,
        "returnId": "RET-42",
        "orderId": "O-RET-42",
        "customerId": "C-1001",
        "market": "DE",
        "locale": "de-DE",
        "items": [
            {"lineId": "L1", "sku": "SKU-L1", "quantityBooked": 2, "quantityReceived": 2, "quantityMissing": 0,
             "quantityRefundable": 2, "unitPriceMinor": 2499, "conditions": [{"condition": "Resellable", "quantity": 2}]},
            {"lineId": "L2", "sku": "SKU-L2", "quantityBooked": 1, "quantityReceived": 1, "quantityMissing": 0,
             "quantityRefundable": 1, "unitPriceMinor": 1500, "conditions": [{"condition": "Damaged", "quantity": 1}]}
        ],
        "refund": {"currency": "EUR", "expectedMinor": 6498, "totalMinor": 6498, "refunds": [
            {"refundId": "R1", "amountMinor": 6498, "paymentReference": "PSP-R1", "issuedAt": "2025-03-01T10:00:00Z", "final": false}
        ]},
        "timestamps": {"bookedAt": "2025-03-01T08:00:00Z", "firstReceivedAt": "2025-03-01T09:00:00Z",
                       "lastReceivedAt": "2025-03-01T09:00:00Z", "refundedAt": "2025-03-01T10:00:00Z",
                       "settledAt": "2025-03-01T08:02:00Z"},
        "sourceEvents": [
            {"eventType": "ReturnBooked", "eventId": "b", "source": "returns-service"},
            {"eventType": "ReturnItemsReceived", "eventId": "p1", "source": "warehouse"},
            {"eventType": "RefundIssued", "eventId": "r1", "source": "payments"}
        ]
    });
    assert_eq!(json, expected);
    let back: ReturnSettledNotification = serde_json::from_value(json).unwrap();
    assert_eq!(back, sent);
}

#[test]
fn no_notification_for_an_open_return() {
    let mut state = aggregate(R);
    let _ = state.apply(&event(&booked(R, "b", &[("L1", 1, 1)])), at(0));
    assert!(matches!(
        ReturnSettledNotification::from_aggregate(&state),
        Err(NotificationError::NotSettled {
            status: ReturnStatus::Open,
            ..
        })
    ));
}

#[test]
fn a_tombstone_keeps_only_what_refuses_late_events() {
    let mut open = aggregate(R);
    let _ = open.apply(&event(&booked(R, "b", &[("L1", 1, 1)])), at(0));
    assert!(!open.compact(), "open returns keep their facts");
    assert!(open.booking().is_some());

    let mut state = settled();
    let notification_id = state.notification_id();
    assert!(state.compact());
    assert!(state.is_compacted());
    assert_eq!(state.status(), ReturnStatus::Settled);
    assert_eq!(state.notification_id(), notification_id);
    assert!(state.booking().is_none() && state.parcels().is_empty() && state.refunds().is_empty());

    let json = serde_json::to_string(&state).unwrap();
    assert!(json.len() < 1000, "tombstone is {} bytes: {json}", json.len());

    let redelivered = state.apply(&event(&refund(R, "r1", "R1", 6498)), at(99));
    assert_eq!(
        redelivered.disposition,
        Disposition::Duplicate,
        "the tombstone knows its events"
    );
    let late = state.apply(&event(&refund(R, "r2", "R2", 500)), at(100));
    assert_eq!(late.disposition, Disposition::Late);
    assert_eq!(
        state.late_events().len(),
        1,
        "a late refund is recorded, never dropped in silence"
    );
    assert_eq!(state.late_events()[0].summary, "refund R2: 5.00 EUR");
    assert!(matches!(
        ReturnSettledNotification::from_aggregate(&state),
        Err(NotificationError::Compacted(_))
    ));

    let report = serde_json::to_value(ReturnStatusReport::of(&state, &config())).unwrap();
    assert_eq!(report["status"], "Settled");
    assert_eq!(report["compacted"], true);
    assert_eq!(report["notificationId"], json!(notification_id.unwrap().to_string()));
    assert_eq!(report["missing"], json!([]));
}

#[test]
fn purge_time_is_closing_time_plus_retention() {
    let mut state = aggregate(R);
    assert_eq!(state.purge_at(&config()), None);
    let _ = state.apply(&event(&booked(R, "b", &[("L1", 1, 1)])), at(0));
    assert!(
        !state.is_purgeable(at(0) + Duration::days(1000), &config()),
        "open returns are never purged"
    );

    let mut state = settled();
    let closed = state.closed_at().unwrap();
    assert_eq!(state.purge_at(&config()), Some(closed + Duration::days(90)));
    assert!(state.compact());
    assert_eq!(
        state.purge_at(&config()),
        Some(closed + Duration::days(90)),
        "compaction keeps the clock"
    );
    assert!(!state.is_purgeable(closed + Duration::days(90) - Duration::seconds(1), &config()));
    assert!(state.is_purgeable(closed + Duration::days(90), &config()));
}

#[test]
fn persisted_state_is_compact_camel_case_json_that_round_trips() {
    let state = settled();
    let json = serde_json::to_value(&state).unwrap();
    let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "bookings",
            "closedAt",
            "firstSeenAt",
            "lastEventAt",
            "notificationId",
            "parcels",
            "refunds",
            "returnId",
            "status"
        ],
        "empty parts are omitted"
    );
    assert_eq!(
        json["bookings"][0]["lines"][0],
        json!({"lineId": "L1", "sku": "SKU-L1", "quantity": 2, "unitPriceMinor": 2499})
    );
    let text = serde_json::to_string(&state).unwrap();
    assert!(text.len() < 1400, "state is {} bytes", text.len());
    let back: ReturnAggregate = serde_json::from_str(&text).unwrap();
    assert_eq!(back, state);

    let empty: ReturnAggregate = serde_json::from_value(json!({"returnId": "R1"})).unwrap();
    assert_eq!(empty, aggregate("R1"));
    assert!(serde_json::from_value::<ReturnAggregate>(json!({"returnId": "R/1"})).is_err());
}

#[test]
fn the_status_report_of_an_open_return_shows_progress_and_gaps() {
    let mut state = aggregate(R);
    let _ = state.apply(&event(&booked(R, "b", &[("L1", 2, 1000)])), at(0));
    let _ = state.apply(&event(&parcel(R, "p1", "P1", &[("L1", 1, "Missing")])), at(1));
    let report: Value = serde_json::to_value(ReturnStatusReport::of(&state, &config())).unwrap();
    assert_eq!(report["status"], "Open");
    assert_eq!(report["orderId"], "O-RET-42");
    assert_eq!(
        report["stuckDeadline"],
        json!((at(0) + Duration::days(30)).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    );
    assert_eq!(report["progress"]["lines"][0]["missing"], 1);
    assert_eq!(
        report["missing"],
        json!([{"kind": "itemsOutstanding", "lineId": "L1", "sku": "SKU-L1", "booked": 2, "accounted": 1}])
    );
    assert!(report.get("customerId").is_none());
}

#[test]
fn a_settled_return_still_tells_its_story_after_compaction() {
    // Issue 15: once compacted, the report no longer said what arrived and when, or how it ended.
    let mut state = settled();
    let before = serde_json::to_value(ReturnStatusReport::of(&state, &config())).unwrap();
    assert!(state.compact());
    let _ = state.apply(&event(&refund(R, "r2", "R2", 500)), at(500));
    let report = serde_json::to_value(ReturnStatusReport::of(&state, &config())).unwrap();

    assert_eq!(report["compacted"], true);
    assert_eq!(report["orderId"], "O-RET-42");
    assert_eq!(
        report["events"], before["events"],
        "what arrived, and when, survives the compaction"
    );
    let events: Vec<(&str, &str)> = report["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["eventType"].as_str().unwrap(), e["processedAt"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        [
            ("ReturnBooked", "2025-03-01T08:00:00Z"),
            ("ReturnItemsReceived", "2025-03-01T08:01:00Z"),
            ("RefundIssued", "2025-03-01T08:02:00Z"),
        ]
    );
    assert_eq!(report["refund"]["text"], "64.98 of 64.98 EUR refunded");
    assert_eq!(report["refund"]["refundedMinor"], 6498);
    assert_eq!(report["units"], json!({"booked": 3, "received": 3, "missing": 0}));
    assert_eq!(report["notificationId"], before["notificationId"]);
    assert_eq!(report["lateEvents"][0]["summary"], "refund R2: 5.00 EUR");
    let text = serde_json::to_string(&state).unwrap();
    assert!(text.len() < 1500, "the tombstone stays small: {} bytes", text.len());
}

#[test]
fn a_held_return_says_why_in_its_report_and_alert() {
    let mut state = aggregate(R);
    let _ = state.apply(&event(&booked(R, "b", &[("L1", 1, 10998)])), at(0));
    let _ = state.apply(&event(&parcel(R, "p1", "P1", &[("L1", 1, "Resellable")])), at(1));
    let _ = state.apply(&event(&parcel(R, "p1", "P1", &[("L1", 1, "Damaged")])), at(2));
    let report = serde_json::to_value(ReturnStatusReport::of(&state, &config())).unwrap();
    assert_eq!(
        report["heldBecause"],
        json!(["parcel P1 has 2 different versions (events warehouse p1)"])
    );
    assert_eq!(
        report["summary"],
        "conflict: parcel P1 has 2 different versions (events warehouse p1); line L1: 1 of 1 not received"
    );
    assert_eq!(report["refund"]["text"], "0.00 of 0.00 EUR refunded");
    let alert = state.check_stuck(at(0) + Duration::days(31), &config()).unwrap();
    assert_eq!(alert.summary, report["summary"]);
}
