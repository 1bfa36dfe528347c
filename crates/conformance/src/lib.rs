//! # durabletask-conformance: our executors against Microsoft's durabletask-python 1.12.0
//!
//! The same request bytes go through our executors and through the Python SDK's, and the two responses must be
//! equal after [normalisation](normalize). The pieces:
//!
//! * the registrations both sides share, mirrored from `oracle/oracle.py`: the [`script`] orchestrator (a tiny
//!   step language), the [`activities`] `echo` and `boom`, the [`counter`] entity — all added by [`register`];
//! * [`normalize`]: what may differ between the SDKs and how it is removed (the rules are documented there);
//! * [`wire`]: the request and response shapes, our side of the execution, the golden-vector file format;
//! * [`serve`]: the one-JSON-line-per-request protocol both `oracle.py serve` and our `conformance-serve` speak;
//! * [`oracle`]: the Python oracle as a child process, found in the project's virtualenv.
//! * [`diff`]: readable differences for failure messages.
//!
//! The tests in `tests/` replay the recorded golden vectors (`oracle/vectors.jsonl`), perturb recorded histories
//! to provoke non-determinism, and drive randomly generated programs to completion on a simulated engine, asking
//! both SDKs at every step.

pub mod activities;
pub mod counter;
pub mod diff;
pub mod normalize;
pub mod oracle;
pub mod python_value;
pub mod script;
pub mod serve;
pub mod wire;

pub use python_value::PythonValue;

use durabletask_sdk::Registry;

/// Registers everything the oracle registers: the `Script` orchestrator, the `echo` and `boom` activities and the
/// `counter` entity.
///
/// ```
/// let mut registry = durabletask_sdk::Registry::new();
/// durabletask_conformance::register(&mut registry);
/// assert_eq!(registry.orchestrator_names(), ["Script"]);
/// assert_eq!(registry.activity_names(), ["boom", "echo"]);
/// assert_eq!(registry.entity_names(), ["counter"]);
/// ```
pub fn register(registry: &mut Registry) {
    registry
        .add_orchestrator(script::SCRIPT, script::script)
        .and_then(|r| r.add_activity(activities::ECHO, activities::echo))
        .and_then(|r| r.add_activity(activities::BOOM, activities::boom))
        .and_then(|r| r.add_entity(counter::COUNTER, counter::counter))
        .expect("the conformance registrations have distinct, valid names");
}
