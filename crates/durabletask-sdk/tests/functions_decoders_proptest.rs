//! Property tests: the envelope decoders never panic on arbitrary input, and what the host encodes
//! decodes back to the original.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use durabletask_sdk::client::OrchestrationStatus;
use durabletask_sdk::functions::{
    activity_input, binding_bytes, binding_json, binding_text, decode_entity_batch_request,
    decode_orchestrator_request, encode_return_value, format_timespan, host_string, metadata_datetime, metadata_int,
    metadata_object, metadata_string, parse_timespan, peel_host_string, service_bus_body, BindingEncoding,
    DurableClientBinding, HttpRequestData, InvokeRequest, TimerInfo,
};
use durabletask_sdk::proto;
use proptest::prelude::*;
use serde_json::{json, Value};

/// Arbitrary JSON values, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6).prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// JSON objects without floating-point numbers (whose text need not read back bit for bit).
fn json_object() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".*".prop_map(Value::String),
    ];
    let value = leaf.prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4).prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    });
    prop::collection::btree_map(".{0,8}", value, 0..6).prop_map(|map| Value::Object(map.into_iter().collect()))
}

/// Every decoder on one value; only panics matter, errors are fine.
fn decode_everything(value: &Value) {
    let _ = binding_text(value);
    let _ = binding_json(value);
    let _ = binding_bytes(value, BindingEncoding::Text);
    let _ = binding_bytes(value, BindingEncoding::Binary);
    let _ = metadata_string(value);
    let _ = metadata_int(value);
    let _ = metadata_datetime(value);
    let _ = metadata_object(value);
    let _ = activity_input(value);
    let _ = service_bus_body(value);
    let _ = decode_orchestrator_request(value);
    let _ = decode_entity_batch_request(value);
    let _ = DurableClientBinding::from_value(value);
    let _ = HttpRequestData::from_value(value);
    let _ = TimerInfo::from_value(value);
}

proptest! {
    #[test]
    fn arbitrary_json_values_never_panic(value in any_json()) {
        decode_everything(&value);
        decode_everything(&host_string(&value.to_string()));
    }

    #[test]
    fn arbitrary_strings_never_panic(text in ".*") {
        decode_everything(&Value::String(text.clone()));
        decode_everything(&host_string(&text));
        let _ = text.parse::<OrchestrationStatus>();
    }

    #[test]
    fn arbitrary_bytes_as_base64_protobuf_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let encoded = STANDARD.encode(&bytes);
        decode_everything(&Value::String(encoded.clone()));
        decode_everything(&host_string(&encoded));
    }

    #[test]
    fn arbitrary_invocation_bodies_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        value in any_json(),
    ) {
        let _ = InvokeRequest::from_slice(&bytes);
        let body = serde_json::to_vec(&json!({"Data": {"b": value.clone()}, "Metadata": {"k": value}})).unwrap();
        let request = InvokeRequest::from_slice(&body).unwrap();
        let _ = request.binding_json("b");
        let _ = request.metadata_datetime("k");
        let _ = request.durable_client("b");
    }

    #[test]
    fn client_binding_fields_of_any_type_never_panic(timeout in any_json(), size in any_json(), hub in any_json()) {
        let object = json!({"rpcBaseUrl": "http://127.0.0.1:1", "grpcHttpClientTimeout": timeout,
                            "maxGrpcMessageSizeInBytes": size, "taskHubName": hub});
        let _ = DurableClientBinding::from_value(&object);
        let _ = DurableClientBinding::from_value(&host_string(&object.to_string()));
    }

    #[test]
    fn host_encoded_strings_decode_to_the_original(text in ".*") {
        prop_assert_eq!(binding_text(&host_string(&text)).unwrap(), text.clone());
        prop_assert_eq!(metadata_string(&host_string(&text)).unwrap(), text);
    }

    #[test]
    fn binary_bindings_decode_to_the_original_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let value = Value::String(STANDARD.encode(&bytes));
        prop_assert_eq!(binding_bytes(&value, BindingEncoding::Binary).unwrap(), bytes);
    }

    #[test]
    fn activity_inputs_decode_to_their_json_text(value in any_json()) {
        let text = value.to_string();
        let decoded = activity_input(&host_string(&text)).unwrap();
        if value.is_null() {
            prop_assert_eq!(decoded, None);
        } else {
            prop_assert_eq!(decoded, Some(text));
        }
    }

    #[test]
    fn durable_return_values_decode_back(instance_id in ".+", state in proptest::option::of(".*")) {
        let request = proto::EntityBatchRequest { instance_id, entity_state: state, ..Default::default() };
        let wire = encode_return_value(&request);
        prop_assert_eq!(decode_entity_batch_request(&wire).unwrap(), request.clone());
        let Value::String(base64) = wire else { unreachable!() };
        prop_assert_eq!(decode_entity_batch_request(&host_string(&base64)).unwrap(), request);
    }

    #[test]
    fn service_bus_bodies_sent_as_base64_decode_to_their_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        prop_assert_eq!(service_bus_body(&Value::String(STANDARD.encode(&bytes))).unwrap(), bytes);
    }

    #[test]
    fn service_bus_bodies_sent_as_host_strings_decode_to_their_text(text in ".*") {
        prop_assert_eq!(service_bus_body(&host_string(&text)).unwrap(), text.into_bytes());
    }

    #[test]
    fn service_bus_bodies_sent_as_objects_decode_to_their_json_text(object in json_object()) {
        let bytes = service_bus_body(&object).unwrap();
        prop_assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), object);
    }

    #[test]
    fn one_service_bus_body_reads_the_same_in_every_shape(object in json_object()) {
        let text = object.to_string();
        let shapes = [Value::String(STANDARD.encode(&text)), host_string(&text), object.clone()];
        for shape in shapes {
            prop_assert_eq!(service_bus_body(&shape).unwrap(), text.clone().into_bytes());
        }
    }

    #[test]
    fn timespans_round_trip_at_dotnet_tick_precision(seconds in 0u64..10_000_000, ticks in 0u32..10_000_000) {
        let duration = std::time::Duration::new(seconds, ticks * 100);
        prop_assert_eq!(parse_timespan(&format_timespan(duration)).unwrap(), duration);
    }

    #[test]
    fn arbitrary_text_never_panics_the_timespan_parser(text in ".*") {
        let _ = parse_timespan(&text);
    }

    #[test]
    fn host_strings_peel_back_to_their_text(text in ".*") {
        let layered = host_string(&text);
        prop_assert_eq!(peel_host_string(layered.as_str().unwrap()), text);
    }

    #[test]
    fn requests_without_an_instance_id_are_refused(state in proptest::option::of(".*")) {
        let request = proto::EntityBatchRequest { entity_state: state, ..Default::default() };
        let error = decode_entity_batch_request(&encode_return_value(&request)).unwrap_err();
        prop_assert!(error.to_string().contains("EntityBatchRequest"), "{}", error);
    }
}
