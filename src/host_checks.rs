//! Start-up checks of what the Functions host gives the handler, beyond the app's own settings:
//!
//! - `FUNCTIONS_WORKER_RUNTIME` must be `custom`. With any other value the Durable extension does not switch to the
//!   protobuf ("middleware passthrough") protocol the handler speaks: it sends its legacy JSON payloads and every
//!   durable invocation fails (extension `DurableTaskExtension` selects the protocol from this setting, parsed
//!   without regard to case).
//! - The extension bundle range (host.json `extensionBundle.version`, or the app setting
//!   `AzureFunctionsJobHost__extensionBundle__version` that overrides it) must not admit a bundle older than
//!   [`MINIMUM_BUNDLE`], nor one of the next major version. Older v4 bundles carry a Durable extension that fails
//!   the notification orchestration when it signals the entity (README, "Extension versions").
//!
//! The checks are pure functions over the setting values and the host.json text; [`check_app`] is the one edge
//! that reads the environment and the file. Every problem found is reported, each naming the setting and its fix.

use std::fmt;
use std::path::Path;

use thiserror::Error;

/// The app setting that selects the language worker.
pub const WORKER_RUNTIME_SETTING: &str = "FUNCTIONS_WORKER_RUNTIME";

/// The app setting that overrides host.json `extensionBundle.version` (host configuration section
/// `AzureFunctionsJobHost`, read by the host's `ExtensionBundleOptionsSetup`).
pub const BUNDLE_VERSION_OVERRIDE_SETTING: &str = "AzureFunctionsJobHost__extensionBundle__version";

/// The extension bundle the app is built for.
pub const BUNDLE_ID: &str = "Microsoft.Azure.Functions.ExtensionBundle";

/// The oldest extension bundle the app runs on: 4.26.0 carries Durable extension 3.3.0, the first with orchestration
/// versioning; every v4 bundle before 4.22.0 carries extension 2.x, which fails an orchestration that sends a
/// `sendEntityMessage` action (sources in the README, "Extension versions").
pub const MINIMUM_BUNDLE: BundleVersion = BundleVersion::release(4, 26, 0);

/// The first bundle of the next major version, which the app has not been verified against.
pub const NEXT_MAJOR_BUNDLE: BundleVersion = BundleVersion::release(5, 0, 0);

/// The range host.json should hold.
pub const RECOMMENDED_RANGE: &str = "[4.26.0, 5.0.0)";

/// One problem found by the start-up checks.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HostCheckError {
    /// `FUNCTIONS_WORKER_RUNTIME` is not set.
    #[error(
        "{WORKER_RUNTIME_SETTING} is not set: the Durable extension then speaks its legacy JSON protocol, which this \
         handler does not read. Fix: set the app setting {WORKER_RUNTIME_SETTING}=custom (locally in \
         local.settings.json Values; on Flex Consumption the runtime is functionAppConfig.runtime.name, which must \
         be custom)"
    )]
    WorkerRuntimeMissing,
    /// `FUNCTIONS_WORKER_RUNTIME` names another runtime.
    #[error(
        "{WORKER_RUNTIME_SETTING} is \"{0}\", not \"custom\": the Durable extension then speaks its legacy JSON \
         protocol, which this handler does not read. Fix: set the app setting {WORKER_RUNTIME_SETTING}=custom (on \
         Flex Consumption: functionAppConfig.runtime.name = custom)"
    )]
    WorkerRuntimeNotCustom(String),
    /// host.json cannot be read.
    #[error("cannot read {path}: {message}. Fix: deploy host.json at the app root")]
    HostJsonUnreadable {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// host.json is not a JSON object.
    #[error("host.json is not a JSON object: {0}")]
    HostJsonInvalid(String),
    /// host.json has no `extensionBundle`.
    #[error(
        "host.json has no extensionBundle: the host would load no Durable or Service Bus extension. Fix: add \
         \"extensionBundle\": {{\"id\": \"{BUNDLE_ID}\", \"version\": \"{RECOMMENDED_RANGE}\"}}"
    )]
    BundleMissing,
    /// `extensionBundle.id` names another bundle.
    #[error("host.json extensionBundle.id is {0:?}. Fix: set it to \"{BUNDLE_ID}\"")]
    BundleIdWrong(String),
    /// The bundle version range cannot be read.
    #[error("{origin} = {range:?} is not a version range: {problem}. Fix: set it to \"{RECOMMENDED_RANGE}\"")]
    BundleRangeInvalid {
        /// Where the range came from (host.json or the override setting).
        origin: RangeSource,
        /// The range as written.
        range: String,
        /// What is wrong with it.
        problem: RangeError,
    },
    /// The range admits a bundle older than [`MINIMUM_BUNDLE`].
    #[error(
        "{origin} = {range:?} admits bundles older than {MINIMUM_BUNDLE} ({lowest}): they \
         carry a Durable extension that fails the notification orchestration when it signals the return's entity. \
         Fix: set it to \"{RECOMMENDED_RANGE}\""
    )]
    BundleTooOld {
        /// Where the range came from.
        origin: RangeSource,
        /// The range as written.
        range: String,
        /// The oldest bundle it admits, in words.
        lowest: String,
    },
    /// The range admits a bundle of the next major version.
    #[error(
        "{origin} = {range:?} admits bundles from {NEXT_MAJOR_BUNDLE} on, which this app has \
         not been verified against. Fix: set it to \"{RECOMMENDED_RANGE}\""
    )]
    BundleNextMajor {
        /// Where the range came from.
        origin: RangeSource,
        /// The range as written.
        range: String,
    },
}

/// Where the bundle range was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSource {
    /// host.json `extensionBundle.version`.
    HostJson,
    /// The app setting [`BUNDLE_VERSION_OVERRIDE_SETTING`].
    OverrideSetting,
}

impl fmt::Display for RangeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RangeSource::HostJson => f.write_str("host.json extensionBundle.version"),
            RangeSource::OverrideSetting => write!(f, "the app setting {BUNDLE_VERSION_OVERRIDE_SETTING}"),
        }
    }
}

/// Every problem the start-up checks found, one per line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct HostCheckErrors(pub Vec<HostCheckError>);

impl fmt::Display for HostCheckErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// Runs every check against the process environment and `<app_root>/host.json`.
pub fn check_app(app_root: &Path) -> Result<(), HostCheckErrors> {
    let host_json_path = app_root.join("host.json");
    let host_json = std::fs::read_to_string(&host_json_path).map_err(|error| HostCheckError::HostJsonUnreadable {
        path: host_json_path.display().to_string(),
        message: error.to_string(),
    });
    check(
        std::env::var(WORKER_RUNTIME_SETTING).ok().as_deref(),
        std::env::var(BUNDLE_VERSION_OVERRIDE_SETTING).ok().as_deref(),
        host_json.as_deref().map_err(Clone::clone),
    )
}

/// The pure core of [`check_app`]: the worker runtime setting, the bundle version override setting, and the
/// host.json text (or why it could not be read).
pub fn check(
    worker_runtime: Option<&str>,
    bundle_override: Option<&str>,
    host_json: Result<&str, HostCheckError>,
) -> Result<(), HostCheckErrors> {
    let mut errors = Vec::new();
    if let Err(error) = check_worker_runtime(worker_runtime) {
        errors.push(error);
    }
    match host_json {
        Ok(text) => errors.extend(check_host_json(text, bundle_override)),
        Err(error) => errors.push(error),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(HostCheckErrors(errors))
    }
}

/// `FUNCTIONS_WORKER_RUNTIME` must be `custom`; the extension compares it without regard to case.
pub fn check_worker_runtime(value: Option<&str>) -> Result<(), HostCheckError> {
    match value.map(str::trim) {
        None | Some("") => Err(HostCheckError::WorkerRuntimeMissing),
        Some(value) if value.eq_ignore_ascii_case("custom") => Ok(()),
        Some(value) => Err(HostCheckError::WorkerRuntimeNotCustom(value.to_owned())),
    }
}

/// The problems of host.json's extension bundle (the override setting, when set, replaces its version).
pub fn check_host_json(text: &str, bundle_override: Option<&str>) -> Vec<HostCheckError> {
    let host: serde_json::Value = match serde_json::from_str(text) {
        Ok(value @ serde_json::Value::Object(_)) => value,
        Ok(_) => return vec![HostCheckError::HostJsonInvalid("the top level is not an object".into())],
        Err(error) => return vec![HostCheckError::HostJsonInvalid(error.to_string())],
    };
    let Some(bundle) = host.get("extensionBundle").filter(|bundle| bundle.is_object()) else {
        return vec![HostCheckError::BundleMissing];
    };
    let mut errors = Vec::new();
    let id = bundle.get("id").and_then(serde_json::Value::as_str).unwrap_or_default();
    if id != BUNDLE_ID {
        errors.push(HostCheckError::BundleIdWrong(id.to_owned()));
    }
    let (origin, range) = match bundle_override.map(str::trim).filter(|value| !value.is_empty()) {
        Some(value) => (RangeSource::OverrideSetting, value),
        None => (
            RangeSource::HostJson,
            bundle
                .get("version")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default(),
        ),
    };
    if let Err(error) = check_bundle_range(origin, range) {
        errors.push(error);
    }
    errors
}

/// The range must admit no bundle older than [`MINIMUM_BUNDLE`] and none of the next major version.
pub fn check_bundle_range(origin: RangeSource, range: &str) -> Result<(), HostCheckError> {
    let parsed = VersionRange::parse(range).map_err(|problem| HostCheckError::BundleRangeInvalid {
        origin,
        range: range.to_owned(),
        problem,
    })?;
    let too_old = match &parsed.min {
        None => Some("it has no lower bound".to_owned()),
        Some(bound) if bound.version < MINIMUM_BUNDLE => Some(format!("from {}", bound.describe())),
        Some(_) => None,
    };
    if let Some(lowest) = too_old {
        return Err(HostCheckError::BundleTooOld {
            origin,
            range: range.to_owned(),
            lowest,
        });
    }
    let admits_next_major = match &parsed.max {
        None => true,
        Some(bound) if bound.inclusive => bound.version >= NEXT_MAJOR_BUNDLE,
        Some(bound) => bound.version > NEXT_MAJOR_BUNDLE,
    };
    if admits_next_major {
        return Err(HostCheckError::BundleNextMajor {
            origin,
            range: range.to_owned(),
        });
    }
    Ok(())
}

/// Why a NuGet version range could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RangeError {
    /// Nothing was written.
    #[error("it is empty")]
    Empty,
    /// A bracket is missing or misplaced.
    #[error("unbalanced brackets (write [min, max) or a bare minimum version)")]
    Brackets,
    /// More than one comma.
    #[error("more than two bounds")]
    TooManyBounds,
    /// `[,]`, `(,)` and the like.
    #[error("neither bound is given")]
    NoBounds,
    /// `[4.26.0)` and the like: a single version must be written `[v]`.
    #[error("a single version must be written [version]")]
    ExactNotInclusive,
    /// A bound is not a version.
    #[error("{0:?} is not a version (expected up to four numbers separated by dots, e.g. 4.26.0)")]
    Version(String),
    /// A `*` other than in the lower bound's last component.
    #[error("{0:?}: a floating version (*) is only allowed as the last part of the lower bound")]
    Floating(String),
    /// The bounds admit nothing.
    #[error("the lower bound is above the upper bound: the range admits no version")]
    EmptyRange,
}

/// A bundle version: up to four numeric parts (missing ones are 0, as in NuGet) and an optional pre-release label,
/// which sorts before the release with the same numbers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BundleVersion {
    parts: [u64; 4],
    /// A release sorts after every pre-release of the same numbers.
    release: ReleaseLabel,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum ReleaseLabel {
    Pre(String),
    Release,
}

impl BundleVersion {
    /// A release version `major.minor.patch`.
    pub const fn release(major: u64, minor: u64, patch: u64) -> Self {
        BundleVersion {
            parts: [major, minor, patch, 0],
            release: ReleaseLabel::Release,
        }
    }

    /// Parses `4`, `4.26`, `4.26.0`, `4.26.0.1`, `4.26.0-preview` (build metadata after `+` is ignored).
    pub fn parse(text: &str) -> Result<Self, RangeError> {
        let invalid = || RangeError::Version(text.to_owned());
        let without_metadata = text.split_once('+').map_or(text, |(version, _)| version);
        let (numbers, label) = match without_metadata.split_once('-') {
            Some((numbers, label)) if !label.is_empty() => (numbers, ReleaseLabel::Pre(label.to_ascii_lowercase())),
            Some(_) => return Err(invalid()),
            None => (without_metadata, ReleaseLabel::Release),
        };
        let mut parts = [0u64; 4];
        let mut written = numbers.split('.');
        for slot in &mut parts {
            match written.next() {
                Some(part) if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) => {
                    *slot = part.parse().map_err(|_| invalid())?;
                }
                Some(_) => return Err(invalid()),
                None => break,
            }
        }
        if written.next().is_some() {
            return Err(invalid());
        }
        Ok(BundleVersion { parts, release: label })
    }
}

impl fmt::Display for BundleVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [major, minor, patch, revision] = self.parts;
        write!(f, "{major}.{minor}.{patch}")?;
        if revision != 0 {
            write!(f, ".{revision}")?;
        }
        if let ReleaseLabel::Pre(label) = &self.release {
            write!(f, "-{label}")?;
        }
        Ok(())
    }
}

/// One end of a version range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    /// The version at the bound (a floating lower bound `4.*` is its lowest match, 4.0.0).
    pub version: BundleVersion,
    /// Whether the version itself is admitted.
    pub inclusive: bool,
}

impl Bound {
    fn describe(&self) -> String {
        if self.inclusive {
            self.version.to_string()
        } else {
            format!("just above {}", self.version)
        }
    }
}

/// A NuGet version range, as the Functions host reads `extensionBundle.version` (NuGet `VersionRange.TryParse`,
/// floating versions allowed): `[min, max)`, `(min, max]`, `[min,)`, `(,max]`, `[exact]`, or a bare `min`
/// (inclusive, no upper bound). A floating lower bound (`4.*`) admits its lowest match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRange {
    /// The lower bound, if any.
    pub min: Option<Bound>,
    /// The upper bound, if any.
    pub max: Option<Bound>,
}

impl VersionRange {
    /// Parses a range; see the type's documentation.
    pub fn parse(text: &str) -> Result<Self, RangeError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(RangeError::Empty);
        }
        let opens = text.starts_with(['[', '(']);
        let closes = text.ends_with([']', ')']);
        if !opens && !closes {
            let version = parse_lower(text)?;
            return Ok(VersionRange {
                min: Some(Bound {
                    version,
                    inclusive: true,
                }),
                max: None,
            });
        }
        if !(opens && closes) || text.len() < 2 {
            return Err(RangeError::Brackets);
        }
        let min_inclusive = text.starts_with('[');
        let max_inclusive = text.ends_with(']');
        let inner = &text[1..text.len() - 1];
        if inner.contains(['[', ']', '(', ')']) {
            return Err(RangeError::Brackets);
        }
        let bounds: Vec<&str> = inner.split(',').map(str::trim).collect();
        let (min, max) = match bounds.as_slice() {
            [exact] => {
                if exact.is_empty() {
                    return Err(RangeError::NoBounds);
                }
                if !(min_inclusive && max_inclusive) {
                    return Err(RangeError::ExactNotInclusive);
                }
                let version = parse_upper(exact)?;
                let bound = Bound {
                    version,
                    inclusive: true,
                };
                (Some(bound.clone()), Some(bound))
            }
            [min, max] => {
                if min.is_empty() && max.is_empty() {
                    return Err(RangeError::NoBounds);
                }
                let min = (!min.is_empty())
                    .then(|| parse_lower(min))
                    .transpose()?
                    .map(|version| Bound {
                        version,
                        inclusive: min_inclusive,
                    });
                let max = (!max.is_empty())
                    .then(|| parse_upper(max))
                    .transpose()?
                    .map(|version| Bound {
                        version,
                        inclusive: max_inclusive,
                    });
                (min, max)
            }
            _ => return Err(RangeError::TooManyBounds),
        };
        if let (Some(low), Some(high)) = (&min, &max) {
            let empty =
                low.version > high.version || (low.version == high.version && !(low.inclusive && high.inclusive));
            if empty {
                return Err(RangeError::EmptyRange);
            }
        }
        Ok(VersionRange { min, max })
    }
}

/// A lower bound may float in its last numeric part: `*`, `4.*`, `4.26.*` (the lowest match: 0.0.0, 4.0.0, 4.26.0).
fn parse_lower(text: &str) -> Result<BundleVersion, RangeError> {
    if !text.contains('*') {
        return BundleVersion::parse(text);
    }
    let fixed = match text.strip_suffix('*') {
        Some("") => return BundleVersion::parse("0"),
        Some(prefix) => prefix.strip_suffix('.'),
        None => None,
    };
    match fixed {
        Some(prefix) if !prefix.contains('*') && !prefix.contains('-') => BundleVersion::parse(prefix),
        _ => Err(RangeError::Floating(text.to_owned())),
    }
}

fn parse_upper(text: &str) -> Result<BundleVersion, RangeError> {
    if text.contains('*') {
        return Err(RangeError::Floating(text.to_owned()));
    }
    BundleVersion::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> VersionRange {
        VersionRange::parse(text).unwrap_or_else(|error| panic!("{text:?}: {error}"))
    }

    fn version(text: &str) -> BundleVersion {
        BundleVersion::parse(text).unwrap()
    }

    #[test]
    fn versions_compare_numerically_with_missing_parts_as_zero() {
        assert!(version("4.26.0") > version("4.9.9"));
        assert_eq!(version("4.26"), version("4.26.0"));
        assert_eq!(version("4"), version("4.0.0.0"));
        assert!(version("4.26.0.1") > version("4.26.0"));
        assert!(version("4.26.0-preview") < version("4.26.0"));
        assert!(version("4.26.0-preview") > version("4.25.9"));
        assert_eq!(version("4.26.0+build.7"), version("4.26.0"));
        assert_eq!(MINIMUM_BUNDLE, version("4.26.0"));
        assert_eq!(version("4.26.0.1-Preview").to_string(), "4.26.0.1-preview");
    }

    #[test]
    fn malformed_versions_are_named() {
        for text in [
            "",
            "4.",
            ".4",
            "4..0",
            "4.x",
            "4.26.0.0.0",
            "v4",
            "4.26.0-",
            "-4",
            "99999999999999999999",
        ] {
            assert_eq!(
                BundleVersion::parse(text),
                Err(RangeError::Version(text.to_owned())),
                "{text:?}"
            );
        }
    }

    #[test]
    fn interval_notation_is_read_as_nuget_does() {
        let parsed = range("[4.26.0, 5.0.0)");
        assert_eq!(
            parsed.min,
            Some(Bound {
                version: version("4.26.0"),
                inclusive: true
            })
        );
        assert_eq!(
            parsed.max,
            Some(Bound {
                version: version("5.0.0"),
                inclusive: false
            })
        );
        let open_below = range("(,5.0.0]");
        assert_eq!(open_below.min, None);
        assert!(open_below.max.as_ref().is_some_and(|bound| bound.inclusive));
        let open_above = range("(4.26.0,)");
        assert!(open_above.min.as_ref().is_some_and(|bound| !bound.inclusive));
        assert_eq!(open_above.max, None);
        let exact = range(" [4.30.1] ");
        assert_eq!(exact.min, exact.max);
    }

    #[test]
    fn a_bare_version_is_an_inclusive_minimum_and_floating_means_the_lowest_match() {
        let bare = range("4.26.0");
        assert_eq!(
            bare.min.map(|bound| (bound.version, bound.inclusive)),
            Some((version("4.26.0"), true))
        );
        assert_eq!(bare.max, None);
        assert_eq!(range("[4.*, 5.0.0)").min.unwrap().version, version("4.0.0"));
        assert_eq!(range("[4.26.*, 5.0.0)").min.unwrap().version, version("4.26.0"));
        assert_eq!(range("*").min.unwrap().version, version("0"));
    }

    #[test]
    fn malformed_ranges_are_refused_with_the_reason() {
        let cases = [
            ("", RangeError::Empty),
            ("   ", RangeError::Empty),
            ("[4.26.0, 5.0.0", RangeError::Brackets),
            ("4.26.0, 5.0.0)", RangeError::Brackets),
            ("[[4.26.0, 5.0.0)", RangeError::Brackets),
            ("[", RangeError::Brackets),
            ("[4.26.0, 4.30.0, 5.0.0)", RangeError::TooManyBounds),
            ("[,]", RangeError::NoBounds),
            ("()", RangeError::NoBounds),
            ("[4.26.0)", RangeError::ExactNotInclusive),
            ("[4.26.0, 5.*)", RangeError::Floating("5.*".into())),
            ("[4.*.0, 5.0.0)", RangeError::Floating("4.*.0".into())),
            ("[4*, 5.0.0)", RangeError::Floating("4*".into())),
            ("[4.x, 5.0.0)", RangeError::Version("4.x".into())),
            ("[5.0.0, 4.26.0)", RangeError::EmptyRange),
            ("[4.26.0, 4.26.0)", RangeError::EmptyRange),
        ];
        for (text, expected) in cases {
            assert_eq!(VersionRange::parse(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn the_bundle_range_must_start_at_the_minimum() {
        for ok in [
            "[4.26.0, 5.0.0)",
            "[4.26.*, 5.0.0)",
            "[4.38.0, 5.0.0)",
            "(4.26.0, 5.0.0)",
            "[4.26.0]",
            "[4.30.1, 4.99.0]",
        ] {
            assert_eq!(check_bundle_range(RangeSource::HostJson, ok), Ok(()), "{ok}");
        }
        for too_old in [
            "[4.*, 5.0.0)",
            "[4.25.9, 5.0.0)",
            "(4.25.0, 5.0.0)",
            "[4.26.0-preview, 5.0.0)",
            "(,5.0.0)",
            "[3.*, 4.0.0)",
        ] {
            assert!(
                matches!(
                    check_bundle_range(RangeSource::HostJson, too_old),
                    Err(HostCheckError::BundleTooOld { .. })
                ),
                "{too_old}"
            );
        }
        for next_major in ["4.26.0", "[4.26.0,)", "[4.26.0, 5.0.0]", "[4.26.0, 6.0.0)"] {
            assert_eq!(
                check_bundle_range(RangeSource::HostJson, next_major),
                Err(HostCheckError::BundleNextMajor {
                    origin: RangeSource::HostJson,
                    range: next_major.into()
                }),
                "{next_major}"
            );
        }
    }

    #[test]
    fn the_too_old_message_names_the_range_the_lowest_bundle_and_the_fix() {
        let message = check_bundle_range(RangeSource::HostJson, "[4.*, 5.0.0)")
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with(
                "host.json extensionBundle.version = \"[4.*, 5.0.0)\" admits bundles older than 4.26.0 (from 4.0.0)"
            ),
            "{message}"
        );
        assert!(message.ends_with("Fix: set it to \"[4.26.0, 5.0.0)\""), "{message}");
        let message = check_bundle_range(RangeSource::OverrideSetting, "(4.25.0, 5.0.0)")
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("the app setting AzureFunctionsJobHost__extensionBundle__version = \"(4.25.0, 5.0.0)\" admits bundles older than 4.26.0 (from just above 4.25.0)"), "{message}");
    }

    #[test]
    fn the_worker_runtime_must_be_custom_in_any_case() {
        assert_eq!(check_worker_runtime(Some("custom")), Ok(()));
        assert_eq!(check_worker_runtime(Some(" Custom ")), Ok(()));
        assert_eq!(check_worker_runtime(None), Err(HostCheckError::WorkerRuntimeMissing));
        assert_eq!(
            check_worker_runtime(Some("")),
            Err(HostCheckError::WorkerRuntimeMissing)
        );
        assert_eq!(
            check_worker_runtime(Some("dotnet-isolated")),
            Err(HostCheckError::WorkerRuntimeNotCustom("dotnet-isolated".into()))
        );
        let message = check_worker_runtime(Some("node")).unwrap_err().to_string();
        assert!(message.contains("FUNCTIONS_WORKER_RUNTIME is \"node\""), "{message}");
        assert!(
            message.contains("Fix: set the app setting FUNCTIONS_WORKER_RUNTIME=custom"),
            "{message}"
        );
        assert!(message.contains("functionAppConfig.runtime.name"), "{message}");
    }

    const GOOD_HOST: &str = r#"{"version":"2.0","extensionBundle":{"id":"Microsoft.Azure.Functions.ExtensionBundle","version":"[4.26.0, 5.0.0)"}}"#;

    #[test]
    fn host_json_problems_are_all_reported() {
        assert_eq!(check_host_json(GOOD_HOST, None), vec![]);
        assert_eq!(
            check_host_json(r#"{"version":"2.0"}"#, None),
            vec![HostCheckError::BundleMissing]
        );
        assert!(matches!(
            check_host_json("{not json", None).as_slice(),
            [HostCheckError::HostJsonInvalid(_)]
        ));
        assert!(matches!(
            check_host_json("[]", None).as_slice(),
            [HostCheckError::HostJsonInvalid(_)]
        ));
        let errors = check_host_json(
            r#"{"extensionBundle":{"id":"Microsoft.Azure.Functions.ExtensionBundle.Preview","version":"[4.*, 5.0.0)"}}"#,
            None,
        );
        assert!(matches!(
            errors.as_slice(),
            [HostCheckError::BundleIdWrong(id), HostCheckError::BundleTooOld { .. }] if id.ends_with(".Preview")
        ));
        assert!(matches!(
            check_host_json(
                r#"{"extensionBundle":{"id":"Microsoft.Azure.Functions.ExtensionBundle"}}"#,
                None
            )
            .as_slice(),
            [HostCheckError::BundleRangeInvalid {
                problem: RangeError::Empty,
                ..
            }]
        ));
    }

    #[test]
    fn the_override_setting_replaces_the_host_json_range() {
        assert!(matches!(
            check_host_json(GOOD_HOST, Some("[4.*, 5.0.0)")).as_slice(),
            [HostCheckError::BundleTooOld {
                origin: RangeSource::OverrideSetting,
                ..
            }]
        ));
        let old_host = GOOD_HOST.replace("[4.26.0, 5.0.0)", "[4.*, 5.0.0)");
        assert_eq!(check_host_json(&old_host, Some("[4.30.0, 5.0.0)")), vec![]);
        assert_eq!(check_host_json(GOOD_HOST, Some("  ")), vec![]);
    }

    #[test]
    fn check_collects_every_problem_one_per_line() {
        assert_eq!(check(Some("custom"), None, Ok(GOOD_HOST)), Ok(()));
        let errors = check(
            Some("python"),
            None,
            Ok(&GOOD_HOST.replace("[4.26.0, 5.0.0)", "[4.*, 5.0.0)")),
        )
        .unwrap_err();
        assert_eq!(errors.0.len(), 2);
        assert_eq!(errors.to_string().lines().count(), 2);
        let unreadable = HostCheckError::HostJsonUnreadable {
            path: "/app/host.json".into(),
            message: "No such file or directory".into(),
        };
        assert_eq!(
            check(None, None, Err(unreadable.clone())),
            Err(HostCheckErrors(vec![HostCheckError::WorkerRuntimeMissing, unreadable]))
        );
    }

    #[test]
    fn the_repository_host_json_passes() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/host.json")).unwrap();
        assert_eq!(check_host_json(&text, None), vec![]);
    }
}
