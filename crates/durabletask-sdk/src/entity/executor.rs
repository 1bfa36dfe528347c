//! The entity batch executor: runs a batch of operations against one entity and describes the outcome.
//!
//! It is pure: request in, result out, no I/O. The only clock reads are the start and end timestamps of each
//! operation, which are informational.

use std::panic::{catch_unwind, AssertUnwindSafe};

use chrono::Utc;

use super::context::EntityContext;
use crate::entity_id::{EntityId, EntityIdError};
use crate::failure::{error_types, FailureDetails};
use crate::proto;
use crate::proto::history_event::EventType;
use crate::proto::operation_result::ResultType;
use crate::registry::{EntityFn, Registry};
use crate::time::to_timestamp;

/// One operation of a batch, borrowed from either request shape.
#[derive(Debug, Clone, Copy)]
struct Operation<'a> {
    name: &'a str,
    input: Option<&'a str>,
}

/// Why a whole batch could not run; every operation of it fails with this reason.
#[derive(Debug, thiserror::Error)]
enum BatchError {
    #[error("the entity batch cannot run: {0}")]
    InvalidInstanceId(#[from] EntityIdError),
    #[error("no entity named '{name}' is registered")]
    NotRegistered { name: String },
}

impl BatchError {
    fn error_type(&self) -> &'static str {
        match self {
            BatchError::InvalidInstanceId(_) => error_types::INVALID_ENTITY_ID,
            BatchError::NotRegistered { .. } => error_types::ENTITY_NOT_REGISTERED,
        }
    }

    fn failure_details(&self) -> FailureDetails {
        FailureDetails::new(self.error_type(), self.to_string())
    }
}

/// Executes a V1 batch, the shape the Durable Functions extension sends to an `entityTrigger`.
///
/// The result has one `OperationResult` per operation, in order; `entityState` is the state after the last
/// committed operation (unset when the entity has no state, which deletes it) and `actions` are the committed
/// actions. `completionToken` is left empty for the caller to fill in. A batch that cannot run at all (a
/// malformed instance id, an unregistered entity) answers a failure for every operation and keeps the stored
/// state unchanged.
pub fn execute_entity_batch(registry: &Registry, request: &proto::EntityBatchRequest) -> proto::EntityBatchResult {
    let operations = request.operations.iter().map(|operation| Operation {
        name: &operation.operation,
        input: operation.input.as_deref(),
    });
    run_batch(
        registry,
        &request.instance_id,
        request.entity_state.as_deref(),
        operations,
    )
}

/// Executes a V2 request, the shape gRPC engines stream (`entityRequestV2`): its operations are
/// `entityOperationSignaled` and `entityOperationCalled` history events.
///
/// The result is that of [`execute_entity_batch`] plus `operationInfos`, one per operation in the same order:
/// a call's response goes to the calling orchestration, a signal's goes nowhere. Events of any other kind are
/// not operations and are skipped.
pub fn execute_entity_request(registry: &Registry, request: &proto::EntityRequest) -> proto::EntityBatchResult {
    let (operations, operation_infos): (Vec<Operation<'_>>, Vec<proto::OperationInfo>) =
        request.operation_requests.iter().filter_map(operation_of_event).unzip();
    let mut result = run_batch(
        registry,
        &request.instance_id,
        request.entity_state.as_deref(),
        operations.into_iter(),
    );
    result.operation_infos = operation_infos;
    result
}

fn operation_of_event(event: &proto::HistoryEvent) -> Option<(Operation<'_>, proto::OperationInfo)> {
    match event.event_type.as_ref() {
        Some(EventType::EntityOperationSignaled(signal)) => Some((
            Operation {
                name: &signal.operation,
                input: signal.input.as_deref(),
            },
            proto::OperationInfo {
                request_id: signal.request_id.clone(),
                response_destination: None,
            },
        )),
        Some(EventType::EntityOperationCalled(call)) => Some((
            Operation {
                name: &call.operation,
                input: call.input.as_deref(),
            },
            proto::OperationInfo {
                request_id: call.request_id.clone(),
                response_destination: Some(proto::OrchestrationInstance {
                    instance_id: call.parent_instance_id.clone().unwrap_or_default(),
                    execution_id: call.parent_execution_id.clone(),
                }),
            },
        )),
        _ => {
            tracing::warn!(
                event_id = event.event_id,
                "skipping an entity request event that is not an operation"
            );
            None
        }
    }
}

fn run_batch<'a>(
    registry: &Registry,
    instance_id: &str,
    state: Option<&str>,
    operations: impl ExactSizeIterator<Item = Operation<'a>>,
) -> proto::EntityBatchResult {
    // The engine may send an empty string for "no state".
    let state = state.filter(|text| !text.is_empty()).map(str::to_owned);
    let (entity_id, entity) = match resolve_entity(registry, instance_id) {
        Ok(found) => found,
        Err(problem) => {
            tracing::warn!(error = %problem, "entity batch failed before running any operation");
            return fail_every_operation(&problem, state, operations.len());
        }
    };

    let mut results = Vec::with_capacity(operations.len());
    let mut ctx = EntityContext::new(entity_id, state);
    for operation in operations {
        results.push(run_operation(entity, &mut ctx, operation));
    }
    let (entity_state, actions) = ctx.finish();
    proto::EntityBatchResult {
        results,
        actions,
        entity_state,
        ..Default::default()
    }
}

fn resolve_entity<'r>(registry: &'r Registry, instance_id: &str) -> Result<(EntityId, &'r EntityFn), BatchError> {
    let entity_id: EntityId = instance_id.parse()?;
    let entity = registry
        .entity(entity_id.name())
        .ok_or_else(|| BatchError::NotRegistered {
            name: entity_id.name().to_string(),
        })?;
    Ok((entity_id, entity))
}

/// Runs one operation as a transaction: committed when it returns `Ok`, rolled back on `Err` or panic.
fn run_operation(entity: &EntityFn, ctx: &mut EntityContext, operation: Operation<'_>) -> proto::OperationResult {
    let start = Utc::now();
    ctx.begin(operation.name, operation.input);
    let outcome = match catch_unwind(AssertUnwindSafe(|| entity(ctx))) {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(error)) => Err(error.into_details()),
        Err(payload) => Err(FailureDetails::from_panic(payload.as_ref())),
    };
    match outcome {
        Ok(output) => {
            ctx.commit();
            proto::OperationResult {
                result_type: Some(ResultType::Success(proto::OperationResultSuccess {
                    result: output,
                    start_time_utc: Some(to_timestamp(start)),
                    end_time_utc: Some(to_timestamp(Utc::now())),
                })),
            }
        }
        Err(details) => {
            ctx.rollback();
            failure_result(details, start)
        }
    }
}

fn fail_every_operation(problem: &BatchError, state: Option<String>, count: usize) -> proto::EntityBatchResult {
    let now = Utc::now();
    let details = problem.failure_details();
    proto::EntityBatchResult {
        results: (0..count).map(|_| failure_result(details.clone(), now)).collect(),
        entity_state: state,
        ..Default::default()
    }
}

fn failure_result(details: FailureDetails, start: chrono::DateTime<Utc>) -> proto::OperationResult {
    proto::OperationResult {
        result_type: Some(ResultType::Failure(proto::OperationResultFailure {
            failure_details: Some(details.into()),
            start_time_utc: Some(to_timestamp(start)),
            end_time_utc: Some(to_timestamp(Utc::now())),
        })),
    }
}
