//! The envelope decoders against invocation bodies exactly as the Functions host sends them
//! (`tests/fixtures/host/`).

use std::time::Duration;

use chrono::{TimeZone, Utc};
use durabletask_sdk::functions::{
    activity_input, BindingEncoding, DurableClientBinding, InvokeRequest, InvokeResponse, ValueLocation,
};
use durabletask_sdk::proto::{self, history_event::EventType, operation_result, orchestrator_action};
use serde_json::{json, Value};

fn fixture(name: &str) -> InvokeRequest {
    let path = format!("{}/tests/fixtures/host/{name}", env!("CARGO_MANIFEST_DIR"));
    let body = std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    InvokeRequest::from_slice(&body).unwrap_or_else(|error| panic!("{path}: {error}"))
}

#[test]
fn a_double_encoded_service_bus_message_and_its_metadata() {
    let request = fixture("service_bus_string.json");
    assert_eq!(request.binding_text("message").unwrap(), r#"{"orderId":"A-1","qty":2}"#);
    assert_eq!(
        request.binding_json("message").unwrap(),
        json!({"orderId": "A-1", "qty": 2})
    );
    assert_eq!(request.metadata_string("MessageId").unwrap().as_deref(), Some("m-123"));
    assert_eq!(
        request.metadata_string("Subject").unwrap().as_deref(),
        Some("order.created")
    );
    assert_eq!(request.metadata_int("DeliveryCount").unwrap(), Some(1));
    assert_eq!(request.metadata_int("SequenceNumber").unwrap(), Some(42));
    assert_eq!(
        request.metadata_int("qty").unwrap(),
        Some(2),
        "body fields copied as \"\\\"2\\\"\""
    );
    let enqueued = Utc.with_ymd_and_hms(2024, 5, 1, 12, 34, 56).unwrap();
    assert_eq!(request.metadata_datetime("EnqueuedTimeUtc").unwrap(), Some(enqueued));
    assert_eq!(request.metadata_datetime("EnqueuedTime").unwrap(), Some(enqueued));
    let utc_now = request.metadata["sys"]["UtcNow"].clone();
    assert_eq!(
        durabletask_sdk::functions::metadata_datetime(&utc_now).unwrap(),
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 34, 57).unwrap() + chrono::Duration::nanoseconds(123_456_700)
    );
    let properties = request.metadata_object("ApplicationProperties").unwrap().unwrap();
    assert_eq!(properties["tenant"], json!("t1"));
    assert_eq!(properties["priority"], json!(5));
    assert_eq!(request.metadata_string("CorrelationId").unwrap(), None);
    assert_eq!(request.method_name(), Some("ProcessOrder"));
}

#[test]
fn a_binary_service_bus_message() {
    let request = fixture("service_bus_binary.json");
    let bytes = request.binding_bytes("message", BindingEncoding::Binary).unwrap();
    assert_eq!(bytes, br#"{"orderId":"A-1","qty":2}"#);
    assert_eq!(request.metadata_int("DeliveryCount").unwrap(), Some(3));
    // Reading a binary binding as text yields the base64 itself, not the body.
    assert_eq!(
        request.binding_text("message").unwrap(),
        "eyJvcmRlcklkIjoiQS0xIiwicXR5IjoyfQ=="
    );
}

#[test]
fn the_service_bus_body_reads_the_same_from_the_string_and_the_binary_shape() {
    let body = br#"{"orderId":"A-1","qty":2}"#.to_vec();
    assert_eq!(
        fixture("service_bus_string.json").service_bus_body("message").unwrap(),
        body
    );
    assert_eq!(
        fixture("service_bus_binary.json").service_bus_body("message").unwrap(),
        body
    );
    let error = fixture("service_bus_binary.json")
        .service_bus_body("messages")
        .unwrap_err();
    assert_eq!(error.to_string(), "binding 'messages': it is missing");
}

#[test]
fn a_timer_object() {
    let request = fixture("timer.json");
    let timer = request.timer("myTimer").unwrap();
    assert!(!timer.is_past_due);
    let status = timer.schedule_status.unwrap();
    assert_eq!(status.next, Some(Utc.with_ymd_and_hms(2024, 5, 2, 0, 0, 0).unwrap()));
    assert_eq!(status.last.unwrap().timestamp_subsec_nanos(), 12_345_600);
    assert_eq!(request.method_name(), Some("Nightly"));
}

#[test]
fn activity_inputs_as_string_object_and_none() {
    let text = fixture("activity_string_input.json");
    assert_eq!(text.activity_input("name").unwrap().as_deref(), Some(r#""Tokyo""#));
    assert_eq!(text.metadata_string("instanceId").unwrap().as_deref(), Some("abc123"));

    let object = fixture("activity_object_input.json");
    let input = object.activity_input("name").unwrap().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&input).unwrap(),
        json!({"city": "Tokyo", "n": 2})
    );

    let none = fixture("activity_no_input.json");
    assert_eq!(none.activity_input("name").unwrap(), None);
    let absent = none.activity_input("absent").unwrap_err();
    assert_eq!(absent.to_string(), "binding 'absent': it is missing");
    assert_eq!(activity_input(&Value::Null).unwrap(), None);
}

#[test]
fn the_orchestrator_payload_decodes_to_instance_abc123() {
    let request = fixture("orchestrator.json").orchestrator_request("context").unwrap();
    assert_eq!(request.instance_id, "abc123");
    assert!(request.past_events.is_empty());
    let kinds: Vec<_> = request
        .new_events
        .iter()
        .map(|event| event.event_type.clone())
        .collect();
    assert!(matches!(kinds[0], Some(EventType::OrchestratorStarted(_))));
    let Some(EventType::ExecutionStarted(started)) = &kinds[1] else {
        panic!("second event: {:?}", kinds[1])
    };
    assert_eq!(started.name, "HelloCities");
    assert_eq!(started.input.as_deref(), Some(r#""Tokyo""#));
    assert_eq!(started.orchestration_instance.as_ref().unwrap().instance_id, "abc123");
    let window = request
        .entity_parameters
        .unwrap()
        .entity_message_reorder_window
        .unwrap();
    assert_eq!(window.seconds, 30 * 60);
}

#[test]
fn the_entity_payload_decodes_to_a_batch_for_counter_my_key() {
    let request = fixture("entity.json").entity_batch_request("context").unwrap();
    assert_eq!(request.instance_id, "@counter@myKey");
    assert_eq!(request.entity_state.as_deref(), Some("5"));
    assert_eq!(request.operations.len(), 1);
    assert_eq!(request.operations[0].operation, "add");
    assert_eq!(request.operations[0].input.as_deref(), Some("1"));
    assert_eq!(request.operations[0].request_id, "7f4bc3e3-6a4b-4a57-9f0e-2a3c2c9a6d11");
}

#[test]
fn return_values_match_what_the_extension_decodes() {
    let response = proto::OrchestratorResponse {
        instance_id: "abc123".into(),
        actions: vec![proto::OrchestratorAction {
            id: 0,
            orchestrator_action_type: Some(orchestrator_action::OrchestratorActionType::ScheduleTask(
                proto::ScheduleTaskAction {
                    name: "SayHello".into(),
                    input: Some(r#""Tokyo""#.into()),
                    ..Default::default()
                },
            )),
        }],
        ..Default::default()
    };
    let body = serde_json::to_value(InvokeResponse::durable(&response)).unwrap();
    assert_eq!(
        body["ReturnValue"],
        json!("CgZhYmMxMjMSFxIVCghTYXlIZWxsbxoJCgciVG9reW8i")
    );
    assert_eq!(body["Outputs"], json!({}));

    let result = proto::EntityBatchResult {
        results: vec![proto::OperationResult {
            result_type: Some(operation_result::ResultType::Success(proto::OperationResultSuccess {
                result: Some("6".into()),
                ..Default::default()
            })),
        }],
        entity_state: Some("6".into()),
        ..Default::default()
    };
    let body = serde_json::to_value(InvokeResponse::durable(&result)).unwrap();
    assert_eq!(body["ReturnValue"], json!("CgcKBQoDCgE2GgMKATY="));
}

#[test]
fn the_durable_client_binding_of_extension_2_13() {
    let request = fixture("durable_client_2_13.json");
    let binding = request.durable_client("starter").unwrap();
    assert_eq!(binding.rpc_base_url, "http://localhost:4001");
    assert_eq!(binding.task_hub_name.as_deref(), Some("MyHub"));
    assert_eq!(binding.connection_name, None);
    assert_eq!(binding.required_query_string_parameters.as_deref(), Some("code=XXXX"));
    assert_eq!(binding.http_base_url, None);
    assert_eq!(binding.max_grpc_message_size_in_bytes, None);

    let http = request.http_request("req").unwrap();
    assert_eq!(http.method, "POST");
    assert_eq!(http.body_json::<Value>().unwrap(), json!({"city": "Tokyo"}));
}

#[test]
fn the_durable_client_binding_of_extension_3() {
    let request = fixture("durable_client_3x.json");
    let binding = request.durable_client("starter").unwrap();
    assert_eq!(binding.rpc_base_url, "http://127.0.0.1:52311");
    assert_eq!(binding.task_hub_name.as_deref(), Some("ReturnsHub"));
    assert_eq!(binding.connection_name.as_deref(), Some("Storage"));
    assert_eq!(
        binding.http_base_url.as_deref(),
        Some("http://localhost:7071/runtime/webhooks/durabletask")
    );
    assert_eq!(binding.max_grpc_message_size_in_bytes, Some(2_147_483_647));
    assert_eq!(binding.grpc_http_client_timeout, Some(Duration::from_secs(100)));
    assert_eq!(DurableClientBinding::from_value(&binding.to_value()).unwrap(), binding);
    assert!(request.timer("timer").unwrap().is_past_due);
}

#[test]
fn durable_client_bindings_that_cannot_be_used_are_named() {
    let body =
        br#"{"Data":{"starter":"\"{\\\"taskHubName\\\":\\\"Hub\\\"}\"","empty":"\"{\\\"rpcBaseUrl\\\":\\\"\\\"}\""}}"#;
    let request = InvokeRequest::from_slice(body).unwrap();
    let error = request.durable_client("starter").unwrap_err();
    assert_eq!(error.location(), &ValueLocation::Binding("starter".into()));
    assert!(error.to_string().contains("missing field `rpcBaseUrl`"), "{error}");
    let error = request.durable_client("empty").unwrap_err();
    assert!(error.to_string().contains("empty rpcBaseUrl"), "{error}");
}

#[test]
fn the_http_trigger_request() {
    let request = fixture("http_trigger.json").http_request("req").unwrap();
    assert_eq!(request.url, "http://localhost:7071/api/order?x=1");
    assert_eq!(request.query_param("x"), Some("1"));
    assert_eq!(request.header("CONTENT-TYPE"), Some("application/json"));
    assert_eq!(
        request.body_json::<Value>().unwrap(),
        json!({"id": 1005, "quantity": 2})
    );
}

#[test]
fn wrong_trigger_shapes_name_the_binding() {
    let request: InvokeRequest = serde_json::from_value(json!({"Data": {"context": {"instanceId": "x"}}})).unwrap();
    let error = request.orchestrator_request("context").unwrap_err();
    assert_eq!(
        error.to_string(),
        "binding 'context': expected a base64 string, found an object"
    );
    let error = request.entity_batch_request("missing").unwrap_err();
    assert_eq!(error.to_string(), "binding 'missing': it is missing");
}
