//! The durable functions of the app, registered in the SDK's [`Registry`]: the return aggregate entity, the
//! notification orchestrator and the publishing activities.
//!
//! ```text
//! ServiceBusTrigger ──signal "apply"──▶ EntityFunction (@entityfunction@<returnId>)
//!                                         │ settles once ──start──▶ Orchestrator (returns-settled-<returnId>)
//!                                         │                            └─▶ PublishNotification ─▶ notifications topic
//!                                         │ deadline passed ─start──▶ Orchestrator (returns-stuck-<returnId>)
//!                                         │                            └─▶ PublishAlert ─▶ alerts queue
//!                                         ◀──signal "published"──────── Orchestrator
//!                                         └ tombstone kept, then "expire" deletes the state
//! ```

mod aggregate_entity;
mod notify;
mod publish;

use std::sync::Arc;
use std::time::Duration;

use durabletask_sdk::orchestration::RetryPolicy;
use durabletask_sdk::{EntityId, Registry};

use crate::config::Config;
use crate::domain::{DomainConfig, ReturnId};

pub use aggregate_entity::{AggregateEntityState, APPLY_EVENT_OPERATION};
pub use notify::{orchestration_instance_id, NotifyInput, NotifyKind};
pub use publish::{ALERT_BINDING, NOTIFICATION_BINDING};

/// The entity name of the return aggregate: the entity function's name (entity names are case-insensitive).
pub const AGGREGATE_ENTITY: &str = "EntityFunction";
/// The orchestrator function.
pub const ORCHESTRATOR: &str = "Orchestrator";
/// The activity that publishes the settled notification.
pub const PUBLISH_NOTIFICATION: &str = "PublishNotification";
/// The activity that publishes the stuck alert.
pub const PUBLISH_ALERT: &str = "PublishAlert";

/// The entity holding the state of `return_id`.
pub fn aggregate_entity_id(return_id: &ReturnId) -> EntityId {
    EntityId::new(AGGREGATE_ENTITY, return_id.as_str())
}

/// What the durable functions need from the settings.
#[derive(Debug, Clone)]
pub struct DurableSettings {
    /// Deadlines and retention of the domain.
    pub domain: DomainConfig,
    /// How publishing is retried.
    pub publish_retry: RetryPolicy,
}

impl DurableSettings {
    /// The settings derived from the app settings.
    pub fn from_config(config: &Config) -> Self {
        let days = |duration: Duration| chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX);
        Self {
            domain: DomainConfig {
                stuck_after: days(config.stuck_return_after),
                tombstone_retention: days(config.tombstone_retention),
            },
            publish_retry: RetryPolicy::new(config.publish_max_attempts, config.publish_first_retry_interval)
                .with_backoff_coefficient(2.0)
                .with_max_retry_interval(Duration::from_secs(300)),
        }
    }
}

/// The registry of every durable function of the app, with settings derived from `config`.
pub fn registry(config: &Config) -> Registry {
    registry_with(Arc::new(DurableSettings::from_config(config)))
}

/// The registry of every durable function of the app, sharing `settings`.
pub fn registry_with(settings: Arc<DurableSettings>) -> Registry {
    let mut registry = Registry::new();
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
        .expect("the activity is registered once");
    registry
}
