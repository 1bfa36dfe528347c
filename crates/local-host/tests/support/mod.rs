//! A test double of a custom HANDLER (not of the engine) for the local host's end-to-end tests.
//!
//! The test binary is its own handler process: the local host starts it with the arguments of
//! `host.json` (`--exact handler_process --ignored`) and `LOCAL_HOST_TEST_HANDLER=1`, which run the
//! ignored `handler_process` test below as an axum server on `FUNCTIONS_CUSTOMHANDLER_PORT`.
//!
//! The app: `Intake` (Service Bus) signals `@counter@<key>` `add` (or the event's `operation`) through the
//! durable client binding; `Counter` (entity) sums and, on reaching the target, starts `Tally` (orchestrator)
//! with id `tally-<key>`, answers 500 to a batch holding an `explode` operation, and answers a state of 5 MiB
//! (over the local engine's 4 MiB message limit) to a `bloat` operation; `Tally` (failing for key
//! `boom`) calls the `Announce` activity, which publishes `{"key", "total"}` to topic `announcements` (and
//! answers 500 for key `sad`; `Tally` then fails with the task's failure); `Slow` (Service Bus) hangs on its
//! first delivery; `Nightly` (timer) publishes what it received to topic `timer-events`. The orchestrator and entity are written against the raw protocol
//! so that these tests depend on the local host only.

use std::path::Path;
use std::time::Duration;

use axum::extract::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use durabletask_sdk::proto::{
    self, history_event::EventType, operation_action::OperationActionType, operation_result::ResultType,
    orchestrator_action::OrchestratorActionType, task_hub_sidecar_service_client::TaskHubSidecarServiceClient,
};
use serde_json::{json, Value};

/// The counter value that starts the `Tally` orchestration.
pub const TARGET: i64 = 3;

/// Writes the test app (host.json, local.settings.json, function folders) into `root`.
pub fn write_app(root: &Path) {
    let write = |relative: &str, value: Value| {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    };
    write(
        "host.json",
        json!({
            "version": "2.0",
            "customHandler": {"description": {
                "defaultExecutablePath": "handler-placeholder",
                "arguments": ["--exact", "handler_process", "--ignored", "--nocapture", "--test-threads=1"]
            }},
            "extensions": {"durableTask": {"hubName": "TestHub"}, "serviceBus": {"maxConcurrentCalls": 4}},
            "functionTimeout": "00:01:00"
        }),
    );
    write(
        "local.settings.json",
        json!({"Values": {"FUNCTIONS_WORKER_RUNTIME": "custom", "LOCAL_HOST_TEST_HANDLER": "1"}}),
    );
    write(
        "Intake/function.json",
        json!({"bindings": [
            {"name": "message", "type": "serviceBusTrigger", "direction": "in", "topicName": "events",
             "subscriptionName": "intake", "connection": "ServiceBusConnection"},
            {"name": "starter", "type": "durableClient", "direction": "in"}
        ]}),
    );
    write(
        "Slow/function.json",
        json!({"bindings": [{"name": "message", "type": "serviceBusTrigger", "queueName": "slow", "dataType": "binary"}]}),
    );
    write(
        "Counter/function.json",
        json!({"bindings": [{"name": "context", "type": "entityTrigger", "direction": "in"}]}),
    );
    write(
        "Tally/function.json",
        json!({"bindings": [{"name": "context", "type": "orchestrationTrigger", "direction": "in"}]}),
    );
    write(
        "Announce/function.json",
        json!({"bindings": [
            {"name": "input", "type": "activityTrigger", "direction": "in"},
            {"name": "outbox", "type": "serviceBus", "direction": "out", "topicName": "announcements"}
        ]}),
    );
    write(
        "Nightly/function.json",
        json!({"bindings": [
            {"name": "timer", "type": "timerTrigger", "direction": "in", "schedule": "0 0 0 * * *"},
            {"name": "outbox", "type": "serviceBus", "direction": "out", "queueName": "timer-events"}
        ]}),
    );
}

/// Runs the handler until the process is killed.
pub fn serve_forever() {
    let port: u16 = std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT")
        .expect("started by the local host")
        .parse()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let app = Router::new()
            .route("/", get(|| async { "ready" }))
            .route("/Intake", post(intake))
            .route("/Slow", post(slow))
            .route("/Counter", post(counter))
            .route("/Tally", post(tally))
            .route("/Announce", post(announce))
            .route("/Nightly", post(nightly));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

fn reply(body: Value) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

fn fail(status: StatusCode, problem: impl Into<String>) -> Response {
    (status, problem.into()).into_response()
}

/// Decodes a double-encoded string binding value.
fn decode_string(value: &Value) -> Result<String, String> {
    let outer = value
        .as_str()
        .ok_or_else(|| format!("expected a JSON string, got {value}"))?;
    serde_json::from_str::<String>(outer).map_err(|error| format!("not a double-encoded string ({error}): {outer}"))
}

fn check_host_headers(headers: &HeaderMap) -> Result<(), String> {
    for name in ["x-azure-functions-invocationid", "x-azure-functions-hostversion"] {
        headers.get(name).ok_or_else(|| format!("missing header {name}"))?;
    }
    let agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !agent.starts_with("Azure-Functions-Host/") || content_type != "application/json; charset=utf-8" {
        return Err(format!(
            "unexpected headers: user-agent {agent:?}, content-type {content_type:?}"
        ));
    }
    Ok(())
}

async fn intake(headers: HeaderMap, Json(body): Json<Value>) -> Response {
    match intake_event(&headers, &body).await {
        Ok(()) => reply(json!({"Logs": ["signalled"]})),
        Err((status, problem)) => fail(status, problem),
    }
}

async fn intake_event(headers: &HeaderMap, body: &Value) -> Result<(), (StatusCode, String)> {
    let bad = |problem: String| (StatusCode::BAD_REQUEST, problem);
    check_host_headers(headers).map_err(bad)?;
    let text = decode_string(&body["Data"]["message"]).map_err(bad)?;
    let event: Value = serde_json::from_str(&text).map_err(|error| bad(error.to_string()))?;
    let delivery: i64 = body["Metadata"]["DeliveryCount"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if event["poison"] == json!(true) {
        return Err((StatusCode::INTERNAL_SERVER_ERROR, "poison".into()));
    }
    if delivery < event["failUntilDelivery"].as_i64().unwrap_or(0) {
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not yet (delivery {delivery})"),
        ));
    }
    let client: Value =
        serde_json::from_str(&decode_string(&body["Data"]["starter"]).map_err(bad)?).map_err(|e| bad(e.to_string()))?;
    let rpc = client["rpcBaseUrl"]
        .as_str()
        .ok_or_else(|| bad("no rpcBaseUrl".into()))?
        .to_owned();
    let key = event["key"]
        .as_str()
        .ok_or_else(|| bad("no key".into()))?
        .to_lowercase();
    let unavailable = |problem: String| (StatusCode::SERVICE_UNAVAILABLE, problem);
    let mut engine = TaskHubSidecarServiceClient::connect(rpc)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(proto::SignalEntityRequest {
        instance_id: format!("@counter@{key}"),
        name: event["operation"].as_str().unwrap_or("add").into(),
        input: Some(event["amount"].as_i64().unwrap_or(1).to_string()),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    });
    request.set_timeout(Duration::from_secs(10));
    engine
        .signal_entity(request)
        .await
        .map_err(|status| unavailable(status.message().to_owned()))?;
    Ok(())
}

async fn slow(Json(body): Json<Value>) -> Response {
    let delivery: i64 = body["Metadata"]["DeliveryCount"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if delivery < 2 {
        std::future::pending::<()>().await;
    }
    let text = BASE64
        .decode(body["Data"]["message"].as_str().unwrap_or_default())
        .unwrap_or_default();
    reply(json!({"Logs": [format!("slow message {} done", String::from_utf8_lossy(&text))]}))
}

fn decode_trigger<M: prost::Message + Default>(body: &Value) -> Result<M, String> {
    let base64 = decode_string(&body["Data"]["context"])?;
    let bytes = BASE64.decode(base64).map_err(|error| error.to_string())?;
    M::decode(bytes.as_slice()).map_err(|error| error.to_string())
}

fn protobuf_reply(message: &impl prost::Message) -> Response {
    reply(json!({"ReturnValue": BASE64.encode(message.encode_to_vec())}))
}

async fn counter(Json(body): Json<Value>) -> Response {
    let batch: proto::EntityBatchRequest = match decode_trigger(&body) {
        Ok(batch) => batch,
        Err(problem) => return fail(StatusCode::BAD_REQUEST, problem),
    };
    if batch
        .operations
        .iter()
        .any(|operation| operation.operation == "explode")
    {
        return fail(StatusCode::INTERNAL_SERVER_ERROR, "the entity exploded");
    }
    let key = batch.instance_id.rsplit('@').next().unwrap_or_default().to_owned();
    let mut state: i64 = batch.entity_state.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut result = proto::EntityBatchResult::default();
    for operation in &batch.operations {
        let before = state;
        state += operation
            .input
            .as_deref()
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0);
        if before < TARGET && state >= TARGET {
            result.actions.push(proto::OperationAction {
                id: i32::try_from(result.actions.len()).unwrap(),
                operation_action_type: Some(OperationActionType::StartNewOrchestration(
                    proto::StartNewOrchestrationAction {
                        instance_id: format!("tally-{key}"),
                        name: "Tally".into(),
                        input: Some(json!({"key": key, "total": state}).to_string()),
                        ..Default::default()
                    },
                )),
            });
        }
        result.results.push(proto::OperationResult {
            result_type: Some(ResultType::Success(proto::OperationResultSuccess {
                result: Some(state.to_string()),
                ..Default::default()
            })),
        });
    }
    result.entity_state = Some(state.to_string());
    if batch.operations.iter().any(|operation| operation.operation == "bloat") {
        result.entity_state = Some(serde_json::to_string(&"x".repeat(5 << 20)).unwrap());
    }
    protobuf_reply(&result)
}

async fn tally(Json(body): Json<Value>) -> Response {
    let request: proto::OrchestratorRequest = match decode_trigger(&body) {
        Ok(request) => request,
        Err(problem) => return fail(StatusCode::BAD_REQUEST, problem),
    };
    let events = || {
        request
            .past_events
            .iter()
            .chain(&request.new_events)
            .filter_map(|event| event.event_type.as_ref())
    };
    let input = events().find_map(|event| match event {
        EventType::ExecutionStarted(started) => started.input.clone(),
        _ => None,
    });
    if input.as_deref().is_some_and(|input| input.contains("\"boom\"")) {
        return fail(StatusCode::INTERNAL_SERVER_ERROR, "the orchestrator crashed");
    }
    let scheduled = events().any(|event| matches!(event, EventType::TaskScheduled(_)));
    let completed = events().find_map(|event| match event {
        EventType::TaskCompleted(done) => Some(done.result.clone()),
        _ => None,
    });
    let task_failure = events().find_map(|event| match event {
        EventType::TaskFailed(failed) => Some(failed.failure_details.clone()),
        _ => None,
    });
    let action = match (scheduled, completed) {
        (_, None) if task_failure.is_some() => {
            OrchestratorActionType::CompleteOrchestration(proto::CompleteOrchestrationAction {
                orchestration_status: proto::OrchestrationStatus::Failed as i32,
                failure_details: task_failure.flatten(),
                ..Default::default()
            })
        }
        (_, Some(result)) => OrchestratorActionType::CompleteOrchestration(proto::CompleteOrchestrationAction {
            orchestration_status: proto::OrchestrationStatus::Completed as i32,
            result,
            ..Default::default()
        }),
        (false, None) => OrchestratorActionType::ScheduleTask(proto::ScheduleTaskAction {
            name: "Announce".into(),
            input: input.clone(),
            ..Default::default()
        }),
        (true, None) => return protobuf_reply(&proto::OrchestratorResponse::default()),
    };
    let completes = matches!(action, OrchestratorActionType::CompleteOrchestration(_));
    let mut actions = Vec::new();
    if completes {
        actions.extend(thank_you_signal(input.as_deref()));
    }
    actions.push(proto::OrchestratorAction {
        id: 0,
        orchestrator_action_type: Some(action),
    });
    let response = proto::OrchestratorResponse {
        instance_id: request.instance_id.clone(),
        actions,
        ..Default::default()
    };
    protobuf_reply(&response)
}

/// For keys `signal-by-event` and `signal-by-message`: `Tally`'s signal `add 100` to its counter when it completes,
/// in one of the two encodings an orchestrator can use (a `sendEvent` named `op` carrying the framework's request
/// message, or a `sendEntityMessage` action).
fn thank_you_signal(input: Option<&str>) -> Option<proto::OrchestratorAction> {
    let key = serde_json::from_str::<Value>(input?).ok()?["key"].as_str()?.to_owned();
    let target = format!("@counter@{key}");
    let request_id = uuid::Uuid::new_v4().to_string();
    let action = match key.as_str() {
        "signal-by-event" => OrchestratorActionType::SendEvent(proto::SendEventAction {
            instance: Some(proto::OrchestrationInstance {
                instance_id: target,
                execution_id: None,
            }),
            name: "op".into(),
            data: Some(json!({"op": "add", "signal": true, "input": "100", "id": request_id}).to_string()),
        }),
        "signal-by-message" => OrchestratorActionType::SendEntityMessage(proto::SendEntityMessageAction {
            entity_message_type: Some(
                proto::send_entity_message_action::EntityMessageType::EntityOperationSignaled(
                    proto::EntityOperationSignaledEvent {
                        request_id,
                        operation: "add".into(),
                        input: Some("100".into()),
                        target_instance_id: Some(target),
                        ..Default::default()
                    },
                ),
            ),
        }),
        _ => return None,
    };
    Some(proto::OrchestratorAction {
        id: 1,
        orchestrator_action_type: Some(action),
    })
}

async fn announce(Json(body): Json<Value>) -> Response {
    let input = match decode_string(&body["Data"]["input"]) {
        Ok(text) => text,
        Err(problem) => return fail(StatusCode::BAD_REQUEST, problem),
    };
    let announcement: Value = serde_json::from_str(&input).unwrap_or(Value::Null);
    if announcement["key"] == "sad" {
        return fail(StatusCode::INTERNAL_SERVER_ERROR, "the announcement failed");
    }
    if body["Metadata"]["instanceId"]
        .as_str()
        .is_none_or(|id| !id.starts_with("\"tally-"))
    {
        return fail(
            StatusCode::BAD_REQUEST,
            format!("unexpected instanceId {}", body["Metadata"]["instanceId"]),
        );
    }
    reply(json!({"Outputs": {"outbox": announcement}, "ReturnValue": {"announced": announcement["key"]}}))
}

async fn nightly(Json(body): Json<Value>) -> Response {
    let timer = &body["Data"]["timer"];
    reply(
        json!({"Outputs": {"outbox": {"fired": true, "isPastDue": timer["IsPastDue"], "hasNext": timer["ScheduleStatus"]["Next"].is_string()}}}),
    )
}

/// Signals an entity through the engine, as a durable client would.
pub async fn signal(
    engine: &mut local_host::engine::client::SidecarClient,
    instance_id: &str,
    operation: &str,
    input: &str,
) {
    let request = local_host::engine::client::with_deadline(proto::SignalEntityRequest {
        instance_id: instance_id.into(),
        name: operation.into(),
        input: Some(input.into()),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    });
    engine
        .signal_entity(request)
        .await
        .expect("the engine takes the signal");
}

/// Entity state through the engine.
pub async fn entity_state(engine: &mut local_host::engine::client::SidecarClient, instance_id: &str) -> Option<String> {
    let request = local_host::engine::client::with_deadline(proto::GetEntityRequest {
        instance_id: instance_id.into(),
        include_state: true,
    });
    let response = engine.get_entity(request).await.ok()?.into_inner();
    response.entity.and_then(|entity| entity.serialized_state)
}

/// Orchestration status, output and failure message through the engine.
pub async fn orchestration(
    engine: &mut local_host::engine::client::SidecarClient,
    instance_id: &str,
) -> Option<(proto::OrchestrationStatus, Option<String>, Option<String>)> {
    let request = local_host::engine::client::with_deadline(proto::GetInstanceRequest {
        instance_id: instance_id.into(),
        get_inputs_and_outputs: true,
    });
    let state = engine
        .get_instance(request)
        .await
        .ok()?
        .into_inner()
        .orchestration_state?;
    let status = proto::OrchestrationStatus::try_from(state.orchestration_status).ok()?;
    let failure = state.failure_details.map(|details| details.error_message);
    Some((status, state.output, failure))
}
