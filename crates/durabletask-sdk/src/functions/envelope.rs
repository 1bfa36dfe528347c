//! The invocation the Functions host POSTs to a custom handler, and the answer it expects back.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap as _, SerializeStruct as _, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::error::{EnvelopeError, EnvelopeProblem, ValueLocation};
use super::{durable, value, BindingEncoding, DurableClientBinding, HttpRequestData, HttpResponseData, TimerInfo};
use crate::activity::SerializedOutputs;
use crate::proto;

/// The body of `POST /{FunctionName}`: `{"Data": {...}, "Metadata": {...}}`.
///
/// `Data` holds one entry per input binding (the trigger included), keyed by the binding name in
/// function.json; `Metadata` holds the trigger's metadata. Missing or `null` sections read as empty, but the
/// body itself must be a JSON object: an array such as `[]` is refused rather than read as an empty envelope.
/// The accessor methods find a value and decode it, naming the binding or key in their errors.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InvokeRequest {
    /// Input binding values by binding name.
    #[serde(rename = "Data")]
    pub data: Map<String, Value>,
    /// Trigger metadata by key (always including `sys`).
    #[serde(rename = "Metadata")]
    pub metadata: Map<String, Value>,
}

impl InvokeRequest {
    /// Parses an invocation body.
    pub fn from_slice(body: &[u8]) -> Result<Self, EnvelopeError> {
        serde_json::from_slice(body).map_err(|source| {
            EnvelopeError::new(
                ValueLocation::Body,
                EnvelopeProblem::InvalidJson {
                    expected: "a {\"Data\":…,\"Metadata\":…} object",
                    source,
                },
            )
        })
    }

    /// The raw value of the input binding `name`.
    pub fn binding(&self, name: &str) -> Result<&Value, EnvelopeError> {
        self.data
            .get(name)
            .ok_or_else(|| EnvelopeError::new(ValueLocation::Binding(name.to_string()), EnvelopeProblem::Missing))
    }

    /// The text of the input binding `name` (see [`binding_text`](super::binding_text)).
    pub fn binding_text(&self, name: &str) -> Result<String, EnvelopeError> {
        self.decode_binding(name, value::binding_text)
    }

    /// The JSON value of the input binding `name` (see [`binding_json`](super::binding_json)).
    pub fn binding_json(&self, name: &str) -> Result<Value, EnvelopeError> {
        self.decode_binding(name, value::binding_json)
    }

    /// The bytes of the input binding `name` (see [`binding_bytes`](super::binding_bytes)).
    pub fn binding_bytes(&self, name: &str, encoding: BindingEncoding) -> Result<Vec<u8>, EnvelopeError> {
        self.decode_binding(name, |value| value::binding_bytes(value, encoding))
    }

    /// The message body of the `serviceBusTrigger` binding `name`, in any shape the host sends it (see
    /// [`service_bus_body`](super::service_bus_body)).
    pub fn service_bus_body(&self, name: &str) -> Result<Vec<u8>, EnvelopeError> {
        self.decode_binding(name, super::service_bus_body)
    }

    /// The `OrchestratorRequest` of the `orchestrationTrigger` binding `name`.
    pub fn orchestrator_request(&self, name: &str) -> Result<proto::OrchestratorRequest, EnvelopeError> {
        self.decode_binding(name, durable::decode_orchestrator_request)
    }

    /// The `EntityBatchRequest` of the `entityTrigger` binding `name`.
    pub fn entity_batch_request(&self, name: &str) -> Result<proto::EntityBatchRequest, EnvelopeError> {
        self.decode_binding(name, durable::decode_entity_batch_request)
    }

    /// The input JSON text of the `activityTrigger` binding `name`; `None` when the activity got no input
    /// (the text `null`, or JSON `null`). The host always sends the trigger binding, so its absence is an
    /// error.
    pub fn activity_input(&self, name: &str) -> Result<Option<String>, EnvelopeError> {
        self.decode_binding(name, durable::activity_input)
    }

    /// The `durableClient` input binding `name`.
    pub fn durable_client(&self, name: &str) -> Result<DurableClientBinding, EnvelopeError> {
        self.decode_binding(name, DurableClientBinding::from_value)
    }

    /// The `httpTrigger` binding `name`.
    pub fn http_request(&self, name: &str) -> Result<HttpRequestData, EnvelopeError> {
        self.decode_binding(name, HttpRequestData::from_value)
    }

    /// The `timerTrigger` binding `name`.
    pub fn timer(&self, name: &str) -> Result<TimerInfo, EnvelopeError> {
        self.decode_binding(name, TimerInfo::from_value)
    }

    /// The raw metadata entry `key`; `None` when absent or `null`.
    pub fn metadata_value(&self, key: &str) -> Option<&Value> {
        self.metadata.get(key).filter(|value| !value.is_null())
    }

    /// The string metadata entry `key` (see [`metadata_string`](super::metadata_string)); `None` when absent.
    pub fn metadata_string(&self, key: &str) -> Result<Option<String>, EnvelopeError> {
        self.decode_metadata(key, value::metadata_string)
    }

    /// The integer metadata entry `key` (see [`metadata_int`](super::metadata_int)); `None` when absent.
    pub fn metadata_int(&self, key: &str) -> Result<Option<i64>, EnvelopeError> {
        self.decode_metadata(key, value::metadata_int)
    }

    /// The date metadata entry `key` (see [`metadata_datetime`](super::metadata_datetime)); `None` when absent.
    pub fn metadata_datetime(&self, key: &str) -> Result<Option<DateTime<Utc>>, EnvelopeError> {
        self.decode_metadata(key, value::metadata_datetime)
    }

    /// The object metadata entry `key` (see [`metadata_object`](super::metadata_object)); `None` when absent.
    pub fn metadata_object(&self, key: &str) -> Result<Option<Map<String, Value>>, EnvelopeError> {
        self.decode_metadata(key, value::metadata_object)
    }

    /// The function name the host reports in `Metadata.sys.MethodName`.
    pub fn method_name(&self) -> Option<&str> {
        self.metadata.get("sys")?.get("MethodName")?.as_str()
    }

    fn decode_binding<T>(
        &self,
        name: &str,
        decode: impl FnOnce(&Value) -> Result<T, EnvelopeError>,
    ) -> Result<T, EnvelopeError> {
        decode(self.binding(name)?).map_err(|error| error.in_binding(name))
    }

    fn decode_metadata<T>(
        &self,
        key: &str,
        decode: impl FnOnce(&Value) -> Result<T, EnvelopeError>,
    ) -> Result<Option<T>, EnvelopeError> {
        self.metadata_value(key)
            .map(|value| decode(value).map_err(|error| error.in_metadata(key)))
            .transpose()
    }
}

/// The answer to an invocation: `{"Outputs": {...}, "Logs": [...], "ReturnValue": ...}`.
///
/// All three fields are always serialized (`Outputs` as `{}` when empty), so the host never gets an empty
/// body, which it would wait on until the function times out.
///
/// ```
/// use durabletask_sdk::functions::InvokeResponse;
///
/// let response = InvokeResponse::new().with_output("outEvents", serde_json::json!([{"id": 1}])).with_log("sent 1");
/// assert_eq!(
///     serde_json::to_string(&response).unwrap(),
///     r#"{"Outputs":{"outEvents":[{"id":1}]},"Logs":["sent 1"],"ReturnValue":null}"#
/// );
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InvokeResponse {
    /// Output binding values by binding name (see also [`with_serialized_output`](Self::with_serialized_output)).
    #[serde(rename = "Outputs", default, deserialize_with = "map_or_empty")]
    pub outputs: Map<String, Value>,
    /// Output binding values already serialized, sent after [`outputs`](Self::outputs).
    #[serde(skip)]
    serialized_outputs: SerializedOutputs,
    /// Lines the host writes to the function's log at Information level.
    #[serde(rename = "Logs", default, deserialize_with = "vec_or_empty")]
    pub logs: Vec<String>,
    /// The function's return value (for durable triggers, the base64 response).
    #[serde(rename = "ReturnValue", default)]
    pub return_value: Value,
}

impl InvokeResponse {
    /// An empty answer: no outputs, no logs, a `null` return value.
    pub fn new() -> Self {
        Self::default()
    }

    /// The answer to a durable trigger: `message` as the base64 return value.
    pub fn durable(message: &impl prost::Message) -> Self {
        Self::new().with_return_value(durable::encode_return_value(message))
    }

    /// Sets the output binding `name`.
    pub fn with_output(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        let name = name.into();
        self.serialized_outputs.retain(|(kept, _)| *kept != name);
        self.outputs.insert(name, value.into());
        self
    }

    /// Sets the output binding `name` to JSON text serialized already (what an activity's
    /// [`set_output`](crate::ActivityContext::set_output) keeps): it is written into the answer as it is, without
    /// a [`Value`] tree built, serialized and dropped on the way.
    pub fn with_serialized_output(mut self, name: impl Into<String>, json: Box<RawValue>) -> Self {
        let name = name.into();
        self.outputs.remove(&name);
        match self.serialized_outputs.iter_mut().find(|(kept, _)| *kept == name) {
            Some((_, kept)) => *kept = json,
            None => self.serialized_outputs.push((name, json)),
        }
        self
    }

    /// The value of the output binding `name`, whichever way it was set.
    pub fn output(&self, name: &str) -> Option<Value> {
        self.outputs.get(name).cloned().or_else(|| {
            self.serialized_outputs
                .iter()
                .find(|(kept, _)| kept == name)
                .and_then(|(_, json)| serde_json::from_str(json.get()).ok())
        })
    }

    /// Sets the `http` output binding `name`.
    pub fn with_http_output(self, name: impl Into<String>, response: &HttpResponseData) -> Self {
        self.with_output(name, response.to_value())
    }

    /// Adds a log line.
    pub fn with_log(mut self, line: impl Into<String>) -> Self {
        self.logs.push(line.into());
        self
    }

    /// Sets the return value.
    pub fn with_return_value(mut self, value: impl Into<Value>) -> Self {
        self.return_value = value.into();
        self
    }

    /// The JSON body to send back (with `Content-Type: application/json`): the same text as serializing the
    /// answer, with a long return value that needs no escaping (a durable trigger's base64 answer, kilobytes long)
    /// copied in as it is rather than checked byte by byte on the way.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let raw_return_value = match &self.return_value {
            Value::String(text) if text.len() >= RAW_STRING_MIN_LEN && !needs_json_escaping(text) => Some(text),
            _ => None,
        };
        let Some(text) = raw_return_value else {
            // A map of JSON values, a list of strings and a JSON value always serialize.
            return serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec());
        };
        let mut json = Vec::with_capacity(text.len() + 128);
        json.extend_from_slice(b"{\"Outputs\":");
        let written = serde_json::to_writer(&mut json, &AllOutputs(self)).and_then(|()| {
            json.extend_from_slice(b",\"Logs\":");
            serde_json::to_writer(&mut json, &self.logs)
        });
        if written.is_err() {
            return b"{}".to_vec();
        }
        json.extend_from_slice(b",\"ReturnValue\":\"");
        json.extend_from_slice(text.as_bytes());
        json.extend_from_slice(b"\"}");
        json
    }
}

impl Serialize for InvokeResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut response = serializer.serialize_struct("InvokeResponse", 3)?;
        response.serialize_field("Outputs", &AllOutputs(self))?;
        response.serialize_field("Logs", &self.logs)?;
        response.serialize_field("ReturnValue", &self.return_value)?;
        response.end()
    }
}

/// Return values shorter than this are written the ordinary way: the check would save too little.
const RAW_STRING_MIN_LEN: usize = 256;

/// Whether a JSON string literal of `text` needs any escape (`"`, `\\` or a control character). A branch-free
/// pass over the bytes, which the compiler vectorises.
fn needs_json_escaping(text: &str) -> bool {
    text.bytes().fold(false, |found, byte| {
        found | (byte < 0x20) | (byte == b'"') | (byte == b'\\')
    })
}

/// The `Outputs` object: the [`Value`] outputs, then the serialized ones.
struct AllOutputs<'a>(&'a InvokeResponse);

impl Serialize for AllOutputs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let response = self.0;
        let mut outputs = serializer.serialize_map(Some(response.outputs.len() + response.serialized_outputs.len()))?;
        for (name, value) in &response.outputs {
            outputs.serialize_entry(name, value)?;
        }
        for (name, json) in &response.serialized_outputs {
            outputs.serialize_entry(name, json)?;
        }
        outputs.end()
    }
}

impl PartialEq for InvokeResponse {
    fn eq(&self, other: &Self) -> bool {
        let same_serialized =
            self.serialized_outputs.len() == other.serialized_outputs.len()
                && self.serialized_outputs.iter().zip(&other.serialized_outputs).all(
                    |((name, json), (other_name, other_json))| name == other_name && json.get() == other_json.get(),
                );
        self.outputs == other.outputs
            && same_serialized
            && self.logs == other.logs
            && self.return_value == other.return_value
    }
}

impl<'de> Deserialize<'de> for InvokeRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // By hand, because a derived struct also accepts a JSON array (`[]` would read as an empty envelope).
        deserializer.deserialize_map(InvokeRequestVisitor)
    }
}

struct InvokeRequestVisitor;

impl<'de> Visitor<'de> for InvokeRequestVisitor {
    type Value = InvokeRequest;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<InvokeRequest, A::Error> {
        let mut data: Option<Map<String, Value>> = None;
        let mut metadata: Option<Map<String, Value>> = None;
        while let Some(key) = map.next_key::<String>()? {
            let section = match key.as_str() {
                "Data" => &mut data,
                "Metadata" => &mut metadata,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if section.is_some() {
                return Err(A::Error::custom(format!("duplicate field `{key}`")));
            }
            *section = Some(map.next_value::<Option<Map<String, Value>>>()?.unwrap_or_default());
        }
        Ok(InvokeRequest {
            data: data.unwrap_or_default(),
            metadata: metadata.unwrap_or_default(),
        })
    }
}

fn map_or_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(deserializer)?.unwrap_or_default())
}

fn vec_or_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    proptest::proptest! {
        /// The return value is the same JSON text whichever way it is written: long strings with and without
        /// characters to escape, short ones, multi-byte characters.
        #[test]
        fn a_return_value_is_written_as_serde_json_writes_it(
            text in proptest::prop_oneof![
                proptest::string::string_regex("[A-Za-z0-9+/= é中]{0,600}").unwrap(),
                proptest::string::string_regex("[A-Za-z0-9+/=\"\\\\\\x00-\\x1f é中]{0,600}").unwrap(),
            ],
        ) {
            let answer = InvokeResponse::new().with_return_value(text.clone());
            let expected = format!(r#"{{"Outputs":{{}},"Logs":[],"ReturnValue":{}}}"#, serde_json::to_string(&text).unwrap());
            proptest::prop_assert_eq!(String::from_utf8(answer.to_json_bytes()).unwrap(), expected);
        }
    }

    #[test]
    fn a_durable_answer_in_base64_is_written_as_it_is() {
        let base64 = "QUJD".repeat(200);
        let answer = InvokeResponse::new().with_return_value(base64.clone());
        let expected = format!(r#"{{"Outputs":{{}},"Logs":[],"ReturnValue":"{base64}"}}"#);
        assert_eq!(String::from_utf8(answer.to_json_bytes()).unwrap(), expected);
        assert!(needs_json_escaping("a\"b") && needs_json_escaping("a\\b") && needs_json_escaping("\u{1f}"));
        assert!(!needs_json_escaping("é中+/= \u{7f}"));
    }

    #[test]
    fn missing_and_null_sections_read_as_empty() {
        let request = InvokeRequest::from_slice(br#"{"Data":null}"#).unwrap();
        assert!(request.data.is_empty() && request.metadata.is_empty());
        let error = request.binding("message").unwrap_err();
        assert_eq!(error.to_string(), "binding 'message': it is missing");
        let error = InvokeRequest::from_slice(b"[1]").unwrap_err();
        assert!(
            error.to_string().starts_with("invocation body: expected a {"),
            "{error}"
        );
        let request = InvokeRequest::from_slice(br#"{"Data":{"a":1},"Extra":[1],"Metadata":{"sys":{}}}"#).unwrap();
        assert_eq!(request.data["a"], json!(1));
        assert!(request.metadata.contains_key("sys"));
        assert!(InvokeRequest::from_slice(br#"{"Data":{},"Data":{}}"#).is_err());
    }

    #[test]
    fn only_an_object_is_an_envelope() {
        for body in [&b"[]"[..], b"[{}]", b"null", b"1", b"\"Data\"", b"true"] {
            let error = InvokeRequest::from_slice(body).unwrap_err();
            assert_eq!(error.location(), &ValueLocation::Body, "{error}");
            assert!(error.to_string().contains("expected a JSON object"), "{error}");
        }
        assert!(serde_json::from_value::<InvokeRequest>(json!([])).is_err());
        assert_eq!(InvokeRequest::from_slice(b"{}").unwrap(), InvokeRequest::default());
    }

    #[test]
    fn metadata_accessors_name_the_key() {
        let request: InvokeRequest = serde_json::from_value(json!({
            "Data": {},
            "Metadata": {"DeliveryCount": "x", "MessageId": "\"m-1\"", "Gone": null,
                         "sys": {"MethodName": "ServiceBusTrigger"}}
        }))
        .unwrap();
        assert_eq!(request.metadata_string("MessageId").unwrap().as_deref(), Some("m-1"));
        assert_eq!(request.metadata_string("Gone").unwrap(), None);
        assert_eq!(request.metadata_int("Missing").unwrap(), None);
        let error = request.metadata_int("DeliveryCount").unwrap_err();
        assert_eq!(error.to_string(), "metadata 'DeliveryCount': 'x' is not an integer");
        assert_eq!(request.method_name(), Some("ServiceBusTrigger"));
    }

    #[test]
    fn serialized_outputs_are_written_as_they_are_and_the_last_setting_of_a_binding_wins() {
        let raw = |text: &str| RawValue::from_string(text.to_owned()).unwrap();
        let response = InvokeResponse::new()
            .with_output("queue", json!(1))
            .with_serialized_output("topic", raw(r#"{"b": [1, 2]}"#))
            .with_serialized_output("queue", raw("2"))
            .with_output("topic", json!("replaced"))
            .with_serialized_output("blob", raw(r#""text""#));
        assert_eq!(
            String::from_utf8(response.to_json_bytes()).unwrap(),
            r#"{"Outputs":{"topic":"replaced","queue":2,"blob":"text"},"Logs":[],"ReturnValue":null}"#
        );
        assert_eq!(response.output("queue"), Some(json!(2)));
        assert_eq!(response.output("topic"), Some(json!("replaced")));
        assert_eq!(response.output("none"), None);
        assert_eq!(response.clone(), response);
        assert_ne!(response.clone().with_serialized_output("blob", raw("1")), response);
    }

    #[test]
    fn empty_responses_still_have_every_section() {
        assert_eq!(
            String::from_utf8(InvokeResponse::new().to_json_bytes()).unwrap(),
            r#"{"Outputs":{},"Logs":[],"ReturnValue":null}"#
        );
        let back: InvokeResponse = serde_json::from_str(r#"{"Outputs":null,"ReturnValue":"x"}"#).unwrap();
        assert_eq!(back.return_value, json!("x"));
    }
}
