//! The value of the `durableClient` input binding: where the engine's gRPC endpoint is and which task
//! hub to address.

use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{EnvelopeError, EnvelopeProblem};
use super::timespan::{format_timespan, parse_timespan};
use super::value::{binding_text, host_string, peel_host_string};

/// What the Durable extension passes to a function through a `durableClient` input binding.
///
/// Extension 2.13 sends `taskHubName`, `connectionName`, `rpcBaseUrl` and `requiredQueryStringParameters`
/// (plus always-null legacy URL fields); 3.x adds `httpBaseUrl`, `maxGrpcMessageSizeInBytes` and
/// `grpcHttpClientTimeout`. Unknown fields are ignored, nulls and empty strings read as absent.
///
/// ```
/// use durabletask_sdk::functions::DurableClientBinding;
/// use serde_json::json;
///
/// // On the wire: JSON text inside a JSON string.
/// let text = r#"{"taskHubName":"MyHub","connectionName":null,"rpcBaseUrl":"http://localhost:4001"}"#;
/// let value = json!(serde_json::to_string(text).unwrap());
/// let binding = DurableClientBinding::from_value(&value).unwrap();
/// assert_eq!(binding.rpc_base_url, "http://localhost:4001");
/// assert_eq!(binding.task_hub_name.as_deref(), Some("MyHub"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DurableClientBinding {
    /// The task hub (send as the `Durable-TaskHub` header).
    #[serde(default, deserialize_with = "optional_text", skip_serializing_if = "Option::is_none")]
    pub task_hub_name: Option<String>,
    /// The storage connection name (send as the `Durable-ConnectionName` header).
    #[serde(default, deserialize_with = "optional_text", skip_serializing_if = "Option::is_none")]
    pub connection_name: Option<String>,
    /// The gRPC endpoint of the engine, e.g. `http://127.0.0.1:4001`: always use it, the port is not fixed.
    pub rpc_base_url: String,
    /// The base URL of the HTTP management API (extension 3.x).
    #[serde(default, deserialize_with = "optional_text", skip_serializing_if = "Option::is_none")]
    pub http_base_url: Option<String>,
    /// The query string to append to HTTP management URLs, e.g. `code=…`.
    #[serde(default, deserialize_with = "optional_text", skip_serializing_if = "Option::is_none")]
    pub required_query_string_parameters: Option<String>,
    /// The largest gRPC message the client should accept, in bytes (extension 3.x).
    #[serde(default, deserialize_with = "optional_size", skip_serializing_if = "Option::is_none")]
    pub max_grpc_message_size_in_bytes: Option<usize>,
    /// The timeout of the client's calls (extension 3.x; a .NET TimeSpan such as `00:01:40`).
    #[serde(
        default,
        deserialize_with = "optional_timespan",
        serialize_with = "timespan_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub grpc_http_client_timeout: Option<Duration>,
}

impl DurableClientBinding {
    /// A binding naming only the engine endpoint.
    pub fn new(rpc_base_url: impl Into<String>) -> Self {
        Self {
            task_hub_name: None,
            connection_name: None,
            rpc_base_url: rpc_base_url.into(),
            http_base_url: None,
            required_query_string_parameters: None,
            max_grpc_message_size_in_bytes: None,
            grpc_http_client_timeout: None,
        }
    }

    /// Decodes the binding value: JSON text JSON-encoded once more by the host, or a JSON object.
    pub fn from_value(value: &Value) -> Result<Self, EnvelopeError> {
        let invalid = |source| {
            EnvelopeError::value(EnvelopeProblem::InvalidJson {
                expected: "a durableClient binding object",
                source,
            })
        };
        let binding: Self = match value {
            Value::Object(_) => serde_json::from_value(value.clone()).map_err(invalid)?,
            Value::String(_) => serde_json::from_str(&binding_text(value)?).map_err(invalid)?,
            other => {
                return Err(EnvelopeError::shape(
                    "a durableClient binding (JSON text or object)",
                    other,
                ))
            }
        };
        if binding.rpc_base_url.trim().is_empty() {
            return Err(EnvelopeError::value(EnvelopeProblem::InvalidText(
                "the durableClient binding has an empty rpcBaseUrl".into(),
            )));
        }
        Ok(binding)
    }

    /// The binding value as the Functions host sends it (JSON text inside a JSON string), for tests and
    /// local hosts.
    pub fn to_value(&self) -> Value {
        let text = serde_json::to_string(self).expect("a durableClient binding always serializes");
        host_string(&text)
    }
}

fn optional_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    Ok(text.filter(|text| !text.is_empty()))
}

fn optional_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<usize>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => match number.as_u64() {
            Some(0) => Ok(None),
            Some(size) => Ok(Some(usize::try_from(size).unwrap_or(usize::MAX))),
            None => Err(de::Error::custom(format!(
                "maxGrpcMessageSizeInBytes {number} is not a size"
            ))),
        },
        Some(Value::String(text)) => text
            .trim()
            .parse::<usize>()
            .map(|size| Some(size).filter(|size| *size > 0))
            .map_err(|_| de::Error::custom(format!("maxGrpcMessageSizeInBytes '{text}' is not a size"))),
        Some(other) => Err(de::Error::custom(format!(
            "maxGrpcMessageSizeInBytes {other} is not a size"
        ))),
    }
}

fn optional_timespan<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_f64()
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("grpcHttpClientTimeout {number} is not a duration"))),
        Some(Value::String(text)) => parse_timespan(&peel_host_string(&text))
            .map(Some)
            .map_err(|error| de::Error::custom(format!("grpcHttpClientTimeout: {error}"))),
        Some(other) => Err(de::Error::custom(format!(
            "grpcHttpClientTimeout {other} is not a duration"
        ))),
    }
}

fn timespan_text<S: Serializer>(duration: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serializer.serialize_str(&format_timespan(*duration)),
        None => serializer.serialize_none(),
    }
}
