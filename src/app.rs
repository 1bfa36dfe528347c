//! The HTTP face of the handler: the axum router the Functions host talks to.
//!
//! `GET /` answers readiness probes. `POST /{FunctionName}` is one invocation; the function's trigger kind (from
//! [`FUNCTIONS`]) picks the code that serves it, so another Service Bus source is one more folder and one more
//! line in the table.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use durabletask_sdk::client::{ClientCache, ClientOptions};
use durabletask_sdk::functions::{InvokeRequest, InvokeResponse};
use durabletask_sdk::Registry;

use crate::config::Config;
use crate::durable::{self, DurableSettings};
use crate::error::AppError;
use crate::function_folders::TriggerKind;
use crate::functions;

/// Every function this handler serves, with its trigger kind. Checked against the function folders at start-up.
pub const FUNCTIONS: &[(&str, TriggerKind)] = &[
    ("ServiceBusTrigger", TriggerKind::ServiceBus),
    ("EntityFunction", TriggerKind::Entity),
    ("Orchestrator", TriggerKind::Orchestration),
    ("PublishNotification", TriggerKind::Activity),
    ("PublishAlert", TriggerKind::Activity),
    ("PublishInvalidEvent", TriggerKind::Activity),
    ("PurgeTimer", TriggerKind::Timer),
    ("ReturnStatus", TriggerKind::Http),
    ("ResendEvents", TriggerKind::Http),
];

/// What every invocation shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Validated settings.
    pub config: Arc<Config>,
    /// The orchestrators, activities and entities.
    pub registry: Arc<Registry>,
    /// What the durable functions and the status endpoint derive from the settings (deadlines, retention, retries).
    pub durable_settings: Arc<DurableSettings>,
    /// Durable clients, one channel per engine endpoint.
    pub clients: Arc<ClientCache>,
}

impl AppState {
    /// The state for `config`.
    pub fn new(config: Config) -> Self {
        let durable_settings = Arc::new(DurableSettings::from_config(&config));
        let registry = durable::registry_with(durable_settings.clone());
        let clients = Arc::new(ClientCache::new(
            ClientOptions::default().with_call_timeout(config.durable_client_timeout),
        ));
        Self {
            config: Arc::new(config),
            registry: Arc::new(registry),
            durable_settings,
            clients,
        }
    }
}

/// The largest invocation body the handler reads. The host sends whole orchestration histories and entity states
/// (base64, +33 %) and Service Bus bodies up to 100 MB on the Premium tier; axum's default of 2 MB would answer
/// large but valid invocations 413 and have them retried forever.
pub const MAX_INVOCATION_BYTES: usize = 256 * 1024 * 1024;

/// The router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(ready))
        .route("/{function}", post(invoke))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_INVOCATION_BYTES))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn ready() -> &'static str {
    "ready"
}

async fn invoke(State(state): State<AppState>, Path(function): Path<String>, body: Bytes) -> Response {
    match dispatch(&state, &function, &body).await {
        Ok(answer) => ([(header::CONTENT_TYPE, "application/json")], answer.to_json_bytes()).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn dispatch(state: &AppState, function: &str, body: &[u8]) -> Result<InvokeResponse, AppError> {
    let kind = FUNCTIONS
        .iter()
        .find(|(name, _)| *name == function)
        .map(|(_, kind)| *kind)
        .ok_or_else(|| AppError::UnknownFunction(function.to_string()))?;
    let request = InvokeRequest::from_slice(body)?;
    match kind {
        TriggerKind::ServiceBus => functions::service_bus::handle(state, &request).await,
        TriggerKind::Entity => functions::durable::entity(state, &request),
        TriggerKind::Orchestration => functions::durable::orchestrator(state, &request),
        TriggerKind::Activity => functions::durable::activity(state, function, &request).await,
        TriggerKind::Timer => functions::purge::handle(state, &request).await,
        TriggerKind::Http if function == "ResendEvents" => functions::resend::handle(state, &request).await,
        TriggerKind::Http => functions::status::handle(state, &request).await,
    }
}
