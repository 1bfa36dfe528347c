//! .NET `TimeSpan` text, as the Functions host and the Durable extension write durations (`functionTimeout` in
//! host.json, timer intervals, `grpcHttpClientTimeout` in the durableClient binding): read as `TimeSpan.Parse`
//! reads it, written as `TimeSpan.ToString()` writes it.

use std::time::Duration;

/// Why a text is not a usable .NET `TimeSpan`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeSpanError {
    /// Not one of the TimeSpan layouts.
    #[error("expected hh:mm[:ss[.fffffff]], d.hh:mm[:ss[.fffffff]], d:hh:mm:ss[.fffffff] or a whole number of days")]
    Layout,
    /// A part is not a number.
    #[error("'{0}' is not a whole number")]
    NotANumber(String),
    /// A part is out of its range.
    #[error("{part} {value} is out of range (at most {max})")]
    OutOfRange {
        /// `hours`, `minutes` or `seconds`.
        part: &'static str,
        /// The value found.
        value: u64,
        /// Its largest allowed value.
        max: u64,
    },
    /// More than 7 fraction digits (.NET counts in 100 ns ticks).
    #[error("the fraction of a second has more than 7 digits")]
    Fraction,
    /// A negative span (`-01:00:00`).
    #[error("it is negative")]
    Negative,
    /// A zero interval.
    #[error("an interval must be longer than zero")]
    Zero,
    /// Too large to represent.
    #[error("it is too large")]
    TooLarge,
}

/// Parses a non-negative .NET `TimeSpan` as `TimeSpan.Parse` reads it (invariant culture): `d`,
/// `[d.]hh:mm[:ss[.fffffff]]` or `d:hh:mm:ss[.fffffff]`; `hh:mm:ss` with `hh` ≥ 24 reads as `d:hh:mm`. Used
/// for timer schedules and for host-style durations such as `30.00:00:00`, `00:05:00` (`functionTimeout`) or
/// `00:01:40` (`grpcHttpClientTimeout`). Negative spans, such as the `-1` ("no limit") of `functionTimeout`,
/// are refused: they are the caller's to handle.
///
/// ```
/// use std::time::Duration;
/// use durabletask_sdk::functions::{format_timespan, parse_timespan};
///
/// assert_eq!(parse_timespan("00:01:40").unwrap(), Duration::from_secs(100));
/// assert_eq!(parse_timespan("1.02:03:04.5").unwrap(), Duration::new(93_784, 500_000_000));
/// assert_eq!(format_timespan(Duration::from_secs(100)), "00:01:40");
/// assert!(parse_timespan("5m").is_err());
/// ```
pub fn parse_timespan(text: &str) -> Result<Duration, TimeSpanError> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(TimeSpanError::Negative);
    }
    if text.is_empty() || text.starts_with('+') {
        return Err(TimeSpanError::Layout);
    }
    let parts: Vec<&str> = text.split(':').collect();
    let (days, hours, minutes, seconds) = match parts.as_slice() {
        [days] => (number(days)?, "0", "0", "0"),
        [head, minutes] => {
            let (days, hours) = split_days(head)?;
            (days, hours, *minutes, "0")
        }
        [head, minutes, seconds] => {
            let (days, hours) = split_days(head)?;
            // .NET reads `hh:mm:ss` whose hours overflow (and that has neither days nor a fraction) as d:hh:mm.
            if !head.contains('.') && !seconds.contains('.') && number(hours)? > 23 {
                (number(hours)?, *minutes, *seconds, "0")
            } else {
                (days, hours, *minutes, *seconds)
            }
        }
        [days, hours, minutes, seconds] if !days.contains('.') => (number(days)?, *hours, *minutes, *seconds),
        _ => return Err(TimeSpanError::Layout),
    };
    let hours = bounded("hours", number(hours)?, 23)?;
    let minutes = bounded("minutes", number(minutes)?, 59)?;
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let whole = bounded("seconds", number(whole)?, 59)?;
    if seconds.contains('.') && !is_digits(fraction) {
        return Err(TimeSpanError::NotANumber(fraction.to_string()));
    }
    if fraction.len() > 7 {
        return Err(TimeSpanError::Fraction);
    }
    let nanos: u32 = format!("{fraction:0<9}").parse().map_err(|_| TimeSpanError::Layout)?;
    let total = days
        .checked_mul(86_400)
        .and_then(|s| s.checked_add(hours * 3_600 + minutes * 60 + whole))
        .ok_or(TimeSpanError::TooLarge)?;
    Ok(Duration::new(total, nanos))
}

fn split_days(head: &str) -> Result<(u64, &str), TimeSpanError> {
    match head.split_once('.') {
        Some((days, hours)) => Ok((number(days)?, hours)),
        None => Ok((0, head)),
    }
}

fn number(text: &str) -> Result<u64, TimeSpanError> {
    if !is_digits(text) {
        return Err(TimeSpanError::NotANumber(text.to_string()));
    }
    text.parse().map_err(|_| TimeSpanError::TooLarge)
}

fn bounded(part: &'static str, value: u64, max: u64) -> Result<u64, TimeSpanError> {
    if value > max {
        Err(TimeSpanError::OutOfRange { part, value, max })
    } else {
        Ok(value)
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Formats a duration the way .NET writes a `TimeSpan`: `[d.]hh:mm:ss[.fffffff]` (100 ns precision).
pub fn format_timespan(duration: Duration) -> String {
    let total = duration.as_secs();
    let (days, hours, minutes, seconds) = (total / 86_400, total / 3600 % 24, total / 60 % 60, total % 60);
    let mut text = if days > 0 {
        format!("{days}.{hours:02}:{minutes:02}:{seconds:02}")
    } else {
        format!("{hours:02}:{minutes:02}:{seconds:02}")
    };
    let ticks = duration.subsec_nanos() / 100;
    if ticks > 0 {
        text.push_str(&format!(".{ticks:07}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_durations_the_host_and_the_extension_write_round_trip() {
        assert_eq!(parse_timespan("00:01:40"), Ok(Duration::from_secs(100)));
        assert_eq!(parse_timespan("1.02:03:04.5"), Ok(Duration::new(93_784, 500_000_000)));
        assert_eq!(parse_timespan("00:00:01.0000001"), Ok(Duration::new(1, 100)));
        for bad in ["", "00:61:00", "a:b:c", "-00:00:01", "00:00:01.x"] {
            assert!(parse_timespan(bad).is_err(), "{bad}");
        }
        for duration in [
            Duration::from_secs(100),
            Duration::new(93_784, 500_000_000),
            Duration::ZERO,
        ] {
            assert_eq!(parse_timespan(&format_timespan(duration)), Ok(duration));
        }
        assert_eq!(format_timespan(Duration::from_secs(100)), "00:01:40");
        assert_eq!(
            format_timespan(Duration::new(93_784, 500_000_000)),
            "1.02:03:04.5000000"
        );
    }
}
