//! The body of each fuzz target, as plain functions of the input bytes, so the same code runs under libFuzzer
//! (`fuzz_targets/*.rs`) and under the stable replay harness (`examples/replay.rs`).

use std::sync::OnceLock;

use durabletask_sdk::entity::execute_entity_batch;
use durabletask_sdk::functions::{
    activity_input, binding_bytes, binding_json, binding_text, decode_entity_batch_request,
    decode_orchestrator_request, metadata_datetime, metadata_int, metadata_object, metadata_string, BindingEncoding,
    DurableClientBinding, HttpRequestData, InvokeRequest, TimerInfo,
};
use durabletask_sdk::orchestration::execute_orchestrator;
use durabletask_sdk::{proto, Registry};
use prost::Message;
use returns_aggregator::domain::parse_event;
use serde_json::Value;

use crate::checks::{clear_error, entity_batch_result, orchestrator_response};
use crate::registries::{app_registry, small_registry};
use crate::{script, split_nul};

/// The body of one fuzz target.
pub type Target = fn(&[u8]);

/// Every target, by the name `cargo fuzz` knows it by.
pub const TARGETS: [(&str, Target); 7] = [
    ("envelope", envelope),
    ("binding_values", binding_values),
    ("parse_event", event),
    ("orchestrator_app", orchestrator_app),
    ("orchestrator_chain", orchestrator_chain),
    ("orchestrator_script", orchestrator_script),
    ("entity_batch", entity_batch),
];

fn app() -> &'static Registry {
    static APP: OnceLock<Registry> = OnceLock::new();
    APP.get_or_init(app_registry)
}

fn small() -> &'static Registry {
    static SMALL: OnceLock<Registry> = OnceLock::new();
    SMALL.get_or_init(small_registry)
}

/// An invocation body: parsed, then every binding and metadata entry it carries read through every accessor,
/// and the durable payloads it may hold run through the app's executors.
pub fn envelope(data: &[u8]) {
    let request = match InvokeRequest::from_slice(data) {
        Ok(request) => request,
        Err(error) => return clear_error(&error),
    };
    let names: Vec<String> = request.data.keys().cloned().chain(["missing".to_string()]).collect();
    for name in &names {
        check(&request.binding_text(name));
        check(&request.binding_json(name));
        check(&request.binding_bytes(name, BindingEncoding::Text));
        check(&request.binding_bytes(name, BindingEncoding::Binary));
        check(&request.activity_input(name));
        check(&request.durable_client(name));
        check(&request.http_request(name));
        check(&request.timer(name));
        let work = request.orchestrator_request(name);
        check(&work);
        if let Ok(work) = work {
            orchestrator_response(&work, &execute_orchestrator(app(), &work));
        }
        let batch = request.entity_batch_request(name);
        check(&batch);
        if let Ok(batch) = batch {
            entity_batch_result(&batch, &execute_entity_batch(app(), &batch, chrono::DateTime::UNIX_EPOCH));
        }
    }
    let keys: Vec<String> = request
        .metadata
        .keys()
        .cloned()
        .chain(["missing".to_string()])
        .collect();
    for key in &keys {
        let _ = request.metadata_value(key);
        check(&request.metadata_string(key));
        check(&request.metadata_int(key));
        check(&request.metadata_datetime(key));
        check(&request.metadata_object(key));
    }
    let _ = request.method_name();
}

/// One binding value (the bytes as JSON, or as a string when they are not JSON) through every value decoder.
pub fn binding_values(data: &[u8]) {
    let value = serde_json::from_slice::<Value>(data)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(data).into_owned()));
    check(&binding_text(&value));
    check(&binding_json(&value));
    check(&binding_bytes(&value, BindingEncoding::Text));
    check(&binding_bytes(&value, BindingEncoding::Binary));
    check(&metadata_string(&value));
    check(&metadata_int(&value));
    check(&metadata_datetime(&value));
    check(&metadata_object(&value));
    check(&activity_input(&value));
    check(&DurableClientBinding::from_value(&value));
    check(&HttpRequestData::from_value(&value));
    check(&TimerInfo::from_value(&value));
    check(&decode_orchestrator_request(&value));
    check(&decode_entity_batch_request(&value));
}

/// A Service Bus message: `hint NUL message-id NUL body` (fewer NULs: fewer leading parts). A valid event must
/// read back equal from its wire form, since the entity re-parses what the trigger signalled.
pub fn event(data: &[u8]) {
    let parts = split_nul(data, 2);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let (hint, message_id, body) = match parts.as_slice() {
        [body] => (None, None, *body),
        [hint, body] => (Some(text(hint)), None, *body),
        [hint, message_id, body, ..] => (Some(text(hint)), Some(text(message_id)), *body),
        [] => (None, None, &[][..]),
    };
    match parse_event(hint.as_deref(), message_id.as_deref(), body) {
        Err(invalid) => {
            clear_error(&invalid);
            assert!(
                !invalid.field().is_empty(),
                "an invalid event without a field: {invalid}"
            );
            assert!(
                !invalid.reason_code().is_empty(),
                "an invalid event without a reason code"
            );
        }
        Ok(event) => {
            let wire = serde_json::to_vec(&event.to_wire_json()).expect("JSON values serialise");
            match parse_event(None, None, &wire) {
                Ok(again) => assert_eq!(again, event, "the wire form reads back to another event"),
                Err(invalid) => panic!(
                    "the wire form of a valid event is refused: {invalid}\nwire: {}",
                    String::from_utf8_lossy(&wire)
                ),
            }
        }
    }
}

/// `OrchestratorRequest` bytes through the app's registry.
pub fn orchestrator_app(data: &[u8]) {
    run_orchestrator(app(), data);
}

/// `OrchestratorRequest` bytes through the small registry (chain, fan-out, steps).
pub fn orchestrator_chain(data: &[u8]) {
    run_orchestrator(small(), data);
}

/// A structured history (see [`script`]) through the small registry.
pub fn orchestrator_script(data: &[u8]) {
    let request = script::decode(data);
    let response = execute_orchestrator(small(), &request);
    orchestrator_response(&request, &response);
    let _ = response.encode_to_vec();
}

/// `EntityBatchRequest` bytes through the app's registry.
pub fn entity_batch(data: &[u8]) {
    let batch = match proto::EntityBatchRequest::decode(data) {
        Ok(batch) => batch,
        Err(error) => return clear_error(&error),
    };
    let result = execute_entity_batch(app(), &batch, chrono::DateTime::UNIX_EPOCH);
    entity_batch_result(&batch, &result);
    let _ = result.encode_to_vec();
}

fn run_orchestrator(registry: &Registry, data: &[u8]) {
    let request = match proto::OrchestratorRequest::decode(data) {
        Ok(request) => request,
        Err(error) => return clear_error(&error),
    };
    let response = execute_orchestrator(registry, &request);
    orchestrator_response(&request, &response);
    let _ = response.encode_to_vec();
}

/// Checks the error of a refused value.
fn check<T, E: std::fmt::Display>(outcome: &Result<T, E>) {
    if let Err(error) = outcome {
        clear_error(error);
    }
}
