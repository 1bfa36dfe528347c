//! Every function of the app, declared once: its name, its trigger and bindings (what `<Name>/function.json`
//! says), and who serves it. From this one table come the handler's dispatch ([`function_app`], an SDK
//! [`FunctionApp`]), the function folders (`handler write-function-folders`, [`crate::function_folders`]) and the
//! start-up check that the deployed folders are the ones the handler serves.
//!
//! Adding a function is one [`Declaration`] in [`declarations`]: a durable trigger is served by the registry (its
//! orchestrator, entity or activity of the same name), any other trigger by a [`Handler`]. Then
//! `cargo run --bin handler -- write-function-folders` writes its folder.

use durabletask_sdk::functions::{
    Binding, FunctionApp, FunctionAppError, FunctionDefinition, InvokeRequest, InvokeResponse,
};
use futures::future::BoxFuture;
use tracing::Instrument as _;

use crate::durable::contract::{
    ACTIVITY_BINDING, AGGREGATE_ENTITY, ALERT_BINDING, CLIENT_BINDING, CONTEXT_BINDING, INVALID_EVENT_BINDING,
    NOTIFICATION_BINDING, ORCHESTRATOR, PUBLISH_ALERT, PUBLISH_INVALID_EVENT, PUBLISH_NOTIFICATION,
};
use crate::error::AppError;
use crate::functions::{purge, redrive, resend, service_bus, status};
use crate::state::AppState;
use crate::telemetry;

/// The Service Bus function: validates each return event and signals the return's entity.
pub const SERVICE_BUS_TRIGGER: &str = "ServiceBusTrigger";
/// The nightly purge (timer trigger).
pub const PURGE_TIMER: &str = "PurgeTimer";
/// The status endpoint: `GET /api/returns/{returnId}`.
pub const RETURN_STATUS: &str = "ReturnStatus";
/// The operators' re-send endpoint: `POST /api/returns/{returnId}/events` (admin key).
pub const RESEND_EVENTS: &str = "ResendEvents";
/// The operators' re-drive of a failed notification: `POST /api/returns/{returnId}/redrive` (admin key).
pub const REDRIVE_NOTIFICATION: &str = "RedriveNotification";

/// The app setting holding the Service Bus connection (or its `__fullyQualifiedNamespace` for an identity).
pub const SERVICE_BUS_CONNECTION: &str = "ServiceBusConnection";

/// One invocation of a function that is not a durable trigger, with the state every invocation shares.
pub type Handler = fn(AppState, InvokeRequest) -> BoxFuture<'static, Result<InvokeResponse, AppError>>;

/// Who answers a function's invocations.
#[derive(Clone, Copy)]
pub enum Server {
    /// The registry's orchestrator, entity or activity of the function's name ([`crate::durable::registry`]).
    Registry,
    /// One of the app's handlers ([`crate::functions`]).
    Handler(Handler),
}

/// One function of the app: what its function.json says and who serves it.
#[derive(Clone)]
pub struct Declaration {
    /// The function.json model (the name is the folder's).
    pub definition: FunctionDefinition,
    /// Who serves it.
    pub server: Server,
}

fn durable(definition: FunctionDefinition) -> Declaration {
    Declaration {
        definition,
        server: Server::Registry,
    }
}

fn handled(definition: FunctionDefinition, handler: Handler) -> Declaration {
    Declaration {
        definition,
        server: Server::Handler(handler),
    }
}

fn activity(name: &str, output: Binding) -> Declaration {
    durable(FunctionDefinition::new(name, Binding::activity_trigger(ACTIVITY_BINDING)).with_binding(output))
}

/// Every function of the app, in the order the README lists them.
pub fn declarations() -> Vec<Declaration> {
    vec![
        handled(
            FunctionDefinition::new(
                SERVICE_BUS_TRIGGER,
                Binding::service_bus_topic_trigger(
                    service_bus::MESSAGE_BINDING,
                    "%RETURNS_EVENTS_TOPIC%",
                    "%RETURNS_EVENTS_SUBSCRIPTION%",
                    SERVICE_BUS_CONNECTION,
                )
                // The handler decodes the message as base64 bytes (any encoding of the body is read).
                .with_property("dataType", "binary"),
            )
            .with_binding(Binding::durable_client(CLIENT_BINDING))
            .with_binding(Binding::service_bus_queue_output(
                service_bus::INVALID_EVENTS_BINDING,
                "%INVALID_EVENTS_QUEUE%",
                SERVICE_BUS_CONNECTION,
            )),
            |state, request| {
                let span = telemetry::service_bus::message_span(SERVICE_BUS_TRIGGER, &request);
                Box::pin(async move { service_bus::handle(&state, request).instrument(span).await })
            },
        ),
        durable(FunctionDefinition::new(
            AGGREGATE_ENTITY,
            Binding::entity_trigger(CONTEXT_BINDING),
        )),
        durable(FunctionDefinition::new(
            ORCHESTRATOR,
            Binding::orchestration_trigger(CONTEXT_BINDING),
        )),
        activity(
            PUBLISH_NOTIFICATION,
            Binding::service_bus_topic_output(NOTIFICATION_BINDING, "%NOTIFICATIONS_TOPIC%", SERVICE_BUS_CONNECTION),
        ),
        activity(
            PUBLISH_ALERT,
            Binding::service_bus_queue_output(ALERT_BINDING, "%ALERTS_QUEUE%", SERVICE_BUS_CONNECTION),
        ),
        activity(
            PUBLISH_INVALID_EVENT,
            Binding::service_bus_queue_output(INVALID_EVENT_BINDING, "%INVALID_EVENTS_QUEUE%", SERVICE_BUS_CONNECTION),
        ),
        handled(
            FunctionDefinition::new(
                PURGE_TIMER,
                Binding::timer_trigger(purge::TIMER_BINDING, "%PURGE_SCHEDULE%")
                    .with_property("runOnStartup", false)
                    .with_property("useMonitor", true),
            )
            .with_binding(Binding::durable_client(CLIENT_BINDING)),
            |state, request| Box::pin(async move { purge::handle(&state, &request).await }),
        ),
        handled(
            FunctionDefinition::new(
                RETURN_STATUS,
                Binding::http_trigger(status::REQUEST_BINDING, "function", &["get"])
                    .with_property("route", "returns/{returnId}"),
            )
            .with_binding(Binding::durable_client(CLIENT_BINDING))
            .with_binding(Binding::http_output(status::RESPONSE_BINDING)),
            |state, request| Box::pin(async move { status::handle(&state, &request).await }),
        ),
        handled(
            FunctionDefinition::new(
                RESEND_EVENTS,
                Binding::http_trigger(resend::REQUEST_BINDING, "admin", &["post"])
                    .with_property("route", "returns/{returnId}/events"),
            )
            .with_binding(Binding::durable_client(CLIENT_BINDING))
            .with_binding(Binding::http_output(status::RESPONSE_BINDING)),
            |state, request| Box::pin(async move { resend::handle(&state, &request).await }),
        ),
        handled(
            FunctionDefinition::new(
                REDRIVE_NOTIFICATION,
                Binding::http_trigger(redrive::REQUEST_BINDING, "admin", &["post"])
                    .with_property("route", "returns/{returnId}/redrive"),
            )
            .with_binding(Binding::durable_client(CLIENT_BINDING))
            .with_binding(Binding::http_output(status::RESPONSE_BINDING)),
            |state, request| Box::pin(async move { redrive::handle(&state, &request).await }),
        ),
    ]
}

/// Every function's definition (what the function folders hold), sorted by name.
pub fn definitions() -> Vec<FunctionDefinition> {
    let mut definitions: Vec<FunctionDefinition> = declarations()
        .into_iter()
        .map(|declaration| declaration.definition)
        .collect();
    definitions.sort_by(|a, b| a.name.cmp(&b.name));
    definitions
}

/// The SDK model of the app over `state`: the registry serves the durable triggers, the handlers the others.
/// Fails, naming every problem, when the declarations and the registry disagree (a durable function without a
/// registration or the reverse, a name used twice, …).
pub fn function_app(state: &AppState) -> Result<FunctionApp, FunctionAppError> {
    let mut builder = FunctionApp::builder(state.registry.clone());
    for declaration in declarations() {
        builder = match declaration.server {
            Server::Registry => builder.durable(declaration.definition),
            Server::Handler(handler) => {
                let state = state.clone();
                builder.function(declaration.definition, move |request: InvokeRequest| {
                    let answer = handler(state.clone(), request);
                    async move { answer.await.map_err(AppError::into_invocation_error) }
                })
            }
        };
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::Config;

    fn state() -> AppState {
        let values = HashMap::from([("FUNCTIONS_CUSTOMHANDLER_PORT", "7071")]);
        AppState::new(Config::from_map(&values).expect("the port is the only required setting"))
    }

    #[test]
    fn the_declarations_and_the_registry_agree() {
        let app = function_app(&state()).unwrap_or_else(|error| panic!("{error}"));
        let mut declared: Vec<String> = declarations()
            .into_iter()
            .map(|declaration| declaration.definition.name)
            .collect();
        declared.sort();
        assert_eq!(app.function_names(), declared);
    }
}
