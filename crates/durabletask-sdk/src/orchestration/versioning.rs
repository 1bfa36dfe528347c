//! Orchestration versioning: every instance carries the version it was started with (`executionStarted.version`),
//! orchestrators branch on it ([`OrchestrationContext::version`](super::OrchestrationContext::version),
//! [`compare_version`](super::OrchestrationContext::compare_version)), and a worker only runs the instances its
//! [`VersioningOptions`] accept.
//!
//! The rules are those of the Durable Task Framework, which the Durable Functions extension applies from host.json
//! (`defaultVersion`, `versionMatchStrategy`, `versionFailureStrategy`) and durabletask-dotnet applies in its
//! worker:
//!
//! - [`compare_versions`]: an empty version is older than any other; two versions that both read as .NET
//!   `System.Version` (`major.minor[.build[.revision]]`) compare by their numbers; anything else compares as text,
//!   ignoring case. A bare number is not a `System.Version`: `"10"` sorts before `"9"`. Use dotted versions
//!   (`"1.0"`, `"2.0"`) or ISO dates (`"2025-06-01"`).
//! - [`VersionMatchStrategy`]: which instances a worker runs (any / only its own version / its own or older).
//! - [`VersionFailureStrategy`]: what happens to one it does not run (handed back for another worker, or failed).
//! - New sub-orchestrations, and orchestrations started by entities, carry the options' default version unless the
//!   call names one ([`CallTask::with_version`](super::CallTask::with_version)).
//!
//! Where the check runs: the standalone [`worker`](crate::worker) checks each work item before replaying it. Under
//! Azure Functions the extension checks before it invokes the handler at all (DTFx `TaskOrchestrationDispatcher`
//! with the `VersioningSettings` built from host.json), so a custom handler never sees an instance it must refuse:
//! it only stamps versions (see [`crate::functions::durable_versioning`]).
//!
//! durabletask-python differs in its comparison: it reads versions as PEP 440 (`"1.0"` equals `"1.0.0"`, `"10"` is
//! newer than `"9"`) and compares other text case-sensitively. This SDK follows .NET, because the extension makes
//! the decision that matters.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::failure::FailureDetails;
use crate::proto;
use crate::proto::history_event::EventType;

/// The error type of a version mismatch, as every Durable Task SDK reports it.
pub const VERSION_MISMATCH: &str = "VersionMismatch";

/// Compares two orchestration versions (`None` and blank text are "no version").
///
/// ```
/// use std::cmp::Ordering;
/// use durabletask_sdk::orchestration::compare_versions;
///
/// assert_eq!(compare_versions(Some("1.10"), Some("1.9")), Ordering::Greater); // numbers
/// assert_eq!(compare_versions(Some("1.0"), Some("1.0.0")), Ordering::Less);   // fewer parts come first
/// assert_eq!(compare_versions(None, Some("0.1")), Ordering::Less);              // no version is the oldest
/// assert_eq!(compare_versions(Some("Beta"), Some("alpha")), Ordering::Greater); // text, ignoring case
/// assert_eq!(compare_versions(Some("10"), Some("9")), Ordering::Less);          // a bare number is text
/// ```
pub fn compare_versions(version: Option<&str>, other: Option<&str>) -> Ordering {
    let blank = |v: Option<&str>| v.is_none_or(is_blank);
    match (blank(version), blank(other)) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (false, false) => {}
    }
    let (version, other) = (version.unwrap_or_default(), other.unwrap_or_default());
    match (DotNetVersion::parse(version), DotNetVersion::parse(other)) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => compare_ignoring_case(version, other),
    }
}

/// `string.IsNullOrWhiteSpace` of .NET.
fn is_blank(text: &str) -> bool {
    text.chars().all(char::is_whitespace)
}

/// `string.Compare(a, b, StringComparison.OrdinalIgnoreCase)`: UTF-16 code units after simple upper-casing.
fn compare_ignoring_case(a: &str, b: &str) -> Ordering {
    fn upper(c: char) -> char {
        let mut mapped = c.to_uppercase();
        match (mapped.next(), mapped.next()) {
            (Some(single), None) => single,
            _ => c,
        }
    }
    let units = |text: &str| -> Vec<u16> {
        let mut buffer = [0u16; 2];
        text.chars()
            .flat_map(|c| upper(c).encode_utf16(&mut buffer).to_vec())
            .collect()
    };
    units(a).cmp(&units(b))
}

/// A .NET `System.Version`: two to four non-negative 32-bit components; a missing component is -1, so `1.0`
/// sorts before `1.0.0` (`Version.CompareTo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct DotNetVersion([i64; 4]);

impl DotNetVersion {
    /// `Version.TryParse`: components separated by `.`, each an `int` as `int.TryParse` with
    /// `NumberStyles.Integer` reads it (surrounding white space and a sign allowed) and not negative.
    fn parse(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split('.').collect();
        if !(2..=4).contains(&parts.len()) {
            return None;
        }
        let mut components = [-1i64; 4];
        for (slot, part) in components.iter_mut().zip(&parts) {
            *slot = parse_component(part)?;
        }
        Some(Self(components))
    }
}

/// One component of a `System.Version`.
fn parse_component(part: &str) -> Option<i64> {
    // .NET's white space for number parsing: space and U+0009..U+000D.
    let trimmed = part.trim_matches(|c: char| c == ' ' || ('\u{9}'..='\u{d}').contains(&c));
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'+') => (false, &trimmed[1..]),
        Some(b'-') => (true, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = digits.parse::<i32>().ok()?.into();
    let value = if negative { -value } else { value };
    (value >= 0).then_some(value)
}

/// Which orchestration instances a worker runs, by their version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum VersionMatchStrategy {
    /// Every instance, whatever its version.
    #[default]
    None,
    /// Only instances of exactly the worker's version (compared with [`compare_versions`]).
    Strict,
    /// Instances of the worker's version or older: a new deployment keeps running what older ones started, and an
    /// old one leaves newer instances alone. The extension's default.
    CurrentOrOlder,
}

/// What happens to an instance whose version the worker does not run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum VersionFailureStrategy {
    /// The work item is handed back to the engine, untouched, for a worker that runs that version (the instance
    /// waits until one does). The extension's default.
    #[default]
    Reject,
    /// The instance fails, for good, with a [`VERSION_MISMATCH`] error naming both versions.
    Fail,
}

/// A strategy name that is none of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}' (expected one of: {expected})")]
pub struct UnknownStrategy {
    kind: &'static str,
    value: String,
    expected: &'static str,
}

impl FromStr for VersionMatchStrategy {
    type Err = UnknownStrategy;

    /// The host.json names, ignoring case as the host's configuration binder does: `None`, `Strict`,
    /// `CurrentOrOlder`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "strict" => Ok(Self::Strict),
            "currentorolder" => Ok(Self::CurrentOrOlder),
            _ => Err(UnknownStrategy {
                kind: "version match strategy",
                value: text.to_owned(),
                expected: "None, Strict, CurrentOrOlder",
            }),
        }
    }
}

impl FromStr for VersionFailureStrategy {
    type Err = UnknownStrategy;

    /// The host.json names, ignoring case: `Reject`, `Fail`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "reject" => Ok(Self::Reject),
            "fail" => Ok(Self::Fail),
            _ => Err(UnknownStrategy {
                kind: "version failure strategy",
                value: text.to_owned(),
                expected: "Reject, Fail",
            }),
        }
    }
}

/// How a worker treats versions: its own version and how instances must match it, and the version it gives the
/// orchestrations it starts. Set on the [`Registry`](crate::Registry) with
/// [`set_versioning`](crate::Registry::set_versioning).
///
/// ```
/// use durabletask_sdk::orchestration::{VersionFailureStrategy, VersionMatchStrategy, VersioningOptions};
///
/// let options = VersioningOptions::new("2.0")
///     .with_match_strategy(VersionMatchStrategy::CurrentOrOlder)
///     .with_failure_strategy(VersionFailureStrategy::Reject);
/// assert!(options.check(Some("1.0")).is_ok());
/// assert!(options.check(None).is_ok()); // started before versioning: older than everything
/// let refused = options.check(Some("3.0")).unwrap_err();
/// assert_eq!(refused.to_string(), "The orchestration version '3.0' is greater than the worker version '2.0'.");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersioningOptions {
    /// The worker's version: what [`match_strategy`](Self::match_strategy) compares instances with.
    pub version: Option<String>,
    /// The version of the orchestrations this worker starts (sub-orchestrations, starts from entities) when the
    /// call names none.
    pub default_version: Option<String>,
    /// Which instances the worker runs.
    pub match_strategy: VersionMatchStrategy,
    /// What happens to the others.
    pub failure_strategy: VersionFailureStrategy,
}

impl VersioningOptions {
    /// A worker of `version` that also starts orchestrations at `version` (the Functions model, where host.json's
    /// `defaultVersion` is both); it runs every instance until a match strategy is set.
    pub fn new(version: impl Into<String>) -> Self {
        let version = Some(version.into()).filter(|v| !is_blank(v));
        Self {
            default_version: version.clone(),
            version,
            ..Self::default()
        }
    }

    /// Sets the version the worker's new orchestrations get, when it differs from the worker's version.
    pub fn with_default_version(mut self, version: impl Into<String>) -> Self {
        self.default_version = Some(version.into()).filter(|v| !is_blank(v));
        self
    }

    /// Sets which instances the worker runs.
    pub fn with_match_strategy(mut self, strategy: VersionMatchStrategy) -> Self {
        self.match_strategy = strategy;
        self
    }

    /// Sets what happens to the instances the worker does not run.
    pub fn with_failure_strategy(mut self, strategy: VersionFailureStrategy) -> Self {
        self.failure_strategy = strategy;
        self
    }

    /// Whether an instance of `instance_version` may run on this worker.
    pub fn check(&self, instance_version: Option<&str>) -> Result<(), VersionMismatch> {
        let comparison = compare_versions(instance_version, self.version.as_deref());
        let problem = match self.match_strategy {
            VersionMatchStrategy::None => None,
            VersionMatchStrategy::Strict => (comparison != Ordering::Equal).then_some(MismatchKind::Differs),
            VersionMatchStrategy::CurrentOrOlder => (comparison == Ordering::Greater).then_some(MismatchKind::Newer),
        };
        match problem {
            None => Ok(()),
            Some(kind) => Err(VersionMismatch {
                kind,
                instance_version: instance_version.unwrap_or_default().to_owned(),
                worker_version: self.version.clone().unwrap_or_default(),
                failure_strategy: self.failure_strategy,
            }),
        }
    }

    /// What a worker does with an orchestration work item: run it, or refuse it (see [`VersionMismatch`]).
    pub fn check_request(&self, request: &proto::OrchestratorRequest) -> Result<(), VersionMismatch> {
        self.check(request_version(request))
    }
}

/// Why a worker does not run an instance; its [`failure_strategy`](Self::failure_strategy) says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionMismatch {
    kind: MismatchKind,
    /// The instance's version (empty: none).
    pub instance_version: String,
    /// The worker's version (empty: none).
    pub worker_version: String,
    /// What to do about it.
    pub failure_strategy: VersionFailureStrategy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MismatchKind {
    Differs,
    Newer,
}

impl fmt::Display for VersionMismatch {
    /// The messages of durabletask-dotnet and -python.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (instance, worker) = (&self.instance_version, &self.worker_version);
        match self.kind {
            MismatchKind::Differs => write!(
                f,
                "The orchestration version '{instance}' does not match the worker version '{worker}'."
            ),
            MismatchKind::Newer => write!(
                f,
                "The orchestration version '{instance}' is greater than the worker version '{worker}'."
            ),
        }
    }
}

impl std::error::Error for VersionMismatch {}

impl VersionMismatch {
    /// The failure an instance ends with under [`VersionFailureStrategy::Fail`]: non-retriable, of type
    /// [`VERSION_MISMATCH`].
    pub fn failure_details(&self) -> FailureDetails {
        let mut details = FailureDetails::new(VERSION_MISMATCH, self.to_string());
        details.is_non_retriable = true;
        details
    }

    /// The episode's answer under [`VersionFailureStrategy::Fail`]: the instance completes as failed, and nothing
    /// of its code runs.
    pub fn failed_response(&self, request: &proto::OrchestratorRequest) -> proto::OrchestratorResponse {
        let complete = proto::CompleteOrchestrationAction {
            orchestration_status: proto::OrchestrationStatus::Failed as i32,
            failure_details: Some(self.failure_details().into()),
            ..Default::default()
        };
        proto::OrchestratorResponse {
            instance_id: request.instance_id.clone(),
            actions: vec![proto::OrchestratorAction {
                id: 1,
                orchestrator_action_type: Some(
                    proto::orchestrator_action::OrchestratorActionType::CompleteOrchestration(complete),
                ),
            }],
            ..Default::default()
        }
    }
}

/// The version an orchestration request's instance was started with (from its `executionStarted`); `None` when
/// it has none, or when the request holds no `executionStarted` (an engine streaming history separately).
pub fn request_version(request: &proto::OrchestratorRequest) -> Option<&str> {
    history_version(request.past_events.iter().chain(&request.new_events))
}

/// The version in a history's `executionStarted` (`None`: none, or blank).
pub fn history_version<'h>(events: impl IntoIterator<Item = &'h proto::HistoryEvent>) -> Option<&'h str> {
    events
        .into_iter()
        .find_map(|event| match &event.event_type {
            Some(EventType::ExecutionStarted(started)) => Some(started.version.as_deref()),
            _ => None,
        })
        .flatten()
        .filter(|version| !is_blank(version))
}

/// Gives every orchestration an entity starts without a version the `default` one (the extension does not: it
/// starts them unversioned, azure-functions-durable-extension issue #3237).
pub(crate) fn stamp_entity_starts(actions: &mut [proto::OperationAction], default: Option<&str>) {
    let Some(default) = default else { return };
    for action in actions {
        if let Some(proto::operation_action::OperationActionType::StartNewOrchestration(start)) =
            &mut action.operation_action_type
        {
            start.version.get_or_insert_with(|| default.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        compare_versions(Some(a), Some(b))
    }

    #[test]
    fn the_dotnet_sdk_test_table_holds() {
        // durabletask-dotnet TaskOrchestrationContextVersionTests.
        for (a, b, expected) in [
            ("1.1", "1.0", Ordering::Greater),
            ("1.0", "1.1", Ordering::Less),
            ("1.0", "1.0", Ordering::Equal),
            ("", "1.0", Ordering::Less),
            ("1.0", "", Ordering::Greater),
            ("", "", Ordering::Equal),
            ("1.0.1", "1.0.0", Ordering::Greater),
            ("1.0.0", "1.0.1", Ordering::Less),
            ("alpha", "beta", Ordering::Less),
            ("beta", "alpha", Ordering::Greater),
            ("alpha", "alpha", Ordering::Equal),
        ] {
            assert_eq!(cmp(a, b), expected, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn blank_versions_are_no_version() {
        assert_eq!(compare_versions(None, Some(" \t")), Ordering::Equal);
        assert_eq!(compare_versions(Some("  "), Some("0.0")), Ordering::Less);
        assert_eq!(compare_versions(Some("a"), None), Ordering::Greater);
    }

    #[test]
    fn system_version_parsing_follows_dotnet() {
        // Two to four components; missing ones sort first.
        assert_eq!(cmp("1.0", "1.0.0"), Ordering::Less);
        assert_eq!(cmp("1.0.0", "1.0.0.0"), Ordering::Less);
        assert_eq!(cmp("1.2.3.4", "1.2.3.4"), Ordering::Equal);
        // Numbers, not text: 1.10 is newer than 1.9, leading zeros and white space and a sign are allowed.
        assert_eq!(cmp("1.10", "1.9"), Ordering::Greater);
        assert_eq!(cmp("01.002", "1.2"), Ordering::Equal);
        assert_eq!(cmp(" 1 . +2 ", "1.2"), Ordering::Equal);
        assert_eq!(cmp("1.-0", "1.0"), Ordering::Equal);
        // Not versions, so compared as text: one or five components, negatives, overflow, empty parts, letters.
        assert!(DotNetVersion::parse("1").is_none());
        assert!(DotNetVersion::parse("1.2.3.4.5").is_none());
        assert!(DotNetVersion::parse("1.-1").is_none());
        assert!(DotNetVersion::parse("1.2147483648").is_none());
        assert!(DotNetVersion::parse("1.2147483647").is_some());
        assert!(DotNetVersion::parse("1..2").is_none());
        assert!(DotNetVersion::parse("v1.0").is_none());
        assert!(DotNetVersion::parse("1.0-beta").is_none());
        assert_eq!(cmp("10", "9"), Ordering::Less);
        // One side a version, the other not: text.
        assert_eq!(cmp("1.0", "1"), Ordering::Greater);
    }

    #[test]
    fn text_compares_ordinally_ignoring_case() {
        assert_eq!(cmp("ALPHA", "alpha"), Ordering::Equal);
        assert_eq!(cmp("2025-06-01", "2025-10-01"), Ordering::Less);
        assert_eq!(cmp("v1.0-release", "V1.0-RELEASE"), Ordering::Equal);
        assert_eq!(cmp("é", "É"), Ordering::Equal);
        // UTF-16 order: a surrogate pair sorts before U+E000..U+FFFF.
        assert_eq!(cmp("\u{10000}", "\u{e000}"), Ordering::Less);
    }

    #[test]
    fn match_strategies_accept_and_refuse() {
        let worker = |strategy| VersioningOptions::new("2.0").with_match_strategy(strategy);
        let none = worker(VersionMatchStrategy::None);
        assert!(none.check(Some("3.0")).is_ok() && none.check(None).is_ok());

        let strict = worker(VersionMatchStrategy::Strict);
        assert!(strict.check(Some("2.0")).is_ok());
        assert!(strict.check(Some("2.0.0")).is_err());
        let unversioned = strict.check(None).unwrap_err();
        assert_eq!(
            unversioned.to_string(),
            "The orchestration version '' does not match the worker version '2.0'."
        );

        let current = worker(VersionMatchStrategy::CurrentOrOlder);
        assert!(current.check(Some("1.9")).is_ok() && current.check(Some("2.0")).is_ok());
        assert!(current.check(None).is_ok());
        let newer = current.check(Some("2.1")).unwrap_err();
        assert_eq!(newer.failure_strategy, VersionFailureStrategy::Reject);
        let details = newer.failure_details();
        assert_eq!(details.error_type, VERSION_MISMATCH);
        assert!(details.is_non_retriable);
    }

    #[test]
    fn an_unversioned_worker_runs_only_unversioned_instances_when_strict() {
        let options = VersioningOptions::default().with_match_strategy(VersionMatchStrategy::Strict);
        assert!(options.check(None).is_ok());
        assert!(options.check(Some("")).is_ok());
        assert!(options.check(Some("1.0")).is_err());
        let current = VersioningOptions::default().with_match_strategy(VersionMatchStrategy::CurrentOrOlder);
        assert!(current.check(Some("0.1")).is_err());
    }

    #[test]
    fn strategies_read_their_host_json_names() {
        assert_eq!("currentOrOlder".parse(), Ok(VersionMatchStrategy::CurrentOrOlder));
        assert_eq!(" Strict ".parse(), Ok(VersionMatchStrategy::Strict));
        assert_eq!("NONE".parse(), Ok(VersionMatchStrategy::None));
        assert_eq!("fail".parse(), Ok(VersionFailureStrategy::Fail));
        assert_eq!("Reject".parse(), Ok(VersionFailureStrategy::Reject));
        let unknown = "Newest".parse::<VersionMatchStrategy>().unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "unknown version match strategy 'Newest' (expected one of: None, Strict, CurrentOrOlder)"
        );
    }

    #[test]
    fn blank_option_versions_are_none() {
        let options = VersioningOptions::new(" ");
        assert_eq!(options.version, None);
        assert_eq!(options.default_version, None);
        assert_eq!(
            VersioningOptions::new("1.0").with_default_version("").default_version,
            None
        );
    }
}
