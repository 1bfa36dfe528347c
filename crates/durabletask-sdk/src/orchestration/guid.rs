//! Deterministic GUIDs for orchestrations: the same instance, time and call order always give the same GUID, so
//! replays agree with the first execution.
//!
//! The scheme is the one durabletask-python uses (and the one our conformance tests check): a UUID v5 in the
//! namespace `uuid5(NAMESPACE_OID, "9e952958-5e33-4daf-827f-2fa12937b875")`, named
//! `"{instance_id}_{utc time, microsecond precision, %Y-%m-%dT%H:%M:%S.%fZ}_{counter}"`. The .NET SDK uses the same
//! namespace string and name shape but takes the namespace GUID directly and formats seven fractional digits, so
//! GUIDs from the two SDKs differ; nothing relies on them being equal across languages.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use uuid::Uuid;

const NAMESPACE_NAME: &str = "9e952958-5e33-4daf-827f-2fa12937b875";

fn namespace() -> Uuid {
    static NAMESPACE: OnceLock<Uuid> = OnceLock::new();
    *NAMESPACE.get_or_init(|| Uuid::new_v5(&Uuid::NAMESPACE_OID, NAMESPACE_NAME.as_bytes()))
}

/// The `counter`-th deterministic GUID of `instance_id` at orchestration time `now`.
pub(crate) fn deterministic_guid(instance_id: &str, now: DateTime<Utc>, counter: u32) -> Uuid {
    let name = format!("{instance_id}_{}_{counter}", now.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
    Uuid::new_v5(&namespace(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn matches_the_python_sdk_scheme() {
        // uuid5(uuid5(NAMESPACE_OID, "9e952958-..."), "abc_2024-05-01T10:00:00.123456Z_0") computed with CPython.
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap() + chrono::Duration::microseconds(123_456);
        let guid = deterministic_guid("abc", now, 0);
        assert_eq!(guid.to_string(), include_str!("guid_vector.txt").trim());
    }

    #[test]
    fn differs_by_counter_and_is_stable() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
        assert_eq!(deterministic_guid("a", now, 1), deterministic_guid("a", now, 1));
        assert_ne!(deterministic_guid("a", now, 1), deterministic_guid("a", now, 2));
    }
}
