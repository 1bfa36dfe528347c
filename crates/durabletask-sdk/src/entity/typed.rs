//! Typed entities: the entity's state is a Rust value, its operations a serde enum, its results typed values.
//!
//! [`TypedEntity`] is the class-style entity of the official SDKs (.NET's `TaskEntity<TState>`, Python's
//! `DurableEntity`) in Rust terms: the state is `self`, decoded once per batch and handed from one operation to
//! the next; each operation is a variant of [`TypedEntity::Operation`], decoded from the operation name and input;
//! its result is a [`TypedEntity::Output`]. The function-style API ([`Registry::add_entity`]) stays for entities
//! that want the raw operation name and JSON.
//!
//! Each operation is still a transaction: it runs on a copy of the state, which replaces the state only when the
//! operation succeeds; a failed (or panicking) operation leaves the state as the previous operation left it. The
//! state is encoded again only when an operation changed it.
//!
//! [`Registry::add_entity`]: crate::Registry::add_entity

use std::any::Any;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::EntityContext;
use crate::failure::Error;
use crate::json;

/// The error type of an operation whose name or input does not fit [`TypedEntity::Operation`].
pub const INVALID_OPERATION: &str = "InvalidEntityOperationError";

/// An entity whose state is `Self` and whose operations are the variants of [`Operation`](Self::Operation).
///
/// The operation is decoded from `{"<operation name>": <input>}` (serde's default, externally tagged, enum form,
/// with `null` when there is no input), so unit variants are operations without input and newtype or struct
/// variants carry theirs; `#[serde(rename_all = "snake_case")]` (or `rename`) matches the names callers use.
///
/// ```
/// use durabletask_sdk::entity::{execute_entity_batch, TypedEntity};
/// use durabletask_sdk::testing::{canned, entity::{batch, operation}, EntityResultView};
/// use durabletask_sdk::{EntityContext, Error, Registry};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
/// struct Counter {
///     value: i64,
/// }
///
/// #[derive(Deserialize)]
/// #[serde(rename_all = "snake_case")]
/// enum CounterOperation {
///     Add(i64),
///     Get,
///     Reset,
/// }
///
/// impl TypedEntity for Counter {
///     type Operation = CounterOperation;
///     type Output = i64;
///
///     fn run(&mut self, operation: CounterOperation, _ctx: &mut EntityContext) -> Result<i64, Error> {
///         match operation {
///             CounterOperation::Add(amount) => self.value += amount,
///             CounterOperation::Reset => self.value = 0,
///             CounterOperation::Get => {}
///         }
///         Ok(self.value)
///     }
/// }
///
/// let mut registry = Registry::new();
/// registry.add_typed_entity::<Counter>("counter").unwrap();
/// let request = batch(
///     "@counter@c1",
///     None,
///     vec![operation("add", "r1", Some("5")), operation("get", "r2", None), operation("add", "r3", Some("\"x\""))],
/// );
/// let result = execute_entity_batch(&registry, &request, canned::t0());
/// let view = EntityResultView::new(&result);
/// let outcomes = view.outcomes();
/// assert_eq!(outcomes[0], Ok(Some("5")));
/// assert_eq!(outcomes[1], Ok(Some("5")));
/// assert!(outcomes[2].is_err(), "an input that does not fit the operation fails it alone");
/// assert_eq!(view.state(), Some(r#"{"value":5}"#));
/// ```
pub trait TypedEntity: Serialize + DeserializeOwned + Default + Clone + PartialEq + 'static {
    /// The operations, decoded from the operation name and input.
    type Operation: DeserializeOwned;
    /// What operations return (an enum when they return different things).
    type Output: Serialize;

    /// Runs one operation against the state (`self`); `ctx` gives the entity id, the time, signals and
    /// orchestration starts. Returning an error fails the operation and undoes its changes.
    fn run(&mut self, operation: Self::Operation, ctx: &mut EntityContext) -> Result<Self::Output, Error>;
}

/// The decoded state a batch carries from one operation to the next.
#[derive(Default)]
pub(crate) struct TypedState {
    /// The state as of the last committed operation, decoded; `None` until an operation decodes it (or after a
    /// write through the JSON API, which the next operation decodes again).
    committed: Option<Box<dyn Any>>,
    /// What the running operation left: `Some(Some(state))` a new state, `Some(None)` "decode again".
    pending: Option<Option<Box<dyn Any>>>,
}

impl std::fmt::Debug for TypedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedState")
            .field("decoded", &self.committed.is_some())
            .finish_non_exhaustive()
    }
}

impl TypedState {
    /// The committed state, when it is decoded and of type `E`.
    fn committed<E: 'static>(&self) -> Option<&E> {
        self.committed.as_ref()?.downcast_ref()
    }

    /// The state was written as JSON: the next operation decodes it again.
    pub(crate) fn invalidate(&mut self) {
        self.pending = Some(None);
    }

    pub(crate) fn commit(&mut self) {
        if let Some(pending) = self.pending.take() {
            self.committed = pending;
        }
    }

    pub(crate) fn rollback(&mut self) {
        self.pending = None;
    }
}

/// Runs one operation of the typed entity `E` (what [`Registry::add_typed_entity`](crate::Registry::add_typed_entity)
/// registers).
pub(crate) fn run<E: TypedEntity>(ctx: &mut EntityContext) -> Result<Option<String>, Error> {
    let operation = decode_operation::<E>(ctx)?;
    let mut state = match ctx.typed.committed::<E>() {
        Some(committed) => committed.clone(),
        None => {
            let decoded: E = ctx.get_state()?.unwrap_or_default();
            ctx.typed.committed = Some(Box::new(decoded.clone()));
            decoded
        }
    };
    let output = state.run(operation, ctx)?;
    // An operation that wrote the state through the JSON API (or deleted it) decided the state itself.
    if !ctx.wrote_state() && ctx.typed.committed::<E>() != Some(&state) {
        let encoded = json::encode(&state)?;
        ctx.write_state_json(encoded);
        ctx.typed.pending = Some(Some(Box::new(state)));
    }
    Ok(json::encode(&output)?)
}

/// The operation as `{"<name>": <input or null>}`, decoded into `E::Operation`.
fn decode_operation<E: TypedEntity>(ctx: &EntityContext) -> Result<E::Operation, Error> {
    let input: Value = match ctx.input_json() {
        Some(text) => serde_json::from_str(text).map_err(|error| {
            Error::new(
                INVALID_OPERATION,
                format!("the input of operation '{}' is not JSON: {error}", ctx.operation()),
            )
        })?,
        None => Value::Null,
    };
    let tagged = Value::Object([(ctx.operation().to_string(), input)].into_iter().collect());
    serde_json::from_value(tagged).map_err(|error| {
        Error::new(
            INVALID_OPERATION,
            format!(
                "entity {} cannot run operation '{}': {error}",
                ctx.entity_id(),
                ctx.operation()
            ),
        )
    })
}
