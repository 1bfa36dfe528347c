//! Timer triggers: the `TimerInfo` object the host sends, and the 6-field NCRONTAB schedules
//! (`{second} {minute} {hour} {day} {month} {day-of-week}`, UTC) used to compute `ScheduleStatus.Next`.
//!
//! The local host fires timers on request (a message-file line naming the timer, or `--fire-timer`),
//! not on their schedule: a local run is a batch, not a long-lived service.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use serde_json::{json, Value};

use crate::envelope::newtonsoft_datetime;

/// A schedule that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid NCRONTAB schedule \"{schedule}\": {problem}")]
pub struct ScheduleError {
    /// The schedule text.
    pub schedule: String,
    /// What is wrong.
    pub problem: String,
}

/// A parsed 6-field NCRONTAB expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    seconds: Vec<bool>,
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
}

/// How far ahead [`Schedule::next_after`] looks before giving up (e.g. for `0 0 0 31 2 *`).
const SEARCH_DAYS: i64 = 366 * 5;

impl Schedule {
    /// Parses a 6-field NCRONTAB expression (`*`, numbers, `a-b` ranges, `a,b` lists, `/n` steps, and
    /// English month and day names).
    pub fn parse(schedule: &str) -> Result<Self, ScheduleError> {
        let error = |problem: String| ScheduleError {
            schedule: schedule.to_owned(),
            problem,
        };
        let fields: Vec<&str> = schedule.split_whitespace().collect();
        let [seconds, minutes, hours, days, months, weekdays] = fields.as_slice() else {
            return Err(error(format!(
                "expected 6 fields (second minute hour day month day-of-week), found {}",
                fields.len()
            )));
        };
        const MONTHS: [&str; 12] = [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ];
        const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
        let mut weekdays = parse_field(weekdays, 0, 7, &DAYS, 0).map_err(|p| error(format!("day-of-week: {p}")))?;
        if weekdays[7] {
            weekdays[0] = true; // 7 is Sunday too
        }
        weekdays.truncate(7);
        Ok(Self {
            seconds: parse_field(seconds, 0, 59, &[], 0).map_err(|p| error(format!("second: {p}")))?,
            minutes: parse_field(minutes, 0, 59, &[], 0).map_err(|p| error(format!("minute: {p}")))?,
            hours: parse_field(hours, 0, 23, &[], 0).map_err(|p| error(format!("hour: {p}")))?,
            days: parse_field(days, 1, 31, &[], 0).map_err(|p| error(format!("day: {p}")))?,
            months: parse_field(months, 1, 12, &MONTHS, 1).map_err(|p| error(format!("month: {p}")))?,
            weekdays,
        })
    }

    /// The first occurrence strictly after `after`, if any within five years.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = after + Duration::seconds(1);
        let start_date = start.date_naive();
        for offset in 0..SEARCH_DAYS {
            let date = start_date + Duration::days(offset);
            if !self.matches_date(date) {
                continue;
            }
            let from = if offset == 0 {
                start.num_seconds_from_midnight()
            } else {
                0
            };
            if let Some(second_of_day) = self.first_time_from(from) {
                let midnight = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?);
                return Some(midnight + Duration::seconds(i64::from(second_of_day)));
            }
        }
        None
    }

    fn matches_date(&self, date: NaiveDate) -> bool {
        self.months[date.month() as usize]
            && self.days[date.day() as usize]
            && self.weekdays[date.weekday().num_days_from_sunday() as usize]
    }

    fn first_time_from(&self, from_second_of_day: u32) -> Option<u32> {
        (from_second_of_day..86_400).find(|second| {
            self.hours[(second / 3_600) as usize]
                && self.minutes[(second / 60 % 60) as usize]
                && self.seconds[(second % 60) as usize]
        })
    }
}

/// Parses one field into a table indexed by value (`0..=max`); `names[i]` stands for `i + name_base`.
fn parse_field(field: &str, min: u32, max: u32, names: &[&str], name_base: u32) -> Result<Vec<bool>, String> {
    let value = |text: &str| -> Result<u32, String> {
        let lower = text.to_ascii_lowercase();
        if let Some(index) = names.iter().position(|name| lower.starts_with(name)) {
            return Ok(u32::try_from(index).unwrap_or(0) + name_base);
        }
        let number: u32 = text.parse().map_err(|_| format!("\"{text}\" is not a number"))?;
        if number < min || number > max {
            return Err(format!("{number} is outside {min}-{max}"));
        }
        Ok(number)
    };
    let mut table = vec![false; max as usize + 1];
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().map_err(|_| format!("step \"{step}\" is not a number"))?;
                if step == 0 {
                    return Err("a step must be at least 1".into());
                }
                (range, step)
            }
            None => (part, 1),
        };
        let (first, last) = if range == "*" {
            (min, max)
        } else if let Some((first, last)) = range.split_once('-') {
            (value(first)?, value(last)?)
        } else {
            let single = value(range)?;
            (single, if part.contains('/') { max } else { single })
        };
        if first > last {
            return Err(format!("range {first}-{last} is backwards"));
        }
        for number in (first..=last).step_by(step as usize) {
            table[number as usize] = true;
        }
    }
    Ok(table)
}

/// The `TimerInfo` object of a timer invocation fired at `now`: `Schedule`, `ScheduleStatus` (`Last` =
/// `LastUpdated` = now, `Next` = the schedule's next occurrence) and `IsPastDue: false`.
pub fn timer_info(schedule: &Schedule, now: DateTime<Utc>) -> Value {
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

    #[test]
    fn nightly_schedule() {
        let nightly = Schedule::parse("0 0 0 * * *").unwrap();
        assert_eq!(
            nightly.next_after(at("2024-05-01T10:00:00Z")),
            Some(at("2024-05-02T00:00:00Z"))
        );
        assert_eq!(
            nightly.next_after(at("2024-05-01T00:00:00Z")),
            Some(at("2024-05-02T00:00:00Z"))
        );
    }

    #[test]
    fn steps_lists_ranges_and_names() {
        let every_five_minutes = Schedule::parse("0 */5 * * * *").unwrap();
        assert_eq!(
            every_five_minutes.next_after(at("2024-05-01T10:03:10Z")),
            Some(at("2024-05-01T10:05:00Z"))
        );
        let weekdays_at_nine = Schedule::parse("30 0 9 * * Mon-Fri").unwrap();
        // 2024-05-04 is a Saturday.
        assert_eq!(
            weekdays_at_nine.next_after(at("2024-05-03T10:00:00Z")),
            Some(at("2024-05-06T09:00:30Z"))
        );
        let quarterly = Schedule::parse("0 0 0 1 jan,apr,jul,oct *").unwrap();
        assert_eq!(
            quarterly.next_after(at("2024-05-01T10:00:00Z")),
            Some(at("2024-07-01T00:00:00Z"))
        );
        let sundays = Schedule::parse("0 0 12 * * 7").unwrap();
        assert_eq!(
            sundays.next_after(at("2024-05-01T00:00:00Z")),
            Some(at("2024-05-05T12:00:00Z"))
        );
    }

    #[test]
    fn impossible_and_invalid_schedules() {
        assert_eq!(
            Schedule::parse("0 0 0 31 2 *")
                .unwrap()
                .next_after(at("2024-05-01T00:00:00Z")),
            None
        );
        assert!(Schedule::parse("0 0 * * *")
            .unwrap_err()
            .problem
            .starts_with("expected 6 fields"));
        assert_eq!(
            Schedule::parse("0 61 * * * *").unwrap_err().problem,
            "minute: 61 is outside 0-59"
        );
        assert_eq!(
            Schedule::parse("0 */0 * * * *").unwrap_err().problem,
            "minute: a step must be at least 1"
        );
    }

    #[test]
    fn timer_info_payload() {
        let info = timer_info(
            &Schedule::parse("0 0 0 * * *").unwrap(),
            at("2024-05-01T00:00:00.0123456Z"),
        );
        assert_eq!(
            info,
            json!({
                "Schedule": {"AdjustForDST": true},
                "ScheduleStatus": {"Last": "2024-05-01T00:00:00.0123456+00:00", "Next": "2024-05-02T00:00:00+00:00",
                                   "LastUpdated": "2024-05-01T00:00:00.0123456+00:00"},
                "IsPastDue": false
            })
        );
    }
}
