//! The registry of orchestrators, activities and entities a worker or function app can run.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, LocalBoxFuture};
use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::activity::context::ActivityContext;
use crate::entity::EntityContext;
use crate::failure::{Error, FailureDetails};
use crate::json;
use crate::orchestration::{
    ActivityHandle, OrchestrationContext, OrchestrationHandle, VersioningOptions, DEFAULT_MAXIMUM_TIMER_INTERVAL,
};

/// An orchestrator as stored in the registry: takes the context, returns the encoded output.
pub(crate) type OrchestratorFn =
    Arc<dyn Fn(OrchestrationContext) -> LocalBoxFuture<'static, Result<Option<String>, Error>> + Send + Sync>;

/// An activity as stored in the registry: takes the context and encoded input, returns the encoded output.
pub(crate) type ActivityFn = Arc<
    dyn Fn(ActivityContext, Option<String>) -> BoxFuture<'static, Result<Option<String>, FailureDetails>> + Send + Sync,
>;

/// An entity as stored in the registry: runs one operation against the context, returns the encoded result.
pub(crate) type EntityFn = Arc<dyn Fn(&mut EntityContext) -> Result<Option<String>, Error> + Send + Sync>;

/// What names an activity taking `I` and returning `O`: a plain name (`&str`, `String`), for any types, or an
/// [`ActivityHandle<I, O>`], for exactly its types.
pub trait ActivityName<I, O> {
    /// The name to register.
    fn activity_name(&self) -> &str;
}

/// What names an orchestrator taking `I` and returning `O`: a plain name (`&str`, `String`), for any types, or
/// an [`OrchestrationHandle<I, O>`], for exactly its types.
pub trait OrchestratorName<I, O> {
    /// The name to register.
    fn orchestrator_name(&self) -> &str;
}

macro_rules! plain_names {
    ($($name:ty),*) => {$(
        impl<I, O> ActivityName<I, O> for $name {
            fn activity_name(&self) -> &str {
                self
            }
        }

        impl<I, O> OrchestratorName<I, O> for $name {
            fn orchestrator_name(&self) -> &str {
                self
            }
        }
    )*};
}

plain_names!(&str, String, &String);

impl<I, O> ActivityName<I, O> for ActivityHandle<I, O> {
    fn activity_name(&self) -> &str {
        self.name()
    }
}

impl<I, O> OrchestratorName<I, O> for OrchestrationHandle<I, O> {
    fn orchestrator_name(&self) -> &str {
        self.name()
    }
}

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Something of this kind is already registered under the name.
    #[error("{kind} '{name}' is already registered")]
    Duplicate {
        /// "orchestrator", "activity" or "entity".
        kind: &'static str,
        /// The name used twice.
        name: String,
    },
    /// The name is empty or contains characters the engine cannot route.
    #[error("{kind} name '{name}' is invalid: {reason}")]
    InvalidName {
        /// "orchestrator", "activity" or "entity".
        kind: &'static str,
        /// The refused name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Orchestrators, activities and entities by name.
///
/// Orchestrator and activity names are matched exactly; entity names are case-insensitive (the engine
/// lowercases them in entity instance ids).
///
/// ```
/// use durabletask_sdk::{ActivityContext, Error, OrchestrationContext, Registry};
///
/// async fn greet(_ctx: ActivityContext, name: String) -> Result<String, Error> {
///     Ok(format!("Hello, {name}!"))
/// }
///
/// async fn hello(ctx: OrchestrationContext, city: String) -> Result<String, Error> {
///     Ok(ctx.call_activity("greet", &city).await?)
/// }
///
/// let mut registry = Registry::new();
/// registry.add_activity("greet", greet).unwrap();
/// registry.add_orchestrator("hello", hello).unwrap();
/// assert!(registry.add_activity("greet", greet).is_err());
/// ```
#[derive(Clone)]
pub struct Registry {
    orchestrators: HashMap<String, OrchestratorFn>,
    activities: HashMap<String, ActivityFn>,
    entities: HashMap<String, EntityFn>,
    maximum_timer_interval: Option<Duration>,
    versioning: Option<VersioningOptions>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            orchestrators: HashMap::new(),
            activities: HashMap::new(),
            entities: HashMap::new(),
            maximum_timer_interval: Some(DEFAULT_MAXIMUM_TIMER_INTERVAL),
            versioning: None,
        }
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an orchestrator: an async function of the context and its (JSON-decoded) input, under a name or
    /// an [`OrchestrationHandle`] (which must agree with the function's input and output types).
    pub fn add_orchestrator<N, F, Fut, I, O>(&mut self, name: N, orchestrator: F) -> Result<&mut Self, RegistryError>
    where
        N: OrchestratorName<I, O>,
        F: Fn(OrchestrationContext, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, Error>> + 'static,
        I: DeserializeOwned + 'static,
        O: Serialize + 'static,
    {
        let name = name.orchestrator_name();
        check_name("orchestrator", name)?;
        if self.orchestrators.contains_key(name) {
            return Err(duplicate("orchestrator", name));
        }
        let orchestrator = Arc::new(orchestrator);
        let wrapped: OrchestratorFn = Arc::new(move |ctx: OrchestrationContext| {
            let orchestrator = orchestrator.clone();
            async move {
                let input: I = ctx.input()?;
                let output = orchestrator(ctx, input).await?;
                Ok(json::encode(&output)?)
            }
            .boxed_local()
        });
        self.orchestrators.insert(name.to_string(), wrapped);
        Ok(self)
    }

    /// Registers an activity: an async function of the context and its (JSON-decoded) input, under a name or an
    /// [`ActivityHandle`] (which must agree with the function's input and output types).
    pub fn add_activity<N, F, Fut, I, O>(&mut self, name: N, activity: F) -> Result<&mut Self, RegistryError>
    where
        N: ActivityName<I, O>,
        F: Fn(ActivityContext, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, Error>> + Send + 'static,
        I: DeserializeOwned + Send + 'static,
        O: Serialize + 'static,
    {
        let name = name.activity_name();
        check_name("activity", name)?;
        if self.activities.contains_key(name) {
            return Err(duplicate("activity", name));
        }
        let activity = Arc::new(activity);
        let wrapped: ActivityFn = Arc::new(move |ctx: ActivityContext, input: Option<String>| {
            let decoded = json::decode::<I>(input.as_deref());
            let activity = activity.clone();
            async move {
                let input = decoded.map_err(|e| Error::from(e).into_details())?;
                let output = activity(ctx, input).await.map_err(Error::into_details)?;
                json::encode(&output).map_err(|e| Error::from(e).into_details())
            }
            .boxed()
        });
        self.activities.insert(name.to_string(), wrapped);
        Ok(self)
    }

    /// Registers an entity: a function that runs one operation (see [`EntityContext`]).
    pub fn add_entity<F, R>(&mut self, name: &str, entity: F) -> Result<&mut Self, RegistryError>
    where
        F: Fn(&mut EntityContext) -> Result<R, Error> + Send + Sync + 'static,
        R: Serialize,
    {
        let wrapped: EntityFn = Arc::new(move |ctx: &mut EntityContext| {
            let result = entity(ctx)?;
            Ok(json::encode(&result)?)
        });
        self.insert_entity(name, wrapped)
    }

    /// Registers a typed entity: its state is `E`, its operations the variants of `E::Operation` (see
    /// [`TypedEntity`](crate::entity::TypedEntity)).
    pub fn add_typed_entity<E: crate::entity::TypedEntity>(&mut self, name: &str) -> Result<&mut Self, RegistryError> {
        let run: EntityFn = Arc::new(crate::entity::run_typed::<E>);
        self.insert_entity(name, run)
    }

    fn insert_entity(&mut self, name: &str, entity: EntityFn) -> Result<&mut Self, RegistryError> {
        check_name("entity", name)?;
        if name.contains('@') {
            return Err(RegistryError::InvalidName {
                kind: "entity",
                name: name.to_string(),
                reason: "entity names cannot contain '@'",
            });
        }
        let key = name.to_lowercase();
        if self.entities.contains_key(&key) {
            return Err(duplicate("entity", name));
        }
        self.entities.insert(key, entity);
        Ok(self)
    }

    /// Sets how far ahead one durable timer may fire; longer timers are chained (default:
    /// [`DEFAULT_MAXIMUM_TIMER_INTERVAL`], three days, the official SDKs' default, within what Azure Storage can
    /// schedule). `None` (or zero) never splits timers, for engines without such a limit.
    ///
    /// Every orchestration run with this registry uses it, and it must not change while instances have timers
    /// running: the steps a timer was split into are part of their history.
    pub fn set_maximum_timer_interval(&mut self, interval: Option<Duration>) -> &mut Self {
        self.maximum_timer_interval = interval.filter(|interval| !interval.is_zero());
        self
    }

    /// How far ahead one durable timer may fire (see [`set_maximum_timer_interval`](Self::set_maximum_timer_interval)).
    pub fn maximum_timer_interval(&self) -> Option<Duration> {
        self.maximum_timer_interval
    }

    /// Sets how versions are treated (see [`orchestration::versioning`](crate::orchestration::versioning)): the
    /// version new sub-orchestrations and orchestrations started by entities get, and which instances the
    /// standalone [`worker`](crate::worker) runs. Under Azure Functions, build the options from host.json with
    /// [`functions::durable_versioning`](crate::functions::durable_versioning), so that the handler stamps the
    /// version the extension enforces.
    pub fn set_versioning(&mut self, options: VersioningOptions) -> &mut Self {
        self.versioning = Some(options);
        self
    }

    /// How versions are treated (see [`set_versioning`](Self::set_versioning)); `None`: not at all.
    pub fn versioning(&self) -> Option<&VersioningOptions> {
        self.versioning.as_ref()
    }

    /// The version new orchestrations started by this registry's code get when the call names none.
    pub fn default_version(&self) -> Option<&str> {
        self.versioning.as_ref()?.default_version.as_deref()
    }

    /// The names of the registered orchestrators, sorted.
    pub fn orchestrator_names(&self) -> Vec<&str> {
        sorted_names(&self.orchestrators)
    }

    /// The names of the registered activities, sorted.
    pub fn activity_names(&self) -> Vec<&str> {
        sorted_names(&self.activities)
    }

    /// The (lowercase) names of the registered entities, sorted.
    pub fn entity_names(&self) -> Vec<&str> {
        sorted_names(&self.entities)
    }

    pub(crate) fn orchestrator(&self, name: &str) -> Option<&OrchestratorFn> {
        self.orchestrators.get(name)
    }

    pub(crate) fn activity(&self, name: &str) -> Option<&ActivityFn> {
        self.activities.get(name)
    }

    pub(crate) fn entity(&self, name: &str) -> Option<&EntityFn> {
        self.entities.get(&name.to_lowercase())
    }
}

fn sorted_names<V>(map: &HashMap<String, V>) -> Vec<&str> {
    let mut names: Vec<&str> = map.keys().map(String::as_str).collect();
    names.sort_unstable();
    names
}

fn duplicate(kind: &'static str, name: &str) -> RegistryError {
    RegistryError::Duplicate {
        kind,
        name: name.to_string(),
    }
}

fn check_name(kind: &'static str, name: &str) -> Result<(), RegistryError> {
    if name.trim().is_empty() {
        return Err(RegistryError::InvalidName {
            kind,
            name: name.to_string(),
            reason: "names cannot be empty",
        });
    }
    Ok(())
}
