//! The invocation payloads the Functions host and the Durable extension send, one builder per trigger
//! (research: custom-handler-protocol.md §1–§3, durable-functions-v2-protocol.md §3–§6). Pure: the
//! caller supplies the clock (`sys`) and the delivery attributes.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::app_model::{DataType, FunctionDefinition, InputKind};
use crate::invocation::envelope::{
    host_datetime, host_datetime_offset, host_integer, host_string, host_value, InvocationRequest, SystemBindingData,
};
use crate::triggers::messages::ServiceBusMessage;

/// Where the handler's durable client reaches the engine, for the `durableClient` binding value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurableClientSettings {
    /// The default task hub (host.json `extensions.durableTask.hubName`).
    pub hub_name: String,
    /// The gRPC endpoint of the engine, e.g. `http://127.0.0.1:4001`.
    pub rpc_base_url: String,
    /// The HTTP management API base, e.g. `http://localhost:7071/runtime/webhooks/durabletask`.
    pub http_base_url: String,
}

/// The `durableClient` binding value of the extension's gRPC mode (Azure/azure-functions-durable-extension,
/// `Bindings/BindingHelper.cs`, `DurableOrchestrationClientToString`, MiddlewarePassthrough branch: the
/// `OrchestrationClientInputData` fields serialized by Newtonsoft, nulls included; it has no
/// `grpcHttpClientTimeout`, which only some SDK parsers read).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DurableClientBinding<'a> {
    task_hub_name: &'a str,
    connection_name: Option<&'a str>,
    creation_urls: Option<()>,
    management_urls: Option<()>,
    base_url: Option<()>,
    required_query_string_parameters: &'a str,
    rpc_base_url: &'a str,
    http_base_url: &'a str,
    max_grpc_message_size_in_bytes: u64,
}

/// The `maxGrpcMessageSizeInBytes` default of the extension.
pub const MAX_GRPC_MESSAGE_SIZE: u64 = 4 * 1024 * 1024;

/// The `Data` value of a `durableClient` binding: the client JSON text, encoded again as a string.
pub fn durable_client_value(
    settings: &DurableClientSettings,
    task_hub: Option<&str>,
    connection_name: Option<&str>,
) -> Value {
    let binding = DurableClientBinding {
        task_hub_name: task_hub.unwrap_or(&settings.hub_name),
        connection_name,
        creation_urls: None,
        management_urls: None,
        base_url: None,
        required_query_string_parameters: "",
        rpc_base_url: &settings.rpc_base_url,
        http_base_url: &settings.http_base_url,
        max_grpc_message_size_in_bytes: MAX_GRPC_MESSAGE_SIZE,
    };
    let text = serde_json::to_string(&binding).unwrap_or_default();
    host_string(&text)
}

/// Adds every `durableClient` input binding of `function` to `Data`.
pub fn add_durable_clients(
    function: &FunctionDefinition,
    settings: &DurableClientSettings,
    request: &mut InvocationRequest,
) {
    for input in &function.inputs {
        if let InputKind::DurableClient {
            task_hub,
            connection_name,
        } = &input.kind
        {
            let value = durable_client_value(settings, task_hub.as_deref(), connection_name.as_deref());
            request.data.insert(input.name.clone(), value);
        }
    }
}

/// The broker-side attributes of one delivery of a Service Bus message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttributes {
    /// `MessageId`.
    pub message_id: String,
    /// `DeliveryCount` (1 on the first delivery).
    pub delivery_count: u32,
    /// `SequenceNumber`.
    pub sequence_number: i64,
    /// `EnqueuedTimeUtc`.
    pub enqueued_at: DateTime<Utc>,
    /// `LockToken` (fresh per delivery).
    pub lock_token: Uuid,
    /// The namespace shown in the `Client` metadata entry.
    pub namespace: String,
}

/// The Service Bus trigger request for one delivery (custom-handler-protocol.md §2.2–§2.3).
pub fn service_bus_request(
    function: &FunctionDefinition,
    message: &ServiceBusMessage,
    delivery: &DeliveryAttributes,
    sys: &SystemBindingData,
) -> InvocationRequest {
    let mut request = InvocationRequest::new(sys);
    let body = message.body_text();
    let binary = function.trigger.data_type == DataType::Binary;
    let trigger_value = if binary {
        Value::String(BASE64.encode(body.as_bytes()))
    } else {
        host_string(&body)
    };
    request
        .data
        .insert(function.trigger.binding_name.clone(), trigger_value);

    let never = Utc
        .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .single()
        .unwrap_or(delivery.enqueued_at);
    let string = |text: &Option<String>| text.as_deref().map(host_string);
    let properties = Value::Object(message.application_properties.clone());
    let client = json!({
        "FullyQualifiedNamespace": delivery.namespace,
        "IsClosed": false,
        "TransportType": 0,
        "Identifier": format!("{}-{}", delivery.namespace, delivery.lock_token.simple()),
    });
    let entries: [(&str, Option<Value>); 22] = [
        ("MessageReceiver", Some(json!({}))),
        ("MessageSession", Some(json!({}))),
        ("MessageActions", Some(json!({}))),
        ("SessionActions", Some(json!({}))),
        ("ReceiveActions", Some(json!({}))),
        ("Client", Some(client)),
        ("DeliveryCount", Some(host_integer(i64::from(delivery.delivery_count)))),
        (
            "LockToken",
            Some(host_string(&delivery.lock_token.hyphenated().to_string())),
        ),
        ("ExpiresAtUtc", Some(host_datetime(never))),
        ("ExpiresAt", Some(host_datetime_offset(never))),
        ("EnqueuedTimeUtc", Some(host_datetime(delivery.enqueued_at))),
        ("EnqueuedTime", Some(host_datetime_offset(delivery.enqueued_at))),
        ("MessageId", Some(host_string(&delivery.message_id))),
        ("ContentType", string(&message.content_type)),
        ("SequenceNumber", Some(host_integer(delivery.sequence_number))),
        ("Subject", string(&message.subject)),
        ("Label", string(&message.subject)),
        ("CorrelationId", string(&message.correlation_id)),
        ("ApplicationProperties", Some(properties.clone())),
        ("UserProperties", Some(properties)),
        ("SessionId", None),
        ("ReplyTo", None),
    ];
    for (key, value) in entries {
        request.insert_metadata(key, value);
    }
    if !binary {
        request.apply_trigger_properties(&body);
    }
    request
}

/// The timer trigger request: `Data.<binding>` = the `TimerInfo` object, `Metadata` = `sys` only.
pub fn timer_request(function: &FunctionDefinition, timer_info: Value, sys: &SystemBindingData) -> InvocationRequest {
    let mut request = InvocationRequest::new(sys);
    request.data.insert(function.trigger.binding_name.clone(), timer_info);
    request
}

/// The orchestration or entity trigger request: `Data.<binding>` = the base64 of the protobuf request,
/// as a string encoded twice; `Metadata` = `sys` only.
pub fn protobuf_trigger_request(
    function: &FunctionDefinition,
    request_bytes: &[u8],
    sys: &SystemBindingData,
) -> InvocationRequest {
    let mut request = InvocationRequest::new(sys);
    request.data.insert(
        function.trigger.binding_name.clone(),
        host_string(&BASE64.encode(request_bytes)),
    );
    request
}

/// An activity input that is not JSON text (the extension's `JToken.Load` rejects it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the activity input is not valid JSON: {0}")]
pub struct ActivityInputError(pub String);

/// The activity trigger request (durable-functions-v2-protocol.md §4.1): `Data.<binding>` = the compact
/// JSON text of the input encoded as a string (the string `"null"` when there is no input); `Metadata` =
/// `instanceId`, `<binding>`, `data` (the input as a JSON token), `sys`, and the top-level properties of an
/// object input.
pub fn activity_request(
    function: &FunctionDefinition,
    instance_id: &str,
    input: Option<&str>,
    sys: &SystemBindingData,
) -> Result<InvocationRequest, ActivityInputError> {
    let parsed = match input {
        None => None,
        Some(text) if text.trim().is_empty() => None,
        Some(text) => Some(serde_json::from_str::<Value>(text).map_err(|error| ActivityInputError(error.to_string()))?),
    };
    let mut request = InvocationRequest::new(sys);
    let binding = function.trigger.binding_name.clone();
    let input_text = parsed.as_ref().map(Value::to_string);
    let trigger_value = input_text.as_deref().map(host_string);
    // No input: the binding converts it to a null string, which the host's `GetHttpScriptInvocationContextValue`
    // (Azure/azure-functions-host, `ScriptInvocationContextExtensions.cs`) cannot make a `JObject` of and sends as
    // `JsonConvert.SerializeObject(null)`, the text `null`; the null binding-data entries are left out of
    // `Metadata`.
    request.data.insert(
        binding.clone(),
        trigger_value
            .clone()
            .unwrap_or_else(|| Value::String("null".to_owned())),
    );
    request.insert_metadata("instanceId", Some(host_string(instance_id)));
    request.insert_metadata(&binding, trigger_value);
    request.insert_metadata("data", parsed.as_ref().and_then(host_value));
    if let Some(text) = &input_text {
        request.apply_trigger_properties(text);
    }
    Ok(request)
}

/// The compact JSON text of an activity's `ReturnValue` for `ActivityResponse.result` (`None` for null).
pub fn activity_result(return_value: &Value) -> Option<String> {
    (!return_value.is_null()).then(|| return_value.to_string())
}

/// Copies the properties of an object `ReturnValue` into outputs of the same name (the host's
/// `HandleOutputDictionary` when a function has no `$return` binding).
pub fn merge_return_value_into_outputs(
    function: &FunctionDefinition,
    return_value: &Value,
    outputs: &mut Map<String, Value>,
) {
    if let Value::Object(properties) = return_value {
        for (name, value) in properties {
            if !value.is_null() && function.output(name).is_some() {
                outputs.insert(name.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_model::parse_function_json;
    use std::path::Path;

    fn function(json: Value) -> FunctionDefinition {
        parse_function_json("ProcessOrder", Path::new("ProcessOrder/function.json"), &json).unwrap()
    }

    fn sys(name: &str) -> SystemBindingData {
        SystemBindingData {
            method_name: name.into(),
            utc_now: DateTime::parse_from_rfc3339("2024-05-01T12:34:57.1234567Z")
                .unwrap()
                .with_timezone(&Utc),
            rand_guid: Uuid::parse_str("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap(),
        }
    }

    fn sys_json(name: &str) -> Value {
        json!({"MethodName": name, "UtcNow": "2024-05-01T12:34:57.1234567Z", "RandGuid": "0f8fad5b-d9cb-469f-a165-70867728950e"})
    }

    fn delivery() -> DeliveryAttributes {
        DeliveryAttributes {
            message_id: "m-123".into(),
            delivery_count: 1,
            sequence_number: 42,
            enqueued_at: DateTime::parse_from_rfc3339("2024-05-01T12:34:56.789Z")
                .unwrap()
                .with_timezone(&Utc),
            lock_token: Uuid::parse_str("8d4c1b1e-6f0e-4c33-9a55-1f1f6d2c7a10").unwrap(),
            namespace: "mybus.servicebus.windows.net".into(),
        }
    }

    /// The research example of custom-handler-protocol.md §2.3, with the body given as an object.
    #[test]
    fn service_bus_message_payload_matches_the_research_fixture() {
        let trigger = function(
            json!({"bindings": [{"name": "message", "type": "serviceBusTrigger", "direction": "in",
            "topicName": "orders", "subscriptionName": "processor", "connection": "ServiceBusConnection"}]}),
        );
        let message = ServiceBusMessage {
            message_id: Some("m-123".into()),
            content_type: Some("application/json".into()),
            subject: Some("order.created".into()),
            application_properties: json!({"tenant": "t1", "priority": 5}).as_object().unwrap().clone(),
            ..ServiceBusMessage::new("ProcessOrder", json!({"orderId": "A-1", "qty": 2}))
        };
        let request = service_bus_request(&trigger, &message, &delivery(), &sys("ProcessOrder"));
        assert_eq!(
            request.to_json(),
            json!({
              "Data": { "message": "\"{\\\"orderId\\\":\\\"A-1\\\",\\\"qty\\\":2}\"" },
              "Metadata": {
                "MessageReceiver": {}, "MessageSession": {}, "MessageActions": {}, "SessionActions": {}, "ReceiveActions": {},
                "Client": { "FullyQualifiedNamespace": "mybus.servicebus.windows.net", "IsClosed": false, "TransportType": 0,
                            "Identifier": "mybus.servicebus.windows.net-8d4c1b1e6f0e4c339a551f1f6d2c7a10" },
                "DeliveryCount": "1",
                "LockToken": "\"8d4c1b1e-6f0e-4c33-9a55-1f1f6d2c7a10\"",
                "ExpiresAtUtc": "9999-12-31T23:59:59",
                "ExpiresAt": "9999-12-31T23:59:59+00:00",
                "EnqueuedTimeUtc": "2024-05-01T12:34:56",
                "EnqueuedTime": "2024-05-01T12:34:56+00:00",
                "MessageId": "\"m-123\"",
                "ContentType": "\"application/json\"",
                "SequenceNumber": "42",
                "Subject": "\"order.created\"",
                "Label": "\"order.created\"",
                "ApplicationProperties": { "tenant": "t1", "priority": 5 },
                "UserProperties": { "tenant": "t1", "priority": 5 },
                "orderId": "\"A-1\"",
                "qty": "\"2\"",
                "sys": sys_json("ProcessOrder")
              }
            })
        );
    }

    #[test]
    fn binary_service_bus_trigger_is_base64_without_body_properties() {
        let trigger = function(
            json!({"bindings": [{"name": "message", "type": "serviceBusTrigger", "queueName": "q", "dataType": "binary"}]}),
        );
        let message = ServiceBusMessage::new("ProcessOrder", json!({"orderId": "A-1", "qty": 2}));
        let request = service_bus_request(&trigger, &message, &delivery(), &sys("ProcessOrder"));
        assert_eq!(request.data["message"], json!("eyJvcmRlcklkIjoiQS0xIiwicXR5IjoyfQ=="));
        assert!(!request.metadata.contains_key("orderId"));
        assert!(
            !request.metadata.contains_key("Subject"),
            "absent properties are left out"
        );
        assert_eq!(request.metadata["ApplicationProperties"], json!({}));
    }

    #[test]
    fn text_service_bus_body() {
        let trigger =
            function(json!({"bindings": [{"name": "message", "type": "serviceBusTrigger", "queueName": "q"}]}));
        let message = ServiceBusMessage::new("ProcessOrder", json!("hello world"));
        let request = service_bus_request(&trigger, &message, &delivery(), &sys("ProcessOrder"));
        assert_eq!(request.data["message"], json!("\"hello world\""));
    }

    #[test]
    fn activity_payload_with_string_input_matches_the_research_fixture() {
        let activity = function(json!({"bindings": [{"name": "name", "type": "activityTrigger", "direction": "in"}]}));
        let request = activity_request(&activity, "abc123", Some("\"Tokyo\""), &sys("SayHello")).unwrap();
        assert_eq!(
            request.to_json(),
            json!({"Data": {"name": "\"\\\"Tokyo\\\"\""},
                   "Metadata": {"instanceId": "\"abc123\"", "name": "\"\\\"Tokyo\\\"\"", "data": "\"Tokyo\"", "sys": sys_json("SayHello")}})
        );
    }

    #[test]
    fn activity_payload_with_object_input_matches_the_research_fixture() {
        let activity = function(json!({"bindings": [{"name": "name", "type": "activityTrigger", "direction": "in"}]}));
        let request = activity_request(
            &activity,
            "abc123",
            Some("{ \"city\": \"Tokyo\", \"n\": 2 }"),
            &sys("SayHello"),
        )
        .unwrap();
        assert_eq!(
            request.to_json(),
            json!({"Data": {"name": "\"{\\\"city\\\":\\\"Tokyo\\\",\\\"n\\\":2}\""},
                   "Metadata": {"instanceId": "\"abc123\"", "data": {"city": "Tokyo", "n": 2}, "city": "\"Tokyo\"", "n": "\"2\"",
                                "name": "\"{\\\"city\\\":\\\"Tokyo\\\",\\\"n\\\":2}\"", "sys": sys_json("SayHello")}})
        );
    }

    #[test]
    fn activity_without_input_gets_the_text_null() {
        let activity = function(json!({"bindings": [{"name": "input", "type": "activityTrigger"}]}));
        let request = activity_request(&activity, "abc123", None, &sys("A")).unwrap();
        assert_eq!(request.data["input"], json!("null"));
        assert!(!request.metadata.contains_key("input"));
        assert!(!request.metadata.contains_key("data"));
        assert!(activity_request(&activity, "abc123", Some("{not json"), &sys("A")).is_err());
    }

    #[test]
    fn activity_results_are_compact_json() {
        assert_eq!(
            activity_result(&json!("Hello, Tokyo!")),
            Some("\"Hello, Tokyo!\"".into())
        );
        assert_eq!(
            activity_result(&json!({"greeting": "hi"})),
            Some("{\"greeting\":\"hi\"}".into())
        );
        assert_eq!(activity_result(&Value::Null), None);
    }

    #[test]
    fn orchestrator_payload_is_base64_encoded_twice() {
        let orchestrator =
            function(json!({"bindings": [{"name": "context", "type": "orchestrationTrigger", "direction": "in"}]}));
        let request = protobuf_trigger_request(&orchestrator, &[10, 6, 97, 98, 99, 49, 50, 51], &sys("HelloCities"));
        assert_eq!(
            request.to_json(),
            json!({"Data": {"context": "\"CgZhYmMxMjM=\""}, "Metadata": {"sys": sys_json("HelloCities")}})
        );
    }

    #[test]
    fn durable_client_binding_value() {
        let starter = function(json!({"bindings": [
            {"name": "req", "type": "httpTrigger", "direction": "in"},
            {"name": "starter", "type": "durableClient", "direction": "in"},
            {"name": "other", "type": "durableClient", "direction": "in", "taskHub": "OtherHub", "connectionName": "Storage2"}
        ]}));
        let settings = DurableClientSettings {
            hub_name: "ReturnsHub".into(),
            rpc_base_url: "http://127.0.0.1:4001".into(),
            http_base_url: "http://localhost:7071/runtime/webhooks/durabletask".into(),
        };
        let mut request = InvocationRequest::new(&sys("Start"));
        add_durable_clients(&starter, &settings, &mut request);
        let expected = concat!(
            r#"{"taskHubName":"ReturnsHub","connectionName":null,"creationUrls":null,"managementUrls":null,"baseUrl":null,"#,
            r#""requiredQueryStringParameters":"","rpcBaseUrl":"http://127.0.0.1:4001","#,
            r#""httpBaseUrl":"http://localhost:7071/runtime/webhooks/durabletask","maxGrpcMessageSizeInBytes":4194304}"#
        );
        assert_eq!(
            request.data["starter"],
            Value::String(Value::String(expected.into()).to_string())
        );
        let other: Value =
            serde_json::from_str(&serde_json::from_value::<String>(request.data["other"].clone()).unwrap()).unwrap();
        let other: Value = serde_json::from_str(other.as_str().unwrap()).unwrap();
        assert_eq!(other["taskHubName"], json!("OtherHub"));
        assert_eq!(other["connectionName"], json!("Storage2"));
    }

    #[test]
    fn return_value_properties_fill_outputs_of_the_same_name() {
        let activity = function(json!({"bindings": [
            {"name": "input", "type": "activityTrigger"},
            {"name": "notification", "type": "serviceBus", "direction": "out", "topicName": "emails"}
        ]}));
        let mut outputs = Map::new();
        merge_return_value_into_outputs(
            &activity,
            &json!({"Notification": {"to": "x"}, "other": 1}),
            &mut outputs,
        );
        assert_eq!(Value::Object(outputs), json!({"Notification": {"to": "x"}}));
    }
}
