//! The Durable extension's side of the custom-handler protocol, as pure functions: turning engine work
//! items into what the extension gives the handler (V2 entity requests become V1 `EntityBatchRequest`s)
//! and turning handler answers into engine completions (only `actions` and `customStatus` of an
//! orchestrator answer are used; entity results get the `operationInfos` the engine routes call
//! results with).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use durabletask_sdk::proto::{
    self, history_event::EventType, orchestrator_action::OrchestratorActionType,
    send_entity_message_action::EntityMessageType, EntityBatchRequest, EntityBatchResult, EntityRequest, OperationInfo,
    OperationRequest, OrchestrationInstance, OrchestratorRequest, OrchestratorResponse, TaskFailureDetails,
};
use prost::Message;
use serde_json::Value;

/// The `errorType` the local host reports for a function that failed on the handler side.
pub const FUNCTION_FAILURE_TYPE: &str = "FunctionInvocationException";

/// The extension's message for a function that failed (the handler's own error text is lost on the
/// custom-handler path).
pub fn function_failed_message(function_name: &str) -> String {
    format!("Function '{function_name}' failed with an unhandled exception.")
}

/// The extension's message for a Durable function that is not registered.
pub fn function_missing_message(name: &str, kind: &str) -> String {
    format!("The function '{name}' doesn't exist, is disabled, or is not {kind} function.")
}

/// Failure details with the local host's error type.
pub fn failure_details(error_type: &str, message: String) -> TaskFailureDetails {
    TaskFailureDetails {
        error_type: error_type.to_owned(),
        error_message: message,
        ..TaskFailureDetails::default()
    }
}

/// A V2 entity request converted to what the Functions extension sends the handler.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvertedEntityRequest {
    /// The V1 batch: instance id, state, and one operation per signal or call, in order.
    pub batch: EntityBatchRequest,
    /// One entry per operation: the request id, and for calls the orchestration awaiting the result.
    pub operation_infos: Vec<OperationInfo>,
    /// History events that are neither signals nor calls (left out).
    pub skipped_events: usize,
}

/// Converts an `entityRequestV2` work item into the V1 batch the extension sends, plus the
/// `operationInfos` the engine expects back.
pub fn entity_batch_from_v2(request: &EntityRequest) -> ConvertedEntityRequest {
    let mut batch = EntityBatchRequest {
        instance_id: request.instance_id.clone(),
        entity_state: request.entity_state.clone(),
        ..EntityBatchRequest::default()
    };
    let mut operation_infos = Vec::new();
    let mut skipped_events = 0;
    for event in &request.operation_requests {
        match &event.event_type {
            Some(EventType::EntityOperationSignaled(signal)) => {
                batch.operations.push(OperationRequest {
                    operation: signal.operation.clone(),
                    request_id: signal.request_id.clone(),
                    input: signal.input.clone(),
                    trace_context: None,
                });
                operation_infos.push(OperationInfo {
                    request_id: signal.request_id.clone(),
                    response_destination: None,
                });
            }
            Some(EventType::EntityOperationCalled(call)) => {
                batch.operations.push(OperationRequest {
                    operation: call.operation.clone(),
                    request_id: call.request_id.clone(),
                    input: call.input.clone(),
                    trace_context: None,
                });
                operation_infos.push(OperationInfo {
                    request_id: call.request_id.clone(),
                    response_destination: Some(OrchestrationInstance {
                        instance_id: call.parent_instance_id.clone().unwrap_or_default(),
                        execution_id: call.parent_execution_id.clone(),
                    }),
                });
            }
            _ => skipped_events += 1,
        }
    }
    ConvertedEntityRequest {
        batch,
        operation_infos,
        skipped_events,
    }
}

/// The entity name of an entity instance id `@name@key`.
pub fn entity_name(instance_id: &str) -> Option<&str> {
    let (name, _key) = instance_id.strip_prefix('@')?.split_once('@')?;
    (!name.is_empty()).then_some(name)
}

/// The orchestration name, from the `executionStarted` event of the request's history.
pub fn orchestration_name(request: &OrchestratorRequest) -> Option<&str> {
    request
        .past_events
        .iter()
        .chain(&request.new_events)
        .find_map(|event| match &event.event_type {
            Some(EventType::ExecutionStarted(started)) => Some(started.name.as_str()),
            _ => None,
        })
}

/// Why a handler's Durable answer cannot be used (the extension fails the function for these).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// `ReturnValue` is missing, null or not a string.
    #[error("the ReturnValue must be one JSON string of base64 protobuf, found {0}")]
    NotAString(String),
    /// The string is not standard base64.
    #[error("the ReturnValue is not valid base64: {0}")]
    Base64(String),
    /// The bytes are not the expected protobuf message.
    #[error("the ReturnValue is not a valid {message}: {problem}")]
    Protobuf {
        /// The expected message type.
        message: &'static str,
        /// The decode error.
        problem: String,
    },
    /// An orchestrator action the extension does not support.
    #[error("the orchestrator returned a {0} action, which the Durable extension does not support")]
    UnsupportedAction(&'static str),
}

/// Decodes a `ReturnValue` holding base64 protobuf, as the extension reads it. Deliberately not the SDK's
/// `functions::decode_protobuf`: the emulator reads the handler's answers on its own, so that a mistake in the SDK's
/// encoding shows up here instead of being mirrored.
pub fn decode_return_value<M: Message + Default>(
    return_value: &Value,
    message: &'static str,
) -> Result<M, AnswerError> {
    let Value::String(text) = return_value else {
        let shown = if return_value.is_null() {
            "null".to_owned()
        } else {
            return_value.to_string()
        };
        return Err(AnswerError::NotAString(shown));
    };
    if text.is_empty() {
        return Err(AnswerError::NotAString("an empty string".into()));
    }
    let bytes = BASE64
        .decode(text.as_bytes())
        .map_err(|error| AnswerError::Base64(error.to_string()))?;
    M::decode(bytes.as_slice()).map_err(|error| AnswerError::Protobuf {
        message,
        problem: error.to_string(),
    })
}

/// The engine completion for an orchestrator answer: the handler's `actions` and `customStatus` only, for
/// the work item's instance and completion token. Actions the extension rejects fail the answer.
pub fn orchestrator_completion(
    return_value: &Value,
    instance_id: &str,
    completion_token: &str,
) -> Result<OrchestratorResponse, AnswerError> {
    let answer: OrchestratorResponse = decode_return_value(return_value, "OrchestratorResponse")?;
    for action in &answer.actions {
        match &action.orchestrator_action_type {
            Some(OrchestratorActionType::TerminateOrchestration(_)) => {
                return Err(AnswerError::UnsupportedAction("terminateOrchestration"))
            }
            Some(OrchestratorActionType::RewindOrchestration(_)) => {
                return Err(AnswerError::UnsupportedAction("rewindOrchestration"))
            }
            _ => {}
        }
    }
    let actions = answer.actions.into_iter().map(route_entity_request_event).collect();
    Ok(OrchestratorResponse {
        instance_id: instance_id.to_owned(),
        actions,
        custom_status: answer.custom_status,
        completion_token: completion_token.to_owned(),
        ..OrchestratorResponse::default()
    })
}

/// An orchestrator's `sendEvent` of an entity request as the engine takes it.
///
/// The Durable extension hands a `sendEvent` to the framework unchanged (`ProtobufUtils.ToOrchestratorAction`,
/// `SendEvent` case); DTFx sends the event to the target's queue, and for an entity instance (`@name@key`) its
/// entity dispatcher reads an event named `op` (or `op@<time>`, scheduled) as the framework's `RequestMessage`
/// (`op`, `signal`, `input`, `id`, `parent`, `parentExecution`, `due`): one operation request. Newer extension
/// releases turn a `sendEntityMessage` action into exactly such an event. The local engine delivers entity
/// operations only from `sendEntityMessage` (it raises other events on orchestrations, and drops them when no
/// orchestration has the id), so the local host turns the event into the signal or call it describes. Any other
/// action, and an event whose message cannot be read, is passed on unchanged.
pub fn route_entity_request_event(action: proto::OrchestratorAction) -> proto::OrchestratorAction {
    let Some(OrchestratorActionType::SendEvent(event)) = &action.orchestrator_action_type else {
        return action;
    };
    let target = event
        .instance
        .as_ref()
        .map(|instance| instance.instance_id.clone())
        .unwrap_or_default();
    let Some(scheduled_by_name) = request_event_schedule(&event.name) else {
        return action;
    };
    if entity_name(&target).is_none() {
        return action;
    }
    let Some(message) = event
        .data
        .as_deref()
        .and_then(|data| serde_json::from_str::<RequestMessage>(data).ok())
    else {
        return action;
    };
    let scheduled_time = message.due.or(scheduled_by_name).map(|due| prost_types::Timestamp {
        seconds: due.timestamp(),
        nanos: i32::try_from(due.timestamp_subsec_nanos()).unwrap_or(0),
    });
    let message_type = if message.signal {
        EntityMessageType::EntityOperationSignaled(proto::EntityOperationSignaledEvent {
            request_id: message.id,
            operation: message.op,
            scheduled_time,
            input: message.input,
            target_instance_id: Some(target),
        })
    } else {
        EntityMessageType::EntityOperationCalled(proto::EntityOperationCalledEvent {
            request_id: message.id,
            operation: message.op,
            scheduled_time,
            input: message.input,
            parent_instance_id: message.parent,
            parent_execution_id: message.parent_execution,
            target_instance_id: Some(target),
        })
    };
    proto::OrchestratorAction {
        id: action.id,
        orchestrator_action_type: Some(OrchestratorActionType::SendEntityMessage(
            proto::SendEntityMessageAction {
                entity_message_type: Some(message_type),
            },
        )),
    }
}

/// The framework's `RequestMessage` as JSON, the fields of one operation request (read here independently of the
/// SDK's writer, so that the emulator catches the SDK writing it wrongly).
#[derive(serde::Deserialize)]
struct RequestMessage {
    op: String,
    #[serde(default)]
    signal: bool,
    #[serde(default)]
    input: Option<String>,
    id: String,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default, rename = "parentExecution")]
    parent_execution: Option<String>,
    #[serde(default)]
    due: Option<chrono::DateTime<chrono::Utc>>,
}

/// For an entity request event name: `Some(None)` for `op`, `Some(Some(time))` for `op@<time>`; `None` for any other
/// name (`release`, an orchestration's own events).
fn request_event_schedule(name: &str) -> Option<Option<chrono::DateTime<chrono::Utc>>> {
    match name.split_once('@') {
        None => (name == "op").then_some(None),
        Some(("op", time)) => chrono::DateTime::parse_from_rfc3339(time)
            .ok()
            .map(|time| Some(time.with_timezone(&chrono::Utc))),
        Some(_) => None,
    }
}

/// The completion that fails an orchestration instance (what the extension does when the orchestrator
/// function fails).
pub fn failed_orchestration(
    instance_id: &str,
    completion_token: &str,
    failure: TaskFailureDetails,
) -> OrchestratorResponse {
    let complete = proto::CompleteOrchestrationAction {
        orchestration_status: proto::OrchestrationStatus::Failed as i32,
        failure_details: Some(failure),
        ..proto::CompleteOrchestrationAction::default()
    };
    OrchestratorResponse {
        instance_id: instance_id.to_owned(),
        actions: vec![proto::OrchestratorAction {
            id: -1,
            orchestrator_action_type: Some(OrchestratorActionType::CompleteOrchestration(complete)),
        }],
        completion_token: completion_token.to_owned(),
        ..OrchestratorResponse::default()
    }
}

/// The engine completion for an entity answer: the handler's result with the work item's completion
/// token and the `operationInfos` of the request.
pub fn entity_completion(
    return_value: &Value,
    completion_token: &str,
    operation_infos: Vec<OperationInfo>,
) -> Result<EntityBatchResult, AnswerError> {
    let mut result: EntityBatchResult = decode_return_value(return_value, "EntityBatchResult")?;
    result.completion_token = completion_token.to_owned();
    result.operation_infos = operation_infos;
    Ok(result)
}

/// A completion that fails every operation of a batch and keeps the state: what DTFx `TaskEntityDispatcher`
/// commits when the extension's middleware sets a batch-level `FailureDetails` (an error result for every
/// operation, no actions, the state the batch started from).
pub fn failed_entity_batch(
    batch: &EntityBatchRequest,
    completion_token: &str,
    operation_infos: Vec<OperationInfo>,
    failure: &TaskFailureDetails,
) -> EntityBatchResult {
    let results = batch
        .operations
        .iter()
        .map(|_| proto::OperationResult {
            result_type: Some(proto::operation_result::ResultType::Failure(
                proto::OperationResultFailure {
                    failure_details: Some(failure.clone()),
                    ..proto::OperationResultFailure::default()
                },
            )),
        })
        .collect();
    EntityBatchResult {
        results,
        entity_state: batch.entity_state.clone(),
        completion_token: completion_token.to_owned(),
        operation_infos,
        failure_details: Some(failure.clone()),
        ..EntityBatchResult::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use durabletask_sdk::proto::{
        EntityOperationCalledEvent, EntityOperationSignaledEvent, ExecutionStartedEvent, HistoryEvent, OperationResult,
        OperationResultSuccess, ScheduleTaskAction,
    };

    fn signal(request_id: &str, operation: &str, input: Option<&str>) -> HistoryEvent {
        HistoryEvent {
            event_id: -1,
            timestamp: None,
            event_type: Some(EventType::EntityOperationSignaled(EntityOperationSignaledEvent {
                request_id: request_id.into(),
                operation: operation.into(),
                input: input.map(Into::into),
                target_instance_id: Some("@counter@c1".into()),
                scheduled_time: None,
            })),
        }
    }

    fn call(request_id: &str, parent: &str) -> HistoryEvent {
        HistoryEvent {
            event_id: -1,
            timestamp: None,
            event_type: Some(EventType::EntityOperationCalled(Box::new(EntityOperationCalledEvent {
                request_id: request_id.into(),
                operation: "get".into(),
                input: None,
                parent_instance_id: Some(parent.into()),
                parent_execution_id: Some("exec-1".into()),
                target_instance_id: Some("@counter@c1".into()),
                scheduled_time: None,
            }))),
        }
    }

    #[test]
    fn v2_entity_requests_become_v1_batches_with_operation_infos() {
        let request = EntityRequest {
            instance_id: "@counter@c1".into(),
            execution_id: String::new(),
            entity_state: Some("5".into()),
            operation_requests: vec![
                signal("r1", "add", Some("1")),
                call("r2", "orch-1"),
                HistoryEvent {
                    event_id: -1,
                    timestamp: None,
                    event_type: None,
                },
            ],
        };
        let converted = entity_batch_from_v2(&request);
        assert_eq!(
            converted.batch,
            EntityBatchRequest {
                instance_id: "@counter@c1".into(),
                entity_state: Some("5".into()),
                operations: vec![
                    OperationRequest {
                        operation: "add".into(),
                        request_id: "r1".into(),
                        input: Some("1".into()),
                        trace_context: None
                    },
                    OperationRequest {
                        operation: "get".into(),
                        request_id: "r2".into(),
                        input: None,
                        trace_context: None
                    },
                ],
                properties: Default::default(),
            }
        );
        assert_eq!(
            converted.operation_infos,
            vec![
                OperationInfo {
                    request_id: "r1".into(),
                    response_destination: None
                },
                OperationInfo {
                    request_id: "r2".into(),
                    response_destination: Some(OrchestrationInstance {
                        instance_id: "orch-1".into(),
                        execution_id: Some("exec-1".into())
                    })
                },
            ]
        );
        assert_eq!(converted.skipped_events, 1);
    }

    #[test]
    fn entity_names() {
        assert_eq!(entity_name("@counter@c1"), Some("counter"));
        assert_eq!(entity_name("@returnaggregate@R-1@x"), Some("returnaggregate"));
        assert_eq!(entity_name("counter@c1"), None);
        assert_eq!(entity_name("@@c1"), None);
        assert_eq!(entity_name("@counter"), None);
    }

    #[test]
    fn orchestration_name_comes_from_execution_started() {
        let started = HistoryEvent {
            event_id: -1,
            timestamp: None,
            event_type: Some(EventType::ExecutionStarted(Box::new(ExecutionStartedEvent {
                name: "Orchestrator".into(),
                ..ExecutionStartedEvent::default()
            }))),
        };
        let request = OrchestratorRequest {
            past_events: vec![started],
            ..OrchestratorRequest::default()
        };
        assert_eq!(orchestration_name(&request), Some("Orchestrator"));
        assert_eq!(orchestration_name(&OrchestratorRequest::default()), None);
    }

    fn base64_of(message: &impl Message) -> Value {
        Value::String(BASE64.encode(message.encode_to_vec()))
    }

    #[test]
    fn orchestrator_answers_keep_only_actions_and_custom_status() {
        let answer = OrchestratorResponse {
            instance_id: "whatever".into(),
            actions: vec![proto::OrchestratorAction {
                id: 0,
                orchestrator_action_type: Some(OrchestratorActionType::ScheduleTask(ScheduleTaskAction {
                    name: "SayHello".into(),
                    input: Some("\"Tokyo\"".into()),
                    ..ScheduleTaskAction::default()
                })),
            }],
            custom_status: Some("\"busy\"".into()),
            completion_token: "handler-token".into(),
            num_events_processed: Some(3),
            ..OrchestratorResponse::default()
        };
        let completion = orchestrator_completion(&base64_of(&answer), "abc123", "7").unwrap();
        assert_eq!(completion.instance_id, "abc123");
        assert_eq!(completion.completion_token, "7");
        assert_eq!(completion.actions, answer.actions);
        assert_eq!(completion.custom_status, answer.custom_status);
        assert_eq!(completion.num_events_processed, None);
    }

    #[test]
    fn unusable_orchestrator_answers() {
        assert_eq!(
            orchestrator_completion(&Value::Null, "i", "t"),
            Err(AnswerError::NotAString("null".into()))
        );
        assert!(matches!(
            orchestrator_completion(&serde_json::json!("\"CgZh\""), "i", "t"),
            Err(AnswerError::Base64(_))
        ));
        assert!(matches!(
            orchestrator_completion(&serde_json::json!("/////w=="), "i", "t"),
            Err(AnswerError::Protobuf { .. })
        ));
        let terminate = OrchestratorResponse {
            actions: vec![proto::OrchestratorAction {
                id: 1,
                orchestrator_action_type: Some(OrchestratorActionType::TerminateOrchestration(Default::default())),
            }],
            ..OrchestratorResponse::default()
        };
        assert_eq!(
            orchestrator_completion(&base64_of(&terminate), "i", "t"),
            Err(AnswerError::UnsupportedAction("terminateOrchestration"))
        );
    }

    #[test]
    fn failed_orchestration_completes_as_failed() {
        let response = failed_orchestration(
            "i",
            "t",
            failure_details(FUNCTION_FAILURE_TYPE, function_failed_message("Orchestrator")),
        );
        let Some(OrchestratorActionType::CompleteOrchestration(complete)) =
            &response.actions[0].orchestrator_action_type
        else {
            panic!("expected completeOrchestration, got {response:?}");
        };
        assert_eq!(complete.orchestration_status, proto::OrchestrationStatus::Failed as i32);
        let details = complete.failure_details.as_ref().unwrap();
        assert_eq!(details.error_type, "FunctionInvocationException");
        assert_eq!(
            details.error_message,
            "Function 'Orchestrator' failed with an unhandled exception."
        );
        assert_eq!(response.completion_token, "t");
    }

    #[test]
    fn entity_answers_get_the_token_and_operation_infos() {
        let answer = EntityBatchResult {
            results: vec![OperationResult {
                result_type: Some(proto::operation_result::ResultType::Success(OperationResultSuccess {
                    result: Some("6".into()),
                    ..OperationResultSuccess::default()
                })),
            }],
            entity_state: Some("6".into()),
            ..EntityBatchResult::default()
        };
        let infos = vec![OperationInfo {
            request_id: "r1".into(),
            response_destination: None,
        }];
        let completion = entity_completion(&base64_of(&answer), "12", infos.clone()).unwrap();
        assert_eq!(completion.completion_token, "12");
        assert_eq!(completion.operation_infos, infos);
        assert_eq!(completion.results, answer.results);
        assert_eq!(completion.entity_state.as_deref(), Some("6"));
    }

    #[test]
    fn missing_entity_functions_fail_every_operation() {
        let batch = EntityBatchRequest {
            instance_id: "@nobody@k".into(),
            entity_state: Some("1".into()),
            operations: vec![OperationRequest::default(), OperationRequest::default()],
            properties: Default::default(),
        };
        let failure = failure_details(
            "EntityFunctionNotFound",
            function_missing_message("nobody", "an entity"),
        );
        let result = failed_entity_batch(&batch, "3", Vec::new(), &failure);
        assert_eq!(result.results.len(), 2);
        assert_eq!(result.entity_state.as_deref(), Some("1"));
        assert_eq!(result.completion_token, "3");
        assert!(result.actions.is_empty());
        assert_eq!(result.failure_details.as_ref(), Some(&failure));
    }

    fn send_event(target: &str, name: &str, data: &str) -> proto::OrchestratorAction {
        proto::OrchestratorAction {
            id: 4,
            orchestrator_action_type: Some(OrchestratorActionType::SendEvent(proto::SendEventAction {
                instance: Some(OrchestrationInstance {
                    instance_id: target.into(),
                    execution_id: None,
                }),
                name: name.into(),
                data: Some(data.into()),
            })),
        }
    }

    #[test]
    fn entity_request_events_reach_the_engine_as_the_signal_or_call_they_describe() {
        let signal = send_event(
            "@counter@a",
            "op",
            r#"{"op":"add","signal":true,"input":"5","id":"2f1c0a52-8c1e-4d3b-9a53-6c1a0f1e2d3c"}"#,
        );
        let Some(OrchestratorActionType::SendEntityMessage(message)) =
            route_entity_request_event(signal).orchestrator_action_type
        else {
            panic!("not routed to the entity");
        };
        let Some(EntityMessageType::EntityOperationSignaled(signaled)) = message.entity_message_type else {
            panic!("not a signal");
        };
        assert_eq!(signaled.operation, "add");
        assert_eq!(signaled.input.as_deref(), Some("5"));
        assert_eq!(signaled.request_id, "2f1c0a52-8c1e-4d3b-9a53-6c1a0f1e2d3c");
        assert_eq!(signaled.target_instance_id.as_deref(), Some("@counter@a"));
        assert_eq!(signaled.scheduled_time, None);

        let scheduled = send_event(
            "@counter@a",
            "op@2030-01-02T03:04:05.0000000Z",
            r#"{"op":"add","signal":true,"id":"r2"}"#,
        );
        let Some(OrchestratorActionType::SendEntityMessage(message)) =
            route_entity_request_event(scheduled).orchestrator_action_type
        else {
            panic!("not routed to the entity");
        };
        let Some(EntityMessageType::EntityOperationSignaled(signaled)) = message.entity_message_type else {
            panic!("not a signal");
        };
        assert_eq!(signaled.scheduled_time.map(|time| time.seconds), Some(1_893_553_445));

        let call = send_event(
            "@counter@a",
            "op",
            r#"{"op":"get","id":"r3","parent":"orchestration-1"}"#,
        );
        let Some(OrchestratorActionType::SendEntityMessage(message)) =
            route_entity_request_event(call).orchestrator_action_type
        else {
            panic!("not routed to the entity");
        };
        let Some(EntityMessageType::EntityOperationCalled(called)) = message.entity_message_type else {
            panic!("not a call");
        };
        assert_eq!(called.parent_instance_id.as_deref(), Some("orchestration-1"));
    }

    #[test]
    fn other_events_pass_unchanged() {
        for action in [
            send_event("orchestration-1", "op", r#"{"op":"add","signal":true,"id":"r"}"#),
            send_event("@counter@a", "approval", "{}"),
            send_event("@counter@a", "op", "not a request message"),
        ] {
            assert_eq!(route_entity_request_event(action.clone()), action);
        }
    }
}
