//! The custom-handler invocation envelope as the Functions host writes and reads it.
//!
//! Request: `{"Data": {...}, "Metadata": {...}}` where every value went through the host's
//! `GetHttpScriptInvocationContextValue` conversion: object-shaped values stay JSON objects, every other
//! value (strings included) becomes its JSON text inside a JSON string, so a string arrives encoded twice.
//! Response: `{"Outputs": {...}, "Logs": [...], "ReturnValue": ...}`, property names matched
//! case-insensitively, only from a 2xx `application/json` (or `text/json`) reply.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Converts a binding value the way the host does before putting it into `Data` or `Metadata`.
///
/// `None` for JSON null (the host leaves null binding data out of `Metadata`).
pub fn host_value(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Object(_) => Some(value.clone()),
        other => Some(Value::String(other.to_string())),
    }
}

/// A .NET string binding value: its JSON text inside a JSON string (`hello` → `"\"hello\""` on the wire).
///
/// The SDK has the same helper (`functions::host_string`) for handlers; the emulator builds the host's payloads on
/// its own on purpose, so that the SDK's decoding is tested against an independent encoder.
pub fn host_string(text: &str) -> Value {
    Value::String(Value::String(text.to_owned()).to_string())
}

/// A .NET integer binding value: its decimal text as a JSON string (`1` → `"1"`).
pub fn host_integer(number: i64) -> Value {
    Value::String(number.to_string())
}

/// A .NET `DateTime` binding value: whole seconds and no zone, e.g. `"2024-05-01T12:34:56"`
/// (the host round-trips it through `DateTime.Parse(value.ToString())`).
pub fn host_datetime(instant: DateTime<Utc>) -> Value {
    Value::String(instant.format("%Y-%m-%dT%H:%M:%S").to_string())
}

/// A .NET `DateTimeOffset` binding value: whole seconds with the offset, e.g. `"2024-05-01T12:34:56+00:00"`.
pub fn host_datetime_offset(instant: DateTime<Utc>) -> Value {
    Value::String(instant.format("%Y-%m-%dT%H:%M:%S+00:00").to_string())
}

/// A date inside a JSON object, as Newtonsoft.Json writes a .NET `DateTime`: up to 7 fractional digits
/// with trailing zeros dropped, then `Z` (UTC kind) or `+00:00` (local kind on a UTC machine).
pub fn newtonsoft_datetime(instant: DateTime<Utc>, with_offset: bool) -> String {
    let mut text = instant.format("%Y-%m-%dT%H:%M:%S").to_string();
    let mut ticks = instant.timestamp_subsec_nanos() / 100;
    if ticks != 0 {
        let mut digits = 7;
        while ticks.is_multiple_of(10) {
            ticks /= 10;
            digits -= 1;
        }
        text.push_str(&format!(".{ticks:0digits$}"));
    }
    text.push_str(if with_offset { "+00:00" } else { "Z" });
    text
}

/// The `sys` metadata entry (`SystemBindingData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemBindingData {
    /// The function name.
    pub method_name: String,
    /// The invocation time.
    pub utc_now: DateTime<Utc>,
    /// A fresh GUID.
    pub rand_guid: Uuid,
}

impl SystemBindingData {
    /// `sys` for an invocation of `function_name` now.
    pub fn now(function_name: &str) -> Self {
        Self {
            method_name: function_name.to_owned(),
            utc_now: Utc::now(),
            rand_guid: Uuid::new_v4(),
        }
    }

    /// The JSON object the host sends.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("MethodName".into(), Value::String(self.method_name.clone()));
        object.insert("UtcNow".into(), Value::String(newtonsoft_datetime(self.utc_now, false)));
        object.insert(
            "RandGuid".into(),
            Value::String(self.rand_guid.hyphenated().to_string()),
        );
        Value::Object(object)
    }
}

/// One invocation request body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InvocationRequest {
    /// `Data`: the trigger value and the other input bindings, by binding name.
    pub data: Map<String, Value>,
    /// `Metadata`: the trigger's binding data and `sys`.
    pub metadata: Map<String, Value>,
    /// The W3C `traceparent` header of the call (the host's HttpClient sends its current activity's), if any.
    pub traceparent: Option<String>,
}

impl InvocationRequest {
    /// An empty request whose metadata holds `sys`.
    pub fn new(sys: &SystemBindingData) -> Self {
        let mut request = Self::default();
        request.metadata.insert("sys".into(), sys.to_json());
        request
    }

    /// Adds binding data to `Metadata` as the host does: converted with [`host_value`], null values and
    /// keys ending in `trigger` (any case) left out, and a key that already exists under another case
    /// overwritten in place (binding data is a case-insensitive dictionary).
    pub fn insert_metadata(&mut self, key: &str, converted: Option<Value>) {
        let Some(value) = converted else { return };
        if key.to_ascii_lowercase().ends_with("trigger") {
            return;
        }
        let existing = self
            .metadata
            .keys()
            .find(|name| name.eq_ignore_ascii_case(key))
            .cloned();
        self.metadata.insert(existing.unwrap_or_else(|| key.to_owned()), value);
    }

    /// `Utility.ApplyBindingData`: when the trigger value is a string holding a JSON object, its
    /// top-level non-array properties are copied into the binding data (objects as objects, scalars as
    /// .NET strings), overwriting same-named keys.
    pub fn apply_trigger_properties(&mut self, trigger_text: &str) {
        let trimmed = trigger_text.trim();
        if !(trimmed.starts_with('{') && trimmed.ends_with('}')) {
            return;
        }
        let Ok(Value::Object(properties)) = serde_json::from_str::<Value>(trimmed) else {
            return;
        };
        for (key, value) in &properties {
            let converted = match value {
                Value::Array(_) | Value::Null => None,
                Value::Object(_) => Some(value.clone()),
                Value::String(text) => Some(host_string(text)),
                Value::Bool(flag) => Some(host_string(if *flag { "True" } else { "False" })),
                Value::Number(number) => Some(host_string(&number.to_string())),
            };
            self.insert_metadata(key, converted);
        }
    }

    /// The request body.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("Data".into(), Value::Object(self.data.clone()));
        body.insert("Metadata".into(), Value::Object(self.metadata.clone()));
        Value::Object(body)
    }
}

/// A parsed 2xx response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InvocationResult {
    /// `Outputs`, by output binding name (null values dropped, as the host skips them).
    pub outputs: Map<String, Value>,
    /// `Logs`.
    pub logs: Vec<String>,
    /// `ReturnValue` (JSON null when absent).
    pub return_value: Value,
}

/// Why the host would fail an invocation from the handler's HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// A non-2xx status (`EnsureSuccessStatusCode`).
    #[error("the handler answered HTTP {status}: {body_excerpt}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of the body, for the log.
        body_excerpt: String,
    },
    /// A 2xx whose content type is not JSON (`UnsupportedMediaTypeException`).
    #[error("the handler answered with Content-Type {content_type:?}; the host only reads application/json")]
    MediaType {
        /// The content type received.
        content_type: String,
    },
    /// A 2xx with an empty body: the real host never completes such an invocation and restarts the
    /// handler when `functionTimeout` elapses; the local host fails it at once instead.
    #[error("the handler answered 2xx with an empty body (the Functions host would hang until functionTimeout)")]
    EmptyBody,
    /// The body is not the expected JSON.
    #[error("invalid response body: {0}")]
    InvalidBody(String),
}

/// Reads a handler response as the host does.
pub fn parse_response(status: u16, content_type: Option<&str>, body: &[u8]) -> Result<InvocationResult, ResponseError> {
    if !(200..300).contains(&status) {
        return Err(ResponseError::Status {
            status,
            body_excerpt: excerpt(body),
        });
    }
    let media_type = content_type
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media_type != "application/json" && media_type != "text/json" {
        return Err(ResponseError::MediaType {
            content_type: content_type.unwrap_or_default().to_owned(),
        });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ResponseError::EmptyBody);
    }
    let parsed: Value = serde_json::from_slice(body).map_err(|error| ResponseError::InvalidBody(error.to_string()))?;
    let object = match parsed {
        Value::Object(object) => object,
        Value::Null => return Err(ResponseError::EmptyBody),
        other => {
            return Err(ResponseError::InvalidBody(format!(
                "expected a JSON object, found {other}"
            )))
        }
    };
    let member = |name: &str| {
        object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    };
    let outputs = match member("Outputs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(outputs)) => outputs
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some(other) => {
            return Err(ResponseError::InvalidBody(format!(
                "\"Outputs\" must be an object, found {other}"
            )))
        }
    };
    let logs = match member("Logs") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(lines)) => lines
            .iter()
            .map(|line| match line {
                Value::String(text) => Ok(text.clone()),
                Value::Null => Ok(String::new()),
                other => Err(ResponseError::InvalidBody(format!(
                    "\"Logs\" must hold strings, found {other}"
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(ResponseError::InvalidBody(format!(
                "\"Logs\" must be an array, found {other}"
            )))
        }
    };
    let return_value = member("ReturnValue").cloned().unwrap_or(Value::Null);
    Ok(InvocationResult {
        outputs,
        logs,
        return_value,
    })
}

fn excerpt(body: &[u8]) -> String {
    const LIMIT: usize = 300;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(LIMIT).collect::<String>())
    }
}

/// An instant formatted as RFC 3339 with a `Z`, for the local host's own records.
pub fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn value_conversions_match_the_host_unit_tests() {
        // GetHttpScriptInvocationContextValueTest_String: "stringTest" -> "\"stringTest\"".
        assert_eq!(host_string("stringTest").to_string(), r#""\"stringTest\"""#);
        assert_eq!(host_value(&json!("stringTest")), Some(json!("\"stringTest\"")));
        assert_eq!(host_value(&json!(1)), Some(json!("1")));
        assert_eq!(host_value(&json!(["a", "b"])), Some(json!("[\"a\",\"b\"]")));
        assert_eq!(host_value(&json!({"a": 1})), Some(json!({"a": 1})));
        assert_eq!(host_value(&Value::Null), None);
        assert_eq!(host_integer(42), json!("42"));
    }

    #[test]
    fn dates_are_formatted_like_dotnet() {
        let instant =
            Utc.with_ymd_and_hms(2024, 5, 1, 12, 34, 56).unwrap() + chrono::Duration::nanoseconds(789_000_000);
        assert_eq!(host_datetime(instant), json!("2024-05-01T12:34:56"));
        assert_eq!(host_datetime_offset(instant), json!("2024-05-01T12:34:56+00:00"));
        assert_eq!(newtonsoft_datetime(instant, false), "2024-05-01T12:34:56.789Z");
        let ticks = Utc.with_ymd_and_hms(2024, 5, 1, 12, 34, 57).unwrap() + chrono::Duration::nanoseconds(123_456_700);
        assert_eq!(newtonsoft_datetime(ticks, false), "2024-05-01T12:34:57.1234567Z");
        let whole = Utc.with_ymd_and_hms(2024, 5, 2, 0, 0, 0).unwrap();
        assert_eq!(newtonsoft_datetime(whole, true), "2024-05-02T00:00:00+00:00");
    }

    #[test]
    fn metadata_skips_trigger_keys_and_nulls_and_overwrites_case_insensitively() {
        let sys = SystemBindingData {
            method_name: "F".into(),
            utc_now: Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap(),
            rand_guid: Uuid::nil(),
        };
        let mut request = InvocationRequest::new(&sys);
        request.insert_metadata("TimerTrigger", Some(json!("x")));
        request.insert_metadata("Gone", None);
        request.insert_metadata("MessageId", host_value(&json!("m-1")));
        request.apply_trigger_properties(
            r#"{"messageId":"body-id","qty":2,"ok":true,"items":[1],"nested":{"a":1},"none":null}"#,
        );
        assert_eq!(
            request.to_json(),
            json!({"Data": {}, "Metadata": {
                "sys": {"MethodName": "F", "UtcNow": "2024-05-01T00:00:00Z", "RandGuid": "00000000-0000-0000-0000-000000000000"},
                "MessageId": "\"body-id\"", "qty": "\"2\"", "ok": "\"True\"", "nested": {"a": 1}
            }})
        );
    }

    #[test]
    fn trigger_properties_only_from_json_objects() {
        let sys = SystemBindingData::now("F");
        let mut request = InvocationRequest::new(&sys);
        request.apply_trigger_properties("[1,2]");
        request.apply_trigger_properties("not json {");
        request.apply_trigger_properties("{broken");
        assert_eq!(request.metadata.len(), 1);
    }

    #[test]
    fn responses_are_read_like_the_host() {
        let ok = parse_response(
            200,
            Some("application/json; charset=utf-8"),
            br#"{"outputs": {"out": {"a": 1}, "none": null}, "LOGS": ["one"], "ReturnValue": "CgZh"}"#,
        )
        .unwrap();
        assert_eq!(ok.outputs, json!({"out": {"a": 1}}).as_object().unwrap().clone());
        assert_eq!(ok.logs, vec!["one".to_owned()]);
        assert_eq!(ok.return_value, json!("CgZh"));
        assert_eq!(
            parse_response(204, Some("text/json"), b"{}").unwrap(),
            InvocationResult::default()
        );

        assert!(matches!(
            parse_response(500, Some("application/json"), b"{}"),
            Err(ResponseError::Status { status: 500, .. })
        ));
        assert!(matches!(
            parse_response(200, Some("text/plain"), b"{}"),
            Err(ResponseError::MediaType { .. })
        ));
        assert!(matches!(
            parse_response(200, None, b"{}"),
            Err(ResponseError::MediaType { .. })
        ));
        assert_eq!(
            parse_response(200, Some("application/json"), b""),
            Err(ResponseError::EmptyBody)
        );
        assert!(matches!(
            parse_response(200, Some("application/json"), b"{"),
            Err(ResponseError::InvalidBody(_))
        ));
        assert!(matches!(
            parse_response(200, Some("application/json"), br#"{"Logs": "one"}"#),
            Err(ResponseError::InvalidBody(_))
        ));
    }
}
