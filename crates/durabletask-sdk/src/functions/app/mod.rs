//! A Functions app model: every function of a custom handler with its trigger and bindings, and who serves it —
//! the [`Registry`] for durable triggers, a [`FunctionHandler`] for the others.
//!
//! One model gives the handler its dispatch ([`FunctionApp::invoke`], or `FunctionApp::into_router` with the
//! `axum` feature), the function folders ([`FunctionApp::write_function_folders`]) and the start-up check that the
//! deployed folders are the ones the handler serves ([`FunctionApp::check_function_folders`]).
//!
//! ```
//! use durabletask_sdk::functions::{
//!     Binding, FunctionApp, FunctionDefinition, InvocationError, InvokeRequest, InvokeResponse,
//! };
//! use durabletask_sdk::{ActivityContext, Error, Registry};
//!
//! async fn say_hello(_ctx: ActivityContext, city: String) -> Result<String, Error> {
//!     Ok(format!("Hello, {city}!"))
//! }
//!
//! async fn nightly(request: InvokeRequest) -> Result<InvokeResponse, InvocationError> {
//!     let timer = request.timer("timer")?;
//!     Ok(InvokeResponse::new().with_log(format!("past due: {}", timer.is_past_due)))
//! }
//!
//! let mut registry = Registry::new();
//! registry.add_activity("SayHello", say_hello).unwrap();
//! let app = FunctionApp::builder(registry)
//!     .activity("SayHello", "name")
//!     .function(FunctionDefinition::new("Nightly", Binding::timer_trigger("timer", "0 0 0 * * *")), nightly)
//!     .build()
//!     .unwrap();
//! assert_eq!(app.function_names(), ["Nightly", "SayHello"]);
//! # tokio_test_block_on(async {
//! let body = br#"{"Data":{"name":"\"\\\"Tokyo\\\"\""},"Metadata":{}}"#;
//! let answer = app.invoke("SayHello", body).await.unwrap();
//! assert_eq!(answer.return_value, "Hello, Tokyo!");
//! # });
//! # fn tokio_test_block_on(future: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
//! # }
//! ```

mod definition;
mod folders;
mod handler;
#[cfg(feature = "axum")]
mod router;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use definition::{Binding, Direction, FunctionDefinition, TriggerKind};
pub use folders::{generated_folder_differences, read_function_folders, write_function_folders};
pub use handler::{FunctionHandler, InvocationError};

use crate::functions::{handle_activity, handle_entity, handle_orchestrator, InvokeRequest, InvokeResponse};
use crate::registry::Registry;

/// The largest invocation body `FunctionApp::into_router` (`axum` feature) reads by default: 256 MiB. The host sends whole
/// orchestration histories and entity states (base64, +33 %) and Service Bus bodies up to 100 MB on the Premium
/// tier; axum's own default (2 MB) would answer large but valid invocations 413.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 256 * 1024 * 1024;

/// Why a function app model or its folders cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FunctionAppError {
    /// The model contradicts itself or the registry.
    #[error("the function app is not valid:\n  - {}", problems.join("\n  - "))]
    InvalidModel {
        /// One line per problem.
        problems: Vec<String>,
    },
    /// The app root could not be listed.
    #[error("cannot list the function folders in {path}: {source}")]
    ListFolders {
        /// The app root.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A function.json could not be read or is not a function definition.
    #[error("{path} is not a valid function.json: {reason}")]
    InvalidFunctionJson {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A function.json could not be written.
    #[error("cannot write {path}: {source}")]
    WriteFolder {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The folders and the model disagree.
    #[error("the function folders in {root} differ from the app:\n  - {}", problems.join("\n  - "))]
    FoldersDiffer {
        /// The app root.
        root: PathBuf,
        /// One line per difference.
        problems: Vec<String>,
    },
}

/// Who answers a function's invocations.
#[derive(Clone)]
enum Server {
    /// The registry's orchestrator, entity or activity of the function's name.
    Registry,
    /// A handler of the app.
    Handler(Arc<dyn FunctionHandler>),
}

#[derive(Clone)]
struct ServedFunction {
    definition: FunctionDefinition,
    server: Server,
}

/// Every function of a custom handler: name → trigger and bindings → who serves it. Built with
/// [`FunctionApp::builder`]; cheap to share (`Arc` it, or use `into_router`, with the `axum` feature).
pub struct FunctionApp {
    registry: Arc<Registry>,
    functions: BTreeMap<String, ServedFunction>,
    max_request_bytes: usize,
}

impl FunctionApp {
    /// Starts a model whose durable functions are served by `registry`.
    pub fn builder(registry: impl Into<Arc<Registry>>) -> FunctionAppBuilder {
        FunctionAppBuilder {
            registry: registry.into(),
            functions: Vec::new(),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
        }
    }

    /// The registry serving the durable functions.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The function names, sorted.
    pub fn function_names(&self) -> Vec<&str> {
        self.functions.keys().map(String::as_str).collect()
    }

    /// The definition of the function `name` (matched exactly, as the host calls it).
    pub fn definition(&self, name: &str) -> Option<&FunctionDefinition> {
        self.functions.get(name).map(|served| &served.definition)
    }

    /// Every function's definition, sorted by name.
    pub fn definitions(&self) -> impl Iterator<Item = &FunctionDefinition> {
        self.functions.values().map(|served| &served.definition)
    }

    /// The largest invocation body `into_router` (`axum` feature) reads.
    pub fn max_request_bytes(&self) -> usize {
        self.max_request_bytes
    }

    /// Answers `POST /{function}` with `body`: the durable triggers run through the registry, the other functions
    /// through their handlers. An unknown function is [`FailureKind::NotFound`](crate::functions::FailureKind), a
    /// body that is not an invocation envelope a bad request.
    pub async fn invoke(&self, function: &str, body: &[u8]) -> Result<InvokeResponse, InvocationError> {
        let served = self
            .functions
            .get(function)
            .ok_or_else(|| InvocationError::unknown_function(function))?;
        let request = InvokeRequest::from_slice(body)?;
        self.serve(served, request).await
    }

    /// Like [`invoke`](Self::invoke), for a request already parsed.
    pub async fn invoke_request(
        &self,
        function: &str,
        request: InvokeRequest,
    ) -> Result<InvokeResponse, InvocationError> {
        let served = self
            .functions
            .get(function)
            .ok_or_else(|| InvocationError::unknown_function(function))?;
        self.serve(served, request).await
    }

    async fn serve(&self, served: &ServedFunction, request: InvokeRequest) -> Result<InvokeResponse, InvocationError> {
        let definition = &served.definition;
        match &served.server {
            Server::Handler(handler) => handler.call(request).await,
            Server::Registry => {
                // `build` guarantees a durable trigger for every registry-served function.
                let trigger = definition
                    .trigger()
                    .map(|binding| binding.name.as_str())
                    .unwrap_or_default();
                match definition.trigger_kind() {
                    Some(TriggerKind::Orchestration) => Ok(handle_orchestrator(&self.registry, &request, trigger)?),
                    Some(TriggerKind::Entity) => Ok(handle_entity(&self.registry, &request, trigger)?),
                    _ => Ok(handle_activity(&self.registry, &definition.name, &request, trigger).await?),
                }
            }
        }
    }

    /// Checks that the function folders under `app_root` are exactly the model's: no folder missing or extra,
    /// every function.json equal to the one the model would write (property order and formatting aside). The
    /// error lists every difference.
    pub fn check_function_folders(&self, app_root: &Path) -> Result<(), FunctionAppError> {
        let folders = read_function_folders(app_root)?;
        let problems = folders::folder_problems(self.definitions(), &folders);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(FunctionAppError::FoldersDiffer {
                root: app_root.to_path_buf(),
                problems,
            })
        }
    }

    /// Writes `<app_root>/<Name>/function.json` for every function; returns the files written. Folders of
    /// functions the model no longer has are left alone ([`check_function_folders`](Self::check_function_folders)
    /// names them).
    pub fn write_function_folders(&self, app_root: &Path) -> Result<Vec<PathBuf>, FunctionAppError> {
        write_function_folders(app_root, self.definitions())
    }
}

/// Collects the functions of a [`FunctionApp`]; [`build`](Self::build) checks them all at once.
pub struct FunctionAppBuilder {
    registry: Arc<Registry>,
    functions: Vec<ServedFunction>,
    max_request_bytes: usize,
}

impl FunctionAppBuilder {
    /// An orchestrator function named `name` (an `orchestrationTrigger` named `context`), served by the registry's
    /// orchestrator of that name.
    pub fn orchestrator(self, name: &str) -> Self {
        self.durable(FunctionDefinition::orchestrator(name))
    }

    /// An entity function named `name` (an `entityTrigger` named `context`), served by the registry's entity of
    /// that name.
    pub fn entity(self, name: &str) -> Self {
        self.durable(FunctionDefinition::entity(name))
    }

    /// An activity function named `name` whose `activityTrigger` is named `binding`, served by the registry's
    /// activity of that name.
    pub fn activity(self, name: &str, binding: &str) -> Self {
        self.durable(FunctionDefinition::activity(name, binding))
    }

    /// A durable function with its whole definition (other trigger binding names, output bindings), served by the
    /// registry.
    pub fn durable(mut self, definition: FunctionDefinition) -> Self {
        self.functions.push(ServedFunction {
            definition,
            server: Server::Registry,
        });
        self
    }

    /// A function served by `handler` (any trigger but the durable ones).
    pub fn function(mut self, definition: FunctionDefinition, handler: impl FunctionHandler) -> Self {
        self.functions.push(ServedFunction {
            definition,
            server: Server::Handler(Arc::new(handler)),
        });
        self
    }

    /// Sets the largest invocation body `FunctionApp::into_router` (`axum` feature) reads.
    pub fn max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes;
        self
    }

    /// The model, once every function is valid: a legal and unique name, exactly one trigger, uniquely named
    /// bindings, durable triggers served by a registered orchestrator, entity or activity of the same name and
    /// without a `$return` binding, and every registered orchestrator, entity and activity given a function.
    pub fn build(self) -> Result<FunctionApp, FunctionAppError> {
        let problems = validate(&self.registry, &self.functions);
        if !problems.is_empty() {
            return Err(FunctionAppError::InvalidModel { problems });
        }
        Ok(FunctionApp {
            registry: self.registry,
            functions: self
                .functions
                .into_iter()
                .map(|served| (served.definition.name.clone(), served))
                .collect(),
            max_request_bytes: self.max_request_bytes,
        })
    }
}

fn validate(registry: &Registry, functions: &[ServedFunction]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for served in functions {
        let definition = &served.definition;
        let name = &definition.name;
        if !is_function_name(name) {
            problems.push(format!(
                "'{name}' is not a function name (a letter, then up to 127 letters, digits, '_' or '-')"
            ));
        }
        if seen.iter().any(|other| other.eq_ignore_ascii_case(name)) {
            problems.push(format!("{name} is defined twice (function names ignore case)"));
        }
        seen.push(name.clone());
        problems.extend(binding_problems(definition));
        let Some(kind) = definition.trigger_kind() else {
            continue;
        };
        match (&served.server, kind.is_durable()) {
            (Server::Registry, true) => {
                if !is_registered(registry, &kind, name) {
                    problems.push(format!(
                        "{name} has an {kind} but the registry has no {} named {name}",
                        durable_noun(&kind)
                    ));
                }
                if definition.binding("$return").is_some() {
                    problems.push(format!(
                        "{name} declares a $return binding, which a durable trigger must not have (the host would \
                         decode the base64 answer into bytes and the extension would fail the instance)"
                    ));
                }
            }
            (Server::Registry, false) => problems.push(format!(
                "{name} has a {kind}, which the registry cannot serve: give it a handler"
            )),
            (Server::Handler(_), true) => problems.push(format!(
                "{name} has an {kind}: durable triggers are served by the registry, not by a handler"
            )),
            (Server::Handler(_), false) => {}
        }
    }
    problems.extend(unserved_registrations(registry, functions));
    problems
}

fn binding_problems(definition: &FunctionDefinition) -> Vec<String> {
    let name = &definition.name;
    let mut problems = Vec::new();
    let triggers = definition
        .bindings
        .iter()
        .filter(|binding| binding.trigger_kind().is_some())
        .count();
    if triggers != 1 {
        problems.push(format!(
            "{name} has {triggers} trigger bindings; a function has exactly one"
        ));
    }
    let mut names: Vec<&str> = Vec::new();
    for binding in &definition.bindings {
        if binding.name.is_empty() {
            problems.push(format!("{name} has a {} binding without a name", binding.binding_type));
        } else if names.iter().any(|other| other.eq_ignore_ascii_case(&binding.name)) {
            problems.push(format!("{name} has two bindings named '{}'", binding.name));
        }
        names.push(&binding.name);
    }
    problems
}

/// Registered durable functions that no function serves: the host could never invoke them.
fn unserved_registrations(registry: &Registry, functions: &[ServedFunction]) -> Vec<String> {
    let served = |kind: TriggerKind, name: &str| {
        functions.iter().any(|served| {
            matches!(served.server, Server::Registry)
                && served.definition.trigger_kind().as_ref() == Some(&kind)
                && names_match(&kind, &served.definition.name, name)
        })
    };
    let mut problems = Vec::new();
    let registered = [
        (TriggerKind::Orchestration, registry.orchestrator_names()),
        (TriggerKind::Entity, registry.entity_names()),
        (TriggerKind::Activity, registry.activity_names()),
    ];
    for (kind, names) in registered {
        for name in names {
            if !served(kind.clone(), name) {
                problems.push(format!(
                    "the registry has the {} {name} but the app has no function for it (the host could never invoke it)",
                    durable_noun(&kind)
                ));
            }
        }
    }
    problems
}

fn is_registered(registry: &Registry, kind: &TriggerKind, name: &str) -> bool {
    let names = match kind {
        TriggerKind::Orchestration => registry.orchestrator_names(),
        TriggerKind::Entity => registry.entity_names(),
        _ => registry.activity_names(),
    };
    names.iter().any(|registered| names_match(kind, name, registered))
}

/// Entity names are case-insensitive (entity ids are lowercased); the others are exact.
fn names_match(kind: &TriggerKind, function: &str, registered: &str) -> bool {
    match kind {
        TriggerKind::Entity => function.eq_ignore_ascii_case(registered),
        _ => function == registered,
    }
}

fn durable_noun(kind: &TriggerKind) -> &'static str {
    match kind {
        TriggerKind::Orchestration => "orchestrator",
        TriggerKind::Entity => "entity",
        _ => "activity",
    }
}

/// The Functions host's rule for function names: a letter, then up to 127 letters, digits, `_` or `-`.
fn is_function_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_ascii_alphabetic())
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActivityContext, EntityContext, Error, OrchestrationContext};

    async fn orchestrate(_ctx: OrchestrationContext, _input: ()) -> Result<(), Error> {
        Ok(())
    }

    async fn act(_ctx: ActivityContext, _input: ()) -> Result<(), Error> {
        Ok(())
    }

    fn entity(_ctx: &mut EntityContext) -> Result<(), Error> {
        Ok(())
    }

    fn registry() -> Registry {
        let mut registry = Registry::new();
        registry
            .add_orchestrator("Flow", orchestrate)
            .and_then(|r| r.add_activity("Step", act))
            .and_then(|r| r.add_entity("Counter", entity))
            .unwrap();
        registry
    }

    async fn ok(_request: InvokeRequest) -> Result<InvokeResponse, InvocationError> {
        Ok(InvokeResponse::new())
    }

    #[test]
    fn a_complete_model_builds() {
        let app = FunctionApp::builder(registry())
            .orchestrator("Flow")
            .activity("Step", "input")
            .entity("counter")
            .function(
                FunctionDefinition::new("Hook", Binding::http_trigger("req", "function", &["post"]))
                    .with_binding(Binding::http_output("res")),
                ok,
            )
            .build()
            .unwrap();
        assert_eq!(app.function_names(), ["Flow", "Hook", "Step", "counter"]);
        assert_eq!(app.definition("Hook").unwrap().trigger_kind(), Some(TriggerKind::Http));
    }

    #[test]
    fn every_problem_of_a_model_is_named_at_once() {
        let error = FunctionApp::builder(registry())
            .orchestrator("Flow")
            .orchestrator("flow")
            .activity("Missing", "input")
            .durable(FunctionDefinition::entity("Counter").with_binding(Binding::new(
                "$return",
                "http",
                Direction::Out,
            )))
            .durable(FunctionDefinition::new(
                "Timer",
                Binding::timer_trigger("t", "0 * * * * *"),
            ))
            .function(FunctionDefinition::orchestrator("Flow2"), ok)
            .function(
                FunctionDefinition::new("9lives", Binding::http_trigger("req", "anonymous", &["get"]))
                    .with_binding(Binding::timer_trigger("t", "0 * * * * *"))
                    .with_binding(Binding::http_output("REQ")),
                ok,
            )
            .build()
            .err()
            .unwrap()
            .to_string();
        for needle in [
            "flow is defined twice",
            "Missing has an activityTrigger but the registry has no activity named Missing",
            "Counter declares a $return binding",
            "Timer has a timerTrigger, which the registry cannot serve",
            "Flow2 has an orchestrationTrigger: durable triggers are served by the registry",
            "'9lives' is not a function name",
            "9lives has 2 trigger bindings",
            "9lives has two bindings named 'REQ'",
            "the registry has the activity Step but the app has no function for it",
        ] {
            assert!(error.contains(needle), "{needle:?} not in:\n{error}");
        }
    }
}
