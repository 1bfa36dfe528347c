//! Normalisation: what two responses to the same request may differ in, and how it is removed before they are
//! compared. Python's response and ours must be equal after normalisation; anything left is a behaviour
//! difference.
//!
//! The rules, each applied to both sides alike:
//!
//! 1. **Run-specific fields are dropped**: `completionToken`, trace contexts (`orchestrationTraceContext`,
//!    `parentTraceContext`), stack traces, entity operation start and end times, and the `requestTime` of entity
//!    actions. They come from the engine or the clock, not from the executor's decisions.
//! 2. **JSON payloads are compared as parsed values** (inputs, results, custom status, event data, entity state):
//!    Python writes `[1, "two"]` and `{"b": 1, "a": 2}`, we write `[1,"two"]`; both become the same canonical
//!    text (sorted keys, no spaces). An empty payload string is the same as no payload: both SDKs decode either
//!    as `null` (Python writes `""` for an entity operation that returns `None`). The same holds for the empty
//!    `executionId` wrapper Python puts in `operationInfos[].responseDestination`.
//! 3. **Error type names are mapped to categories** (see [`error_category`]): Python's
//!    `durabletask.task.TaskFailedError` and our `TaskFailedError` are both `<TaskFailed>`; the errors of the
//!    registrations (`builtins.ValueError` from `boom`, `builtins.RuntimeError` from `fail`, `builtins.KeyError`
//!    from the counter's `fail`) and their Rust counterparts ([`BoomError`], [`ScriptError`], [`CounterError`])
//!    map to one category each. The registrations are written so that their messages are identical, so only the
//!    type name needs mapping. Unknown type names are kept, so they must be equal.
//! 4. **Messages the executors write themselves are reduced to their facts**, because their wording differs by
//!    language:
//!    * a task failure becomes `task #<id> failed: <the task's message>` (activities and sub-orchestrations) or
//!      `operation '<op>' on entity <entity> failed: <the operation's message>`;
//!    * a non-determinism failure becomes `<nondeterminism at task #<id>>`.
//! 5. **A broken entity locking rule is reduced to the rule** ([`locking_rule`]): Python raises a `RuntimeError`
//!    with its own sentence, we fail with [`ENTITY_LOCKING_RULE`] and ours; both become `<locking rule>` with the
//!    rule's name as the message.
//! 6. **The unlock messages of one critical section are compared as a set** ([`unlock_runs_in_lock_set_order`]):
//!    each goes to another entity, so their order carries nothing. Python sends them in an order that depends on
//!    the calls made inside the section (its list of available locks is the same list object as its list of
//!    locks, so every call moves the called entity to the end), we send them in lock-set order. The run is put in
//!    target order and keeps the run's action ids in ascending order.
//! 7. **Python's extra failure layer for entity calls is collapsed**: Python reports a failed entity call as a
//!    `TaskFailedError` whose inner failure is an `EntityOperationFailedException` (same message) whose inner
//!    failure is the operation's; we report the operation's failure directly as the inner failure.
//!
//! Entity request ids are compared exactly: our deterministic GUIDs follow Python's scheme.
//!
//! [`BoomError`]: crate::activities::BoomError
//! [`ScriptError`]: crate::script::ScriptError
//! [`CounterError`]: crate::counter::CounterError

use std::any::type_name;

use serde_json::Value;

use durabletask_sdk::failure::error_types;
use durabletask_sdk::orchestration::ENTITY_LOCKING_RULE;
use durabletask_sdk::proto;
use durabletask_sdk::proto::operation_action::OperationActionType;
use durabletask_sdk::proto::operation_result::ResultType;
use durabletask_sdk::proto::orchestrator_action::OrchestratorActionType as Action;
use durabletask_sdk::proto::send_entity_message_action::EntityMessageType;

use crate::activities::BoomError;
use crate::counter::CounterError;
use crate::script::ScriptError;

/// The category of failed awaited tasks.
pub const TASK_FAILED: &str = "<TaskFailed>";
/// The category of non-determinism failures.
pub const NONDETERMINISM: &str = "<NonDeterminism>";
/// The category of the `boom` activity's failure.
pub const BOOM_FAILURE: &str = "<boom failure>";
/// The category of the `fail` step's failure.
pub const FAIL_STEP: &str = "<fail step>";
/// The category of the counter entity's `fail` operation.
pub const COUNTER_FAILURE: &str = "<counter failure>";

/// The category of a broken entity locking rule.
pub const LOCKING_RULE: &str = "<locking rule>";

/// The locking rule a failure message of either SDK reports, by name: Python's sentences, and the phrases of ours.
pub fn locking_rule(message: &str) -> Option<&'static str> {
    const RULES: [(&str, &str, &str); 6] = [
        (
            "Must not signal a locked entity",
            "cannot be signalled inside the critical section",
            "signal-locked",
        ),
        (
            "Must await the completion of the lock request",
            "before the lock request was granted",
            "call-before-grant",
        ),
        (
            "while a prior call to the same entity is still pending",
            "is already being called inside",
            "call-in-flight",
        ),
        (
            "if it is not one of the locked entities",
            "is not locked by this critical section",
            "call-not-locked",
        ),
        (
            "Must not enter another critical section",
            "critical sections cannot be nested",
            "nested",
        ),
        (
            "Failed to create entity lock request",
            "was given no entities to lock",
            "no-entities",
        ),
    ];
    RULES
        .iter()
        .find(|(python, ours, _)| message.contains(python) || message.contains(ours))
        .map(|(_, _, rule)| *rule)
}

/// The type name Python gives the extra layer it wraps entity call failures in (rule 5).
pub const PYTHON_ENTITY_OPERATION_FAILED: &str =
    "durabletask.entities.entity_operation_failed_exception.EntityOperationFailedException";

/// The category of an error type name from either SDK, or `None` when it is not a known one.
pub fn error_category(error_type: &str) -> Option<&'static str> {
    let python = match error_type {
        "durabletask.task.TaskFailedError" => Some(TASK_FAILED),
        "durabletask.task.NonDeterminismError" => Some(NONDETERMINISM),
        "builtins.ValueError" => Some(BOOM_FAILURE),
        "builtins.RuntimeError" => Some(FAIL_STEP),
        "builtins.KeyError" => Some(COUNTER_FAILURE),
        _ => None,
    };
    python.or_else(|| {
        [
            (error_types::TASK_FAILED, TASK_FAILED),
            (error_types::NON_DETERMINISM, NONDETERMINISM),
            (type_name::<BoomError>(), BOOM_FAILURE),
            (type_name::<ScriptError>(), FAIL_STEP),
            (type_name::<CounterError>(), COUNTER_FAILURE),
        ]
        .into_iter()
        .find(|(rust, _)| *rust == error_type)
        .map(|(_, category)| category)
    })
}

/// The normalised form of an orchestrator response.
pub fn orchestrator_response(response: &proto::OrchestratorResponse) -> proto::OrchestratorResponse {
    let mut response = response.clone();
    response.completion_token.clear();
    response.orchestration_trace_context = None;
    response.custom_status = payload(&response.custom_status);
    let instance_id = response.instance_id.clone();
    for action in &mut response.actions {
        orchestrator_action(action, &instance_id);
    }
    unlock_runs_in_lock_set_order(&mut response.actions);
    response
}

/// Rule 6: each run of consecutive unlock actions of one critical section, sorted by target entity, its action ids
/// reassigned in ascending order.
pub fn unlock_runs_in_lock_set_order(actions: &mut [proto::OrchestratorAction]) {
    let section_of = |action: &proto::OrchestratorAction| match &action.orchestrator_action_type {
        Some(Action::SendEntityMessage(proto::SendEntityMessageAction {
            entity_message_type: Some(EntityMessageType::EntityUnlockSent(unlock)),
        })) => Some(unlock.critical_section_id.clone()),
        _ => None,
    };
    let target_of = |action: &proto::OrchestratorAction| match &action.orchestrator_action_type {
        Some(Action::SendEntityMessage(proto::SendEntityMessageAction {
            entity_message_type: Some(EntityMessageType::EntityUnlockSent(unlock)),
        })) => unlock.target_instance_id.clone(),
        _ => None,
    };
    let mut start = 0;
    while start < actions.len() {
        let Some(section) = section_of(&actions[start]) else {
            start += 1;
            continue;
        };
        let end = (start..actions.len())
            .find(|&index| section_of(&actions[index]).as_deref() != Some(section.as_str()))
            .unwrap_or(actions.len());
        let run = &mut actions[start..end];
        let mut ids: Vec<i32> = run.iter().map(|action| action.id).collect();
        ids.sort_unstable();
        run.sort_by_key(target_of);
        for (action, id) in run.iter_mut().zip(ids) {
            action.id = id;
        }
        start = end;
    }
}

fn orchestrator_action(action: &mut proto::OrchestratorAction, instance_id: &str) {
    let Some(kind) = action.orchestrator_action_type.as_mut() else {
        return;
    };
    match kind {
        Action::ScheduleTask(task) => {
            task.input = payload(&task.input);
            task.parent_trace_context = None;
        }
        Action::CreateSubOrchestration(sub) => {
            sub.input = payload(&sub.input);
            sub.parent_trace_context = None;
        }
        Action::CreateTimer(_) => {}
        Action::SendEvent(send) => send.data = payload(&send.data),
        Action::CompleteOrchestration(complete) => {
            complete.result = payload(&complete.result);
            complete.details = payload(&complete.details);
            complete.failure_details = complete.failure_details.as_ref().map(|d| failure(d, instance_id));
            for event in &mut complete.carryover_events {
                carryover_event(event);
            }
        }
        Action::TerminateOrchestration(terminate) => terminate.reason = payload(&terminate.reason),
        Action::SendEntityMessage(message) => match message.entity_message_type.as_mut() {
            Some(EntityMessageType::EntityOperationSignaled(signal)) => signal.input = payload(&signal.input),
            Some(EntityMessageType::EntityOperationCalled(call)) => call.input = payload(&call.input),
            _ => {}
        },
        Action::RewindOrchestration(_) => {}
    }
}

/// Carried-over events are stamped by the engine when it starts the new execution; only their content counts.
fn carryover_event(event: &mut proto::HistoryEvent) {
    event.timestamp = None;
    if let Some(proto::history_event::EventType::EventRaised(raised)) = event.event_type.as_mut() {
        raised.input = payload(&raised.input);
    }
}

/// The normalised form of an entity batch result (V1 or V2).
pub fn entity_batch_result(result: &proto::EntityBatchResult) -> proto::EntityBatchResult {
    let mut result = result.clone();
    result.completion_token.clear();
    result.entity_state = payload(&result.entity_state);
    result.failure_details = result.failure_details.as_ref().map(|d| failure(d, ""));
    for operation in &mut result.results {
        match operation.result_type.as_mut() {
            Some(ResultType::Success(success)) => {
                success.result = payload(&success.result);
                success.start_time_utc = None;
                success.end_time_utc = None;
            }
            Some(ResultType::Failure(failed)) => {
                failed.failure_details = failed.failure_details.as_ref().map(|d| failure(d, ""));
                failed.start_time_utc = None;
                failed.end_time_utc = None;
            }
            None => {}
        }
    }
    for action in &mut result.actions {
        match action.operation_action_type.as_mut() {
            Some(OperationActionType::SendSignal(signal)) => {
                signal.input = payload(&signal.input);
                signal.request_time = None;
                signal.parent_trace_context = None;
            }
            Some(OperationActionType::StartNewOrchestration(start)) => {
                start.input = payload(&start.input);
                start.request_time = None;
                start.parent_trace_context = None;
            }
            None => {}
        }
    }
    for info in &mut result.operation_infos {
        if let Some(destination) = info.response_destination.as_mut() {
            destination.execution_id = destination.execution_id.take().filter(|id| !id.is_empty());
        }
    }
    result
}

/// The normalised form of an activity response.
pub fn activity_response(response: &proto::ActivityResponse) -> proto::ActivityResponse {
    let mut response = response.clone();
    response.completion_token.clear();
    response.result = payload(&response.result);
    let instance_id = response.instance_id.clone();
    response.failure_details = response.failure_details.as_ref().map(|d| failure(d, &instance_id));
    response
}

/// A JSON payload in canonical form; empty means absent. Text that is not JSON is kept as it is.
pub fn payload(text: &Option<String>) -> Option<String> {
    let text = text.as_deref().filter(|text| !text.is_empty())?;
    Some(match serde_json::from_str::<Value>(text) {
        Ok(value) => value.to_string(),
        Err(_) => text.to_string(),
    })
}

/// Normalised failure details. `instance_id` is the orchestration the failure is reported by (Python puts it in
/// activity failure messages).
pub fn failure(details: &proto::TaskFailureDetails, instance_id: &str) -> proto::TaskFailureDetails {
    if details.error_type == PYTHON_ENTITY_OPERATION_FAILED {
        if let Some(inner) = details.inner_failure.as_deref() {
            return failure(inner, instance_id);
        }
    }
    let rule = match details.error_type.as_str() {
        "builtins.RuntimeError" | ENTITY_LOCKING_RULE => locking_rule(&details.error_message),
        _ => None,
    };
    if let Some(rule) = rule {
        return proto::TaskFailureDetails {
            error_type: LOCKING_RULE.to_string(),
            error_message: rule.to_string(),
            stack_trace: None,
            inner_failure: None,
            is_non_retriable: details.is_non_retriable,
            properties: details.properties.clone(),
        };
    }
    let category = error_category(&details.error_type);
    let error_message = match category {
        Some(TASK_FAILED) => task_failure_message(&details.error_message, instance_id),
        Some(NONDETERMINISM) => nondeterminism_marker(&details.error_message),
        _ => details.error_message.clone(),
    };
    proto::TaskFailureDetails {
        error_type: category.map_or_else(|| details.error_type.clone(), str::to_string),
        error_message,
        stack_trace: None,
        inner_failure: details
            .inner_failure
            .as_deref()
            .map(|inner| Box::new(failure(inner, instance_id))),
        is_non_retriable: details.is_non_retriable,
        properties: details.properties.clone(),
    }
}

/// Reduces either SDK's task failure message to its facts (rule 4); an unrecognised message is kept.
pub fn task_failure_message(message: &str, instance_id: &str) -> String {
    let canonical_task = |id: &str, rest: &str| format!("task #{id} failed: {rest}");
    let canonical_entity = |operation: &str, entity: &str, rest: &str| {
        format!("operation '{operation}' on entity {entity} failed: {rest}")
    };
    // Python, activity: "<instance id>: Activity task #<id> failed: <message>"
    if let Some(rest) = message
        .strip_prefix(instance_id)
        .and_then(|rest| rest.strip_prefix(": Activity task #"))
    {
        if let Some((id, rest)) = rest.split_once(" failed: ") {
            return canonical_task(id, rest);
        }
    }
    // Python, sub-orchestration: "Sub-orchestration task #<id> failed: <message>"
    if let Some((id, rest)) = message
        .strip_prefix("Sub-orchestration task #")
        .and_then(|r| r.split_once(" failed: "))
    {
        return canonical_task(id, rest);
    }
    // Python, entity: "Operation '<op>' on entity '<entity>' failed with error: <message>"
    if let Some(rest) = message.strip_prefix("Operation '") {
        if let Some((operation, rest)) = rest.split_once("' on entity '") {
            if let Some((entity, rest)) = rest.split_once("' failed with error: ") {
                return canonical_entity(operation, entity, rest);
            }
        }
    }
    // Rust, activity: "activity '<name>' (task #<id>) failed: <message>"; sub-orchestration:
    // "sub-orchestration '<name>' (<instance id>, task #<id>) failed: <message>"
    if message.starts_with("activity '") || message.starts_with("sub-orchestration '") {
        if let Some((_, rest)) = message.split_once("task #") {
            if let Some((id, rest)) = rest.split_once(") failed: ") {
                return canonical_task(id, rest);
            }
        }
    }
    // Rust, entity: "operation '<op>' on entity <entity> failed: <message>" is already canonical.
    message.to_string()
}

/// `<nondeterminism at task #<id>>`, the id read from either SDK's message; an unrecognised message is kept.
pub fn nondeterminism_marker(message: &str) -> String {
    let id = ["ID=", "sequence number "].iter().find_map(|label| {
        let (_, rest) = message.split_once(label)?;
        let digits: String = rest
            .chars()
            .enumerate()
            .take_while(|(index, c)| c.is_ascii_digit() || (*index == 0 && *c == '-'))
            .map(|(_, c)| c)
            .collect();
        digits.parse::<i64>().ok()
    });
    match id {
        Some(id) => format!("<nondeterminism at task #{id}>"),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_compare_as_values() {
        assert_eq!(
            payload(&Some(r#"[1, "two", {"b": 1, "a": 2}]"#.into())),
            payload(&Some(r#"[1,"two",{"a":2,"b":1}]"#.into()))
        );
        assert_eq!(payload(&Some(String::new())), None);
        assert_eq!(payload(&Some("not json".into())).as_deref(), Some("not json"));
    }

    #[test]
    fn task_failure_messages_of_both_sdks_agree() {
        let pairs = [
            (
                "act: Activity task #1 failed: boom:7",
                "activity 'boom' (task #1) failed: boom:7",
            ),
            (
                "Sub-orchestration task #3 failed: child broke",
                "sub-orchestration 'Script' (p:0003, task #3) failed: child broke",
            ),
            (
                "Operation 'fail' on entity '@counter@a' failed with error: 'bad op'",
                "operation 'fail' on entity @counter@a failed: 'bad op'",
            ),
        ];
        for (python, rust) in pairs {
            assert_eq!(
                task_failure_message(python, "act"),
                task_failure_message(rust, "act"),
                "{python}"
            );
        }
        assert_eq!(task_failure_message("something else", "act"), "something else");
    }

    #[test]
    fn nondeterminism_messages_reduce_to_the_task_id() {
        let python =
            "A previous execution called call_activity with ID=2, but the current execution doesn't have this action";
        let python_named = "... called call_activity with name='echo' and sequence number 3, but ...";
        let rust = "non-deterministic orchestration: history records activity 'echo' at sequence number 2, but ...";
        assert_eq!(nondeterminism_marker(python), "<nondeterminism at task #2>");
        assert_eq!(nondeterminism_marker(python_named), "<nondeterminism at task #3>");
        assert_eq!(nondeterminism_marker(rust), "<nondeterminism at task #2>");
    }

    #[test]
    fn both_sdks_type_names_share_categories() {
        assert_eq!(
            error_category("durabletask.task.TaskFailedError"),
            error_category("TaskFailedError")
        );
        assert_eq!(
            error_category("builtins.ValueError"),
            error_category(type_name::<BoomError>())
        );
        assert_eq!(
            error_category("builtins.KeyError"),
            error_category(type_name::<CounterError>())
        );
        assert_eq!(
            error_category("builtins.RuntimeError"),
            error_category(type_name::<ScriptError>())
        );
        assert_eq!(error_category("builtins.Exception"), None);
    }

    #[test]
    fn python_entity_failure_layer_is_collapsed() {
        let operation = proto::TaskFailureDetails {
            error_type: "builtins.KeyError".into(),
            error_message: "'bad op'".into(),
            ..Default::default()
        };
        let layer = proto::TaskFailureDetails {
            error_type: PYTHON_ENTITY_OPERATION_FAILED.into(),
            error_message: "Operation 'fail' on entity '@counter@a' failed with error: 'bad op'".into(),
            inner_failure: Some(Box::new(operation.clone())),
            ..Default::default()
        };
        assert_eq!(failure(&layer, "x"), failure(&operation, "x"));
    }
}
