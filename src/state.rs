//! What every invocation shares: the settings, the registry of durable functions, what they derive from the
//! settings, and the durable clients. Built once at start-up; the router hands it to each function.
//!
//! Its own module so that the router (`app`) and the functions (`functions::*`) both depend on it and not on each
//! other: `main` → `server`, `app` → `functions` → `state` → `durable` → `config`, `domain`.

use std::sync::Arc;

use durabletask_sdk::client::{ClientCache, ClientOptions};
use durabletask_sdk::orchestration::VersioningOptions;
use durabletask_sdk::Registry;

use crate::config::Config;
use crate::durable::{self, DurableSettings};

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
    /// The state for `config`, unversioned (see [`with_versioning`](Self::with_versioning)).
    pub fn new(config: Config) -> Self {
        Self::with_versioning(config, VersioningOptions::default())
    }

    /// The state for `config` with the app's orchestration versioning (read by
    /// [`durable::app_versioning`](crate::durable::app_versioning)).
    pub fn with_versioning(config: Config, versioning: VersioningOptions) -> Self {
        let durable_settings = Arc::new(DurableSettings::from_config(&config).with_versioning(versioning));
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
