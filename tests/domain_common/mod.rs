//! Builders of realistic event bodies for the domain tests. Every event goes through `parse_event`, so the tests
//! exercise the parser as the handler does.
#![allow(dead_code)] // each test binary uses a different subset

use chrono::{DateTime, Duration, TimeZone, Utc};
use returns_aggregator::domain::{parse_event, ReturnAggregate, ReturnEvent, ReturnId};
use serde_json::{json, Value};

/// A fixed instant plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap() + Duration::minutes(minutes)
}

/// A fresh aggregate for `return_id`.
pub fn aggregate(return_id: &str) -> ReturnAggregate {
    ReturnAggregate::new(ReturnId::parse(return_id).unwrap())
}

/// Parses a body built by the functions below.
pub fn event(body: &Value) -> ReturnEvent {
    parse_event(None, None, body.to_string().as_bytes()).unwrap_or_else(|e| panic!("invalid test event: {e}"))
}

fn envelope(event_type: &str, return_id: &str, event_id: &str, source: &str) -> Value {
    json!({
        "eventId": event_id,
        "eventType": event_type,
        "schemaVersion": 1,
        "source": source,
        "occurredAt": at(0).to_rfc3339(),
        "returnId": return_id,
        "correlationId": format!("corr-{return_id}"),
    })
}

fn merge(mut base: Value, extra: Value) -> Value {
    let target = base.as_object_mut().unwrap();
    for (key, value) in extra.as_object().unwrap() {
        target.insert(key.clone(), value.clone());
    }
    base
}

/// A booking of `lines` (line id, quantity, unit price in minor units), all in `currency`.
pub fn booked_in(return_id: &str, event_id: &str, currency: &str, lines: &[(&str, u32, i64)]) -> Value {
    let items: Vec<Value> = lines
        .iter()
        .map(|(line, quantity, price)| {
            json!({"lineId": line, "sku": format!("SKU-{line}"), "quantity": quantity,
                   "unitPrice": {"amountMinor": price, "currency": currency}})
        })
        .collect();
    merge(
        envelope("ReturnBooked", return_id, event_id, "returns-service"),
        json!({"orderId": format!("O-{return_id}"), "customerId": "C-1001", "market": "DE", "locale": "de-DE",
               "bookedAt": at(0).to_rfc3339(), "returnMethod": "DropOff", "items": items}),
    )
}

/// A booking in EUR.
pub fn booked(return_id: &str, event_id: &str, lines: &[(&str, u32, i64)]) -> Value {
    booked_in(return_id, event_id, "EUR", lines)
}

/// A parcel with `items` (line id, quantity, condition).
pub fn parcel(return_id: &str, event_id: &str, parcel_id: &str, items: &[(&str, u32, &str)]) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|(line, quantity, condition)| {
            json!({"lineId": line, "sku": format!("SKU-{line}"), "quantity": quantity, "condition": condition})
        })
        .collect();
    merge(
        envelope("ReturnItemsReceived", return_id, event_id, "warehouse"),
        json!({"parcelId": parcel_id, "warehouseId": "WH-BER-1", "receivedAt": at(60).to_rfc3339(), "items": items}),
    )
}

/// A refund of `amount` minor units of `currency`, without line split.
pub fn refund_in(
    return_id: &str,
    event_id: &str,
    refund_id: &str,
    amount: i64,
    currency: &str,
    is_final: bool,
) -> Value {
    merge(
        envelope("RefundIssued", return_id, event_id, "payments"),
        json!({"refundId": refund_id, "amount": {"amountMinor": amount, "currency": currency},
               "paymentReference": format!("PSP-{refund_id}"), "issuedAt": at(120).to_rfc3339(), "final": is_final}),
    )
}

/// A refund in EUR, not final.
pub fn refund(return_id: &str, event_id: &str, refund_id: &str, amount: i64) -> Value {
    refund_in(return_id, event_id, refund_id, amount, "EUR", false)
}

/// A cancellation.
pub fn cancelled(return_id: &str, event_id: &str) -> Value {
    merge(
        envelope("ReturnCancelled", return_id, event_id, "returns-service"),
        json!({"reason": "customer kept the items", "cancelledAt": at(30).to_rfc3339()}),
    )
}

/// The persisted state of `aggregate` without processing times (`processedAt`, `lastEventAt`): what must not depend on the order
/// or timing of deliveries.
pub fn facts_of(aggregate: &ReturnAggregate) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(fields) => {
                fields.remove("processedAt");
                fields.remove("lastEventAt");
                fields.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(aggregate).unwrap();
    strip(&mut value);
    value
}

/// Every permutation of `0..n` (Heap's algorithm).
pub fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn heap(k: usize, items: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if k <= 1 {
            out.push(items.clone());
            return;
        }
        for i in 0..k {
            heap(k - 1, items, out);
            let swap_with = if k.is_multiple_of(2) { i } else { 0 };
            if i + 1 < k {
                items.swap(swap_with, k - 1);
            }
        }
    }
    let mut out = Vec::new();
    heap(n, &mut (0..n).collect(), &mut out);
    out
}
