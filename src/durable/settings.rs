//! What the durable functions take from the app settings.

use std::time::Duration;

use durabletask_sdk::orchestration::RetryPolicy;

use crate::config::Config;
use crate::domain::DomainConfig;

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
