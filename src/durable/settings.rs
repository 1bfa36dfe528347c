//! What the durable functions take from the app settings, and the app's orchestration versioning (host.json).

use std::path::Path;
use std::time::Duration;

use durabletask_sdk::functions::{durable_versioning, VersioningConfigError};
use durabletask_sdk::orchestration::{RetryPolicy, VersioningOptions};

use crate::config::Config;
use crate::domain::DomainConfig;

/// What the durable functions need from the settings.
#[derive(Debug, Clone)]
pub struct DurableSettings {
    /// Deadlines and retention of the domain.
    pub domain: DomainConfig,
    /// How publishing is retried.
    pub publish_retry: RetryPolicy,
    /// The app's orchestration version and how the extension matches it (host.json `extensions.durableTask`):
    /// the orchestrations the entity starts get this version.
    pub versioning: VersioningOptions,
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
            versioning: VersioningOptions::default(),
        }
    }

    /// The same settings, with the app's orchestration versioning.
    pub fn with_versioning(mut self, versioning: VersioningOptions) -> Self {
        self.versioning = versioning;
        self
    }
}

/// Why the app's versioning cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum VersioningError {
    /// host.json cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A versioning setting is not valid.
    #[error("orchestration versioning: {0}")]
    Invalid(#[from] VersioningConfigError),
}

/// The app's orchestration versioning as the Durable extension sees it: host.json `extensions.durableTask`
/// (`defaultVersion`, `versionMatchStrategy`, `versionFailureStrategy`) under `app_root`, each overridden by its
/// `AzureFunctionsJobHost__extensions__durableTask__...` app setting from the process environment.
pub fn app_versioning(app_root: &Path) -> Result<VersioningOptions, VersioningError> {
    let path = app_root.join("host.json");
    let text = std::fs::read_to_string(&path).map_err(|source| VersioningError::Read {
        path: path.display().to_string(),
        source,
    })?;
    Ok(durable_versioning(&text, std::env::vars())?)
}
