//! Application settings, read from the environment (the Functions host passes every app setting to the handler
//! as an environment variable) and validated at start-up: every problem is reported at once, each naming its
//! setting, instead of failing invocations at 2 a.m.
//!
//! Three kinds of setting (the README's "Configuration" table lists them all):
//! - **handler settings** with a default ([`DEFAULTS`]), read and validated here;
//! - **set by the host** when it starts the handler (`FUNCTIONS_CUSTOMHANDLER_PORT`, `FUNCTIONS_APP_ROOT_PATH`);
//! - **host-only** settings named by `%SETTING%` expressions in the function folders (topic and queue names,
//!   `PURGE_SCHEDULE`): the host resolves them, the handler does not use them. `PURGE_SCHEDULE` is still checked
//!   here when it is set, as the host reads it (NCRONTAB or TimeSpan), because the host would otherwise only put
//!   `PurgeTimer` in error and the nightly purge would silently never run.

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use durabletask_sdk::client::OrchestrationStatus;
use durabletask_sdk::functions::ncrontab::TimerSchedule;
use durabletask_sdk::functions::parse_timespan;

use crate::telemetry::{parse_log_format, parse_otlp_endpoint, LogFormat};

/// The handler settings that have a default, with that default (as it would be written in the setting).
pub const DEFAULTS: &[(&str, &str)] = &[
    ("STUCK_RETURN_AFTER", "30days"),
    ("TOMBSTONE_RETENTION", "30days"),
    ("PURGE_RETENTION", "90days"),
    ("PURGE_STATUSES", "Completed"),
    ("PUBLISH_MAX_ATTEMPTS", "5"),
    ("PUBLISH_FIRST_RETRY_INTERVAL", "5s"),
    ("DURABLE_CLIENT_TIMEOUT", "10s"),
    ("RUST_LOG", "info"),
    ("LOG_FORMAT", "text"),
    ("OTEL_SERVICE_NAME", "returns-aggregator"),
    ("OTEL_BSP_MAX_QUEUE_SIZE", "2048"),
];

/// The OTLP collector's URL (no default: nothing is exported without it).
pub const OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The timer schedule setting the `PurgeTimer` folder names (`"schedule": "%PURGE_SCHEDULE%"`).
pub const PURGE_SCHEDULE: &str = "PURGE_SCHEDULE";

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

impl ConfigError {
    /// The setting concerned.
    pub fn setting(&self) -> &'static str {
        match self {
            ConfigError::Missing { name, .. } | ConfigError::Invalid { name, .. } => name,
        }
    }
}

/// Every problem found in the settings (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [only] => only.fmt(f),
            all => {
                write!(f, "{} app settings are wrong:", all.len())?;
                for error in all {
                    write!(f, "\n  - {error}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigErrors {}

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
    /// The purge timer's schedule as the host will read it, when `PURGE_SCHEDULE` is set (the host uses it; the
    /// handler only checks it and logs when the purge runs next).
    pub purge_schedule: Option<TimerSchedule>,
    /// The log filter (`RUST_LOG`, tracing `EnvFilter` syntax).
    pub log_filter: String,
    /// How log lines are written (`LOG_FORMAT`).
    pub log_format: LogFormat,
    /// Where spans and metrics are exported (`OTEL_EXPORTER_OTLP_ENDPOINT`); nothing is exported when unset.
    pub otlp_endpoint: Option<String>,
    /// The service name of the exported telemetry (`OTEL_SERVICE_NAME`).
    pub otel_service_name: String,
    /// Spans waiting for export at most (`OTEL_BSP_MAX_QUEUE_SIZE`); more are dropped and counted.
    pub span_queue_size: usize,
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings from a map (for tests).
    pub fn from_map(values: &HashMap<&str, &str>) -> Result<Self, ConfigErrors> {
        Self::from_lookup(|name| values.get(name).map(|v| v.to_string()))
    }

    /// Reads the settings through `lookup`, applying defaults and validating every value; reports every problem,
    /// not only the first.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigErrors> {
        let mut reader = Reader {
            lookup: &|name| lookup(name).filter(|value| !value.trim().is_empty()),
            errors: Vec::new(),
        };
        let port = reader.port();
        let app_root = (reader.lookup)("FUNCTIONS_APP_ROOT_PATH")
            .map(PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("."));
        let config = Config {
            listen_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port.unwrap_or(0))),
            app_root,
            stuck_return_after: reader.duration("STUCK_RETURN_AFTER"),
            tombstone_retention: reader.duration("TOMBSTONE_RETENTION"),
            purge_retention: reader.duration("PURGE_RETENTION"),
            purge_statuses: reader.read("PURGE_STATUSES", parse_statuses),
            publish_max_attempts: reader.read("PUBLISH_MAX_ATTEMPTS", |value| parse_number(value, 1, 100)),
            publish_first_retry_interval: reader.duration("PUBLISH_FIRST_RETRY_INTERVAL"),
            durable_client_timeout: reader.duration("DURABLE_CLIENT_TIMEOUT"),
            purge_schedule: reader.optional(PURGE_SCHEDULE, |value| {
                TimerSchedule::parse(value).map_err(|error| error.to_string())
            }),
            log_filter: reader.read("RUST_LOG", parse_log_filter),
            log_format: reader.read("LOG_FORMAT", parse_log_format),
            otlp_endpoint: reader.optional(OTLP_ENDPOINT, parse_otlp_endpoint),
            otel_service_name: reader.read("OTEL_SERVICE_NAME", |value| Ok(value.to_string())),
            span_queue_size: reader.read("OTEL_BSP_MAX_QUEUE_SIZE", |value| {
                parse_number(value, 1, 1_000_000).map(|size| size as usize)
            }),
        };
        if reader.errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(reader.errors))
        }
    }
}

/// The default of a handler setting.
fn default_of(name: &str) -> &'static str {
    DEFAULTS
        .iter()
        .find(|(setting, _)| *setting == name)
        .map(|(_, default)| *default)
        .expect("every defaulted setting is in DEFAULTS")
}

/// Reads settings one by one, collecting every problem; a setting that is wrong reads as its default (or zero)
/// so that the rest can still be checked.
struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    fn read<T: Default>(&mut self, name: &'static str, parse: impl Fn(&str) -> Result<T, String>) -> T {
        let value = (self.lookup)(name).unwrap_or_else(|| default_of(name).to_string());
        self.check(name, &value, parse).unwrap_or_default()
    }

    fn optional<T>(&mut self, name: &'static str, parse: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let value = (self.lookup)(name)?;
        self.check(name, &value, parse)
    }

    fn duration(&mut self, name: &'static str) -> Duration {
        self.read(name, parse_duration)
    }

    fn check<T>(&mut self, name: &'static str, value: &str, parse: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        match parse(value.trim()) {
            Ok(parsed) => Some(parsed),
            Err(reason) => {
                self.errors.push(ConfigError::Invalid {
                    name,
                    value: value.to_string(),
                    reason,
                });
                None
            }
        }
    }

    fn port(&mut self) -> Option<u16> {
        let name = match (
            (self.lookup)("FUNCTIONS_CUSTOMHANDLER_PORT"),
            (self.lookup)("FUNCTIONS_HTTPWORKER_PORT"),
        ) {
            (Some(_), _) => "FUNCTIONS_CUSTOMHANDLER_PORT",
            (None, Some(_)) => "FUNCTIONS_HTTPWORKER_PORT",
            (None, None) => {
                self.errors.push(ConfigError::Missing {
                    name: "FUNCTIONS_CUSTOMHANDLER_PORT",
                    hint: "the Functions host sets it when it starts the custom handler; to run the handler by hand, \
                           set it to a free port (FUNCTIONS_HTTPWORKER_PORT is accepted too)",
                });
                return None;
            }
        };
        let value = (self.lookup)(name)?;
        self.check(name, &value, parse_port)
    }
}

fn parse_port(value: &str) -> Result<u16, String> {
    match value.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err("expected a TCP port number between 1 and 65535".into()),
    }
}

fn parse_number(value: &str, min: u32, max: u32) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(number) if (min..=max).contains(&number) => Ok(number),
        _ => Err(format!("expected a whole number from {min} to {max}")),
    }
}

/// A positive duration, written the humantime way (`30days`, `12h`, `90min`, `2s`) or as a .NET TimeSpan, the
/// host's own format (`30.00:00:00`, `00:05:00`).
fn parse_duration(value: &str) -> Result<Duration, String> {
    let duration = if value.contains(':') {
        parse_timespan(value).map_err(|problem| format!("not a TimeSpan such as 30.00:00:00 or 00:05:00: {problem}"))?
    } else if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "a bare number has no unit; write e.g. {value}days, {value}h or {value}s (or a TimeSpan such as \
             {value}.00:00:00)"
        ));
    } else {
        humantime::parse_duration(value)
            .map_err(|error| format!("expected a duration such as 30days, 12h, 2s or 30.00:00:00 ({error})"))?
    };
    if duration.is_zero() {
        return Err("the duration must be greater than zero".into());
    }
    Ok(duration)
}

fn parse_statuses(value: &str) -> Result<Vec<OrchestrationStatus>, String> {
    let mut statuses = Vec::new();
    for part in value.split(',').map(str::trim).filter(|part| !part.is_empty()) {
        let status: OrchestrationStatus = part
            .parse()
            .map_err(|_| format!("'{part}' is not a runtime status (Completed, Failed or Terminated)"))?;
        if !matches!(
            status,
            OrchestrationStatus::Completed | OrchestrationStatus::Failed | OrchestrationStatus::Terminated
        ) {
            return Err(format!(
                "only finished instances can be purged: Completed, Failed or Terminated, not {part}"
            ));
        }
        if !statuses.contains(&status) {
            statuses.push(status);
        }
    }
    if statuses.is_empty() {
        return Err("name at least one status, e.g. Completed".into());
    }
    Ok(statuses)
}

fn parse_log_filter(value: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(value)
        .map(|_| value.to_string())
        .map_err(|error| format!("not a tracing filter such as info or returns_aggregator=debug,info ({error})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&'static str, &'static str)]) -> Result<Config, ConfigErrors> {
        let mut values: HashMap<&str, &str> = pairs.iter().copied().collect();
        values.entry("FUNCTIONS_CUSTOMHANDLER_PORT").or_insert("7071");
        Config::from_map(&values)
    }

    fn only_error(pairs: &[(&'static str, &'static str)]) -> ConfigError {
        let errors = config(pairs).unwrap_err();
        assert_eq!(errors.0.len(), 1, "{errors}");
        errors.0[0].clone()
    }

    #[test]
    fn defaults_apply_when_only_the_port_is_set() {
        let config = config(&[]).unwrap();
        assert_eq!(config.listen_addr, "127.0.0.1:7071".parse().unwrap());
        assert_eq!(config.purge_retention, Duration::from_secs(90 * 86_400));
        assert_eq!(config.purge_statuses, vec![OrchestrationStatus::Completed]);
        assert_eq!(config.stuck_return_after, Duration::from_secs(30 * 86_400));
        assert_eq!(config.tombstone_retention, Duration::from_secs(30 * 86_400));
        assert_eq!(config.publish_max_attempts, 5);
        assert_eq!(config.publish_first_retry_interval, Duration::from_secs(5));
        assert_eq!(config.durable_client_timeout, Duration::from_secs(10));
        assert_eq!(config.purge_schedule, None);
        assert_eq!(config.log_filter, "info");
    }

    #[test]
    fn every_default_is_itself_valid() {
        for (name, default) in DEFAULTS {
            let mut values: HashMap<&str, &str> = [(*name, *default)].into_iter().collect();
            values.insert("FUNCTIONS_CUSTOMHANDLER_PORT", "7071");
            assert_eq!(Config::from_map(&values), config(&[]), "{name}={default}");
        }
    }

    #[test]
    fn the_legacy_port_variable_is_accepted_and_a_missing_port_is_named() {
        let values: HashMap<&str, &str> = [("FUNCTIONS_HTTPWORKER_PORT", "8080")].into_iter().collect();
        assert_eq!(Config::from_map(&values).unwrap().listen_addr.port(), 8080);
        let errors = Config::from_map(&HashMap::new()).unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert!(matches!(
            errors.0[0],
            ConfigError::Missing {
                name: "FUNCTIONS_CUSTOMHANDLER_PORT",
                ..
            }
        ));
    }

    #[test]
    fn invalid_values_name_the_setting() {
        for (name, value) in [
            ("FUNCTIONS_CUSTOMHANDLER_PORT", "port"),
            ("FUNCTIONS_CUSTOMHANDLER_PORT", "0"),
            ("PURGE_RETENTION", "0days"),
            ("PURGE_RETENTION", "90"),
            ("PURGE_RETENTION", "00:00:00"),
            ("PURGE_RETENTION", "90.00:61:00"),
            ("PURGE_STATUSES", "Running"),
            ("PURGE_STATUSES", "Completed,Nope"),
            ("PURGE_STATUSES", ","),
            ("STUCK_RETURN_AFTER", "soon"),
            ("TOMBSTONE_RETENTION", "0s"),
            ("PUBLISH_MAX_ATTEMPTS", "-1"),
            ("PUBLISH_MAX_ATTEMPTS", "101"),
            ("DURABLE_CLIENT_TIMEOUT", "-00:00:10"),
            ("PURGE_SCHEDULE", "garbage"),
            ("PURGE_SCHEDULE", "0 0 0 * * 7"),
            ("RUST_LOG", "info,[[["),
            ("LOG_FORMAT", "yaml"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
        ] {
            let error = only_error(&[(name, value)]);
            assert_eq!(error.setting(), name, "{name}={value}: {error}");
            assert!(error.to_string().contains(name), "{name}={value}: {error}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errors = config(&[
            ("PURGE_SCHEDULE", "garbage"),
            ("PURGE_RETENTION", "90"),
            ("PUBLISH_MAX_ATTEMPTS", "many"),
            ("DURABLE_CLIENT_TIMEOUT", "soon"),
        ])
        .unwrap_err();
        let mut named: Vec<&str> = errors.0.iter().map(ConfigError::setting).collect();
        named.sort_unstable();
        assert_eq!(
            named,
            [
                "DURABLE_CLIENT_TIMEOUT",
                "PUBLISH_MAX_ATTEMPTS",
                "PURGE_RETENTION",
                "PURGE_SCHEDULE"
            ]
        );
        let message = errors.to_string();
        assert!(message.starts_with("4 app settings are wrong:\n  - "), "{message}");
        let without_port = Config::from_map(&[("PURGE_RETENTION", "x")].into_iter().collect()).unwrap_err();
        assert_eq!(without_port.0.len(), 2, "{without_port}");
    }

    #[test]
    fn durations_take_humantime_and_timespan_forms() {
        let read = |value: &'static str| config(&[("PURGE_RETENTION", value)]).unwrap().purge_retention;
        assert_eq!(read("30.00:00:00"), Duration::from_secs(30 * 86_400));
        assert_eq!(read("00:05:00"), Duration::from_secs(300));
        assert_eq!(read("1.02:03:04.5"), Duration::new(93_784, 500_000_000));
        assert_eq!(read("30days"), Duration::from_secs(30 * 86_400));
        assert_eq!(read("90min"), Duration::from_secs(5_400));
        assert_eq!(read(" 2s "), Duration::from_secs(2));
    }

    #[test]
    fn the_purge_schedule_is_read_as_the_host_reads_it() {
        let schedule = |value: &'static str| config(&[("PURGE_SCHEDULE", value)]).unwrap().purge_schedule;
        assert_eq!(
            schedule("0 0 0 * * *"),
            Some(TimerSchedule::parse("0 0 0 * * *").unwrap())
        );
        assert_eq!(
            schedule("0 30 2 * * Sun"),
            Some(TimerSchedule::parse("0 30 2 * * 0").unwrap())
        );
        assert_eq!(
            schedule("1.00:00:00"),
            Some(TimerSchedule::Interval(Duration::from_secs(86_400)))
        );
        let error = only_error(&[("PURGE_SCHEDULE", "0 0 25 * * *")]).to_string();
        assert!(
            error.contains("PURGE_SCHEDULE") && error.contains("hour field '25'"),
            "{error}"
        );
    }

    /// The README's "Configuration" table.
    fn readme_configuration() -> &'static str {
        let readme = include_str!("../README.md");
        let start = readme
            .find("## Configuration")
            .expect("README has a Configuration section");
        let section = &readme[start..];
        &section[..section[3..].find("\n## ").map_or(section.len(), |end| end + 3)]
    }

    #[test]
    fn the_readme_states_every_handler_default() {
        let table = readme_configuration();
        for (name, default) in DEFAULTS {
            let row = format!("| `{name}` | handler | `{default}` |");
            assert!(
                table.contains(&row),
                "the README's configuration table lacks the row {row}"
            );
        }
    }

    #[test]
    fn the_readme_lists_every_setting_the_function_folders_name_as_host_only() {
        let table = readme_configuration();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut named = Vec::new();
        for entry in std::fs::read_dir(root).unwrap().flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path().join("function.json")) else {
                continue;
            };
            let mut parts = text.split('%').skip(1).step_by(2);
            named.extend(parts.by_ref().map(str::to_string));
        }
        assert!(named.contains(&PURGE_SCHEDULE.to_string()), "{named:?}");
        for name in named {
            let listed = table.lines().any(|line| {
                line.starts_with("| `") && line.contains(&format!("`{name}`")) && line.contains("host-only")
            });
            assert!(
                listed,
                "{name} (a %{name}% in a function folder) is not in the README's table as host-only"
            );
        }
    }

    #[test]
    fn several_purge_statuses_are_accepted_in_any_case() {
        let config = config(&[("PURGE_STATUSES", "completed, FAILED,Terminated")]).unwrap();
        assert_eq!(config.purge_statuses.len(), 3);
    }
}
