//! Application settings, read from the environment (the Functions host passes every app setting as an
//! environment variable) and validated at start-up, so a bad value stops the handler with a message naming the
//! setting instead of failing invocations at 2 a.m.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use durabletask_sdk::client::OrchestrationStatus;

/// A setting that is missing or has a value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required setting is not set.
    #[error("app setting {name} is not set: {hint}")]
    Missing {
        /// The setting's name.
        name: &'static str,
        /// What to set it to.
        hint: &'static str,
    },
    /// A setting has a value that cannot be used.
    #[error("app setting {name}={value:?} is invalid: {reason}")]
    Invalid {
        /// The setting's name.
        name: &'static str,
        /// The value found.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
}

/// Every setting the handler uses, with its validated value.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the handler listens: 127.0.0.1 and the port the host chose.
    pub listen_addr: SocketAddr,
    /// The function app's root folder (where `host.json` and the function folders are).
    pub app_root: PathBuf,
    /// How long after its first event a return that has not settled raises one "stuck" alert.
    pub stuck_return_after: Duration,
    /// How long a settled return's tombstone is kept to refuse late and duplicate events.
    pub tombstone_retention: Duration,
    /// Finished orchestration instances older than this are purged by the nightly timer.
    pub purge_retention: Duration,
    /// Which runtime statuses the nightly purge removes.
    pub purge_statuses: Vec<OrchestrationStatus>,
    /// Attempts at publishing one notification before the orchestration gives up.
    pub publish_max_attempts: u32,
    /// The delay before the first publishing retry (doubled for each further retry, at most 5 minutes).
    pub publish_first_retry_interval: Duration,
    /// The deadline of every call to the durable engine.
    pub durable_client_timeout: Duration,
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings from a map (for tests).
    pub fn from_map(values: &HashMap<&str, &str>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| values.get(name).map(|v| v.to_string()))
    }

    /// Reads the settings through `lookup`, applying defaults and validating every value.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let port = match (get("FUNCTIONS_CUSTOMHANDLER_PORT"), get("FUNCTIONS_HTTPWORKER_PORT")) {
            (Some(port), _) => parse_port("FUNCTIONS_CUSTOMHANDLER_PORT", &port)?,
            (None, Some(port)) => parse_port("FUNCTIONS_HTTPWORKER_PORT", &port)?,
            (None, None) => {
                return Err(ConfigError::Missing {
                    name: "FUNCTIONS_CUSTOMHANDLER_PORT",
                    hint: "the Functions host sets it when it starts the custom handler; to run the handler by hand, \
                           set it to a free port (FUNCTIONS_HTTPWORKER_PORT is accepted too)",
                })
            }
        };
        let app_root = get("FUNCTIONS_APP_ROOT_PATH")
            .map(PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("."));
        let duration = |name: &'static str, default: &str| parse_duration(name, &get(name).unwrap_or(default.into()));
        let publish_max_attempts = get("PUBLISH_MAX_ATTEMPTS").unwrap_or_else(|| "5".into());
        Ok(Self {
            listen_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            app_root,
            stuck_return_after: duration("STUCK_RETURN_AFTER", "30days")?,
            tombstone_retention: duration("TOMBSTONE_RETENTION", "30days")?,
            purge_retention: duration("PURGE_RETENTION", "90days")?,
            purge_statuses: parse_statuses(&get("PURGE_STATUSES").unwrap_or_else(|| "Completed".into()))?,
            publish_max_attempts: parse_number("PUBLISH_MAX_ATTEMPTS", &publish_max_attempts, 1, 100)? as u32,
            publish_first_retry_interval: duration("PUBLISH_FIRST_RETRY_INTERVAL", "5s")?,
            durable_client_timeout: duration("DURABLE_CLIENT_TIMEOUT", "10s")?,
        })
    }
}

fn parse_port(name: &'static str, value: &str) -> Result<u16, ConfigError> {
    match value.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(invalid(name, value, "expected a TCP port number between 1 and 65535")),
    }
}

fn parse_number(name: &'static str, value: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(number) if (min..=max).contains(&number) => Ok(number),
        _ => Err(invalid(
            name,
            value,
            &format!("expected a whole number from {min} to {max}"),
        )),
    }
}

fn parse_duration(name: &'static str, value: &str) -> Result<Duration, ConfigError> {
    match humantime::parse_duration(value.trim()) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        Ok(_) => Err(invalid(name, value, "the duration must be greater than zero")),
        Err(error) => Err(invalid(
            name,
            value,
            &format!("expected a duration such as 30days, 12h or 2s ({error})"),
        )),
    }
}

fn parse_statuses(value: &str) -> Result<Vec<OrchestrationStatus>, ConfigError> {
    let mut statuses = Vec::new();
    for part in value.split(',').map(str::trim).filter(|part| !part.is_empty()) {
        let status: OrchestrationStatus = part
            .parse()
            .map_err(|_| invalid("PURGE_STATUSES", value, &format!("'{part}' is not a runtime status")))?;
        if !matches!(
            status,
            OrchestrationStatus::Completed | OrchestrationStatus::Failed | OrchestrationStatus::Terminated
        ) {
            return Err(invalid(
                "PURGE_STATUSES",
                value,
                &format!("only finished instances can be purged: Completed, Failed or Terminated, not {part}"),
            ));
        }
        if !statuses.contains(&status) {
            statuses.push(status);
        }
    }
    if statuses.is_empty() {
        return Err(invalid(
            "PURGE_STATUSES",
            value,
            "name at least one status, e.g. Completed",
        ));
    }
    Ok(statuses)
}

fn invalid(name: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut values: HashMap<&str, &str> = pairs.iter().copied().collect();
        values.entry("FUNCTIONS_CUSTOMHANDLER_PORT").or_insert("7071");
        Config::from_map(&values)
    }

    #[test]
    fn defaults_apply_when_only_the_port_is_set() {
        let config = config(&[]).unwrap();
        assert_eq!(config.listen_addr, "127.0.0.1:7071".parse().unwrap());
        assert_eq!(config.purge_retention, Duration::from_secs(90 * 86_400));
        assert_eq!(config.purge_statuses, vec![OrchestrationStatus::Completed]);
        assert_eq!(config.stuck_return_after, Duration::from_secs(30 * 86_400));
        assert_eq!(config.publish_max_attempts, 5);
    }

    #[test]
    fn the_legacy_port_variable_is_accepted_and_a_missing_port_is_named() {
        let values: HashMap<&str, &str> = [("FUNCTIONS_HTTPWORKER_PORT", "8080")].into_iter().collect();
        assert_eq!(Config::from_map(&values).unwrap().listen_addr.port(), 8080);
        let err = Config::from_map(&HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("FUNCTIONS_CUSTOMHANDLER_PORT"), "{err}");
    }

    #[test]
    fn invalid_values_name_the_setting() {
        for (name, value) in [
            ("FUNCTIONS_CUSTOMHANDLER_PORT", "port"),
            ("PURGE_RETENTION", "0days"),
            ("PURGE_RETENTION", "90"),
            ("PURGE_STATUSES", "Running"),
            ("PURGE_STATUSES", "Completed,Nope"),
            ("STUCK_RETURN_AFTER", "soon"),
            ("TOMBSTONE_RETENTION", "0s"),
            ("PUBLISH_MAX_ATTEMPTS", "-1"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn several_purge_statuses_are_accepted_in_any_case() {
        let config = config(&[("PURGE_STATUSES", "completed, FAILED,Terminated")]).unwrap();
        assert_eq!(config.purge_statuses.len(), 3);
    }
}
