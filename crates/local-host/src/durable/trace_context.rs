//! The W3C trace context the Durable extension keeps with the work it queues, which the local engine drops
//! (durabletask-python's in-memory backend stores no trace context): local-host remembers it from what passes
//! through it and hands it on as the extension does.
//!
//! | seen | kept by | handed on as |
//! |---|---|---|
//! | `SignalEntityRequest.parentTraceContext` (the app's client, through [`super::client_proxy`] when the app exports traces) | request id | `OperationRequest.traceContext` of the entity batch |
//! | `CreateInstanceRequest.parentTraceContext`, an entity's `StartNewOrchestrationAction` or an orchestration's `CreateSubOrchestrationAction` | instance id | `ExecutionStartedEvent.parentTraceContext` in every episode |
//! | an orchestration's `ScheduleTaskAction.parentTraceContext` | instance id and task id | the `traceparent` header of the activity's invocation (the host's HTTP call carries its current activity) |
//!
//! Each table is bounded: past [`MAX_ENTRIES`] it starts again empty (a long local run loses the oldest links,
//! never memory).

use std::collections::HashMap;
use std::sync::Mutex;

use durabletask_sdk::proto::history_event::EventType;
use durabletask_sdk::proto::operation_action::OperationActionType;
use durabletask_sdk::proto::orchestrator_action::OrchestratorActionType;
use durabletask_sdk::proto::{
    EntityBatchRequest, OperationAction, OrchestratorAction, OrchestratorRequest, TraceContext,
};

/// The most entries one table holds.
pub const MAX_ENTRIES: usize = 100_000;

/// The trace contexts in flight.
#[derive(Debug, Default)]
pub struct TraceContexts {
    tables: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    signals: HashMap<String, TraceContext>,
    starts: HashMap<String, TraceContext>,
    tasks: HashMap<(String, i32), TraceContext>,
}

fn insert<K: std::hash::Hash + Eq>(table: &mut HashMap<K, TraceContext>, key: K, value: Option<&TraceContext>) {
    let Some(value) = value.filter(|context| !context.trace_parent.is_empty()) else {
        return;
    };
    if table.len() >= MAX_ENTRIES {
        table.clear();
    }
    table.insert(key, value.clone());
}

impl TraceContexts {
    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A client signalled an entity (request id `request_id`).
    pub fn signal_sent(&self, request_id: &str, context: Option<&TraceContext>) {
        insert(&mut self.tables().signals, request_id.to_owned(), context);
    }

    /// A client or an entity started the orchestration `instance_id`.
    pub fn orchestration_started(&self, instance_id: &str, context: Option<&TraceContext>) {
        insert(&mut self.tables().starts, instance_id.to_owned(), context);
    }

    /// An entity batch completed with `actions`.
    pub fn from_entity_actions(&self, actions: &[OperationAction]) {
        for action in actions {
            if let Some(OperationActionType::StartNewOrchestration(start)) = &action.operation_action_type {
                self.orchestration_started(&start.instance_id, start.parent_trace_context.as_ref());
            }
        }
    }

    /// An episode of `instance_id` decided `actions`.
    pub fn from_orchestrator_actions(&self, instance_id: &str, actions: &[OrchestratorAction]) {
        let mut tables = self.tables();
        for action in actions {
            match &action.orchestrator_action_type {
                Some(OrchestratorActionType::ScheduleTask(task)) => insert(
                    &mut tables.tasks,
                    (instance_id.to_owned(), action.id),
                    task.parent_trace_context.as_ref(),
                ),
                Some(OrchestratorActionType::CreateSubOrchestration(sub)) => {
                    insert(
                        &mut tables.starts,
                        sub.instance_id.clone(),
                        sub.parent_trace_context.as_ref(),
                    );
                }
                _ => {}
            }
        }
    }

    /// Gives the batch's operations the trace context of the signals that queued them.
    pub fn fill_entity_batch(&self, batch: &mut EntityBatchRequest) {
        let tables = self.tables();
        for operation in &mut batch.operations {
            if operation.trace_context.is_none() {
                operation.trace_context = tables.signals.get(&operation.request_id).cloned();
            }
        }
    }

    /// Gives the episode's `executionStarted` the trace context of what started the instance.
    pub fn fill_orchestrator_request(&self, request: &mut OrchestratorRequest) {
        let tables = self.tables();
        let Some(context) = tables.starts.get(&request.instance_id) else {
            return;
        };
        for event in request.past_events.iter_mut().chain(request.new_events.iter_mut()) {
            if let Some(EventType::ExecutionStarted(started)) = &mut event.event_type {
                if started.parent_trace_context.is_none() {
                    started.parent_trace_context = Some(context.clone());
                }
            }
        }
    }

    /// The `traceparent` the activity `task_id` of `instance_id` is invoked with.
    pub fn activity_traceparent(&self, instance_id: &str, task_id: i32) -> Option<String> {
        self.tables()
            .tasks
            .get(&(instance_id.to_owned(), task_id))
            .map(|context| context.trace_parent.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use durabletask_sdk::proto::{
        ExecutionStartedEvent, HistoryEvent, OperationRequest, ScheduleTaskAction, StartNewOrchestrationAction,
    };

    fn context(id: &str) -> TraceContext {
        TraceContext {
            trace_parent: format!("00-{id:0>32}-00f067aa0ba902b7-01"),
            ..Default::default()
        }
    }

    #[test]
    fn a_signal_reaches_its_operation_and_a_start_its_episodes() {
        let contexts = TraceContexts::default();
        contexts.signal_sent("r1", Some(&context("1")));
        let mut batch = EntityBatchRequest {
            operations: vec![
                OperationRequest {
                    request_id: "r1".into(),
                    ..Default::default()
                },
                OperationRequest {
                    request_id: "r2".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        contexts.fill_entity_batch(&mut batch);
        assert_eq!(batch.operations[0].trace_context, Some(context("1")));
        assert_eq!(batch.operations[1].trace_context, None);

        contexts.from_entity_actions(&[OperationAction {
            id: 0,
            operation_action_type: Some(OperationActionType::StartNewOrchestration(
                StartNewOrchestrationAction {
                    instance_id: "o1".into(),
                    parent_trace_context: Some(context("2")),
                    ..Default::default()
                },
            )),
        }]);
        let started = HistoryEvent {
            event_type: Some(EventType::ExecutionStarted(Box::<ExecutionStartedEvent>::default())),
            ..Default::default()
        };
        let mut request = OrchestratorRequest {
            instance_id: "o1".into(),
            past_events: vec![started],
            ..Default::default()
        };
        contexts.fill_orchestrator_request(&mut request);
        let Some(EventType::ExecutionStarted(started)) = &request.past_events[0].event_type else {
            panic!()
        };
        assert_eq!(started.parent_trace_context, Some(context("2")));

        contexts.from_orchestrator_actions(
            "o1",
            &[OrchestratorAction {
                id: 1,
                orchestrator_action_type: Some(OrchestratorActionType::ScheduleTask(ScheduleTaskAction {
                    parent_trace_context: Some(context("3")),
                    ..Default::default()
                })),
            }],
        );
        assert_eq!(contexts.activity_traceparent("o1", 1), Some(context("3").trace_parent));
        assert_eq!(contexts.activity_traceparent("o1", 2), None);
    }
}
