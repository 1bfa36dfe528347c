//! .NET `TimeSpan` text, as the Functions host and the Durable extension write durations (`functionTimeout` in
//! host.json, `grpcHttpClientTimeout` in the durableClient binding): `[d.]hh:mm:ss[.fffffff]`.

use std::time::Duration;

/// The text is not a non-negative `[d.]hh:mm:ss[.fffffff]` duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a [d.]hh:mm:ss[.fffffff] duration")]
pub struct InvalidTimeSpan(String);

/// Parses a non-negative .NET `TimeSpan` text: `[d.]hh:mm:ss[.fffffff]` (hours may exceed 23; minutes and seconds
/// may not exceed 59). Negative spans, such as the `-1` ("no limit") of `functionTimeout`, are the caller's to
/// handle.
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
pub fn parse_timespan(text: &str) -> Result<Duration, InvalidTimeSpan> {
    parse(text.trim()).ok_or_else(|| InvalidTimeSpan(text.to_string()))
}

fn parse(text: &str) -> Option<Duration> {
    let (head, _) = text.split_once(':')?;
    let (days, clock) = match head.split_once('.') {
        Some((days, _)) => (days.parse::<u64>().ok()?, &text[days.len() + 1..]),
        None => (0, text),
    };
    let mut parts = clock.split(':');
    let (hours, minutes, seconds) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let hours: u64 = hours.parse().ok()?;
    let minutes: u64 = minutes.parse().ok()?;
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let whole: u64 = whole.parse().ok()?;
    if minutes > 59 || whole > 59 || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let nanos = format!("{fraction:0<9}").get(..9)?.parse::<u32>().ok()?;
    let seconds = days
        .checked_mul(24)?
        .checked_add(hours)?
        .checked_mul(60)?
        .checked_add(minutes)?
        .checked_mul(60)?
        .checked_add(whole)?;
    Some(Duration::new(seconds, nanos))
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
    fn timespans_parse_and_format() {
        assert_eq!(parse_timespan("00:01:40"), Ok(Duration::from_secs(100)));
        assert_eq!(parse_timespan("1.02:03:04.5"), Ok(Duration::new(93_784, 500_000_000)));
        assert_eq!(parse_timespan("00:00:01.0000001"), Ok(Duration::new(1, 100)));
        assert_eq!(parse_timespan(" 48:00:00 "), Ok(Duration::from_secs(48 * 3600)));
        for bad in [
            "",
            "100",
            "00:61:00",
            "a:b:c",
            "00:00:00:00",
            "-00:00:01",
            "00:00:01.x",
            "99999999999999999.00:00:00",
        ] {
            assert_eq!(parse_timespan(bad), Err(InvalidTimeSpan(bad.to_string())), "{bad}");
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
            parse_timespan("x").unwrap_err().to_string(),
            "'x' is not a [d.]hh:mm:ss[.fffffff] duration"
        );
    }
}
