//! Conversions between protobuf timestamps and `chrono` UTC date-times.

use chrono::{DateTime, TimeZone, Utc};
use prost_types::Timestamp;

/// Converts a protobuf timestamp to a UTC date-time (out-of-range values clamp to the Unix epoch).
pub fn to_datetime(timestamp: &Timestamp) -> DateTime<Utc> {
    Utc.timestamp_opt(timestamp.seconds, timestamp.nanos.clamp(0, 999_999_999) as u32)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// Converts a UTC date-time to a protobuf timestamp.
pub fn to_timestamp(datetime: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: datetime.timestamp(),
        nanos: datetime.timestamp_subsec_nanos() as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_nanoseconds() {
        let t = Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_456_789,
        };
        assert_eq!(to_timestamp(to_datetime(&t)), t);
    }
}
