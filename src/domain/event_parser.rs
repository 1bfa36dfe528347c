//! [`parse_event`]: from the bytes of a Service Bus message to a validated [`ReturnEvent`], or an [`InvalidEvent`]
//! naming the field at fault.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::events::{
    BookedItem, Envelope, EventPayload, EventType, ItemCondition, ReceivedItem, RefundIssued, RefundLine, ReturnBooked,
    ReturnCancelled, ReturnEvent, ReturnItemsReceived, SCHEMA_VERSION,
};
use super::identifiers::ReturnId;
use super::invalid_event::{InvalidEvent, Problem};
use super::json_fields::{
    boolean, describe, describe_token, free_text, identifier, integer_in, string, text_up_to, timestamp, Fields,
};
use super::limits::{MAX_LINES_PER_EVENT, MAX_SOURCE_BYTES};
use super::money::{Currency, Money, MAX_AMOUNT_MINOR};

/// The largest quantity of one line.
pub const MAX_QUANTITY: u32 = 10_000;

/// Parses and validates one message body as a return event.
///
/// - `event_type_hint`: the message's type when the body has no `eventType` (the Service Bus `Subject`, or an
///   `eventType` application property). Any alias of [`EventType::from_name`] is accepted.
/// - `message_id`: the Service Bus message id, used as the event id when the body has no `eventId`.
/// - `body`: the raw bytes (UTF-8 JSON; a leading byte-order mark is tolerated).
///
/// Checks run in this order, and the first failure is returned: JSON object → event type → schema version →
/// envelope → type-specific fields. Cross-event rules (one currency per return, refunds naming booked lines) are the
/// aggregate's job, not the parser's.
pub fn parse_event(
    event_type_hint: Option<&str>,
    message_id: Option<&str>,
    body: &[u8],
) -> Result<ReturnEvent, InvalidEvent> {
    let root = parse_body(body)?;
    let fields = Fields::root(&root);
    let event_type = resolve_event_type(&fields, event_type_hint)?;
    check_schema_version(&fields)?;
    let envelope = parse_envelope(&fields, message_id)?;
    let payload = match event_type {
        EventType::ReturnBooked => EventPayload::ReturnBooked(parse_booked(&fields)?),
        EventType::ReturnItemsReceived => EventPayload::ReturnItemsReceived(parse_items_received(&fields)?),
        EventType::RefundIssued => EventPayload::RefundIssued(parse_refund(&fields)?),
        EventType::ReturnCancelled => EventPayload::ReturnCancelled(parse_cancelled(&fields)?),
    };
    Ok(ReturnEvent { envelope, payload })
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, InvalidEvent> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(InvalidEvent::new("body", Problem::NotJson("the body is empty".into())));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(InvalidEvent::invalid(
            "body",
            format!("must be a JSON object, got {}", describe(&other)),
        )),
        Err(error) => Err(InvalidEvent::new("body", Problem::NotJson(error.to_string()))),
    }
}

fn resolve_event_type(fields: &Fields<'_>, hint: Option<&str>) -> Result<EventType, InvalidEvent> {
    let name = match fields.optional("eventType", string)? {
        Some(name) => name,
        None => hint
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .ok_or_else(|| InvalidEvent::missing("eventType"))?,
    };
    match EventType::from_name(name) {
        None => Err(InvalidEvent::new(
            "eventType",
            Problem::UnknownEventType(match describe_token(&Value::from(name)) {
                quoted if quoted.starts_with('"') => quoted.trim_matches('"').to_owned(),
                described => format!("({described})"),
            }),
        )),
        Some((_, Some(version))) if version != SCHEMA_VERSION => Err(InvalidEvent::new(
            "eventType",
            Problem::UnsupportedSchemaVersion(version),
        )),
        Some((event_type, _)) => Ok(event_type),
    }
}

/// `schemaVersion` is optional (absent means 1); it may be a number (`1`) or a string (`"1"`, `"1.3"`): only the
/// major version matters, minor versions only add fields.
fn check_schema_version(fields: &Fields<'_>) -> Result<(), InvalidEvent> {
    let Some(major) = fields.optional("schemaVersion", major_version)? else {
        return Ok(());
    };
    if major == SCHEMA_VERSION {
        Ok(())
    } else {
        Err(InvalidEvent::new(
            "schemaVersion",
            Problem::UnsupportedSchemaVersion(major),
        ))
    }
}

fn major_version(value: &Value) -> Result<u64, String> {
    let major = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.split_once('.').map_or(s.as_str(), |(major, _)| major).parse().ok(),
        _ => None,
    };
    major.ok_or_else(|| format!("must be a version like 1 or \"1.0\", got {}", describe_token(value)))
}

fn parse_envelope(fields: &Fields<'_>, message_id: Option<&str>) -> Result<Envelope, InvalidEvent> {
    let event_id = match fields.optional("eventId", event_id)? {
        Some(id) => id,
        None => {
            let message_id = message_id.ok_or_else(|| InvalidEvent::missing("eventId"))?;
            event_id(&Value::String(message_id.to_owned()))
                .map_err(|problem| InvalidEvent::invalid("eventId", format!("(from the message id) {problem}")))?
        }
    };
    Ok(Envelope {
        event_id,
        source: fields.optional("source", text_up_to(MAX_SOURCE_BYTES))?,
        occurred_at: fields.required("occurredAt", timestamp)?,
        return_id: fields.required("returnId", return_id)?,
        correlation_id: fields.optional("correlationId", identifier)?,
    })
}

fn event_id(value: &Value) -> Result<String, String> {
    let id = identifier(value)?;
    if id.chars().any(char::is_whitespace) {
        return Err("must not contain whitespace".into());
    }
    Ok(id)
}

fn return_id(value: &Value) -> Result<ReturnId, String> {
    ReturnId::parse(string(value)?).map_err(|e| e.to_string())
}

fn quantity(min: i64, kind: &'static str) -> impl Fn(&Value) -> Result<u32, String> {
    let read = integer_in(min, i64::from(MAX_QUANTITY), kind);
    move |value| read(value).map(|n| n as u32)
}

fn amount_minor(value: &Value) -> Result<i64, String> {
    integer_in(0, MAX_AMOUNT_MINOR, "a non-negative integer (minor units)")(value)
}

fn currency(value: &Value) -> Result<Currency, String> {
    Currency::parse(string(value)?).map_err(|e| e.to_string())
}

fn condition(value: &Value) -> Result<ItemCondition, String> {
    let name = string(value)?;
    ItemCondition::from_name(name).ok_or_else(|| {
        format!(
            "unknown condition {} (expected Resellable, Damaged, Missing or WrongItem)",
            describe_token(value)
        )
    })
}

fn money(fields: &Fields<'_>, name: &str) -> Result<Money, InvalidEvent> {
    let money = fields.object(name)?;
    Ok(Money {
        amount_minor: money.required("amountMinor", amount_minor)?,
        currency: money.required("currency", currency)?,
    })
}

fn parse_booked(fields: &Fields<'_>) -> Result<ReturnBooked, InvalidEvent> {
    let order_id = fields.required("orderId", identifier)?;
    let customer_id = fields.required("customerId", identifier)?;
    let mut items = Vec::new();
    let mut first_line_of: HashMap<String, String> = HashMap::new();
    for (path, value) in fields.array("items", 1, MAX_LINES_PER_EVENT)? {
        let item = Fields::at(value, path.clone())?;
        let booked = BookedItem {
            line_id: item.required("lineId", identifier)?,
            sku: item.required("sku", identifier)?,
            quantity: item.required("quantity", quantity(1, "a positive integer"))?,
            unit_price: money(&item, "unitPrice")?,
        };
        if let Some(first) = first_line_of.get(&booked.line_id) {
            return Err(InvalidEvent::invalid(
                item.path_of("lineId"),
                format!("duplicate line id {:?} (already used by {first})", booked.line_id),
            ));
        }
        if let Some(first) = items.first().map(|first: &BookedItem| &first.unit_price.currency) {
            if *first != booked.unit_price.currency {
                return Err(InvalidEvent::invalid(
                    format!("{path}.unitPrice.currency"),
                    format!(
                        "must be {first} like items[0], got {:?}",
                        booked.unit_price.currency.as_str()
                    ),
                ));
            }
        }
        first_line_of.insert(booked.line_id.clone(), path);
        items.push(booked);
    }
    Ok(ReturnBooked {
        order_id,
        customer_id,
        market: fields.optional("market", identifier)?,
        locale: fields.optional("locale", identifier)?,
        items,
        booked_at: fields.required("bookedAt", timestamp)?,
        return_method: fields.optional("returnMethod", identifier)?,
    })
}

fn parse_items_received(fields: &Fields<'_>) -> Result<ReturnItemsReceived, InvalidEvent> {
    let parcel_id = fields.required("parcelId", identifier)?;
    let warehouse_id = fields.required("warehouseId", identifier)?;
    let received_at = fields.required("receivedAt", timestamp)?;
    let mut items = Vec::new();
    for (path, value) in fields.array("items", 1, MAX_LINES_PER_EVENT)? {
        let item = Fields::at(value, path)?;
        items.push(ReceivedItem {
            line_id: item.required("lineId", identifier)?,
            sku: item.required("sku", identifier)?,
            quantity: item.required("quantity", quantity(0, "a non-negative integer"))?,
            condition: item.required("condition", condition)?,
        });
    }
    Ok(ReturnItemsReceived {
        parcel_id,
        warehouse_id,
        received_at,
        items,
    })
}

fn parse_refund(fields: &Fields<'_>) -> Result<RefundIssued, InvalidEvent> {
    let refund_id = fields.required("refundId", identifier)?;
    let amount = money(fields, "amount")?;
    let mut lines = Vec::new();
    for (path, value) in fields.array("lines", 0, MAX_LINES_PER_EVENT)? {
        let line = Fields::at(value, path)?;
        lines.push(RefundLine {
            line_id: line.required("lineId", identifier)?,
            amount_minor: line.required("amountMinor", amount_minor)?,
        });
    }
    let lines_total: i64 = lines.iter().map(|l| l.amount_minor).sum();
    if lines_total > amount.amount_minor {
        return Err(InvalidEvent::invalid(
            "lines",
            format!(
                "amounts add up to {lines_total}, more than amount.amountMinor {}",
                amount.amount_minor
            ),
        ));
    }
    Ok(RefundIssued {
        refund_id,
        amount,
        lines,
        payment_reference: fields.required("paymentReference", identifier)?,
        issued_at: fields.required("issuedAt", timestamp)?,
        is_final: fields.optional("final", boolean)?.unwrap_or(false),
    })
}

fn parse_cancelled(fields: &Fields<'_>) -> Result<ReturnCancelled, InvalidEvent> {
    Ok(ReturnCancelled {
        reason: fields.required("reason", free_text)?,
        cancelled_at: fields.required("cancelledAt", timestamp)?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn booked_body() -> Value {
        json!({
            "eventId": "e-1", "eventType": "ReturnBooked", "schemaVersion": 1, "source": "returns-service",
            "occurredAt": "2025-03-01T08:00:00Z", "returnId": "R1", "orderId": "O1", "customerId": "C1",
            "bookedAt": "2025-03-01T08:00:00Z",
            "items": [{"lineId": "L1", "sku": "S1", "quantity": 2, "unitPrice": {"amountMinor": 1000, "currency": "EUR"}}]
        })
    }

    fn parse(body: &Value) -> Result<ReturnEvent, InvalidEvent> {
        parse_event(None, None, body.to_string().as_bytes())
    }

    #[test]
    fn parses_a_booking() {
        let event = parse(&booked_body()).unwrap();
        assert_eq!(event.event_type(), EventType::ReturnBooked);
        assert_eq!(event.return_id().as_str(), "R1");
        assert_eq!(event.event_key().as_str(), "returns-service e-1");
    }

    #[test]
    fn hint_and_message_id_fill_in_for_absent_fields() {
        let mut body = booked_body();
        body.as_object_mut().unwrap().remove("eventType");
        body.as_object_mut().unwrap().remove("eventId");
        let event = parse_event(Some("returns.booked.v1"), Some("msg-7"), body.to_string().as_bytes()).unwrap();
        assert_eq!(event.event_type(), EventType::ReturnBooked);
        assert_eq!(event.envelope.event_id, "msg-7");
    }

    #[test]
    fn body_type_wins_over_the_hint() {
        let event = parse_event(Some("RefundIssued"), None, booked_body().to_string().as_bytes()).unwrap();
        assert_eq!(event.event_type(), EventType::ReturnBooked);
    }

    #[test]
    fn byte_order_mark_is_tolerated() {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(booked_body().to_string().as_bytes());
        assert!(parse_event(None, None, &bytes).is_ok());
    }

    #[test]
    fn wire_form_round_trips() {
        let event = parse(&booked_body()).unwrap();
        assert_eq!(parse(&event.to_wire_json()).unwrap(), event);
    }

    #[test]
    fn schema_version_strings_with_minor_parts_are_read() {
        let mut body = booked_body();
        body["schemaVersion"] = json!("1.4");
        assert!(parse(&body).is_ok());
        body["schemaVersion"] = json!("2.0");
        assert_eq!(
            parse(&body).unwrap_err().problem(),
            &Problem::UnsupportedSchemaVersion(2)
        );
        body["schemaVersion"] = json!(true);
        assert_eq!(
            parse(&body).unwrap_err().to_string(),
            "schemaVersion: must be a version like 1 or \"1.0\", got true"
        );
    }
}
