//! The `timerTrigger` value: when the timer last and next fires, and whether this run is late.

use chrono::{DateTime, Utc};
use serde::de::Deserializer;
use serde::Deserialize;
use serde_json::Value;

use super::error::{EnvelopeError, EnvelopeProblem};
use super::value::parse_host_datetime;

/// What the host passes to a timer-triggered function.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimerInfo {
    /// The schedule's recorded runs; absent when schedule monitoring is off.
    #[serde(default)]
    pub schedule_status: Option<ScheduleStatus>,
    /// True when this run happens later than scheduled (for example after downtime).
    #[serde(default)]
    pub is_past_due: bool,
}

/// The recorded runs of a timer schedule. Dates the host could not produce read as `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleStatus {
    /// The previous run (`0001-01-01` before the first one).
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub last: Option<DateTime<Utc>>,
    /// The next scheduled run.
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub next: Option<DateTime<Utc>>,
    /// When this status was recorded.
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub last_updated: Option<DateTime<Utc>>,
}

impl TimerInfo {
    /// Decodes the trigger value (a JSON object, or JSON text of one).
    pub fn from_value(value: &Value) -> Result<Self, EnvelopeError> {
        let object = super::binding_json(value)?;
        if !object.is_object() {
            return Err(EnvelopeError::shape("a timer object", &object));
        }
        serde_json::from_value(object).map_err(|source| {
            EnvelopeError::value(EnvelopeProblem::InvalidJson {
                expected: "a timer object",
                source,
            })
        })
    }
}

fn lenient_datetime<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::String(text)) => parse_host_datetime(&text),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    #[test]
    fn the_host_timer_shape_decodes_with_mixed_date_formats() {
        let timer = TimerInfo::from_value(&json!({
            "Schedule": {"AdjustForDST": true},
            "ScheduleStatus": {
                "Last": "2024-05-01T00:00:00.0123456+00:00",
                "Next": "2024-05-02T00:00:00",
                "LastUpdated": "garbage"
            },
            "IsPastDue": true
        }))
        .unwrap();
        assert!(timer.is_past_due);
        let status = timer.schedule_status.unwrap();
        assert_eq!(status.next, Some(Utc.with_ymd_and_hms(2024, 5, 2, 0, 0, 0).unwrap()));
        assert!(status.last.is_some());
        assert_eq!(status.last_updated, None);
    }

    #[test]
    fn monitoring_off_and_wrong_shapes() {
        let timer = TimerInfo::from_value(&json!({"ScheduleStatus": null, "IsPastDue": false})).unwrap();
        assert_eq!(timer.schedule_status, None);
        assert!(TimerInfo::from_value(&json!("\"tick\"")).is_err());
    }
}
