//! Invocation bodies as the Functions host (v4) and the Durable extension build them: `{"Data":…,"Metadata":…}`,
//! with the host's encodings — strings JSON-encoded once more, integers as text, objects as objects, binary data as
//! base64, `sys` always present — and views of the handler's durable answers.
//!
//! The encodings and the answer decoding are local-host's (the emulator of the host), not the SDK's: a test built
//! from these catches the SDK misreading the host.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use durabletask_sdk::proto;
use local_host::durable::protocol::decode_return_value;
use local_host::invocation::envelope::{host_string, InvocationRequest, SystemBindingData};
use local_host::invocation::payloads::{durable_client_value, DurableClientSettings};
use serde_json::{json, Map, Value};

pub use crate::engine::closed_endpoint;

/// The task hub named in `host.json`.
pub const TASK_HUB: &str = "ReturnsAggregator";

/// A fixture file of `tests/fixtures`, parsed.
pub fn fixture(relative: &str) -> Value {
    let path = crate::workspace_root().join("tests/fixtures").join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

/// `Metadata.sys` for an invocation of `function` now.
pub fn sys(function: &str) -> Value {
    SystemBindingData::now(function).to_json()
}

/// The `durableClient` binding value (JSON text inside a JSON string, as the extension sends it) for the engine at
/// `rpc_base_url`.
pub fn durable_client(rpc_base_url: &str) -> Value {
    let settings = DurableClientSettings {
        hub_name: TASK_HUB.to_owned(),
        rpc_base_url: rpc_base_url.to_owned(),
        http_base_url: "http://localhost:7071/runtime/webhooks/durabletask".to_owned(),
    };
    durable_client_value(&settings, None, None)
}

/// `POST /Orchestrator`: the base64 `OrchestratorRequest`, JSON-encoded once more by the host.
pub fn orchestrator_invocation(request: &proto::OrchestratorRequest) -> Value {
    json!({
        "Data": { "context": durable_payload(request) },
        "Metadata": { "sys": sys("Orchestrator") },
    })
}

/// `POST /EntityFunction`: the base64 `EntityBatchRequest`, JSON-encoded once more by the host.
pub fn entity_invocation(request: &proto::EntityBatchRequest) -> Value {
    json!({
        "Data": { "context": durable_payload(request) },
        "Metadata": { "sys": sys("EntityFunction") },
    })
}

/// The trigger value of an orchestration or entity: the base64 of the request, JSON-encoded once more.
fn durable_payload(request: &impl prost::Message) -> Value {
    host_string(&STANDARD.encode(request.encode_to_vec()))
}

/// `POST /<activity>` called by `instance_id` with `input` (the activity input JSON). `Data.input` is its JSON text,
/// JSON-encoded once more; `Metadata` holds `instanceId`, `data` and — because the host copies the top-level
/// properties of a JSON-object trigger value into the binding data — the input's own properties.
pub fn activity_invocation(activity: &str, instance_id: &str, input: &Value) -> Value {
    activity_invocation_with_text(activity, instance_id, &input.to_string(), Some(input))
}

/// Like [`activity_invocation`] with the input JSON text given verbatim (possibly malformed). As the host does
/// (`Utility.ApplyBindingData`), the top-level properties of an object input are copied into `Metadata` last,
/// over `instanceId`, `input` and `data` when they share a name.
pub fn activity_invocation_with_text(activity: &str, instance_id: &str, text: &str, parsed: Option<&Value>) -> Value {
    let mut request = InvocationRequest::new(&SystemBindingData::now(activity));
    request.data.insert("input".into(), host_string(text));
    request.insert_metadata("instanceId", Some(host_string(instance_id)));
    request.insert_metadata("input", Some(host_string(text)));
    request.insert_metadata("data", Some(parsed.cloned().unwrap_or_else(|| host_string(text))));
    if parsed.is_some() {
        request.apply_trigger_properties(text);
    }
    request.to_json()
}

/// The Service Bus message properties the host reports as trigger metadata.
#[derive(Debug, Clone, Default)]
pub struct MessageProperties {
    /// `MessageId`.
    pub message_id: Option<String>,
    /// `Subject` (also sent as `Label`).
    pub subject: Option<String>,
    /// `ApplicationProperties` (also sent as `UserProperties`).
    pub application_properties: Option<Value>,
    /// `DeliveryCount`.
    pub delivery_count: u32,
}

impl MessageProperties {
    /// A first delivery of message `message_id`.
    pub fn new(message_id: &str) -> Self {
        Self {
            message_id: Some(message_id.to_string()),
            delivery_count: 1,
            ..Self::default()
        }
    }

    /// With a `Subject`.
    pub fn with_subject(mut self, subject: &str) -> Self {
        self.subject = Some(subject.to_string());
        self
    }

    /// With an `eventType` application property.
    pub fn with_event_type_property(mut self, event_type: &str) -> Self {
        self.application_properties = Some(json!({ "eventType": event_type, "producer": "returns-service" }));
        self
    }
}

/// `POST /ServiceBusTrigger` for a message with `body`, as the host sends it with `"dataType": "binary"`: the body
/// base64-encoded, the durable client binding and the message's metadata.
pub fn service_bus_invocation(body: &[u8], properties: &MessageProperties, rpc_base_url: &str) -> Value {
    service_bus_invocation_with_message(Value::String(STANDARD.encode(body)), properties, rpc_base_url)
}

/// Like [`service_bus_invocation`] with the trigger value given as is (to try the shapes of other `dataType`s).
pub fn service_bus_invocation_with_message(
    message: Value,
    properties: &MessageProperties,
    rpc_base_url: &str,
) -> Value {
    let mut metadata = Map::new();
    metadata.insert(
        "DeliveryCount".into(),
        Value::String(properties.delivery_count.to_string()),
    );
    metadata.insert("LockToken".into(), host_string(&uuid::Uuid::new_v4().to_string()));
    metadata.insert("EnqueuedTimeUtc".into(), json!("2025-03-10T09:15:02"));
    metadata.insert("EnqueuedTime".into(), json!("2025-03-10T09:15:02+00:00"));
    metadata.insert("ExpiresAtUtc".into(), json!("9999-12-31T23:59:59"));
    metadata.insert("SequenceNumber".into(), json!("4711"));
    metadata.insert("ContentType".into(), host_string("application/json"));
    if let Some(message_id) = &properties.message_id {
        metadata.insert("MessageId".into(), host_string(message_id));
    }
    if let Some(subject) = &properties.subject {
        metadata.insert("Subject".into(), host_string(subject));
        metadata.insert("Label".into(), host_string(subject));
    }
    if let Some(application_properties) = &properties.application_properties {
        metadata.insert("ApplicationProperties".into(), application_properties.clone());
        metadata.insert("UserProperties".into(), application_properties.clone());
    }
    metadata.insert("sys".into(), sys("ServiceBusTrigger"));
    json!({
        "Data": { "message": message, "client": durable_client(rpc_base_url) },
        "Metadata": metadata,
    })
}

/// `POST /PurgeTimer` (the `purge_timer.json` fixture) with the durable client pointed at `rpc_base_url`.
pub fn purge_timer_invocation(rpc_base_url: &str, is_past_due: bool) -> Value {
    let mut invocation = fixture("host/purge_timer.json");
    invocation["Data"]["timer"]["IsPastDue"] = Value::Bool(is_past_due);
    invocation["Data"]["client"] = durable_client(rpc_base_url);
    invocation
}

/// `POST /ReturnStatus` (the `return_status.json` fixture) for `GET /api/returns/{return_id}`, with the durable
/// client pointed at `rpc_base_url`; `None` sends a request without the route parameter.
pub fn return_status_invocation(return_id: Option<&str>, rpc_base_url: &str) -> Value {
    let mut invocation = fixture("host/return_status.json");
    let request = &mut invocation["Data"]["req"];
    match return_id {
        Some(id) => {
            request["Url"] = json!(format!("http://localhost:7071/api/returns/{id}"));
            request["Params"] = json!({ "returnId": id });
            invocation["Metadata"]["returnId"] = host_string(id);
        }
        None => {
            request["Params"] = json!({});
            invocation["Metadata"]
                .as_object_mut()
                .expect("metadata object")
                .remove("returnId");
        }
    }
    invocation["Data"]["client"] = durable_client(rpc_base_url);
    invocation
}

/// Checks the shape of a durable trigger's `ReturnValue`: exactly one JSON string of standard base64, no extra
/// quoting (which would make the extension's `Convert.FromBase64String` throw).
#[track_caller]
fn expect_base64_string(return_value: &Value) {
    let text = return_value
        .as_str()
        .unwrap_or_else(|| panic!("ReturnValue is not a string: {return_value}"));
    assert!(!text.contains('"'), "ReturnValue carries quotes: {text}");
    assert!(
        STANDARD.decode(text).is_ok(),
        "ReturnValue is not standard base64: {text}"
    );
}

/// The answer of `POST /Orchestrator`, decoded as the extension decodes it.
#[track_caller]
pub fn orchestrator_response(return_value: &Value) -> proto::OrchestratorResponse {
    expect_base64_string(return_value);
    decode_return_value(return_value, "OrchestratorResponse")
        .unwrap_or_else(|error| panic!("ReturnValue is not an OrchestratorResponse: {error}"))
}

/// The answer of `POST /EntityFunction`, decoded as the extension decodes it.
#[track_caller]
pub fn entity_result(return_value: &Value) -> proto::EntityBatchResult {
    expect_base64_string(return_value);
    decode_return_value(return_value, "EntityBatchResult")
        .unwrap_or_else(|error| panic!("ReturnValue is not an EntityBatchResult: {error}"))
}
