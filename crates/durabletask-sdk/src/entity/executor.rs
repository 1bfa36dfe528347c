//! The entity batch executor: runs a batch of operations against one entity and describes the outcome.
//!
//! It is pure: request and time in, result out, no I/O, no clock. Neither request shape carries the time an
//! operation runs (V1 operations have no timestamp; the timestamps of V2 operation events say when the message
//! was sent, and the in-memory engine leaves them empty), so the caller passes the batch's time, `now`: it is
//! every operation's start and end time and what [`EntityContext::current_utc_datetime`] answers.

use std::panic::{catch_unwind, AssertUnwindSafe};

use chrono::{DateTime, Utc};

use super::context::EntityContext;
use super::convert::entity_batch_from_v2;
use crate::entity_id::{EntityId, EntityIdError};
use crate::failure::{error_types, FailureDetails};
use crate::proto;
use crate::proto::operation_result::ResultType;
use crate::registry::{EntityFn, Registry};
use crate::time::to_timestamp;

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
///
/// `now` is the time the batch runs (read it from the clock at the edge that received the request).
pub fn execute_entity_batch(
    registry: &Registry,
    request: &proto::EntityBatchRequest,
    now: DateTime<Utc>,
) -> proto::EntityBatchResult {
    // The engine may send an empty string for "no state".
    let state = request
        .entity_state
        .as_deref()
        .filter(|text| !text.is_empty())
        .map(str::to_owned);
    let (entity_id, entity) = match resolve_entity(registry, &request.instance_id) {
        Ok(found) => found,
        Err(problem) => {
            tracing::warn!(error = %problem, "entity batch failed before running any operation");
            return fail_every_operation(&problem, state, request.operations.len(), now);
        }
    };

    let mut results = Vec::with_capacity(request.operations.len());
    let mut ctx = EntityContext::new(entity_id, state, now);
    for operation in &request.operations {
        let span = crate::tracing_spans::entity::operation_span(&request.instance_id, operation);
        let result = span.in_scope(|| run_operation(entity, &mut ctx, operation));
        crate::tracing_spans::entity::record_result(&span, &result);
        results.push(result);
    }
    let (entity_state, mut actions) = ctx.finish();
    crate::orchestration::versioning::stamp_entity_starts(&mut actions, registry.default_version());
    proto::EntityBatchResult {
        results,
        actions,
        entity_state,
        ..Default::default()
    }
}

/// Executes a V2 request, the shape gRPC engines stream (`entityRequestV2`): it is converted with
/// [`entity_batch_from_v2`] and run as that batch.
///
/// The result is that of [`execute_entity_batch`] plus `operationInfos`, one per operation in the same order:
/// a call's response goes to the calling orchestration, a signal's goes nowhere. Events of any other kind are
/// not operations and are skipped.
pub fn execute_entity_request(
    registry: &Registry,
    request: &proto::EntityRequest,
    now: DateTime<Utc>,
) -> proto::EntityBatchResult {
    let converted = entity_batch_from_v2(request);
    if converted.skipped_events > 0 {
        tracing::warn!(
            skipped = converted.skipped_events,
            entity = %request.instance_id,
            "skipping entity request events that are not operations"
        );
    }
    let mut result = execute_entity_batch(registry, &converted.batch, now);
    result.operation_infos = converted.operation_infos;
    result
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
fn run_operation(
    entity: &EntityFn,
    ctx: &mut EntityContext,
    operation: &proto::OperationRequest,
) -> proto::OperationResult {
    ctx.begin(&operation.operation, &operation.request_id, operation.input.as_deref());
    let now = ctx.current_utc_datetime();
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
                    start_time_utc: Some(to_timestamp(now)),
                    end_time_utc: Some(to_timestamp(now)),
                })),
            }
        }
        Err(details) => {
            ctx.rollback();
            failure_result(details, now)
        }
    }
}

fn fail_every_operation(
    problem: &BatchError,
    state: Option<String>,
    count: usize,
    now: DateTime<Utc>,
) -> proto::EntityBatchResult {
    let details = problem.failure_details();
    proto::EntityBatchResult {
        results: (0..count).map(|_| failure_result(details.clone(), now)).collect(),
        entity_state: state,
        ..Default::default()
    }
}

fn failure_result(details: FailureDetails, now: DateTime<Utc>) -> proto::OperationResult {
    proto::OperationResult {
        result_type: Some(ResultType::Failure(proto::OperationResultFailure {
            failure_details: Some(details.into()),
            start_time_utc: Some(to_timestamp(now)),
            end_time_utc: Some(to_timestamp(now)),
        })),
    }
}
