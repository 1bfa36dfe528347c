//! Retry policies for activities and sub-orchestrations. Retries wait on durable timers, so a retried call survives
//! process restarts and costs nothing while it waits.

use std::time::Duration;

/// How often and how patiently to retry a failed activity or sub-orchestration.
///
/// The delay before retry `n` (1-based) is `first_retry_interval × backoff_coefficient^(n-1)`, capped at
/// `max_retry_interval`. Retries stop after `max_attempts` attempts in all, when the failure is marked
/// non-retriable, or once `retry_timeout` has passed since the first attempt (in orchestration time).
///
/// ```
/// use std::time::Duration;
/// use durabletask_sdk::orchestration::RetryPolicy;
///
/// let policy = RetryPolicy::new(5, Duration::from_secs(2))
///     .with_backoff_coefficient(2.0)
///     .with_max_retry_interval(Duration::from_secs(30));
/// assert_eq!(policy.delay_before_attempt(2), Some(Duration::from_secs(2)));
/// assert_eq!(policy.delay_before_attempt(4), Some(Duration::from_secs(8)));
/// assert_eq!(policy.delay_before_attempt(6), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    first_retry_interval: Duration,
    backoff_coefficient: f64,
    max_retry_interval: Option<Duration>,
    retry_timeout: Option<Duration>,
}

impl RetryPolicy {
    /// At most `max_attempts` attempts (at least 1), waiting `first_retry_interval` before the first retry.
    pub fn new(max_attempts: u32, first_retry_interval: Duration) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            first_retry_interval,
            backoff_coefficient: 1.0,
            max_retry_interval: None,
            retry_timeout: None,
        }
    }

    /// Multiplies the delay by this factor after each retry (values below 1 are treated as 1).
    pub fn with_backoff_coefficient(mut self, coefficient: f64) -> Self {
        self.backoff_coefficient = if coefficient.is_finite() {
            coefficient.max(1.0)
        } else {
            1.0
        };
        self
    }

    /// Caps the delay between attempts.
    pub fn with_max_retry_interval(mut self, interval: Duration) -> Self {
        self.max_retry_interval = Some(interval);
        self
    }

    /// Stops retrying once this much orchestration time has passed since the first attempt.
    pub fn with_retry_timeout(mut self, timeout: Duration) -> Self {
        self.retry_timeout = Some(timeout);
        self
    }

    /// The maximum number of attempts, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The retry timeout, if any.
    pub fn retry_timeout(&self) -> Option<Duration> {
        self.retry_timeout
    }

    /// The delay before attempt number `attempt` (2 = the first retry), or `None` when no such attempt is allowed.
    pub fn delay_before_attempt(&self, attempt: u32) -> Option<Duration> {
        if attempt < 2 || attempt > self.max_attempts {
            return None;
        }
        let exponent = i32::try_from(attempt - 2).unwrap_or(i32::MAX);
        let seconds = self.first_retry_interval.as_secs_f64() * self.backoff_coefficient.powi(exponent);
        let mut delay = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
        if let Some(cap) = self.max_retry_interval {
            delay = delay.min(cap);
        }
        Some(delay)
    }
}
