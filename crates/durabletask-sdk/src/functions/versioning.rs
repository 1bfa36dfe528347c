//! The orchestration versioning of a Functions app, read from host.json as the Durable extension reads it, so that
//! the handler stamps the very version the extension enforces.
//!
//! What the extension does itself (extension 3.x with worker versioning, bundle ≥ 4.26): it builds DTFx
//! `VersioningSettings` from `extensions.durableTask` (`defaultVersion`, `versionMatchStrategy`,
//! `versionFailureStrategy`; `DurableTaskExtension.InitializeTaskHubWorker`), and DTFx's
//! `TaskOrchestrationDispatcher` checks every orchestration work item *before* the out-of-process middleware
//! invokes the handler: `Reject` abandons the work item (the instance waits for a host whose version accepts it),
//! `Fail` completes the instance as failed (`VersionMismatch`). It also gives `defaultVersion` to instances a
//! client starts over gRPC without a version (`TaskHubGrpcServer.StartInstance`).
//!
//! What the handler must do: give the version to what it starts itself — sub-orchestrations and orchestrations
//! started by entities (the extension starts those with the version in the action, none if it is empty; issue
//! #3237) — and branch on [`OrchestrationContext::version`](crate::OrchestrationContext::version). It cannot refuse
//! a work item: any failed invocation of an orchestrator fails the instance for good, so refusing is the
//! extension's job.
//!
//! Values come from host.json and, as the Functions host does, from app settings that override it
//! (`AzureFunctionsJobHost__extensions__durableTask__defaultVersion`, ...), names compared ignoring case.

use crate::orchestration::{UnknownStrategy, VersionFailureStrategy, VersionMatchStrategy, VersioningOptions};

/// The app setting that overrides host.json `extensions.durableTask.defaultVersion`.
pub const DEFAULT_VERSION_SETTING: &str = "AzureFunctionsJobHost__extensions__durableTask__defaultVersion";
/// The app setting that overrides host.json `extensions.durableTask.versionMatchStrategy`.
pub const MATCH_STRATEGY_SETTING: &str = "AzureFunctionsJobHost__extensions__durableTask__versionMatchStrategy";
/// The app setting that overrides host.json `extensions.durableTask.versionFailureStrategy`.
pub const FAILURE_STRATEGY_SETTING: &str = "AzureFunctionsJobHost__extensions__durableTask__versionFailureStrategy";

/// Why the versioning of host.json cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum VersioningConfigError {
    /// host.json is not JSON.
    #[error("host.json is not valid JSON: {0}")]
    InvalidJson(#[from] serde_json::Error),
    /// A value is not text.
    #[error("{origin}: must be a string, got {found}")]
    NotText {
        /// Where the value was.
        origin: String,
        /// What kind of JSON value it was.
        found: &'static str,
    },
    /// A strategy name is unknown.
    #[error("{origin}: {source}")]
    Strategy {
        /// Where the value was.
        origin: String,
        /// The unknown name.
        #[source]
        source: UnknownStrategy,
    },
}

/// The versioning the Durable extension applies to this app: host.json's `extensions.durableTask` settings, each
/// replaced by its app setting when one is set. The extension's defaults apply to what neither sets: no version,
/// `CurrentOrOlder`, `Reject`. The version is both the worker's version and the default version of new
/// orchestrations, as in the extension.
///
/// ```
/// use durabletask_sdk::functions::durable_versioning;
/// use durabletask_sdk::orchestration::{VersionFailureStrategy, VersionMatchStrategy};
///
/// let host_json = r#"{"version":"2.0","extensions":{"durableTask":{"defaultVersion":"1.0","versionFailureStrategy":"Fail"}}}"#;
/// let settings = [("AzureFunctionsJobHost__extensions__durableTask__defaultVersion", "2.0")];
/// let options = durable_versioning(host_json, settings).unwrap();
/// assert_eq!(options.version.as_deref(), Some("2.0")); // the app setting wins
/// assert_eq!(options.match_strategy, VersionMatchStrategy::CurrentOrOlder);
/// assert_eq!(options.failure_strategy, VersionFailureStrategy::Fail);
/// ```
pub fn durable_versioning<K, V>(
    host_json: &str,
    settings: impl IntoIterator<Item = (K, V)>,
) -> Result<VersioningOptions, VersioningConfigError>
where
    K: AsRef<str>,
    V: Into<String>,
{
    let root: serde_json::Value = serde_json::from_str(host_json)?;
    let durable = field(&root, "extensions").and_then(|extensions| field(extensions, "durableTask"));
    let mut default_version = text_of(durable, "defaultVersion")?;
    let mut match_strategy = text_of(durable, "versionMatchStrategy")?;
    let mut failure_strategy = text_of(durable, "versionFailureStrategy")?;
    for (name, value) in settings {
        let name = name.as_ref();
        let slot = if name.eq_ignore_ascii_case(DEFAULT_VERSION_SETTING) {
            &mut default_version
        } else if name.eq_ignore_ascii_case(MATCH_STRATEGY_SETTING) {
            &mut match_strategy
        } else if name.eq_ignore_ascii_case(FAILURE_STRATEGY_SETTING) {
            &mut failure_strategy
        } else {
            continue;
        };
        *slot = Some((format!("the app setting {name}"), value.into()));
    }
    let strategy_error = |origin: String| move |source| VersioningConfigError::Strategy { origin, source };
    let match_strategy = match match_strategy {
        Some((origin, text)) => text.parse().map_err(strategy_error(origin))?,
        None => VersionMatchStrategy::CurrentOrOlder,
    };
    let failure_strategy = match failure_strategy {
        Some((origin, text)) => text.parse().map_err(strategy_error(origin))?,
        None => VersionFailureStrategy::Reject,
    };
    let version = default_version.map(|(_, text)| text).unwrap_or_default();
    Ok(VersioningOptions::new(version)
        .with_match_strategy(match_strategy)
        .with_failure_strategy(failure_strategy))
}

/// A member of a JSON object, its name compared ignoring case (.NET configuration keys).
fn field<'v>(value: &'v serde_json::Value, name: &str) -> Option<&'v serde_json::Value> {
    value
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// A text setting of `extensions.durableTask` with where it came from; numbers are read as their text, as the
/// configuration binder reads them.
fn text_of(durable: Option<&serde_json::Value>, name: &str) -> Result<Option<(String, String)>, VersioningConfigError> {
    let Some(value) = durable.and_then(|durable| field(durable, name)) else {
        return Ok(None);
    };
    let origin = format!("host.json extensions.durableTask.{name}");
    let text = match value {
        serde_json::Value::Null => return Ok(None),
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Number(number) => number.to_string(),
        other => {
            let found = match other {
                serde_json::Value::Bool(_) => "a boolean",
                serde_json::Value::Array(_) => "an array",
                _ => "an object",
            };
            return Err(VersioningConfigError::NotText { origin, found });
        }
    };
    Ok(Some((origin, text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_SETTINGS: [(&str, &str); 0] = [];

    #[test]
    fn a_host_json_without_versioning_gives_the_extension_defaults() {
        let options = durable_versioning(r#"{"version":"2.0"}"#, NO_SETTINGS).unwrap();
        assert_eq!(options.version, None);
        assert_eq!(options.default_version, None);
        assert_eq!(options.match_strategy, VersionMatchStrategy::CurrentOrOlder);
        assert_eq!(options.failure_strategy, VersionFailureStrategy::Reject);
    }

    #[test]
    fn host_json_names_are_read_ignoring_case_and_numbers_as_text() {
        let host_json = r#"{"Extensions":{"DURABLETASK":{"DefaultVersion":2,"VersionMatchStrategy":"strict"}}}"#;
        let options = durable_versioning(host_json, NO_SETTINGS).unwrap();
        assert_eq!(options.version.as_deref(), Some("2"));
        assert_eq!(options.default_version.as_deref(), Some("2"));
        assert_eq!(options.match_strategy, VersionMatchStrategy::Strict);
    }

    #[test]
    fn app_settings_override_host_json_ignoring_the_case_of_their_names() {
        let host_json = r#"{"extensions":{"durableTask":{"defaultVersion":"1.0","versionMatchStrategy":"Strict"}}}"#;
        let settings = [
            ("azurefunctionsjobhost__extensions__durabletask__defaultversion", "1.1"),
            (MATCH_STRATEGY_SETTING, "None"),
            ("PATH", "/usr/bin"),
        ];
        let options = durable_versioning(host_json, settings).unwrap();
        assert_eq!(options.version.as_deref(), Some("1.1"));
        assert_eq!(options.match_strategy, VersionMatchStrategy::None);
    }

    #[test]
    fn an_empty_app_setting_removes_the_version() {
        let host_json = r#"{"extensions":{"durableTask":{"defaultVersion":"1.0"}}}"#;
        let options = durable_versioning(host_json, [(DEFAULT_VERSION_SETTING, "")]).unwrap();
        assert_eq!(options.version, None);
    }

    #[test]
    fn bad_values_name_where_they_are() {
        let bad = durable_versioning(
            r#"{"extensions":{"durableTask":{"versionFailureStrategy":"Retry"}}}"#,
            NO_SETTINGS,
        )
        .unwrap_err();
        assert_eq!(
            bad.to_string(),
            "host.json extensions.durableTask.versionFailureStrategy: unknown version failure strategy 'Retry' \
             (expected one of: Reject, Fail)"
        );
        let bad = durable_versioning("{}", [(MATCH_STRATEGY_SETTING, "Latest")]).unwrap_err();
        assert!(bad.to_string().starts_with(
            "the app setting AzureFunctionsJobHost__extensions__durableTask__versionMatchStrategy: unknown"
        ));
        let bad =
            durable_versioning(r#"{"extensions":{"durableTask":{"defaultVersion":true}}}"#, NO_SETTINGS).unwrap_err();
        assert_eq!(
            bad.to_string(),
            "host.json extensions.durableTask.defaultVersion: must be a string, got a boolean"
        );
        assert!(matches!(
            durable_versioning("{", NO_SETTINGS),
            Err(VersioningConfigError::InvalidJson(_))
        ));
    }
}
