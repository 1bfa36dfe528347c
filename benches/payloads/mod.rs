//! The exact invocation bodies the Functions host sends the handler, one per function kind, built by replaying one
//! real return (`samples/scenarios/single_return.jsonl`) through the app the way the Durable extension would:
//! the entity batch that settles the return yields the orchestrator's input, the orchestrator's first episode
//! yields the activity's input, so every payload is what the previous step really produced.
//!
//! Shared by the in-process benchmark (`benches/handler.rs`) and the payload writer (`benches/handler_payloads.rs`)
//! that `scripts/bench-handler.sh` and `scripts/bench_python_handler.py` load.

#![allow(dead_code)] // shared by two bench targets, each of which uses only part of it

use std::collections::HashMap;
use std::path::Path;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use durabletask_sdk::entity::execute_entity_batch;
use durabletask_sdk::functions::{encode_return_value, host_string, DurableClientBinding};
use durabletask_sdk::orchestration::execute_orchestrator;
use durabletask_sdk::proto::operation_action::OperationActionType;
use durabletask_sdk::proto::orchestrator_action::OrchestratorActionType;
use durabletask_sdk::testing::history;
use durabletask_sdk::{proto, Registry};
use returns_aggregator::config::Config;
use returns_aggregator::durable::{self, APPLY_EVENT_OPERATION};
use returns_aggregator::functions::durable::{ACTIVITY_BINDING, CONTEXT_BINDING};
use returns_aggregator::functions::service_bus::MESSAGE_BINDING;
use returns_aggregator::functions::CLIENT_BINDING;
use serde_json::{json, Value};

/// The scenario every payload is derived from, relative to the repository root.
pub const SCENARIO: &str = "samples/scenarios/single_return.jsonl";

/// One invocation: the function it goes to and the exact body.
#[derive(Debug, Clone)]
pub struct Payload {
    /// A short name for reports and file names.
    pub name: &'static str,
    /// The function (`POST /{function}`).
    pub function: &'static str,
    /// What the payload exercises.
    pub description: &'static str,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// One Service Bus message of the scenario file.
struct Message {
    message_id: String,
    subject: String,
    event_type: String,
    body: Vec<u8>,
}

/// The settings the payloads are built with: the defaults.
pub fn config() -> Config {
    Config::from_map(&HashMap::from([("FUNCTIONS_CUSTOMHANDLER_PORT", "7071")])).expect("default settings are valid")
}

/// Every payload. `rpc_base_url` is the durable client's engine address: the valid Service Bus message is only
/// included when one is given, since handling it calls the engine.
pub fn all(repo_root: &Path, rpc_base_url: Option<&str>) -> Vec<Payload> {
    let registry = durable::registry(&config());
    let messages = read_scenario(&repo_root.join(SCENARIO));
    let entity_key = return_id_of(&messages[0]);
    let entity_instance = format!("@{}@{entity_key}", durable::AGGREGATE_ENTITY.to_lowercase());

    // The batch the bench sends: the return has seen all but its last event; the last one arrives.
    let (last, earlier) = messages.split_last().expect("the scenario has events");
    let state_before_last = entity_state_after(&registry, &entity_instance, None, earlier);
    let entity_batch = apply_batch(&entity_instance, state_before_last, std::slice::from_ref(last));

    // What the extension does next: the batch settles the return and starts the orchestrator.
    let settling = execute_entity_batch(&registry, &entity_batch, chrono::Utc::now());
    let start = started_orchestration(&settling);
    let orchestrator_input = start.input.clone().expect("the orchestrator gets the aggregate");
    let started_at = at("2025-03-25T09:00:00Z");
    let first_episode = proto::OrchestratorRequest {
        instance_id: start.instance_id.clone(),
        new_events: vec![
            history::orchestrator_started(started_at),
            history::execution_started(durable::ORCHESTRATOR, &start.instance_id, Some(&orchestrator_input)),
        ],
        ..Default::default()
    };
    let scheduled = scheduled_task(&execute_orchestrator(&registry, &first_episode));
    let activity_input = scheduled.input.clone().expect("the activity gets the notification");
    let receipt = json!({ "notificationId": "receipt", "binding": "notification" }).to_string();
    let second_episode = proto::OrchestratorRequest {
        instance_id: start.instance_id.clone(),
        past_events: [
            first_episode.new_events.clone(),
            vec![
                history::task_scheduled(1, &scheduled.name, Some(&activity_input)),
                history::orchestrator_completed(),
            ],
        ]
        .concat(),
        new_events: vec![
            history::orchestrator_started(at("2025-03-25T09:00:01Z")),
            history::task_completed(1, Some(&receipt)),
        ],
        ..Default::default()
    };

    let mut payloads = vec![
        Payload {
            name: "orchestrator_start",
            function: durable::ORCHESTRATOR,
            description: "first episode of the notification orchestrator: schedules PublishNotification",
            body: durable_invocation(durable::ORCHESTRATOR, &first_episode, started_at),
        },
        Payload {
            name: "orchestrator_complete",
            function: durable::ORCHESTRATOR,
            description: "second episode: replays, the activity completed, signals the entity and completes",
            body: durable_invocation(durable::ORCHESTRATOR, &second_episode, started_at),
        },
        Payload {
            name: "entity_apply",
            function: durable::AGGREGATE_ENTITY,
            description: "entity batch: one 'apply' of the return's last event on its stored state (settles it)",
            body: durable_invocation(durable::AGGREGATE_ENTITY, &entity_batch, started_at),
        },
        Payload {
            name: "activity_publish",
            function: durable::PUBLISH_NOTIFICATION,
            description: "PublishNotification with the notification the orchestrator built",
            body: activity_invocation(durable::PUBLISH_NOTIFICATION, &activity_input, &start.instance_id),
        },
        Payload {
            name: "service_bus_invalid",
            function: "ServiceBusTrigger",
            description: "Service Bus message whose event has no returnId: kept on the invalid-events queue, no engine",
            body: service_bus_invocation(&invalid_message(last), "http://127.0.0.1:9"),
        },
    ];
    if let Some(url) = rpc_base_url {
        payloads.push(Payload {
            name: "service_bus_valid",
            function: "ServiceBusTrigger",
            description: "Service Bus message with a valid event: parsed and signalled to the entity over gRPC",
            body: service_bus_invocation(last, url),
        });
    }
    payloads
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a valid RFC 3339 time")
}

fn read_scenario(path: &Path) -> Vec<Message> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let message: Value = serde_json::from_str(line).expect("one JSON message per line");
            let text = |key: &str| message[key].as_str().unwrap_or_default().to_string();
            let body = match &message["body"] {
                Value::String(raw) => raw.clone().into_bytes(),
                other => other.to_string().into_bytes(),
            };
            Message {
                message_id: text("messageId"),
                subject: text("subject"),
                event_type: message["applicationProperties"]["eventType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                body,
            }
        })
        .collect()
}

fn return_id_of(message: &Message) -> String {
    let body: Value = serde_json::from_slice(&message.body).expect("the scenario's events are JSON");
    body["returnId"]
        .as_str()
        .expect("the scenario's events name their return")
        .to_string()
}

/// The canonical event JSON the Service Bus trigger signals to the entity.
fn signalled_event(message: &Message) -> String {
    returns_aggregator::domain::parse_event(Some(&message.event_type), Some(&message.message_id), &message.body)
        .expect("the scenario's events are valid")
        .to_wire_json()
        .to_string()
}

fn apply_batch(instance: &str, state: Option<String>, messages: &[Message]) -> proto::EntityBatchRequest {
    proto::EntityBatchRequest {
        instance_id: instance.to_string(),
        entity_state: state,
        operations: messages
            .iter()
            .map(|message| proto::OperationRequest {
                operation: APPLY_EVENT_OPERATION.to_string(),
                request_id: message.message_id.clone(),
                input: Some(signalled_event(message)),
                trace_context: None,
            })
            .collect(),
        ..Default::default()
    }
}

fn entity_state_after(
    registry: &Registry,
    instance: &str,
    state: Option<String>,
    messages: &[Message],
) -> Option<String> {
    execute_entity_batch(registry, &apply_batch(instance, state, messages), chrono::Utc::now()).entity_state
}

fn started_orchestration(result: &proto::EntityBatchResult) -> proto::StartNewOrchestrationAction {
    result
        .actions
        .iter()
        .find_map(|action| match &action.operation_action_type {
            Some(OperationActionType::StartNewOrchestration(start)) => Some(start.clone()),
            _ => None,
        })
        .expect("the last event settles the return and starts the notification")
}

fn scheduled_task(response: &proto::OrchestratorResponse) -> proto::ScheduleTaskAction {
    response
        .actions
        .iter()
        .find_map(|action| match &action.orchestrator_action_type {
            Some(OrchestratorActionType::ScheduleTask(task)) => Some(task.clone()),
            _ => None,
        })
        .expect("the first episode schedules the publishing activity")
}

fn sys(method: &str, now: DateTime<Utc>) -> Value {
    json!({
        "MethodName": method,
        "UtcNow": now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "RandGuid": "5d0c0c57-9a1b-4c2d-8e3f-4a5b6c7d8e9f",
    })
}

/// An orchestration or entity trigger invocation: the base64 protobuf request, JSON-encoded once more.
fn durable_invocation(function: &str, message: &impl prost::Message, now: DateTime<Utc>) -> Vec<u8> {
    let encoded = encode_return_value(message);
    let encoded = encoded.as_str().expect("base64 text");
    json!({
        "Data": { CONTEXT_BINDING: host_string(encoded) },
        "Metadata": { "sys": sys(function, now) },
    })
    .to_string()
    .into_bytes()
}

fn activity_invocation(function: &str, input_json: &str, instance_id: &str) -> Vec<u8> {
    json!({
        "Data": { ACTIVITY_BINDING: host_string(input_json) },
        "Metadata": {
            "instanceId": host_string(instance_id),
            "sys": sys(function, at("2025-03-25T09:00:00.5Z")),
        },
    })
    .to_string()
    .into_bytes()
}

/// The message with its body's `returnId` removed: an event the trigger must refuse.
fn invalid_message(message: &Message) -> Message {
    let mut body: Value = serde_json::from_slice(&message.body).expect("the scenario's events are JSON");
    body.as_object_mut().expect("events are objects").remove("returnId");
    Message {
        message_id: format!("{}-invalid", message.message_id),
        subject: message.subject.clone(),
        event_type: message.event_type.clone(),
        body: body.to_string().into_bytes(),
    }
}

/// A Service Bus trigger invocation as the host sends it for `dataType: binary`, with the durable client binding.
fn service_bus_invocation(message: &Message, rpc_base_url: &str) -> Vec<u8> {
    json!({
        "Data": {
            MESSAGE_BINDING: base64::engine::general_purpose::STANDARD.encode(&message.body),
            CLIENT_BINDING: DurableClientBinding::new(rpc_base_url).to_value(),
        },
        "Metadata": {
            "MessageId": host_string(&message.message_id),
            "Subject": host_string(&message.subject),
            "ContentType": host_string("application/json"),
            "DeliveryCount": "1",
            "EnqueuedTimeUtc": "2025-03-25T09:00:00",
            "ApplicationProperties": { "eventType": message.event_type, "producer": "returns-service" },
            "sys": sys("ServiceBusTrigger", at("2025-03-25T09:00:00.1Z")),
        },
    })
    .to_string()
    .into_bytes()
}
