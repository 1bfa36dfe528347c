//! Activities: the functions orchestrators call to do I/O ([`context`]), and their executor ([`executor`]). The
//! registry stores activities as functions of the context; the executor looks them up in the registry, so the
//! arrows point one way: `executor` → `registry` → `context`.

pub mod context;
pub mod executor;

pub use context::{ActivityContext, SerializedOutputs};
pub use executor::{execute_activity, run_activity};
