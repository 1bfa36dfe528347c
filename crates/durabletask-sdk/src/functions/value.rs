//! Decoding of binding values and metadata entries in every shape the Functions host sends them.
//!
//! The host converts each value before writing it into the invocation JSON: a .NET string is JSON-encoded
//! once more (`"\"text\""`), numbers become strings (`"1"`), object-shaped values stay JSON objects, bytes
//! become base64 text, and dates are re-formatted (whole seconds without `Z`, with `+00:00`, or full
//! precision with `Z`). These functions undo that and accept each shape, so handlers never depend on which
//! one a given host version picked.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::error::{EnvelopeError, EnvelopeProblem};

/// How a binding's payload is encoded: the `dataType` of the binding in function.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BindingEncoding {
    /// No `dataType` or `"string"`: text, JSON-encoded once more by the host.
    #[default]
    Text,
    /// `"dataType": "binary"`: base64 text of the raw bytes.
    Binary,
}

/// The text of a binding value, with the host's extra JSON string layer removed.
///
/// `"\"hello\""` gives `hello`; a string without the extra layer is returned as is; numbers, booleans,
/// objects and arrays give their compact JSON text. JSON `null` is an error.
///
/// ```
/// use durabletask_sdk::functions::binding_text;
/// use serde_json::json;
///
/// assert_eq!(binding_text(&json!("\"hello\"")).unwrap(), "hello");
/// assert_eq!(binding_text(&json!("{\"a\":1}")).unwrap(), "{\"a\":1}");
/// assert_eq!(binding_text(&json!({"a": 1})).unwrap(), "{\"a\":1}");
/// ```
pub fn binding_text(value: &Value) -> Result<String, EnvelopeError> {
    match value {
        Value::String(text) => Ok(peel_host_string(text)),
        Value::Null => Err(EnvelopeError::shape("a string", value)),
        other => Ok(other.to_string()),
    }
}

/// The JSON value a binding carries: objects and arrays as they are, strings parsed as JSON text after the
/// extra string layer is removed (so `"1"` gives `1` and `"\"{\\\"a\\\":1}\""` gives `{"a":1}`).
pub fn binding_json(value: &Value) -> Result<Value, EnvelopeError> {
    match value {
        Value::String(_) => {
            let text = binding_text(value)?;
            serde_json::from_str(&text).map_err(|source| {
                EnvelopeError::value(EnvelopeProblem::InvalidJson {
                    expected: "JSON text",
                    source,
                })
            })
        }
        other => Ok(other.clone()),
    }
}

/// The bytes of a binding value: the UTF-8 of its text for [`BindingEncoding::Text`], the decoded base64
/// for [`BindingEncoding::Binary`].
pub fn binding_bytes(value: &Value, encoding: BindingEncoding) -> Result<Vec<u8>, EnvelopeError> {
    match encoding {
        BindingEncoding::Text => binding_text(value).map(String::into_bytes),
        BindingEncoding::Binary => match value {
            Value::String(text) => decode_base64(&peeled(text)),
            other => Err(EnvelopeError::shape("a base64 string", other)),
        },
    }
}

/// A string metadata entry (`"\"m-123\""` or `"m-123"`); numbers and booleans give their JSON text.
pub fn metadata_string(value: &Value) -> Result<String, EnvelopeError> {
    match value {
        Value::String(text) => Ok(peel_host_string(text)),
        Value::Number(_) | Value::Bool(_) => Ok(value.to_string()),
        other => Err(EnvelopeError::shape("a string", other)),
    }
}

/// An integer metadata entry: a JSON number, or text such as `"1"` or `"\"2\""`.
pub fn metadata_int(value: &Value) -> Result<i64, EnvelopeError> {
    match value {
        Value::Number(number) => number.as_i64().ok_or_else(|| not_an_integer(&number.to_string())),
        Value::String(text) => {
            let text = peel_host_string(text);
            text.trim().parse().map_err(|_| not_an_integer(&text))
        }
        other => Err(EnvelopeError::shape("an integer", other)),
    }
}

/// A date metadata entry, in UTC: `2024-05-01T12:34:56` (no offset: UTC), `2024-05-01T12:34:56+00:00`,
/// or `2024-05-01T12:34:57.1234567Z`.
///
/// ```
/// use durabletask_sdk::functions::metadata_datetime;
/// use serde_json::json;
///
/// let a = metadata_datetime(&json!("2024-05-01T12:34:56")).unwrap();
/// let b = metadata_datetime(&json!("2024-05-01T12:34:56+00:00")).unwrap();
/// assert_eq!(a, b);
/// ```
pub fn metadata_datetime(value: &Value) -> Result<DateTime<Utc>, EnvelopeError> {
    match value {
        Value::String(text) => {
            let text = peel_host_string(text);
            parse_host_datetime(&text).ok_or_else(|| {
                EnvelopeError::value(EnvelopeProblem::InvalidText(format!(
                    "'{text}' is not an ISO 8601 date-time"
                )))
            })
        }
        other => Err(EnvelopeError::shape("a date-time string", other)),
    }
}

/// An object metadata entry (for example `ApplicationProperties`): a JSON object, or JSON text of one.
pub fn metadata_object(value: &Value) -> Result<Map<String, Value>, EnvelopeError> {
    match binding_json(value)? {
        Value::Object(map) => Ok(map),
        other => Err(EnvelopeError::shape("an object", &other)),
    }
}

/// A string as the host writes it into an invocation: JSON-encoded once more, so `hello` becomes the
/// JSON string `"\"hello\""`. For tests and local hosts that play the host's part.
///
/// ```
/// use durabletask_sdk::functions::{binding_text, host_string};
///
/// assert_eq!(host_string("hello"), serde_json::json!("\"hello\""));
/// assert_eq!(binding_text(&host_string("hello")).unwrap(), "hello");
/// ```
pub fn host_string(text: &str) -> Value {
    Value::String(Value::String(text.to_string()).to_string())
}

/// The text of a string value with the JSON string layer the host adds to .NET strings removed, when it is there
/// (the inverse of [`host_string`]): `"hello"` (with the quotes) gives `hello`; text without the layer is returned
/// as is.
///
/// ```
/// use durabletask_sdk::functions::peel_host_string;
///
/// assert_eq!(peel_host_string("\"m-1\""), "m-1");
/// assert_eq!(peel_host_string("m-1"), "m-1");
/// ```
pub fn peel_host_string(text: &str) -> String {
    strip_json_string_layer(text).unwrap_or_else(|| text.to_string())
}

/// [`peel_host_string`] without copying text that has no extra layer (base64 payloads of up to 133 MB).
pub(crate) fn peeled(text: &str) -> std::borrow::Cow<'_, str> {
    strip_json_string_layer(text).map_or(std::borrow::Cow::Borrowed(text), std::borrow::Cow::Owned)
}

/// The content of `text` when it is one JSON string literal (the host's extra layer), `None` otherwise.
pub(crate) fn strip_json_string_layer(text: &str) -> Option<String> {
    if text.starts_with('"') {
        serde_json::from_str::<String>(text).ok()
    } else {
        None
    }
}

/// Decodes standard (padded) base64, as .NET's `Convert.ToBase64String` writes it.
pub(crate) fn decode_base64(text: &str) -> Result<Vec<u8>, EnvelopeError> {
    let text = text.trim();
    base64_simd::STANDARD.decode_to_vec(text).or_else(|_| {
        // The SIMD decoder only says that the text is not base64; the scalar one says where and why.
        STANDARD
            .decode(text)
            .map_err(|error| EnvelopeError::value(EnvelopeProblem::InvalidBase64(error)))
    })
}

/// Parses the date-time formats the host writes; a date-time without an offset is taken as UTC.
pub(crate) fn parse_host_datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(datetime) = DateTime::parse_from_rfc3339(text) {
        return Some(datetime.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|naive| naive.and_utc())
}

fn not_an_integer(text: &str) -> EnvelopeError {
    EnvelopeError::value(EnvelopeProblem::InvalidText(format!("'{text}' is not an integer")))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Timelike};
    use serde_json::json;

    use super::*;

    #[test]
    fn text_peels_exactly_one_string_layer() {
        assert_eq!(binding_text(&json!("\"\\\"quoted\\\"\"")).unwrap(), "\"quoted\"");
        assert_eq!(binding_text(&json!("plain")).unwrap(), "plain");
        assert_eq!(binding_text(&json!("\"unterminated")).unwrap(), "\"unterminated");
        assert_eq!(binding_text(&json!(12)).unwrap(), "12");
        let error = binding_text(&Value::Null).unwrap_err();
        assert_eq!(error.to_string(), "binding value: expected a string, found null");
    }

    #[test]
    fn json_accepts_objects_double_encoded_text_and_stringified_primitives() {
        assert_eq!(binding_json(&json!({"a": 1})).unwrap(), json!({"a": 1}));
        assert_eq!(binding_json(&json!("\"{\\\"a\\\":1}\"")).unwrap(), json!({"a": 1}));
        assert_eq!(binding_json(&json!("1")).unwrap(), json!(1));
        assert_eq!(binding_json(&json!("\"\\\"s\\\"\"")).unwrap(), json!("s"));
        assert_eq!(binding_json(&Value::Null).unwrap(), Value::Null);
        let error = binding_json(&json!("\"not json\"")).unwrap_err();
        assert!(
            error.to_string().starts_with("binding value: expected JSON text: "),
            "{error}"
        );
    }

    #[test]
    fn bytes_come_from_base64_or_from_text() {
        assert_eq!(binding_bytes(&json!("aGk="), BindingEncoding::Binary).unwrap(), b"hi");
        assert_eq!(binding_bytes(&json!("\"hi\""), BindingEncoding::Text).unwrap(), b"hi");
        let error = binding_bytes(&json!("%%%"), BindingEncoding::Binary).unwrap_err();
        assert!(error.to_string().contains("base64"), "{error}");
        let error = binding_bytes(&json!({}), BindingEncoding::Binary).unwrap_err();
        assert_eq!(
            error.to_string(),
            "binding value: expected a base64 string, found an object"
        );
    }

    #[test]
    fn integers_in_every_shape() {
        assert_eq!(metadata_int(&json!("1")).unwrap(), 1);
        assert_eq!(metadata_int(&json!(42)).unwrap(), 42);
        assert_eq!(metadata_int(&json!("\"2\"")).unwrap(), 2);
        assert!(metadata_int(&json!("x"))
            .unwrap_err()
            .to_string()
            .contains("'x' is not an integer"));
        assert!(metadata_int(&json!(1.5)).is_err());
    }

    #[test]
    fn dates_in_every_host_format() {
        let whole = Utc.with_ymd_and_hms(2024, 5, 1, 12, 34, 56).unwrap();
        assert_eq!(metadata_datetime(&json!("2024-05-01T12:34:56")).unwrap(), whole);
        assert_eq!(metadata_datetime(&json!("2024-05-01T12:34:56+00:00")).unwrap(), whole);
        assert_eq!(metadata_datetime(&json!("2024-05-01T14:34:56+02:00")).unwrap(), whole);
        let precise = metadata_datetime(&json!("2024-05-01T12:34:57.1234567Z")).unwrap();
        assert_eq!(precise.nanosecond(), 123_456_700);
        assert_eq!(
            metadata_datetime(&json!("2024-05-01T12:34:56.789"))
                .unwrap()
                .nanosecond(),
            789_000_000
        );
        assert_eq!(metadata_datetime(&json!("\"2024-05-01T12:34:56Z\"")).unwrap(), whole);
        assert!(metadata_datetime(&json!("yesterday")).is_err());
        assert!(metadata_datetime(&json!(5)).is_err());
    }

    #[test]
    fn strings_and_objects() {
        assert_eq!(metadata_string(&json!("\"m-123\"")).unwrap(), "m-123");
        assert_eq!(metadata_string(&json!(5)).unwrap(), "5");
        assert!(metadata_string(&json!({})).is_err());
        let properties = metadata_object(&json!({"tenant": "t1", "priority": 5})).unwrap();
        assert_eq!(properties["priority"], json!(5));
        assert_eq!(metadata_object(&json!("{\"a\":1}")).unwrap()["a"], json!(1));
        assert!(metadata_object(&json!("[1]")).is_err());
    }
}
