//! Typed entities ([`TypedEntity`]): the state decoded once per batch and handed from operation to operation,
//! operations decoded from a serde enum, typed results, each operation still a transaction.

use std::cell::Cell;

use durabletask_sdk::entity::{execute_entity_batch, execute_entity_request, TypedEntity, INVALID_OPERATION};
use durabletask_sdk::testing::entity::{batch, call, operation, request_v2};
use durabletask_sdk::testing::{canned, EntityResultView};
use durabletask_sdk::{EntityContext, EntityId, Error, Registry};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

thread_local! {
    /// How often this thread decoded and encoded a `Cart` (the executors are synchronous: one batch, one thread).
    static DECODED: Cell<u32> = const { Cell::new(0) };
    static ENCODED: Cell<u32> = const { Cell::new(0) };
}

/// A shopping cart whose (de)serialisation is counted.
#[derive(Debug, Default, Clone, PartialEq)]
struct Cart {
    items: Vec<(String, u32)>,
}

#[derive(Serialize, Deserialize)]
struct CartJson {
    items: Vec<(String, u32)>,
}

impl Serialize for Cart {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ENCODED.with(|n| n.set(n.get() + 1));
        CartJson {
            items: self.items.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Cart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DECODED.with(|n| n.set(n.get() + 1));
        Ok(Cart {
            items: CartJson::deserialize(deserializer)?.items,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum CartOperation {
    /// A newtype variant: the input is the item.
    Add(String),
    /// A struct variant.
    SetQuantity {
        item: String,
        quantity: u32,
    },
    /// Unit variants: no input.
    Count,
    Clear,
    /// Changes the cart, then fails: nothing of it may remain.
    AddThenFail(String),
    /// Changes the cart, then panics.
    AddThenPanic(String),
    /// Deletes the state through the context.
    Delete,
    /// Tells another entity, then fails: the signal must not go out.
    NotifyThenFail,
    #[serde(rename = "Checkout")]
    Checkout,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
enum CartOutput {
    Count(usize),
    Total(u32),
    Nothing,
}

impl TypedEntity for Cart {
    type Operation = CartOperation;
    type Output = CartOutput;

    fn run(&mut self, operation: CartOperation, ctx: &mut EntityContext) -> Result<CartOutput, Error> {
        match operation {
            CartOperation::Add(item) => {
                self.items.push((item, 1));
                Ok(CartOutput::Count(self.items.len()))
            }
            CartOperation::SetQuantity { item, quantity } => {
                for entry in self.items.iter_mut().filter(|(name, _)| *name == item) {
                    entry.1 = quantity;
                }
                Ok(CartOutput::Nothing)
            }
            CartOperation::Count => Ok(CartOutput::Count(self.items.len())),
            CartOperation::Clear => {
                self.items.clear();
                Ok(CartOutput::Nothing)
            }
            CartOperation::AddThenFail(item) => {
                self.items.push((item, 1));
                Err(Error::new("OutOfStock", "that item is gone"))
            }
            CartOperation::AddThenPanic(item) => {
                self.items.push((item, 1));
                panic!("the cart broke")
            }
            CartOperation::Delete => {
                ctx.delete_state();
                Ok(CartOutput::Nothing)
            }
            CartOperation::NotifyThenFail => {
                ctx.signal_entity(&EntityId::new("audit", "log"), "record", &"cart")?;
                Err(Error::new("Refused", "no"))
            }
            CartOperation::Checkout => Ok(CartOutput::Total(self.items.iter().map(|(_, n)| n).sum())),
        }
    }
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.add_typed_entity::<Cart>("cart").unwrap();
    registry
}

fn counts() -> (u32, u32) {
    (DECODED.with(Cell::get), ENCODED.with(Cell::get))
}

fn reset_counts() {
    DECODED.with(|n| n.set(0));
    ENCODED.with(|n| n.set(0));
}

fn run(state: Option<&str>, operations: &[(&str, Option<&str>)]) -> durabletask_sdk::proto::EntityBatchResult {
    let operations = operations
        .iter()
        .enumerate()
        .map(|(n, (name, input))| operation(name, &format!("r{n}"), *input))
        .collect();
    execute_entity_batch(&registry(), &batch("@cart@c1", state, operations), canned::t0())
}

#[test]
fn the_state_is_decoded_once_per_batch_and_encoded_only_when_an_operation_changes_it() {
    reset_counts();
    let result = run(
        Some(r#"{"items":[["apple",1]]}"#),
        &[
            ("count", None),
            ("add", Some("\"pear\"")),
            ("count", None),
            ("set_quantity", Some(r#"{"item":"pear","quantity":3}"#)),
            ("Checkout", None),
        ],
    );
    let view = EntityResultView::new(&result);
    assert_eq!(
        view.outcomes(),
        [Ok(Some("1")), Ok(Some("2")), Ok(Some("2")), Ok(None), Ok(Some("4"))]
    );
    assert_eq!(view.state(), Some(r#"{"items":[["apple",1],["pear",3]]}"#));
    let (decoded, encoded) = counts();
    assert_eq!(decoded, 1, "one decode for the whole batch");
    assert_eq!(encoded, 2, "only `add` and `set_quantity` changed the cart");
}

#[test]
fn a_failed_or_panicking_operation_leaves_the_state_as_the_previous_one_left_it() {
    let result = run(
        None,
        &[
            ("add", Some("\"apple\"")),
            ("add_then_fail", Some("\"pear\"")),
            ("add_then_panic", Some("\"plum\"")),
            ("count", None),
            ("notify_then_fail", None),
        ],
    );
    let view = EntityResultView::new(&result);
    let outcomes = view.outcomes();
    assert_eq!(outcomes[0], Ok(Some("1")));
    assert_eq!(outcomes[1], Err(("OutOfStock", "that item is gone")));
    assert!(matches!(outcomes[2], Err((_, message)) if message.contains("the cart broke")));
    assert_eq!(outcomes[3], Ok(Some("1")), "neither pear nor plum");
    assert!(outcomes[4].is_err());
    assert!(
        view.signals().is_empty(),
        "the failed operation's signal is rolled back"
    );
    assert_eq!(view.state(), Some(r#"{"items":[["apple",1]]}"#));
}

#[test]
fn an_operation_that_does_not_fit_the_enum_fails_alone_with_a_clear_error() {
    let result = run(
        None,
        &[
            ("add", Some("\"apple\"")),
            ("remove", Some("\"apple\"")),
            ("add", Some("42")),
            ("add", Some("not json")),
            ("count", None),
        ],
    );
    let outcomes = EntityResultView::new(&result).outcomes();
    for (index, expected) in [
        (1, "unknown variant `remove`"),
        (2, "expected a string"),
        (3, "is not JSON"),
    ] {
        let Err((error_type, message)) = outcomes[index] else {
            panic!("operation {index} should fail: {outcomes:?}")
        };
        assert_eq!(error_type, INVALID_OPERATION);
        assert!(message.contains(expected), "{index}: {message}");
        if index == 1 {
            assert!(
                message.contains("@cart@c1") && message.contains("'remove'"),
                "{message}"
            );
        }
    }
    assert_eq!(outcomes[4], Ok(Some("1")));
}

#[test]
fn deleting_the_state_through_the_context_starts_the_next_operation_from_the_default() {
    reset_counts();
    let result = run(
        Some(r#"{"items":[["apple",1]]}"#),
        &[("delete", None), ("count", None), ("add", Some("\"pear\""))],
    );
    let view = EntityResultView::new(&result);
    assert_eq!(view.outcomes()[1], Ok(Some("0")));
    assert_eq!(view.state(), Some(r#"{"items":[["pear",1]]}"#));
    let only_delete = run(Some(r#"{"items":[]}"#), &[("delete", None)]);
    assert_eq!(EntityResultView::new(&only_delete).state(), None, "deleted");
}

#[test]
fn typed_entities_answer_v2_requests_with_the_callers_destination() {
    let request = request_v2(
        "@cart@c2",
        None,
        vec![
            call("q1", "@cart@c2", "add", Some("\"apple\""), "shop-1"),
            call("q2", "@cart@c2", "Checkout", None, "shop-1"),
        ],
    );
    let result = execute_entity_request(&registry(), &request, canned::t0());
    assert_eq!(
        EntityResultView::new(&result).outcomes(),
        [Ok(Some("1")), Ok(Some("1"))]
    );
    assert_eq!(result.operation_infos.len(), 2);
}
