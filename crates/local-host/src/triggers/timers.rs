//! Timer triggers: the `TimerInfo` object the host sends, with `ScheduleStatus.Next` computed from the function's
//! schedule as the host reads it (6-field NCRONTAB `{second} {minute} {hour} {day} {month} {day-of-week}`, UTC,
//! day-of-week 0 = Sunday; or a TimeSpan interval), by the SDK's [`TimerSchedule`], which the app also uses to
//! check its own schedule settings: one reading of schedules in the project.
//!
//! The local host fires timers on request (a message-file line naming the timer, or `--fire-timer`),
//! not on their schedule: a local run is a batch, not a long-lived service.

use chrono::{DateTime, Utc};
pub use durabletask_sdk::functions::ncrontab::{ScheduleError, TimerSchedule};
use serde_json::{json, Value};

use crate::invocation::envelope::newtonsoft_datetime;

/// The `TimerInfo` object of a timer invocation fired at `now`: `Schedule`, `ScheduleStatus` (`Last` =
/// `LastUpdated` = now, `Next` = the schedule's next occurrence) and `IsPastDue: false`.
pub fn timer_info(schedule: &TimerSchedule, now: DateTime<Utc>) -> Value {
    let next = schedule.next_after(now).unwrap_or(now);
    json!({
        "Schedule": {"AdjustForDST": true},
        "ScheduleStatus": {
            "Last": newtonsoft_datetime(now, true),
            "Next": newtonsoft_datetime(next, true),
            "LastUpdated": newtonsoft_datetime(now, true),
        },
        "IsPastDue": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn schedule(text: &str) -> TimerSchedule {
        TimerSchedule::parse(text).unwrap()
    }

    #[test]
    fn the_nightly_schedule_reads_seconds_first() {
        let nightly = schedule("0 0 0 * * *");
        assert_eq!(
            nightly.next_after(at("2024-05-01T10:00:00Z")),
            Some(at("2024-05-02T00:00:00Z"))
        );
        assert_eq!(
            nightly.next_after(at("2024-05-01T00:00:00Z")),
            Some(at("2024-05-02T00:00:00Z"))
        );
        // The first field is the second: 30 seconds past every minute.
        assert_eq!(
            schedule("30 * * * * *").next_after(at("2024-05-01T10:00:00Z")),
            Some(at("2024-05-01T10:00:30Z"))
        );
    }

    #[test]
    fn steps_lists_ranges_names_and_sunday_as_zero() {
        assert_eq!(
            schedule("0 */5 * * * *").next_after(at("2024-05-01T10:03:10Z")),
            Some(at("2024-05-01T10:05:00Z"))
        );
        // 2024-05-04 is a Saturday.
        assert_eq!(
            schedule("30 0 9 * * Mon-Fri").next_after(at("2024-05-03T10:00:00Z")),
            Some(at("2024-05-06T09:00:30Z"))
        );
        assert_eq!(
            schedule("0 0 0 1 jan,apr,jul,oct *").next_after(at("2024-05-01T10:00:00Z")),
            Some(at("2024-07-01T00:00:00Z"))
        );
        // 2024-05-05 is a Sunday: day-of-week 0, as in NCrontab; 7 does not exist there.
        assert_eq!(
            schedule("0 0 12 * * 0").next_after(at("2024-05-01T00:00:00Z")),
            Some(at("2024-05-05T12:00:00Z"))
        );
        assert!(TimerSchedule::parse("0 0 12 * * 7").is_err());
    }

    #[test]
    fn invalid_schedules_name_the_problem() {
        let never = TimerSchedule::parse("0 0 0 31 2 *").unwrap_err().to_string();
        assert!(never.contains("never fires"), "{never}");
        let minute = TimerSchedule::parse("0 61 * * * *").unwrap_err().to_string();
        assert!(minute.contains("minute"), "{minute}");
        assert!(TimerSchedule::parse("0 */0 * * * *").is_err());
    }

    #[test]
    fn timer_info_payload() {
        let info = timer_info(&schedule("0 0 0 * * *"), at("2024-05-01T00:00:00.0123456Z"));
        assert_eq!(
            info,
            json!({
                "Schedule": {"AdjustForDST": true},
                "ScheduleStatus": {"Last": "2024-05-01T00:00:00.0123456+00:00", "Next": "2024-05-02T00:00:00+00:00",
                                   "LastUpdated": "2024-05-01T00:00:00.0123456+00:00"},
                "IsPastDue": false
            })
        );
        // A TimeSpan schedule fires that long after the last run.
        let hourly = timer_info(&schedule("01:00:00"), at("2024-05-01T00:00:00Z"));
        assert_eq!(hourly["ScheduleStatus"]["Next"], "2024-05-01T01:00:00+00:00");
    }
}
