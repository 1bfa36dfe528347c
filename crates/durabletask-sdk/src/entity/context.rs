//! [`EntityContext`]: what one entity operation can read (its entity, operation name, input and state) and
//! do (write the state, signal entities, start orchestrations).

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::transaction::EntityTransaction;
use super::typed::TypedState;
use crate::entity_id::EntityId;
use crate::failure::Error;
use crate::json::{self, PayloadError};
use crate::proto;
use crate::proto::operation_action::OperationActionType;
use crate::time::to_timestamp;

/// Why a context call failed; reported to the caller of the operation as the operation's failure.
#[derive(Debug, thiserror::Error)]
enum EntityContextError {
    #[error("the input of operation '{operation}' could not be decoded: {source}")]
    Input {
        operation: String,
        #[source]
        source: PayloadError,
    },
    #[error("the state of entity {entity} could not be decoded: {source}")]
    State {
        entity: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("an orchestration name cannot be empty")]
    EmptyOrchestrationName,
}

/// The context of one entity operation.
///
/// A registered entity is a function of `&mut EntityContext` that runs once per operation. It reads the
/// operation name and input, reads and writes the entity's state, and may signal other entities or start
/// orchestrations. Each operation is a transaction: if it returns an error or panics, its state changes and
/// actions are rolled back, and the next operation of the batch runs against the last committed state.
///
/// ```
/// use durabletask_sdk::entity::execute_entity_batch;
/// use durabletask_sdk::proto::operation_result::ResultType;
/// use durabletask_sdk::{proto, EntityContext, Error, Registry};
///
/// fn counter(ctx: &mut EntityContext) -> Result<Option<i64>, Error> {
///     let value: i64 = ctx.get_state()?.unwrap_or(0);
///     match ctx.operation() {
///         "add" => {
///             let sum = value + ctx.input::<i64>()?;
///             ctx.set_state(&sum)?;
///             Ok(Some(sum))
///         }
///         "get" => Ok(Some(value)),
///         "delete" => {
///             ctx.delete_state();
///             Ok(None)
///         }
///         other => Err(Error::new("UnknownOperation", format!("counter has no operation '{other}'"))),
///     }
/// }
///
/// let mut registry = Registry::new();
/// registry.add_entity("counter", counter).unwrap();
///
/// let operation = |name: &str, input: Option<&str>| proto::OperationRequest {
///     operation: name.into(),
///     request_id: format!("request-{name}"),
///     input: input.map(Into::into),
///     trace_context: None,
/// };
/// let request = proto::EntityBatchRequest {
///     instance_id: "@counter@c1".into(),
///     entity_state: Some("5".into()),
///     operations: vec![operation("add", Some("2")), operation("reset", None), operation("get", None)],
///     ..Default::default()
/// };
/// let result = execute_entity_batch(&registry, &request, durabletask_sdk::testing::canned::t0());
///
/// // One result per operation, in order: "reset" failed, and its failure did not stop "get".
/// let outcomes: Vec<_> = result.results.iter().map(|r| r.result_type.clone().unwrap()).collect();
/// assert!(matches!(&outcomes[0], ResultType::Success(s) if s.result.as_deref() == Some("7")));
/// let ResultType::Failure(failure) = &outcomes[1] else { panic!("reset should fail") };
/// assert_eq!(failure.failure_details.as_ref().unwrap().error_type, "UnknownOperation");
/// assert!(matches!(&outcomes[2], ResultType::Success(s) if s.result.as_deref() == Some("7")));
/// assert_eq!(result.entity_state.as_deref(), Some("7"));
/// ```
#[derive(Debug)]
pub struct EntityContext {
    entity_id: EntityId,
    now: DateTime<Utc>,
    operation: String,
    request_id: String,
    input: Option<String>,
    /// How many orchestrations the current operation has started (numbers the ids it generates).
    orchestrations_started: u32,
    transaction: EntityTransaction,
    /// The decoded state of a typed entity, carried from one operation of the batch to the next.
    pub(super) typed: TypedState,
}

impl EntityContext {
    /// A context for a batch against `entity_id`, whose stored state is `state` (JSON text), running at `now`.
    pub(crate) fn new(entity_id: EntityId, state: Option<String>, now: DateTime<Utc>) -> Self {
        Self {
            entity_id,
            now,
            operation: String::new(),
            request_id: String::new(),
            input: None,
            orchestrations_started: 0,
            transaction: EntityTransaction::new(state),
            typed: TypedState::default(),
        }
    }

    /// Points the context at the next operation of the batch (reusing the buffers of the previous one).
    pub(crate) fn begin(&mut self, operation: &str, request_id: &str, input: Option<&str>) {
        self.operation.clear();
        self.operation.push_str(operation);
        self.request_id.clear();
        self.request_id.push_str(request_id);
        self.orchestrations_started = 0;
        match (self.input.as_mut(), input.filter(|text| !text.is_empty())) {
            (Some(buffer), Some(text)) => {
                buffer.clear();
                buffer.push_str(text);
            }
            (_, text) => self.input = text.map(str::to_owned),
        }
    }

    /// Keeps what the current operation did.
    pub(crate) fn commit(&mut self) {
        self.transaction.commit();
        self.typed.commit();
    }

    /// Forgets what the current operation did.
    pub(crate) fn rollback(&mut self) {
        self.transaction.rollback();
        self.typed.rollback();
    }

    /// Whether the current operation wrote (or deleted) the state.
    pub(super) fn wrote_state(&self) -> bool {
        self.transaction.has_pending_state()
    }

    /// Writes the state as JSON text for the current operation (the typed entity keeps its decoded value).
    pub(super) fn write_state_json(&mut self, state: Option<String>) {
        self.transaction.write_state(state);
    }

    /// Ends the batch: the committed state and actions.
    pub(crate) fn finish(self) -> (Option<String>, Vec<proto::OperationAction>) {
        self.transaction.finish()
    }

    /// The entity this operation runs on.
    pub fn entity_id(&self) -> &EntityId {
        &self.entity_id
    }

    /// The operation's name, exactly as the caller sent it.
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// The id the engine gave this operation's request (a GUID; the same when the engine redelivers it).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The time this operation runs: the time the executor was given for the batch. Entity code reads the time
    /// here rather than from the clock, so that it stays a pure function of its inputs and tests can fix it.
    pub fn current_utc_datetime(&self) -> DateTime<Utc> {
        self.now
    }

    /// The operation's input decoded from JSON; an operation without input decodes as JSON `null`, so
    /// `Option<T>` accepts both.
    pub fn input<T: DeserializeOwned>(&self) -> Result<T, Error> {
        json::decode(self.input.as_deref()).map_err(|source| {
            EntityContextError::Input {
                operation: self.operation.clone(),
                source,
            }
            .into()
        })
    }

    /// The operation's input as JSON text (`None` when it has none).
    pub fn input_json(&self) -> Option<&str> {
        self.input.as_deref()
    }

    /// Whether the entity currently has state (as seen by this operation, including its own writes).
    pub fn has_state(&self) -> bool {
        self.transaction.state().is_some()
    }

    /// The entity's current state as JSON text (`None` when it has none).
    pub fn state_json(&self) -> Option<&str> {
        self.transaction.state()
    }

    /// The entity's current state decoded from JSON, or `None` when it has none.
    ///
    /// Each call decodes the stored JSON afresh: changing the returned value changes nothing until it is
    /// written back with [`set_state`](Self::set_state).
    pub fn get_state<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        let Some(text) = self.transaction.state() else {
            return Ok(None);
        };
        serde_json::from_str(text).map(Some).map_err(|source| {
            EntityContextError::State {
                entity: self.entity_id.to_string(),
                source,
            }
            .into()
        })
    }

    /// Replaces the entity's state. A value that encodes as JSON `null` (such as `None`) deletes the state.
    pub fn set_state<T: Serialize + ?Sized>(&mut self, state: &T) -> Result<(), Error> {
        let encoded = json::encode(state)?;
        self.transaction.write_state(encoded);
        self.typed.invalidate();
        Ok(())
    }

    /// Deletes the entity's state; an entity without state is removed by the engine when the batch ends.
    pub fn delete_state(&mut self) {
        self.transaction.write_state(None);
        self.typed.invalidate();
    }

    /// Signals `operation` on the entity `target` (fire and forget), delivered once this operation commits.
    /// Pass `&()` for an operation without input.
    pub fn signal_entity(
        &mut self,
        target: &EntityId,
        operation: &str,
        input: &(impl Serialize + ?Sized),
    ) -> Result<(), Error> {
        self.push_signal(target, operation, input, None)
    }

    /// Like [`signal_entity`](Self::signal_entity), but the engine delivers the signal at `scheduled_time`
    /// (for example an entity waking itself up later).
    pub fn signal_entity_at(
        &mut self,
        target: &EntityId,
        operation: &str,
        input: &(impl Serialize + ?Sized),
        scheduled_time: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.push_signal(target, operation, input, Some(scheduled_time))
    }

    /// Signals `operation` on this entity itself, delivered once this operation commits (the engine queues it
    /// behind the operations already waiting).
    pub fn signal_self(&mut self, operation: &str, input: &(impl Serialize + ?Sized)) -> Result<(), Error> {
        let own_id = self.entity_id.clone();
        self.push_signal(&own_id, operation, input, None)
    }

    /// Signals `operation` on this entity itself, delivered at `scheduled_time`: how an entity wakes itself up
    /// later (a reminder, an expiry), e.g. `ctx.current_utc_datetime() + Duration::days(7)`.
    pub fn signal_self_at(
        &mut self,
        operation: &str,
        input: &(impl Serialize + ?Sized),
        scheduled_time: DateTime<Utc>,
    ) -> Result<(), Error> {
        let own_id = self.entity_id.clone();
        self.push_signal(&own_id, operation, input, Some(scheduled_time))
    }

    /// Starts a new orchestration `name` with `input` once this operation commits, and returns its instance id.
    ///
    /// When `instance_id` is `None` (or empty), an id is derived from the entity, the operation's request id and
    /// how many orchestrations the operation started before: a UUID v5 in simple form (32 hex digits, the shape
    /// the Python SDK's random ids have). The same request therefore starts the same instance when the engine
    /// redelivers it. Pass an id derived from your data when the start must be idempotent across requests.
    pub fn start_new_orchestration(
        &mut self,
        name: &str,
        input: &(impl Serialize + ?Sized),
        instance_id: Option<&str>,
    ) -> Result<String, Error> {
        if name.is_empty() {
            return Err(EntityContextError::EmptyOrchestrationName.into());
        }
        let input = json::encode(input)?;
        let instance_id = match instance_id {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => self.generated_instance_id(),
        };
        self.orchestrations_started += 1;
        self.transaction.push_action(OperationActionType::StartNewOrchestration(
            proto::StartNewOrchestrationAction {
                instance_id: instance_id.clone(),
                name: name.to_string(),
                input,
                ..Default::default()
            },
        ));
        Ok(instance_id)
    }

    /// The instance id of the next orchestration this operation starts without naming one.
    fn generated_instance_id(&self) -> String {
        let name = format!("{}_{}_{}", self.entity_id, self.request_id, self.orchestrations_started);
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes())
            .simple()
            .to_string()
    }

    fn push_signal(
        &mut self,
        target: &EntityId,
        operation: &str,
        input: &(impl Serialize + ?Sized),
        scheduled_time: Option<DateTime<Utc>>,
    ) -> Result<(), Error> {
        let input = json::encode(input)?;
        self.transaction
            .push_action(OperationActionType::SendSignal(proto::SendSignalAction {
                instance_id: target.to_string(),
                name: operation.to_string(),
                input,
                scheduled_time: scheduled_time.map(to_timestamp),
                ..Default::default()
            }));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_714_557_600, 0).unwrap()
    }

    fn context(state: Option<&str>) -> EntityContext {
        EntityContext::new(EntityId::new("counter", "k"), state.map(str::to_owned), now())
    }

    #[test]
    fn begin_replaces_operation_and_input() {
        let mut ctx = context(None);
        ctx.begin("add", "r1", Some("5"));
        assert_eq!((ctx.operation(), ctx.input_json()), ("add", Some("5")));
        ctx.begin("get", "r2", None);
        assert_eq!((ctx.operation(), ctx.input_json()), ("get", None));
        ctx.begin("set", "r3", Some("[1]"));
        assert_eq!(ctx.input::<Vec<i32>>().unwrap(), vec![1]);
    }

    #[test]
    fn empty_input_reads_as_no_input() {
        let mut ctx = context(None);
        ctx.begin("add", "r1", Some(""));
        assert_eq!(ctx.input_json(), None);
        assert_eq!(ctx.input::<Option<i32>>().unwrap(), None);
    }

    #[test]
    fn bad_input_names_the_operation() {
        let mut ctx = context(None);
        ctx.begin("add", "r1", Some("\"x\""));
        let error = ctx.input::<i32>().unwrap_err();
        assert!(error.details().message.contains("operation 'add'"), "{error}");
    }

    #[test]
    fn state_of_the_wrong_shape_names_the_entity() {
        let ctx = context(Some("\"text\""));
        let error = ctx.get_state::<i32>().unwrap_err();
        assert!(error.details().message.contains("@counter@k"), "{error}");
    }

    #[test]
    fn setting_null_deletes_the_state() {
        let mut ctx = context(Some("1"));
        ctx.set_state(&Option::<i32>::None).unwrap();
        assert!(!ctx.has_state());
        assert_eq!(ctx.get_state::<i32>().unwrap(), None);
    }

    #[test]
    fn generated_orchestration_ids_are_simple_uuids() {
        let mut ctx = context(None);
        let id = ctx.start_new_orchestration("job", &(), None).unwrap();
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(ctx.start_new_orchestration("job", &(), Some("")).unwrap(), id);
    }

    #[test]
    fn generated_orchestration_ids_depend_on_the_request_and_not_on_time() {
        let started = |request_id: &str, at: DateTime<Utc>| {
            let mut ctx = EntityContext::new(EntityId::new("counter", "k"), None, at);
            ctx.begin("start", request_id, None);
            ctx.start_new_orchestration("job", &(), None).unwrap()
        };
        let later = now() + chrono::Duration::hours(1);
        assert_eq!(
            started("r1", now()),
            started("r1", later),
            "a redelivered request starts the same instance"
        );
        assert_ne!(started("r1", now()), started("r2", now()));
    }

    #[test]
    fn the_time_and_request_id_are_the_ones_given() {
        let mut ctx = context(None);
        ctx.begin("add", "r7", None);
        assert_eq!((ctx.current_utc_datetime(), ctx.request_id()), (now(), "r7"));
    }

    #[test]
    fn self_signals_target_the_entity_itself() {
        let mut ctx = context(None);
        ctx.begin("start", "r1", None);
        ctx.signal_self("tick", &1).unwrap();
        ctx.signal_self_at("expire", &(), now() + chrono::Duration::days(7))
            .unwrap();
        ctx.commit();
        let (_, actions) = ctx.finish();
        let targets: Vec<_> = actions
            .iter()
            .map(|action| match &action.operation_action_type {
                Some(OperationActionType::SendSignal(signal)) => (
                    signal.instance_id.as_str(),
                    signal.name.as_str(),
                    signal.scheduled_time.is_some(),
                ),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(targets, [("@counter@k", "tick", false), ("@counter@k", "expire", true)]);
    }

    #[test]
    fn empty_orchestration_names_are_refused() {
        let mut ctx = context(None);
        assert!(ctx.start_new_orchestration("", &(), Some("id")).is_err());
    }
}
