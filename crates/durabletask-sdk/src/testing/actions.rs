//! The actions an orchestrator decides, built the way the executor builds them, so a test can compare a whole
//! response with `assert_eq!(response.actions, [...])`.

use chrono::{DateTime, Utc};

use crate::proto::{self, orchestrator_action::OrchestratorActionType as Action};
use crate::time::to_timestamp;

fn action(id: i32, action: Action) -> proto::OrchestratorAction {
    proto::OrchestratorAction {
        id,
        orchestrator_action_type: Some(action),
    }
}

/// `scheduleTask`: calls activity `name` with JSON `input` at sequence number `id`.
pub fn schedule_task(id: i32, name: &str, input: Option<&str>) -> proto::OrchestratorAction {
    action(
        id,
        Action::ScheduleTask(proto::ScheduleTaskAction {
            name: name.to_string(),
            input: input.map(str::to_string),
            ..Default::default()
        }),
    )
}

/// `createTimer`: a timer (or one step of a long timer) firing at `fire_at`.
pub fn create_timer(id: i32, fire_at: DateTime<Utc>) -> proto::OrchestratorAction {
    action(
        id,
        Action::CreateTimer(proto::CreateTimerAction {
            fire_at: Some(to_timestamp(fire_at)),
        }),
    )
}

/// `createSubOrchestration`: starts orchestrator `name` on `instance_id` with JSON `input`.
pub fn create_sub_orchestration(
    id: i32,
    name: &str,
    instance_id: &str,
    input: Option<&str>,
) -> proto::OrchestratorAction {
    action(
        id,
        Action::CreateSubOrchestration(proto::CreateSubOrchestrationAction {
            instance_id: instance_id.to_string(),
            name: name.to_string(),
            input: input.map(str::to_string),
            ..Default::default()
        }),
    )
}

/// `sendEvent`: sends event `name` with JSON `data` to `instance_id`.
pub fn send_event(id: i32, instance_id: &str, name: &str, data: Option<&str>) -> proto::OrchestratorAction {
    action(
        id,
        Action::SendEvent(proto::SendEventAction {
            instance: Some(proto::OrchestrationInstance {
                instance_id: instance_id.to_string(),
                execution_id: None,
            }),
            name: name.to_string(),
            data: data.map(str::to_string),
        }),
    )
}

/// `completeOrchestration` with status COMPLETED and JSON `result`.
pub fn complete(id: i32, result: Option<&str>) -> proto::OrchestratorAction {
    finish(id, proto::OrchestrationStatus::Completed, result)
}

/// `completeOrchestration` with `status` and JSON `result` (for terminated and continued-as-new endings too).
pub fn finish(id: i32, status: proto::OrchestrationStatus, result: Option<&str>) -> proto::OrchestratorAction {
    action(
        id,
        Action::CompleteOrchestration(proto::CompleteOrchestrationAction {
            orchestration_status: status as i32,
            result: result.map(str::to_string),
            ..Default::default()
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orchestration::TaskKind;
    use crate::testing::ResponseView;

    #[test]
    fn built_actions_read_back_as_their_kind() {
        let response = proto::OrchestratorResponse {
            actions: vec![schedule_task(1, "A", None), complete(2, Some("1"))],
            ..Default::default()
        };
        let view = ResponseView::new(&response);
        assert_eq!(view.decisions()[0].1.kind, TaskKind::Activity);
        assert_eq!(view.result(), Some("1"));
    }
}
