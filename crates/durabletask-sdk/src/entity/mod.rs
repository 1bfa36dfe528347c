//! Durable entities: small pieces of state addressed by an [`EntityId`](crate::EntityId) (`@name@key`) and
//! changed one operation at a time.
//!
//! An entity is a function registered with [`Registry::add_entity`](crate::Registry::add_entity) that runs
//! once per operation against an [`EntityContext`], or a [`TypedEntity`] registered with
//! [`Registry::add_typed_entity`](crate::Registry::add_typed_entity): a state type whose operations are a serde
//! enum. The engine delivers operations in batches; the executors
//! here run a batch and describe its outcome:
//!
//! * [`execute_entity_batch`] takes the V1 `EntityBatchRequest` the Durable Functions extension sends to an
//!   `entityTrigger`;
//! * [`execute_entity_request`] takes the V2 `EntityRequest` gRPC engines stream, and also answers where each
//!   call's result must go (`operationInfos`); it runs the V1 batch [`entity_batch_from_v2`] converts it into,
//!   the one V2 → V1 conversion of the project (the local host uses it too).
//!
//! Both are pure functions. Each operation is a transaction: a failing operation (an `Err` or a panic) leaves
//! no trace but its failure result, and the batch goes on with the next operation.

mod context;
mod convert;
mod executor;
mod transaction;
mod typed;

pub use context::EntityContext;
pub use convert::{entity_batch_from_v2, ConvertedEntityRequest};
pub use executor::{execute_entity_batch, execute_entity_request};
pub(crate) use typed::run as run_typed;
pub use typed::{TypedEntity, INVALID_OPERATION};
