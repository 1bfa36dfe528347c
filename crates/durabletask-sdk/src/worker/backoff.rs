//! How long the worker waits before reconnecting: exponential backoff with jitter.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

/// Exponential reconnect backoff: the n-th consecutive failure waits between half and all of
/// `min(initial × 2ⁿ⁻¹, max)`, the exact point chosen at random so that many workers losing the same engine do not
/// all come back at the same instant.
///
/// ```
/// use std::time::Duration;
/// use durabletask_sdk::worker::ReconnectBackoff;
///
/// let backoff = ReconnectBackoff::new(Duration::from_secs(1), Duration::from_secs(30));
/// assert_eq!(backoff.delay(1, 1.0), Duration::from_secs(1));
/// assert_eq!(backoff.delay(3, 1.0), Duration::from_secs(4));
/// assert_eq!(backoff.delay(3, 0.0), Duration::from_secs(2));
/// assert_eq!(backoff.delay(20, 1.0), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectBackoff {
    /// The longest wait after the first failure.
    pub initial: Duration,
    /// The longest wait ever.
    pub max: Duration,
}

impl Default for ReconnectBackoff {
    /// One second, doubling up to 30 seconds (the Python SDK's defaults).
    fn default() -> Self {
        Self::new(Duration::from_secs(1), Duration::from_secs(30))
    }
}

impl ReconnectBackoff {
    /// A backoff starting at `initial` and never longer than `max` (raised to `initial` if smaller).
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
        }
    }

    /// The wait before reconnecting after `failures` consecutive failures (at least 1), with `jitter` in
    /// `[0, 1]` choosing where between half and all of the ceiling it falls.
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        let ceiling = self.initial.saturating_mul(1 << doublings).min(self.max);
        ceiling.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// A random number in `[0, 1)` for [`ReconnectBackoff::delay`], from the standard library's per-process random
/// hash keys (no dependency on a random number crate for a value that needs no quality).
pub(crate) fn random_jitter() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_initial_one_up_to_the_maximum() {
        let backoff = ReconnectBackoff::new(Duration::from_millis(100), Duration::from_millis(1_000));
        let ceilings: Vec<u128> = (1..=6).map(|n| backoff.delay(n, 1.0).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(backoff.delay(u32::MAX, 1.0), Duration::from_millis(1_000));
    }

    #[test]
    fn jitter_keeps_the_delay_between_half_and_all_of_the_ceiling() {
        let backoff = ReconnectBackoff::new(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(backoff.delay(2, 0.0), Duration::from_millis(100));
        assert_eq!(backoff.delay(2, 0.5), Duration::from_millis(150));
        assert_eq!(
            backoff.delay(2, 7.0),
            Duration::from_millis(200),
            "out-of-range jitter is clamped"
        );
        assert_eq!(
            backoff.delay(0, 1.0),
            Duration::from_millis(100),
            "zero failures count as one"
        );
    }

    #[test]
    fn a_maximum_below_the_initial_delay_is_raised_to_it() {
        let backoff = ReconnectBackoff::new(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(backoff.max, Duration::from_secs(2));
    }

    #[test]
    fn random_jitter_is_a_fraction() {
        for _ in 0..100 {
            let jitter = random_jitter();
            assert!((0.0..1.0).contains(&jitter), "{jitter}");
        }
    }
}
