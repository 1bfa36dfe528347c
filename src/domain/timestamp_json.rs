//! `DateTime<Utc>` fields in JSON, for `#[serde(with = "…")]`: the same text chrono's own serde writes and
//! reads, at a fraction of its cost.
//!
//! Written as RFC 3339 in UTC with `Z` and 0, 3, 6 or 9 fractional digits, whichever shows the instant exactly
//! (chrono's `SecondsFormat::AutoSi`): `2025-03-01T10:00:00Z`, `2025-03-01T10:00:00.250Z`. chrono formats
//! through `core::fmt`, digit by digit; the return entity's state holds some thirty instants, written on every
//! operation, so that was a sixth of an entity invocation. Leap seconds are left to chrono.
//!
//! Read with a fast path for exactly that shape; anything else (another offset, a space for the `T`, a leap
//! second, an error) goes to chrono's parser, so what is accepted and how a refusal reads do not change.
//!
//! ```
//! use chrono::{DateTime, Utc};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Fact {
//!     #[serde(with = "returns_aggregator::domain::timestamp_json")]
//!     at: DateTime<Utc>,
//! }
//!
//! let fact: Fact = serde_json::from_str(r#"{"at":"2025-03-01T11:00:00.5+01:00"}"#).unwrap();
//! assert_eq!(serde_json::to_string(&fact).unwrap(), r#"{"at":"2025-03-01T10:00:00.500Z"}"#);
//! ```

use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, SecondsFormat, Timelike, Utc};
use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// The longest text [`write`] produces: `-YYYYYY-MM-DDTHH:MM:SS.fffffffffZ` (chrono's years reach ±262,143).
const MAX_LEN: usize = 33;

/// Serializes `instant` as chrono does.
pub fn serialize<S: Serializer>(instant: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buffer = [0u8; MAX_LEN];
    match write(instant, &mut buffer) {
        Some(text) => serializer.serialize_str(text),
        None => serializer.serialize_str(&instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    }
}

/// Deserializes an instant from what chrono accepts: RFC 3339 with any offset, converted to UTC.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    deserializer.deserialize_str(InstantVisitor)
}

/// The same for `Option<DateTime<Utc>>` fields (`null` is `None`); pair it with `#[serde(default)]` so a missing
/// field is `None` too.
pub mod option {
    use super::*;

    /// Serializes `Some` as [`serialize`](super::serialize) does, `None` as `null`.
    pub fn serialize<S: Serializer>(instant: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
        match instant {
            Some(instant) => super::serialize(instant, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Deserializes `null` as `None`, else as [`deserialize`](super::deserialize) does.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        deserializer.deserialize_option(OptionalInstantVisitor)
    }

    struct OptionalInstantVisitor;

    impl<'de> Visitor<'de> for OptionalInstantVisitor {
        type Value = Option<DateTime<Utc>>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("an RFC 3339 date and time, or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            super::deserialize(deserializer).map(Some)
        }
    }
}

struct InstantVisitor;

impl Visitor<'_> for InstantVisitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an RFC 3339 date and time")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        parse(text).map_err(E::custom)
    }
}

/// Reads an instant: the fast path for `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`, chrono's parser for the rest.
pub fn parse(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    match parse_utc_shape(text.as_bytes()) {
        Some(instant) => Ok(instant),
        None => text
            .parse::<DateTime<FixedOffset>>()
            .map(|instant| instant.with_timezone(&Utc)),
    }
}

/// Writes `instant` into `buffer` as chrono's `AutoSi` with `Z`; `None` for a leap second, which chrono writes.
/// A year outside 0000–9999 is written as chrono does: signed, at least four digits (`-262143`, `+10000`).
fn write<'b>(instant: &DateTime<Utc>, buffer: &'b mut [u8; MAX_LEN]) -> Option<&'b str> {
    let nanos = instant.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let year = instant.year();
    let mut end = if (0..=9999).contains(&year) {
        put_digits(&mut buffer[0..4], year.unsigned_abs());
        4
    } else {
        buffer[0] = if year < 0 { b'-' } else { b'+' };
        let digits = decimal_digits(year.unsigned_abs()).max(4);
        put_digits(&mut buffer[1..1 + digits], year.unsigned_abs());
        1 + digits
    };
    for (separator, value) in [
        (b'-', instant.month()),
        (b'-', instant.day()),
        (b'T', instant.hour()),
        (b':', instant.minute()),
        (b':', instant.second()),
    ] {
        buffer[end] = separator;
        put_digits(&mut buffer[end + 1..end + 3], value);
        end += 3;
    }
    let (fraction, digits) = match nanos {
        0 => (0, 0),
        _ if nanos.is_multiple_of(1_000_000) => (nanos / 1_000_000, 3),
        _ if nanos.is_multiple_of(1_000) => (nanos / 1_000, 6),
        _ => (nanos, 9),
    };
    if digits > 0 {
        buffer[end] = b'.';
        put_digits(&mut buffer[end + 1..end + 1 + digits], fraction);
        end += 1 + digits;
    }
    buffer[end] = b'Z';
    end += 1;
    // Only ASCII digits and separators were written.
    std::str::from_utf8(&buffer[..end]).ok()
}

/// How many decimal digits `value` has.
fn decimal_digits(value: u32) -> usize {
    value.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// Writes `value` as exactly `out.len()` decimal digits, zero-padded.
fn put_digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The fast path: exactly `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` naming a valid date and time (seconds 00–59);
/// `None` for anything else.
fn parse_utc_shape(text: &[u8]) -> Option<DateTime<Utc>> {
    if text.len() < 20 || text[4] != b'-' || text[7] != b'-' || text[10] != b'T' || text[13] != b':' {
        return None;
    }
    if text[16] != b':' || *text.last()? != b'Z' {
        return None;
    }
    let year = read_digits(&text[0..4])?;
    let month = read_digits(&text[5..7])?;
    let day = read_digits(&text[8..10])?;
    let hour = read_digits(&text[11..13])?;
    let minute = read_digits(&text[14..16])?;
    let second = read_digits(&text[17..19])?;
    let nanos = match &text[19..text.len() - 1] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            read_digits(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    // Refuses second 60: a leap second is chrono's to read.
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    Some(date.and_time(time).and_utc())
}

/// The value of a run of ASCII digits; `None` if any byte is not one.
fn read_digits(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |value, &byte| {
        byte.is_ascii_digit().then(|| value * 10 + u32::from(byte - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Ours {
        #[serde(with = "super")]
        at: DateTime<Utc>,
        #[serde(default, with = "super::option", skip_serializing_if = "Option::is_none")]
        maybe: Option<DateTime<Utc>>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Chronos {
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        maybe: Option<DateTime<Utc>>,
    }

    /// Instants from year 0 to 9999 with every kind of fraction, some leap seconds, some outside those years.
    fn instants() -> impl Strategy<Value = DateTime<Utc>> {
        let seconds = -62_167_219_200i64..253_402_300_800i64; // 0000-01-01 to 9999-12-31
        let fraction = prop_oneof![
            Just(0u32),
            (0u32..1000).prop_map(|millis| millis * 1_000_000),
            (0u32..1_000_000).prop_map(|micros| micros * 1_000),
            0u32..1_000_000_000,
        ];
        prop_oneof![
            8 => (seconds, fraction).prop_map(|(at, nanos)| Utc.timestamp_opt(at, nanos).unwrap()),
            1 => (-8_200_000_000_000i64..-62_167_219_200i64).prop_map(|at| Utc.timestamp_opt(at, 0).unwrap()),
            1 => (253_402_300_800i64..8_200_000_000_000i64).prop_map(|at| Utc.timestamp_opt(at, 0).unwrap()),
            1 => (0i64..100_000, 0u32..1_000_000_000).prop_map(|(day, nanos)| {
                // 23:59:59 with a leap second's nanoseconds.
                Utc.timestamp_opt(day * 86_400 + 86_399, 1_000_000_000 + nanos % 1_000_000_000).unwrap()
            }),
        ]
    }

    proptest! {
        #[test]
        fn writes_what_chrono_writes_and_reads_it_back(at in instants(), maybe in proptest::option::of(instants())) {
            let ours = serde_json::to_string(&Ours { at, maybe }).unwrap();
            let chronos = serde_json::to_string(&Chronos { at, maybe }).unwrap();
            prop_assert_eq!(&ours, &chronos);
            prop_assert_eq!(serde_json::from_str::<Ours>(&ours).unwrap(), Ours { at, maybe });
        }

        #[test]
        fn reads_what_chrono_reads_and_refuses_what_it_refuses(text in prop_oneof![
            // Mostly real dates and times, some at the edges (day 31, hour 24, second 60).
            "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-4]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]{0,10})?(Z|z|[+-][01][0-9]:[0-5][0-9])?",
            // Any digits.
            "[0-9]{4}-[0-9]{2}-[0-9]{2}[T t][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,10})?(Z|z|[+-][0-9]{2}:[0-9]{2})?",
        ]) {
            let json = format!(r#"{{"at":"{text}"}}"#);
            let ours = serde_json::from_str::<Ours>(&json).map_err(|error| error.to_string());
            let chronos = serde_json::from_str::<Chronos>(&json).map_err(|error| error.to_string());
            match (ours, chronos) {
                (Ok(ours), Ok(chronos)) => prop_assert_eq!(ours.at, chronos.at),
                (Err(ours), Err(chronos)) => prop_assert_eq!(ours, chronos),
                (ours, chronos) => prop_assert!(false, "{text}: ours {ours:?}, chrono's {chronos:?}"),
            }
        }
    }

    #[test]
    fn the_extreme_instants_are_written_as_chrono_writes_them() {
        for at in [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
        ] {
            let ours = serde_json::to_string(&Ours { at, maybe: None }).unwrap();
            assert_eq!(ours, serde_json::to_string(&Chronos { at, maybe: None }).unwrap());
        }
        let ours = serde_json::to_string(&Ours {
            at: DateTime::<Utc>::MIN_UTC,
            maybe: None,
        })
        .unwrap();
        assert_eq!(ours, r#"{"at":"-262143-01-01T00:00:00Z"}"#);
    }

    #[test]
    fn a_missing_or_null_optional_instant_is_none() {
        let read: Ours = serde_json::from_str(r#"{"at":"2025-03-01T10:00:00Z"}"#).unwrap();
        assert_eq!(read.maybe, None);
        let read: Ours = serde_json::from_str(r#"{"at":"2025-03-01T10:00:00Z","maybe":null}"#).unwrap();
        assert_eq!(read.maybe, None);
    }

    #[test]
    fn a_refusal_names_the_problem_as_chrono_does() {
        for text in [
            "2025-02-30T10:00:00Z",
            "2025-03-01T24:00:00Z",
            "yesterday",
            "2025-03-01T10:00:00.Z",
            "",
        ] {
            let json = format!(r#"{{"at":"{text}"}}"#);
            let ours = serde_json::from_str::<Ours>(&json).unwrap_err().to_string();
            let chronos = serde_json::from_str::<Chronos>(&json).unwrap_err().to_string();
            assert_eq!(ours, chronos, "{text}");
        }
        let error = serde_json::from_str::<Ours>(r#"{"at":12}"#).unwrap_err().to_string();
        assert!(error.contains("an RFC 3339 date and time"), "{error}");
    }
}
