//! Reading fields out of a JSON object while tracking their path, so every error names the exact field.
//!
//! Value readers are plain functions `fn(&Value) -> Result<T, String>` whose error text completes the sentence
//! `"<field>: …"`; [`Fields`] attaches the path.

use chrono::{DateTime, Datelike, Utc};
use serde_json::{Map, Value};

use super::invalid_event::InvalidEvent;
use super::limits::{MAX_IDENTIFIER_BYTES, MAX_TEXT_BYTES};
use super::log_text::is_quotable_token;

/// The fields of one JSON object found at `path` (empty for the body itself).
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    /// The fields of the top-level body.
    pub fn root(map: &'a Map<String, Value>) -> Self {
        Self {
            map,
            path: String::new(),
        }
    }

    /// The fields of `value`, which must be an object, found at `path`.
    pub fn at(value: &'a Value, path: String) -> Result<Self, InvalidEvent> {
        match value {
            Value::Object(map) => Ok(Self { map, path }),
            other => Err(InvalidEvent::invalid(
                path,
                format!("must be an object, got {}", describe(other)),
            )),
        }
    }

    /// The path of the member `name`.
    pub fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// The raw member `name`; `null` counts as absent.
    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// Reads the required member `name` with `read`.
    pub fn required<T>(
        &self,
        name: &str,
        read: impl FnOnce(&'a Value) -> Result<T, String>,
    ) -> Result<T, InvalidEvent> {
        let value = self
            .raw(name)
            .ok_or_else(|| InvalidEvent::missing(self.path_of(name)))?;
        read(value).map_err(|problem| InvalidEvent::invalid(self.path_of(name), problem))
    }

    /// Reads the member `name` with `read` when present.
    pub fn optional<T>(
        &self,
        name: &str,
        read: impl FnOnce(&'a Value) -> Result<T, String>,
    ) -> Result<Option<T>, InvalidEvent> {
        self.raw(name)
            .map(|value| read(value).map_err(|problem| InvalidEvent::invalid(self.path_of(name), problem)))
            .transpose()
    }

    /// The member object `name` (required).
    pub fn object(&self, name: &str) -> Result<Fields<'a>, InvalidEvent> {
        let value = self
            .raw(name)
            .ok_or_else(|| InvalidEvent::missing(self.path_of(name)))?;
        Fields::at(value, self.path_of(name))
    }

    /// The elements of the array member `name` with their paths (`items[0]`…); the array must hold
    /// between `min` and `max` elements. An absent member is an error when `min > 0`, else an empty list.
    pub fn array(&self, name: &str, min: usize, max: usize) -> Result<Vec<(String, &'a Value)>, InvalidEvent> {
        let path = self.path_of(name);
        let elements = match self.raw(name) {
            None if min == 0 => return Ok(Vec::new()),
            None => return Err(InvalidEvent::missing(path)),
            Some(Value::Array(elements)) => elements,
            Some(other) => {
                return Err(InvalidEvent::invalid(
                    path,
                    format!("must be an array, got {}", describe(other)),
                ))
            }
        };
        if elements.len() < min {
            return Err(InvalidEvent::invalid(
                path,
                format!("must contain at least {min} item(s), got {}", elements.len()),
            ));
        }
        if elements.len() > max {
            return Err(InvalidEvent::invalid(
                path,
                format!("must contain at most {max} items, got {}", elements.len()),
            ));
        }
        Ok(elements
            .iter()
            .enumerate()
            .map(|(i, element)| (format!("{path}[{i}]"), element))
            .collect())
    }
}

/// A description of a JSON value for error messages that never repeats what it holds: any field may carry
/// personal data when mistyped (an email in `bookedAt`, a numeric `customerId`), and validation messages end up in
/// logs. Literals as written, everything else by its kind and size.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(_) => "a number".into(),
        Value::String(s) => match s.chars().count() {
            1 => "a string of 1 character".into(),
            count => format!("a string of {count} characters"),
        },
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Like [`describe`], but quotes a string when it is a short [token](super::log_text::is_quotable_token): for
/// closed vocabularies (types, conditions, currencies), where seeing the wrong word helps and cannot leak data.
pub fn describe_token(value: &Value) -> String {
    match value {
        Value::String(s) if is_quotable_token(s) => value.to_string(),
        other => describe(other),
    }
}

/// Any string.
pub fn string(value: &Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("must be a string, got {}", describe(value)))
}

/// A non-empty string of at most `max` bytes of UTF-8, without control characters.
pub fn text_up_to(max: usize) -> impl Fn(&Value) -> Result<String, String> {
    move |value| {
        let text = string(value)?;
        if text.trim().is_empty() {
            return Err("must not be empty".into());
        }
        if text.len() > max {
            return Err(format!("must be at most {max} bytes of UTF-8, got {}", text.len()));
        }
        if text.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(text.to_owned())
    }
}

/// An identifier: non-empty, at most [`MAX_IDENTIFIER_BYTES`] bytes, no control characters.
pub fn identifier(value: &Value) -> Result<String, String> {
    text_up_to(MAX_IDENTIFIER_BYTES)(value)
}

/// Free text of at most [`MAX_TEXT_BYTES`] bytes.
pub fn free_text(value: &Value) -> Result<String, String> {
    text_up_to(MAX_TEXT_BYTES)(value)
}

/// An integer in `min..=max`; `kind` names the expectation ("a positive integer").
pub fn integer_in(min: i64, max: i64, kind: &'static str) -> impl Fn(&Value) -> Result<i64, String> {
    move |value| match value.as_i64() {
        // A number in a numeric field is the field's own data (a quantity, an amount), never personal: say it.
        Some(n) if n < min => Err(format!("must be {kind}, got {n}")),
        Some(n) if n > max => Err(format!("must be at most {max}, got {n}")),
        Some(n) => Ok(n),
        None => match value {
            Value::Number(n) => Err(format!("must be {kind}, got {n}")),
            other => Err(format!("must be {kind}, got {}", describe(other))),
        },
    }
}

/// `true` or `false`.
pub fn boolean(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("must be true or false, got {}", describe(value)))
}

/// An RFC 3339 timestamp (any offset), converted to UTC.
///
/// The instant must fall in the years 0000..=9999 once in UTC: RFC 3339 allows `9999-12-31T23:59:59-14:00`,
/// whose UTC form (`+10000-…`) is no RFC 3339 timestamp any more, so the event could not be stored and read back.
pub fn timestamp(value: &Value) -> Result<DateTime<Utc>, String> {
    let text = string(value).map_err(|_| format!("must be an RFC 3339 timestamp, got {}", describe(value)))?;
    let instant = DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("must be an RFC 3339 timestamp, got {}", describe(value)))?;
    if !(0..=9999).contains(&instant.year()) {
        return Err("must lie between the years 0000 and 9999 once converted to UTC".into());
    }
    Ok(instant)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields_of(value: &Value) -> Fields<'_> {
        Fields::root(value.as_object().unwrap())
    }

    #[test]
    fn nested_paths_are_named_in_errors() {
        let body = json!({"amount": {"amountMinor": "12"}, "items": [{}, {"quantity": 0}]});
        let fields = fields_of(&body);
        let amount = fields.object("amount").unwrap();
        let err = amount
            .required("amountMinor", integer_in(0, 10, "a non-negative integer"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "amount.amountMinor: must be a non-negative integer, got a string of 2 characters"
        );

        let items = fields.array("items", 1, 5).unwrap();
        let (path, second) = &items[1];
        let err = Fields::at(second, path.clone())
            .unwrap()
            .required("quantity", integer_in(1, 10, "a positive integer"))
            .unwrap_err();
        assert_eq!(err.to_string(), "items[1].quantity: must be a positive integer, got 0");
    }

    #[test]
    fn null_counts_as_missing() {
        let body = json!({"orderId": null});
        assert_eq!(
            fields_of(&body)
                .required("orderId", identifier)
                .unwrap_err()
                .to_string(),
            "orderId: missing"
        );
        assert_eq!(fields_of(&body).optional("orderId", identifier).unwrap(), None);
    }

    #[test]
    fn array_bounds_are_checked() {
        let body = json!({"items": [], "lines": 3});
        let fields = fields_of(&body);
        assert_eq!(
            fields.array("items", 1, 2).unwrap_err().to_string(),
            "items: must contain at least 1 item(s), got 0"
        );
        assert_eq!(
            fields.array("lines", 0, 2).unwrap_err().to_string(),
            "lines: must be an array, got a number"
        );
        assert!(fields.array("absent", 0, 2).unwrap().is_empty());
        assert_eq!(fields.array("absent", 1, 2).unwrap_err().to_string(), "absent: missing");
    }

    #[test]
    fn value_readers_explain_rejections() {
        assert_eq!(identifier(&json!("")).unwrap_err(), "must not be empty");
        assert_eq!(
            identifier(&json!("a\nb")).unwrap_err(),
            "must not contain control characters"
        );
        assert_eq!(
            integer_in(1, 9, "a positive integer")(&json!(1.5)).unwrap_err(),
            "must be a positive integer, got 1.5"
        );
        assert_eq!(
            integer_in(1, 9, "a positive integer")(&json!(10)).unwrap_err(),
            "must be at most 9, got 10"
        );
        assert_eq!(
            boolean(&json!("yes")).unwrap_err(),
            "must be true or false, got a string of 3 characters"
        );
        assert_eq!(
            timestamp(&json!("2025-13-01")).unwrap_err(),
            "must be an RFC 3339 timestamp, got a string of 10 characters"
        );
        assert_eq!(
            timestamp(&json!("2025-03-01T10:00:00+02:00")).unwrap().to_rfc3339(),
            "2025-03-01T08:00:00+00:00"
        );
        assert_eq!(describe(&json!("x".repeat(50))), "a string of 50 characters");
        assert_eq!(describe_token(&json!("Broken")), "\"Broken\"");
        assert_eq!(describe_token(&json!("jane@example.com")), "a string of 16 characters");
    }

    #[test]
    fn timestamps_that_leave_the_four_digit_years_in_utc_are_refused() {
        for text in ["9999-12-31T23:59:59-14:00", "0000-01-01T00:00:00+00:01"] {
            assert_eq!(
                timestamp(&json!(text)).unwrap_err(),
                "must lie between the years 0000 and 9999 once converted to UTC",
                "{text}"
            );
        }
        for text in [
            "9999-12-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
            "0000-01-01T00:00:00-00:01",
        ] {
            assert!(timestamp(&json!(text)).is_ok(), "{text}");
        }
    }
}
