//! The HTTP trigger's request (`Data.<req>`) and the HTTP output binding's response (`Outputs.<res>`).

use std::collections::BTreeMap;

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{EnvelopeError, EnvelopeProblem};

/// The request of an `httpTrigger`, as the host puts it into `Data`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HttpRequestData {
    /// The full request URL.
    #[serde(default, deserialize_with = "text_or_default")]
    pub url: String,
    /// The HTTP method, e.g. `POST`.
    #[serde(default, deserialize_with = "text_or_default")]
    pub method: String,
    /// Query parameters.
    #[serde(default, deserialize_with = "text_map")]
    pub query: BTreeMap<String, String>,
    /// Headers; each name maps to its values.
    #[serde(default, deserialize_with = "header_map")]
    pub headers: BTreeMap<String, Vec<String>>,
    /// Route parameters.
    #[serde(default, deserialize_with = "text_map")]
    pub params: BTreeMap<String, String>,
    /// The body: text for text and JSON content, base64 for binary content; absent when the request had
    /// no `Content-Length`.
    #[serde(default, deserialize_with = "optional_body")]
    pub body: Option<String>,
}

impl HttpRequestData {
    /// Decodes the trigger value (a JSON object, or JSON text of one).
    pub fn from_value(value: &Value) -> Result<Self, EnvelopeError> {
        let invalid = |source| {
            EnvelopeError::value(EnvelopeProblem::InvalidJson {
                expected: "an HTTP request object",
                source,
            })
        };
        match value {
            Value::Object(_) => serde_json::from_value(value.clone()).map_err(invalid),
            Value::String(_) => serde_json::from_str(&super::binding_text(value)?).map_err(invalid),
            other => Err(EnvelopeError::shape("an HTTP request object", other)),
        }
    }

    /// The first value of a header, matched without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, values)| values.first())
            .map(String::as_str)
    }

    /// A query parameter, matched exactly.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// Decodes the body as JSON (`null` when there is no body).
    pub fn body_json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.body.as_deref().unwrap_or("null"))
    }
}

/// The response of an `http` output binding, for `Outputs.<name>`.
///
/// ```
/// use durabletask_sdk::functions::HttpResponseData;
///
/// let response = HttpResponseData::json(202, &serde_json::json!({"id": "abc"})).unwrap();
/// assert_eq!(response.headers["Content-Type"], "application/json");
/// assert_eq!(response.body.as_deref(), Some("{\"id\":\"abc\"}"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpResponseData {
    /// The HTTP status code.
    pub status_code: u16,
    /// Response headers (set `Content-Type` explicitly).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl HttpResponseData {
    /// A response with a status and no body.
    pub fn new(status_code: u16) -> Self {
        Self {
            status_code,
            ..Self::default()
        }
    }

    /// A `text/plain` response.
    pub fn text(status_code: u16, body: impl Into<String>) -> Self {
        Self::new(status_code)
            .with_header("Content-Type", "text/plain; charset=utf-8")
            .with_body(body)
    }

    /// An `application/json` response with `body` serialized.
    pub fn json<T: Serialize + ?Sized>(status_code: u16, body: &T) -> Result<Self, serde_json::Error> {
        Ok(Self::new(status_code)
            .with_header("Content-Type", "application/json")
            .with_body(serde_json::to_string(body)?))
    }

    /// Adds (or replaces) a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Sets the body text.
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// The value to put into `Outputs`.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A scalar as text: strings as they are, numbers and booleans as their JSON text.
fn scalar_text(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn text_or_default<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<Value>::deserialize(deserializer)?
        .and_then(scalar_text)
        .unwrap_or_default())
}

fn optional_body<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Value>::deserialize(deserializer)?.and_then(scalar_text))
}

/// A map of scalars (or JSON text of one, the pre-2020 host form), as text.
fn text_map<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(object_entries(Option::<Value>::deserialize(deserializer)?)
        .into_iter()
        .filter_map(|(key, value)| scalar_text(value).map(|text| (key, text)))
        .collect())
}

/// Header values arrive as arrays; a single string is accepted too.
fn header_map<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    Ok(object_entries(Option::<Value>::deserialize(deserializer)?)
        .into_iter()
        .map(|(key, value)| {
            let values = match value {
                Value::Array(items) => items.into_iter().filter_map(scalar_text).collect(),
                other => scalar_text(other).into_iter().collect(),
            };
            (key, values)
        })
        .collect())
}

fn object_entries(value: Option<Value>) -> serde_json::Map<String, Value> {
    match value {
        Some(Value::Object(map)) => map,
        Some(Value::String(text)) => match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        },
        _ => serde_json::Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_host_request_shape_decodes() {
        let request = HttpRequestData::from_value(&json!({
            "Url": "http://localhost:7071/api/order?x=1",
            "Method": "POST",
            "Query": {"x": "1"},
            "Headers": {"Content-Type": ["application/json"], "Host": ["localhost:7071"]},
            "Params": {},
            "Identities": [],
            "Body": "{\"id\":1005}"
        }))
        .unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.query_param("x"), Some("1"));
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.body_json::<Value>().unwrap(), json!({"id": 1005}));
    }

    #[test]
    fn legacy_and_missing_fields_are_tolerated() {
        let request =
            HttpRequestData::from_value(&json!({"Method": "GET", "Query": "{}", "Headers": {"A": "b"}})).unwrap();
        assert!(request.query.is_empty());
        assert_eq!(request.header("a"), Some("b"));
        assert_eq!(request.body, None);
        assert_eq!(request.body_json::<Option<u8>>().unwrap(), None);
        let error = HttpRequestData::from_value(&json!(3)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "binding value: expected an HTTP request object, found a number"
        );
    }

    #[test]
    fn responses_serialize_in_the_output_binding_shape() {
        let response = HttpResponseData::text(201, "created").with_header("X-Id", "42");
        assert_eq!(
            response.to_value(),
            json!({
                "statusCode": 201,
                "headers": {"Content-Type": "text/plain; charset=utf-8", "X-Id": "42"},
                "body": "created"
            })
        );
    }
}
