//! Timer schedules read the way the Azure Functions host reads a `timerTrigger`'s `schedule`.
//!
//! The host (timer extension, `TimerSchedule.Create`) first tries an **NCRONTAB** expression and then a **.NET
//! `TimeSpan`** (a constant interval):
//!
//! - NCRONTAB: `{second} {minute} {hour} {day} {month} {day-of-week}`; the 5-field form without seconds is read
//!   with seconds = 0. Each field is `*`, a number, a range `a-b`, a list `a,b,c`, and any of these with a step
//!   `/n`; `a/n` means `a-max/n`. Day-of-week runs 0 (Sunday) to 6 (Saturday): there is no 7. Months and days
//!   of the week also take names, matched as any case-insensitive prefix of the English name (`Jan`, `MON`,
//!   `Monday`). A time must match the day **and** the day-of-week field (NCrontab, unlike Vixie cron, does not
//!   treat them as alternatives). There are no `L`, `W`, `#`, `?` or `@daily` forms.
//! - TimeSpan: `hh:mm[:ss[.fffffff]]`, `d.hh:mm[:ss[.fffffff]]`, `d:hh:mm:ss[.fffffff]` or a whole number of
//!   days; `hh:mm:ss` with `hh` ≥ 24 is read as `d:hh:mm` (so `24:00:00` is every 24 days, a .NET quirk the
//!   Functions docs repeat). The timer fires that long after the previous run. Azure documents TimeSpan schedules
//!   for App Service plans only.
//!
//! Times are UTC here; the host uses UTC unless `WEBSITE_TIME_ZONE` (or `TZ` on Linux) says otherwise.
//!
//! Stricter than the host in three places, all almost certainly mistakes, refused with an error saying so: a
//! range that runs backwards (`22-2`, which NCrontab silently reads as `2-22`, not as a wrap past midnight), a
//! step of 0 (read as 1), and day and month fields that never meet (`0 0 0 30 2 *`, a timer that never fires).
//!
//! The next occurrence of an NCRONTAB schedule is computed by the `croner` crate, given the fields after they
//! are checked and normalised here (names to numbers, `a/n` to `a-max/n`), with the day fields combined by AND.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use durabletask_sdk::functions::ncrontab::TimerSchedule;
//!
//! let weekdays = TimerSchedule::parse("0 30 9 * * Mon-Fri").unwrap();
//! let saturday = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();
//! assert_eq!(weekdays.next_after(saturday), Some(Utc.with_ymd_and_hms(2025, 3, 3, 9, 30, 0).unwrap()));
//!
//! let error = TimerSchedule::parse("0 0 0 * * 7").unwrap_err();
//! assert!(error.to_string().contains("day-of-week"), "{error}");
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

use super::timespan::{format_timespan, parse_timespan, TimeSpanError};

/// A `timerTrigger` schedule: an NCRONTAB expression or a constant interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerSchedule {
    /// An NCRONTAB expression.
    Cron(CronSchedule),
    /// A .NET TimeSpan: the timer fires this long after the previous run.
    Interval(Duration),
}

impl TimerSchedule {
    /// Reads a schedule as the host does: NCRONTAB first, then TimeSpan. The error names the field and the
    /// problem (or, for an interval, what is wrong with it).
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let fields: Vec<&str> = split_fields(trimmed);
        if fields.len() == 1 && looks_like_timespan(trimmed) {
            return match parse_timespan(trimmed) {
                Ok(interval) if interval.is_zero() => Err(ScheduleError::Interval {
                    text: trimmed.to_string(),
                    problem: TimeSpanError::Zero,
                }),
                Ok(interval) => Ok(TimerSchedule::Interval(interval)),
                Err(problem) => Err(ScheduleError::Interval {
                    text: trimmed.to_string(),
                    problem,
                }),
            };
        }
        CronSchedule::parse(trimmed).map(TimerSchedule::Cron)
    }

    /// The first time the schedule fires strictly after `after`: for NCRONTAB, the next matching whole second
    /// after `after`'s second; for an interval, `after` + the interval. `None` only past the end of the calendar.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            TimerSchedule::Cron(cron) => cron.next_after(after),
            TimerSchedule::Interval(interval) => after.checked_add_signed(chrono::Duration::from_std(*interval).ok()?),
        }
    }
}

impl FromStr for TimerSchedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for TimerSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerSchedule::Cron(cron) => cron.fmt(f),
            TimerSchedule::Interval(interval) => write!(f, "every {}", format_timespan(*interval)),
        }
    }
}

/// A checked NCRONTAB expression.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    text: String,
    /// Boxed: croner's pattern is a few hundred bytes, and schedules are moved around in enums and configs.
    cron: Box<Cron>,
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.cron == other.cron
    }
}

impl Eq for CronSchedule {}

impl CronSchedule {
    /// Parses a 6-field (or 5-field, without seconds) NCRONTAB expression.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let fields = split_fields(trimmed);
        let kinds: &[CronField] = match fields.len() {
            6 => &CronField::ALL,
            5 => &CronField::ALL[1..],
            found => {
                return Err(ScheduleError::FieldCount {
                    text: trimmed.to_string(),
                    found,
                })
            }
        };
        let mut normalised = Vec::with_capacity(6);
        if fields.len() == 5 {
            normalised.push("0".to_string());
        }
        let (mut days, mut months) = (0, 0);
        for (kind, field) in kinds.iter().zip(&fields) {
            let (text, selected) = normalise_field(*kind, field)?;
            match kind {
                CronField::Day => days = selected,
                CronField::Month => months = selected,
                _ => {}
            }
            normalised.push(text);
        }
        if !some_month_has_a_selected_day(months, days) {
            return Err(ScheduleError::NeverFires {
                text: trimmed.to_string(),
            });
        }
        let pattern = normalised.join(" ");
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Disallowed)
            .dom_and_dow(true)
            .build()
            .parse(&pattern)
            .map_err(|error| ScheduleError::Unsupported {
                text: trimmed.to_string(),
                reason: error.to_string(),
            })?;
        Ok(Self {
            text: trimmed.to_string(),
            cron: Box::new(cron),
        })
    }

    /// The expression as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first matching whole second strictly after `after`'s second (`None` only past the year 5000).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Every schedule that passed `parse` fires again (some month has a selected day, and every such date falls
        // on every weekday within 28 years), so croner's search, which reaches the year 5000, finds it.
        self.cron.find_next_occurrence(&after, false).ok()
    }
}

/// Whether any selected month has any selected day (February counted with 29 days).
fn some_month_has_a_selected_day(months: u64, days: u64) -> bool {
    const DAYS_IN_MONTH: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    (1..=12u32).any(|month| {
        months & (1 << month) != 0 && (1..=DAYS_IN_MONTH[month as usize - 1]).any(|day| days & (1 << day) != 0)
    })
}

impl FromStr for CronSchedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One field of an NCRONTAB expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronField {
    /// `{second}`, 0–59.
    Second,
    /// `{minute}`, 0–59.
    Minute,
    /// `{hour}`, 0–23.
    Hour,
    /// `{day}` of the month, 1–31.
    Day,
    /// `{month}`, 1–12 or January–December.
    Month,
    /// `{day-of-week}`, 0 (Sunday)–6 (Saturday) or Sunday–Saturday.
    DayOfWeek,
}

impl CronField {
    const ALL: [CronField; 6] = [
        CronField::Second,
        CronField::Minute,
        CronField::Hour,
        CronField::Day,
        CronField::Month,
        CronField::DayOfWeek,
    ];

    fn range(self) -> (u32, u32) {
        match self {
            CronField::Second | CronField::Minute => (0, 59),
            CronField::Hour => (0, 23),
            CronField::Day => (1, 31),
            CronField::Month => (1, 12),
            CronField::DayOfWeek => (0, 6),
        }
    }

    /// The English names NCrontab accepts (any case-insensitive prefix), first value first.
    fn names(self) -> &'static [&'static str] {
        match self {
            CronField::Month => &[
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            ],
            CronField::DayOfWeek => &[
                "Sunday",
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
            ],
            _ => &[],
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CronField::Second => "second",
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::Day => "day",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
        })
    }
}

/// A schedule the host would not accept (or, in the two cases the module overview names, would misread).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Nothing but white space.
    #[error(
        "the schedule is empty: expected an NCRONTAB expression such as '0 0 0 * * *' or a TimeSpan such as \
         '01:00:00'"
    )]
    Empty,
    /// Not 5 or 6 space-separated fields.
    #[error(
        "'{text}' has {found} field(s): an NCRONTAB schedule has 6 ({{second}} {{minute}} {{hour}} {{day}} \
         {{month}} {{day-of-week}}), or 5 without the seconds, and it is not a TimeSpan such as '01:00:00' either"
    )]
    FieldCount {
        /// The schedule.
        text: String,
        /// How many fields it has.
        found: usize,
    },
    /// One field is wrong.
    #[error("{field} field '{value}': {problem}")]
    Field {
        /// Which field.
        field: CronField,
        /// The field as written.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The day and month fields never meet (`0 0 0 30 2 *`): NCrontab accepts such a schedule, and the timer
    /// never fires.
    #[error("'{text}' never fires: none of its months has any of its days (such as 30 February)")]
    NeverFires {
        /// The schedule.
        text: String,
    },
    /// A TimeSpan that cannot be used.
    #[error("'{text}' is not a usable TimeSpan interval: {problem}")]
    Interval {
        /// The schedule.
        text: String,
        /// What is wrong with it.
        problem: TimeSpanError,
    },
    /// The fields are valid NCRONTAB but the cron engine refused the normalised pattern (a bug here).
    #[error("'{text}' could not be prepared for scheduling: {reason}")]
    Unsupported {
        /// The schedule.
        text: String,
        /// The engine's complaint.
        reason: String,
    },
}

/// NCrontab splits on spaces only (a tab is part of a field).
fn split_fields(text: &str) -> Vec<&str> {
    text.split(' ').filter(|field| !field.is_empty()).collect()
}

/// A single token that can only be meant as a TimeSpan: digits with `:`, `.` or a sign.
fn looks_like_timespan(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b':' | b'.' | b'-' | b'+'))
}

/// Checks one field and rewrites it in the plain numeric form croner reads; also returns the set of values it
/// selects (bit `v` for value `v`).
fn normalise_field(field: CronField, text: &str) -> Result<(String, u64), ScheduleError> {
    let fail = |problem: String| ScheduleError::Field {
        field,
        value: text.to_string(),
        problem,
    };
    let (min, max) = field.range();
    let mut elements = Vec::new();
    let mut selected = 0u64;
    for element in text.split(',') {
        if element.is_empty() {
            return Err(fail("a list has an empty element".into()));
        }
        let (range, step) = match element.split_once('/') {
            Some((range, step)) => {
                if !is_digits(step) {
                    return Err(fail(format!("the step '{step}' is not a whole number")));
                }
                match step.parse::<u32>() {
                    Ok(0) => {
                        return Err(fail(format!(
                            "a step of 0 in '{element}' is meaningless; use 1 or more"
                        )))
                    }
                    Ok(step) => (range, Some(step)),
                    Err(_) => return Err(fail(format!("the step '{step}' is too large"))),
                }
            }
            None => (element, None),
        };
        let (first, last) = if range == "*" {
            (min, max)
        } else if let Some((first, last)) = range.split_once('-').filter(|(first, _)| !first.is_empty()) {
            let (first, last) = (value(field, first).map_err(fail)?, value(field, last).map_err(fail)?);
            if first > last {
                return Err(fail(format!(
                    "the range {first}-{last} runs backwards (NCrontab would read it as {last}-{first}, not as a \
                     wrap-around); write {last}-{first}, or a list such as {first}-{max},{min}-{last}"
                )));
            }
            (first, last)
        } else {
            let single = value(field, range).map_err(fail)?;
            // NCrontab reads `a/n` as `a-max/n`.
            (single, if step.is_some() { max } else { single })
        };
        let step_by = step.unwrap_or(1) as usize;
        selected |= (first..=last)
            .step_by(step_by)
            .fold(0, |bits, value| bits | 1u64 << value);
        elements.push(match (first == last, step) {
            (true, None) => first.to_string(),
            (_, None) => format!("{first}-{last}"),
            (_, Some(step)) => format!("{first}-{last}/{step}"),
        });
    }
    Ok((elements.join(","), selected))
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// One value of a field: a number in range, or (months, days of the week) a prefix of an English name.
fn value(field: CronField, text: &str) -> Result<u32, String> {
    let (min, max) = field.range();
    if text.is_empty() {
        return Err("a value is missing (a range needs a value on both sides of '-')".into());
    }
    if is_digits(text) {
        let number: u32 = text
            .parse()
            .map_err(|_| format!("{text} is out of range: {field} takes {min} to {max}"))?;
        if number < min || number > max {
            let hint = if field == CronField::DayOfWeek && number == 7 {
                " (NCRONTAB numbers Sunday 0 and has no 7)"
            } else {
                ""
            };
            return Err(format!("{number} is out of range: {field} takes {min} to {max}{hint}"));
        }
        return Ok(number);
    }
    let names = field.names();
    let position = names.iter().position(|name| {
        name.len() >= text.len() && name.as_bytes()[..text.len()].eq_ignore_ascii_case(text.as_bytes())
    });
    match position {
        Some(index) => Ok(min + index as u32),
        None => {
            let mut problem = if names.is_empty() {
                format!("'{text}' is not a number from {min} to {max}")
            } else {
                format!(
                    "'{text}' is neither a number from {min} to {max} nor a name ({} or an abbreviation)",
                    names.join(", ")
                )
            };
            if text.contains(['L', 'W', '#', '?', 'l', 'w']) {
                problem.push_str("; NCRONTAB has no L, W, # or ? forms");
            }
            Err(problem)
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn next(schedule: &str, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        TimerSchedule::parse(schedule).unwrap().next_after(after)
    }

    fn field_error(schedule: &str) -> (CronField, String) {
        match TimerSchedule::parse(schedule) {
            Err(ScheduleError::Field { field, problem, .. }) => (field, problem),
            other => panic!("{schedule}: expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn midnight_every_day() {
        assert_eq!(
            next("0 0 0 * * *", at(2025, 1, 1, 0, 0, 0)),
            Some(at(2025, 1, 2, 0, 0, 0))
        );
        assert_eq!(
            next("0 0 0 * * *", at(2024, 12, 31, 23, 59, 59)),
            Some(at(2025, 1, 1, 0, 0, 0))
        );
        assert_eq!(
            next("0 0 0 * * *", at(2024, 2, 28, 12, 0, 0)),
            Some(at(2024, 2, 29, 0, 0, 0))
        );
    }

    #[test]
    fn every_five_seconds_and_sub_second_starts() {
        assert_eq!(
            next("*/5 * * * * *", at(2025, 1, 1, 0, 0, 0)),
            Some(at(2025, 1, 1, 0, 0, 5))
        );
        assert_eq!(
            next("*/5 * * * * *", at(2025, 1, 1, 0, 0, 58)),
            Some(at(2025, 1, 1, 0, 1, 0))
        );
        let half_past = at(2025, 1, 1, 0, 0, 4) + chrono::Duration::milliseconds(500);
        assert_eq!(next("*/5 * * * * *", half_past), Some(at(2025, 1, 1, 0, 0, 5)));
        let just_after = at(2025, 1, 1, 0, 0, 5) + chrono::Duration::milliseconds(1);
        assert_eq!(next("*/5 * * * * *", just_after), Some(at(2025, 1, 1, 0, 0, 10)));
    }

    #[test]
    fn weekdays_at_half_past_nine() {
        // 2025-03-07 is a Friday.
        let schedule = "0 30 9 * * 1-5";
        assert_eq!(next(schedule, at(2025, 3, 7, 9, 0, 0)), Some(at(2025, 3, 7, 9, 30, 0)));
        assert_eq!(
            next(schedule, at(2025, 3, 7, 9, 30, 0)),
            Some(at(2025, 3, 10, 9, 30, 0))
        );
        for same in [
            "0 30 9 * * MON-FRI",
            "0 30 9 * * mon-fri",
            "0 30 9 * * Monday-Friday",
            "0 30 9 * * M-F",
        ] {
            assert_eq!(
                TimerSchedule::parse(same).unwrap(),
                TimerSchedule::parse(schedule).unwrap(),
                "{same}"
            );
        }
    }

    #[test]
    fn sunday_is_zero_and_names_are_prefixes() {
        // 2025-03-09 is a Sunday.
        assert_eq!(
            next("0 0 12 * * 0", at(2025, 3, 4, 0, 0, 0)),
            Some(at(2025, 3, 9, 12, 0, 0))
        );
        assert_eq!(
            next("0 0 12 * * SUN", at(2025, 3, 4, 0, 0, 0)),
            Some(at(2025, 3, 9, 12, 0, 0))
        );
        assert_eq!(
            next("0 0 12 * * sat", at(2025, 3, 4, 0, 0, 0)),
            Some(at(2025, 3, 8, 12, 0, 0))
        );
        // "Ju" is June (the first name it prefixes), "Jul" July.
        assert_eq!(
            next("0 0 0 1 Ju *", at(2025, 1, 1, 0, 0, 0)),
            Some(at(2025, 6, 1, 0, 0, 0))
        );
        assert_eq!(
            next("0 0 0 1 Jul *", at(2025, 1, 1, 0, 0, 0)),
            Some(at(2025, 7, 1, 0, 0, 0))
        );
        // "at 9:30 AM every Monday in January" (the Functions docs' example).
        assert_eq!(
            next("0 30 9 * Jan Mon", at(2025, 1, 1, 0, 0, 0)),
            Some(at(2025, 1, 6, 9, 30, 0))
        );
    }

    #[test]
    fn day_and_day_of_week_must_both_match() {
        // The 13th that is a Friday: 2025-06-13.
        assert_eq!(
            next("0 0 0 13 * FRI", at(2025, 1, 1, 0, 0, 0)),
            Some(at(2025, 6, 13, 0, 0, 0))
        );
    }

    #[test]
    fn lists_ranges_steps_and_start_steps() {
        assert_eq!(
            next("0 0 9-17/4 * * *", at(2025, 1, 1, 10, 0, 0)),
            Some(at(2025, 1, 1, 13, 0, 0))
        );
        assert_eq!(
            next("0 0 9-17/4 * * *", at(2025, 1, 1, 17, 0, 0)),
            Some(at(2025, 1, 2, 9, 0, 0))
        );
        assert_eq!(
            next("0 5,35 * * * *", at(2025, 1, 1, 0, 6, 0)),
            Some(at(2025, 1, 1, 0, 35, 0))
        );
        // `10/20` = 10-59/20: 10, 30, 50.
        assert_eq!(
            next("10/20 * * * * *", at(2025, 1, 1, 0, 0, 31)),
            Some(at(2025, 1, 1, 0, 0, 50))
        );
        assert_eq!(
            next("10/20 * * * * *", at(2025, 1, 1, 0, 0, 50)),
            Some(at(2025, 1, 1, 0, 1, 10))
        );
        assert_eq!(
            next("0 0 0 1 */3 *", at(2025, 2, 1, 0, 0, 0)),
            Some(at(2025, 4, 1, 0, 0, 0))
        );
    }

    #[test]
    fn five_fields_mean_seconds_zero() {
        assert_eq!(
            TimerSchedule::parse("*/15 * * * *").unwrap(),
            TimerSchedule::parse("0 */15 * * * *").unwrap()
        );
    }

    #[test]
    fn rare_and_impossible_dates() {
        // Leap days: 2100 is not a leap year, so 2096 is followed by 2104.
        assert_eq!(
            next("0 0 0 29 2 *", at(2096, 3, 1, 0, 0, 0)),
            Some(at(2104, 2, 29, 0, 0, 0))
        );
        assert_eq!(
            next("0 0 0 31 * *", at(2025, 4, 1, 0, 0, 0)),
            Some(at(2025, 5, 31, 0, 0, 0))
        );
        // 29 February that is a Monday: 2044.
        assert_eq!(
            next("0 0 0 29 2 Mon", at(2025, 1, 1, 0, 0, 0)),
            Some(at(2044, 2, 29, 0, 0, 0))
        );
        for never in ["0 0 0 30 2 *", "0 0 0 31 4,6,9,11 *", "0 0 0 30-31 Feb Mon"] {
            assert!(
                matches!(TimerSchedule::parse(never), Err(ScheduleError::NeverFires { .. })),
                "{never}"
            );
        }
    }

    #[test]
    fn field_count_and_empty_schedules() {
        assert_eq!(TimerSchedule::parse("  "), Err(ScheduleError::Empty));
        for (text, found) in [("* * * *", 4), ("0 0 0 * * * 2025", 7), ("garbage", 1), ("@daily", 1)] {
            match TimerSchedule::parse(text) {
                Err(error @ ScheduleError::FieldCount { found: n, .. }) => {
                    assert_eq!(n, found, "{text}");
                    assert!(error.to_string().contains("6 ({second}"), "{error}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_fields_are_named_with_their_problem() {
        let cases: &[(&str, CronField, &str)] = &[
            (
                "60 * * * * *",
                CronField::Second,
                "60 is out of range: second takes 0 to 59",
            ),
            ("0 60 * * * *", CronField::Minute, "out of range"),
            ("0 0 24 * * *", CronField::Hour, "hour takes 0 to 23"),
            ("0 0 0 0 * *", CronField::Day, "day takes 1 to 31"),
            ("0 0 0 32 * *", CronField::Day, "out of range"),
            ("0 0 0 * 13 *", CronField::Month, "month takes 1 to 12"),
            ("0 0 0 * * 7", CronField::DayOfWeek, "has no 7"),
            ("0 0 0 * Jnu *", CronField::Month, "neither a number"),
            ("0 0 0 * * Funday", CronField::DayOfWeek, "Sunday, Monday"),
            ("0 0 MON * * *", CronField::Hour, "not a number from 0 to 23"),
            ("0 0 0 L * *", CronField::Day, "no L, W, # or ?"),
            ("0 0 0 * * 5L", CronField::DayOfWeek, "no L, W, # or ?"),
            ("0 0 0 * * 5#2", CronField::DayOfWeek, "no L, W, # or ?"),
            ("0 0 0 ? * *", CronField::Day, "no L, W, # or ?"),
            ("0 0 22-2 * * *", CronField::Hour, "runs backwards"),
            ("*/0 * * * * *", CronField::Second, "step of 0"),
            ("*/x * * * * *", CronField::Second, "not a whole number"),
            ("*/ * * * * *", CronField::Second, "not a whole number"),
            ("1/2/3 * * * * *", CronField::Second, "not a whole number"),
            ("1,,2 * * * * *", CronField::Second, "empty element"),
            ("-5 * * * * *", CronField::Second, "not a number"),
            ("1- * * * * *", CronField::Second, "a value is missing"),
            ("*-5 * * * * *", CronField::Second, "not a number"),
            ("99999999999 * * * * *", CronField::Second, "out of range"),
        ];
        for (text, field, problem) in cases {
            let (found_field, found_problem) = field_error(text);
            assert_eq!(found_field, *field, "{text}: {found_problem}");
            assert!(found_problem.contains(problem), "{text}: {found_problem}");
        }
        let message = TimerSchedule::parse("0 0 0 * * 7").unwrap_err().to_string();
        assert!(message.starts_with("day-of-week field '7': "), "{message}");
    }

    #[test]
    fn timespan_schedules_are_intervals() {
        let after = at(2025, 1, 1, 0, 0, 0);
        for (text, seconds) in [
            ("01:00:00", 3_600),
            ("00:01:00", 60),
            ("00:05", 300),
            ("1.00:00:00", 86_400),
            ("25:00:00:00", 25 * 86_400),
            ("24:00:00", 24 * 86_400),
            ("2", 2 * 86_400),
        ] {
            let schedule = TimerSchedule::parse(text).unwrap();
            assert_eq!(
                schedule,
                TimerSchedule::Interval(Duration::from_secs(seconds)),
                "{text}"
            );
            assert_eq!(
                schedule.next_after(after),
                Some(after + chrono::Duration::seconds(seconds as i64))
            );
        }
        for (text, problem) in [
            ("00:00:00", TimeSpanError::Zero),
            ("-01:00:00", TimeSpanError::Negative),
            (
                "00:60:00",
                TimeSpanError::OutOfRange {
                    part: "minutes",
                    value: 60,
                    max: 59,
                },
            ),
            (
                "24:30:00",
                TimeSpanError::OutOfRange {
                    part: "hours",
                    value: 30,
                    max: 23,
                },
            ),
        ] {
            assert_eq!(
                TimerSchedule::parse(text),
                Err(ScheduleError::Interval {
                    text: text.into(),
                    problem
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn timespans_in_every_layout() {
        let ok = |text: &str| parse_timespan(text).unwrap();
        assert_eq!(ok("30.00:00:00"), Duration::from_secs(30 * 86_400));
        assert_eq!(ok("00:05:00"), Duration::from_secs(300));
        assert_eq!(ok(" 1.02:03:04.5 "), Duration::new(93_784, 500_000_000));
        assert_eq!(ok("00:00:01.0000001"), Duration::new(1, 100));
        assert_eq!(ok("1:02:03:04"), Duration::from_secs(93_784));
        assert_eq!(ok("1.02:03"), Duration::from_secs(93_780));
        assert_eq!(ok("7"), Duration::from_secs(7 * 86_400));
        assert_eq!(ok("00:00:00"), Duration::ZERO);
        for bad in [
            "",
            "1.5",
            "00:00:00:00:00",
            "a:b",
            "00:00:01.",
            "00:00:01.12345678",
            "+01:00",
            "1.2.3:00",
        ] {
            assert!(parse_timespan(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_timespan("-00:00:01"), Err(TimeSpanError::Negative));
        assert_eq!(parse_timespan("99999999999999999999"), Err(TimeSpanError::TooLarge));
    }

    #[test]
    fn display_shows_the_schedule() {
        assert_eq!(
            TimerSchedule::parse(" 0 0 0 * * * ").unwrap().to_string(),
            "0 0 0 * * *"
        );
        assert_eq!(
            TimerSchedule::parse("1.00:00:00").unwrap().to_string(),
            "every 1.00:00:00"
        );
    }
}
