//! Typed handles: an activity or orchestrator named once, with its input and output types, and used both to
//! register it and to call it, so the compiler checks that callers and implementation agree.
//!
//! ```
//! use durabletask_sdk::prelude::*;
//!
//! const SAY_HELLO: ActivityHandle<String, String> = ActivityHandle::new("SayHello");
//! const HELLO_CITIES: OrchestrationHandle<Vec<String>, Vec<String>> = OrchestrationHandle::new("HelloCities");
//!
//! async fn say_hello(_ctx: ActivityContext, city: String) -> Result<String, Error> {
//!     Ok(format!("Hello, {city}!"))
//! }
//!
//! async fn hello_cities(ctx: OrchestrationContext, cities: Vec<String>) -> Result<Vec<String>, Error> {
//!     let mut greetings = Vec::new();
//!     for city in &cities {
//!         // `&str` would not compile here: the handle says the input is a `String`.
//!         greetings.push(ctx.call(SAY_HELLO, city).await?);
//!     }
//!     Ok(greetings)
//! }
//!
//! let mut registry = Registry::new();
//! registry.add_activity(SAY_HELLO, say_hello)?.add_orchestrator(HELLO_CITIES, hello_cities)?;
//! # Ok::<(), durabletask_sdk::RegistryError>(())
//! ```
//!
//! A function whose types differ from the handle's is refused at compile time:
//!
//! ```compile_fail
//! use durabletask_sdk::prelude::*;
//!
//! const SAY_HELLO: ActivityHandle<String, String> = ActivityHandle::new("SayHello");
//!
//! async fn count(_ctx: ActivityContext, n: u32) -> Result<u32, Error> {
//!     Ok(n)
//! }
//! Registry::new().add_activity(SAY_HELLO, count).unwrap();
//! ```

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::call::CallTask;
use super::context::OrchestrationContext;

/// An activity named `name`, taking `I` and returning `O`. Declare it once as a `const` and use it for
/// [`Registry::add_activity`](crate::Registry::add_activity) and [`OrchestrationContext::call`].
pub struct ActivityHandle<I, O> {
    name: &'static str,
    types: PhantomData<fn(I) -> O>,
}

/// An orchestrator named `name`, taking `I` and returning `O`. Declare it once as a `const` and use it for
/// [`Registry::add_orchestrator`](crate::Registry::add_orchestrator) and, as a sub-orchestration, for
/// [`OrchestrationContext::call`].
pub struct OrchestrationHandle<I, O> {
    name: &'static str,
    types: PhantomData<fn(I) -> O>,
}

/// A sub-orchestration call on a chosen instance id (see [`OrchestrationHandle::with_instance_id`]).
pub struct SubOrchestrationCall<I, O> {
    handle: OrchestrationHandle<I, O>,
    instance_id: String,
}

macro_rules! handle_basics {
    ($handle:ident, $what:literal) => {
        impl<I, O> $handle<I, O> {
            #[doc = concat!("A handle for the ", $what, " registered as `name`.")]
            pub const fn new(name: &'static str) -> Self {
                Self {
                    name,
                    types: PhantomData,
                }
            }

            #[doc = concat!("The name the ", $what, " is registered and called with.")]
            pub const fn name(&self) -> &'static str {
                self.name
            }
        }

        impl<I, O> Clone for $handle<I, O> {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl<I, O> Copy for $handle<I, O> {}

        impl<I, O> fmt::Debug for $handle<I, O> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($handle)).field(&self.name).finish()
            }
        }
    };
}

handle_basics!(ActivityHandle, "activity");
handle_basics!(OrchestrationHandle, "orchestrator");

impl<I, O> OrchestrationHandle<I, O> {
    /// Calls the orchestrator as a sub-orchestration on `instance_id` instead of the default
    /// `<parent id>:<task id as 4 hex digits>` (pass an id derived from your data when the child must be unique).
    pub fn with_instance_id(self, instance_id: impl Into<String>) -> SubOrchestrationCall<I, O> {
        SubOrchestrationCall {
            handle: self,
            instance_id: instance_id.into(),
        }
    }
}

impl<I, O> fmt::Debug for SubOrchestrationCall<I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubOrchestrationCall")
            .field("name", &self.handle.name)
            .field("instance_id", &self.instance_id)
            .finish()
    }
}

mod sealed {
    pub trait Sealed {}
}

/// What [`OrchestrationContext::call`] can call: an [`ActivityHandle`], an [`OrchestrationHandle`] (as a
/// sub-orchestration) or a [`SubOrchestrationCall`].
pub trait Callable: sealed::Sealed {
    /// The input type.
    type Input: Serialize + ?Sized;
    /// The output type.
    type Output: DeserializeOwned;

    /// Schedules the call with the already encoded input.
    #[doc(hidden)]
    fn schedule(self, ctx: &OrchestrationContext, input: Option<String>) -> CallTask<Self::Output>;
}

impl<I, O> sealed::Sealed for ActivityHandle<I, O> {}
impl<I, O> sealed::Sealed for OrchestrationHandle<I, O> {}
impl<I, O> sealed::Sealed for SubOrchestrationCall<I, O> {}

impl<I: Serialize, O: DeserializeOwned> Callable for ActivityHandle<I, O> {
    type Input = I;
    type Output = O;

    fn schedule(self, ctx: &OrchestrationContext, input: Option<String>) -> CallTask<O> {
        ctx.schedule_activity(self.name, input)
    }
}

impl<I: Serialize, O: DeserializeOwned> Callable for OrchestrationHandle<I, O> {
    type Input = I;
    type Output = O;

    fn schedule(self, ctx: &OrchestrationContext, input: Option<String>) -> CallTask<O> {
        ctx.schedule_sub_orchestration(self.name, input, None)
    }
}

impl<I: Serialize, O: DeserializeOwned> Callable for SubOrchestrationCall<I, O> {
    type Input = I;
    type Output = O;

    fn schedule(self, ctx: &OrchestrationContext, input: Option<String>) -> CallTask<O> {
        ctx.schedule_sub_orchestration(self.handle.name, input, Some(self.instance_id))
    }
}
