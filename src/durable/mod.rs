//! The durable functions of the app, registered in the SDK's [`Registry`]: the return aggregate entity, the
//! notification orchestrator and the publishing activities. [`contract`] holds what they say to each other.
//!
//! ```text
//! ServiceBusTrigger ──signal "apply"──▶ EntityFunction (@entityfunction@<returnId>)
//!                                         │ settles once ──start──▶ Orchestrator (returns-settled-<returnId>)
//!                                         │                            └─▶ PublishNotification ─▶ notifications topic
//!                                         │ deadline passed ─start──▶ Orchestrator (returns-stuck-<returnId>)
//!                                         │                            └─▶ PublishAlert ─▶ alerts queue
//!                                         │ event refused ───start──▶ Orchestrator (returns-invalid-<uuid>)
//!                                         │                            └─▶ PublishInvalidEvent ─▶ invalid-events queue
//!                                         ◀──call "published"────────── Orchestrator (a signal before version 2.0)
//!                                         └ tombstone kept, then "expire" deletes the state
//! ```

mod aggregate_entity;
pub mod contract;
pub(crate) mod notify;
mod publish;
mod settings;

use std::sync::Arc;

use durabletask_sdk::Registry;

use crate::config::Config;

pub use aggregate_entity::AggregateEntityState;
pub use contract::{
    aggregate_entity_id, AggregateOperation, Publication, PublicationInput, PublicationKind, AGGREGATE_ENTITY,
    ALERT_BINDING, APPLY_EVENT_OPERATION, INVALID_EVENT_BINDING, NOTIFICATION_BINDING, ORCHESTRATOR, PUBLISH_ALERT,
    PUBLISH_INVALID_EVENT, PUBLISH_NOTIFICATION,
};
pub use notify::REPORT_AWAITED_SINCE;
pub use settings::{app_versioning, DurableSettings, VersioningError};

/// The registry of every durable function of the app, with settings derived from `config`.
pub fn registry(config: &Config) -> Registry {
    registry_with(Arc::new(DurableSettings::from_config(config)))
}

/// The registry of every durable function of the app, sharing `settings`.
pub fn registry_with(settings: Arc<DurableSettings>) -> Registry {
    let mut registry = Registry::new();
    registry.set_versioning(settings.versioning.clone());
    let entity_settings = settings.clone();
    registry
        .add_entity(AGGREGATE_ENTITY, move |ctx| {
            aggregate_entity::run(ctx, &entity_settings)
        })
        .expect("the entity is registered once");
    let orchestrator_settings = settings.clone();
    registry
        .add_orchestrator(ORCHESTRATOR, move |ctx, input| {
            notify::orchestrate(ctx, input, orchestrator_settings.clone())
        })
        .expect("the orchestrator is registered once");
    registry
        .add_activity(PUBLISH_NOTIFICATION, publish::publish_notification)
        .expect("the activity is registered once")
        .add_activity(PUBLISH_ALERT, publish::publish_alert)
        .expect("the activity is registered once")
        .add_activity(PUBLISH_INVALID_EVENT, publish::publish_invalid_event)
        .expect("the activity is registered once");
    registry
}
