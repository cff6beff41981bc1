//! Retrying: the policy (how many attempts, how long to wait before each) and the one loop
//! that applies it.
//!
//! Retrying is split in three, as in `reqwest-retry`: [`RetryPolicy`] (how long to wait), the
//! classification (whether an error is transient: [`AuthError::is_retryable`] for token
//! requests, the SDK's own classification for API calls, which must respect idempotency) and
//! the loop ([`run`]) that applies both, used by the token exchange and by the SDK's request
//! loop alike. The policy knows nothing of HTTP; the loop waits on the caller's clock.
//!
//! [`AuthError::is_retryable`]: crate::AuthError::is_retryable

use std::fmt;
use std::time::Duration;

use tracing::{Instrument as _, warn};

use crate::clock::{Clock, nanos_duration};

/// Exponential backoff with full jitter, a cap on `Retry-After`, and bounds on attempts and
/// total time.
///
/// The wait before retry *n* (1-based) is uniformly random in `[0, min(max_backoff,
/// initial_backoff × 2^(n-1))]` ("full jitter", which spreads a fleet's retries best). A
/// server's `Retry-After` replaces that wait when it is at most `max_retry_after`; a longer
/// `Retry-After` ends the retries instead, because retrying earlier than asked would only be
/// refused again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
    max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, backoff from 200 ms up to 5 s, `Retry-After` honoured up to 30 s, 60 s in
    /// all.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        Self::default().with_max_attempts(1)
    }

    /// The number of attempts in all, the first included (at least 1).
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The backoff bounds: the first retry waits up to `initial`, each later one up to twice
    /// as long, never more than `max`.
    #[must_use]
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// The longest `Retry-After` honoured.
    #[must_use]
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The longest time from the first attempt after which no retry starts.
    #[must_use]
    pub fn with_max_elapsed(mut self, max: Duration) -> Self {
        self.max_elapsed = max;
        self
    }

    /// The number of attempts in all.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait before the next attempt, or `None` to stop.
    ///
    /// `attempts_made` counts the attempts so far (at least 1), `elapsed` is the time since
    /// the first began, `retry_after` is what the server asked for, if anything.
    pub fn next_delay(
        &self,
        attempts_made: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if attempts_made >= self.max_attempts {
            return None;
        }
        let delay = match retry_after {
            Some(asked) if asked > self.max_retry_after => return None,
            Some(asked) => asked,
            None => self.backoff(attempts_made),
        };
        (elapsed.saturating_add(delay) <= self.max_elapsed).then_some(delay)
    }

    /// The full-jitter backoff before retry number `retry` (1-based).
    pub fn backoff(&self, retry: u32) -> Duration {
        full_jitter(exponential(
            self.initial_backoff,
            self.max_backoff,
            retry.max(1),
        ))
    }
}

/// How one attempt failed, as the loop sees it: the error, whether it may be retried, and the
/// server's `Retry-After`.
#[doc(hidden)]
#[derive(Debug)]
pub struct Failed<E> {
    /// The error, returned if this was the last attempt.
    pub error: E,
    /// Whether the classification allows another attempt.
    pub retryable: bool,
    /// What the server asked for.
    pub retry_after: Option<Duration>,
}

impl<E> Failed<E> {
    /// A failure that must not be retried.
    pub fn fatal(error: E) -> Self {
        Self {
            error,
            retryable: false,
            retry_after: None,
        }
    }

    /// A failure that may be retried, after `retry_after` if the server asked.
    pub fn transient(error: E, retry_after: Option<Duration>) -> Self {
        Self {
            error,
            retryable: true,
            retry_after,
        }
    }
}

/// The retry loop: runs `attempt(n)` for n = 1, 2, ... until it succeeds, fails fatally, or
/// `policy` says stop; waits on `clock` between attempts and logs each retry (`what` names the
/// request in the log line). Each attempt runs in a span of its own, `attempt{n}`, with an
/// empty `status` field the attempt may record (a span field recorded twice would be shown
/// twice by `tracing_subscriber::fmt`).
///
/// # Errors
/// The last attempt's error.
#[doc(hidden)]
pub async fn run<T, E, F, Fut>(
    policy: &RetryPolicy,
    clock: &impl Clock,
    what: &'static str,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Failed<E>>>,
    E: fmt::Display,
{
    let started = clock.now_unix_nanos();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let span = tracing::info_span!("attempt", n = attempts, status = tracing::field::Empty);
        let failed = match attempt(attempts).instrument(span).await {
            Ok(value) => return Ok(value),
            Err(failed) => failed,
        };
        let elapsed = nanos_duration(clock.now_unix_nanos().saturating_sub(started));
        let delay = if failed.retryable {
            policy.next_delay(attempts, elapsed, failed.retry_after)
        } else {
            None
        };
        let Some(delay) = delay else {
            return Err(failed.error);
        };
        warn!(
            request = what,
            error = %failed.error,
            attempts,
            retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "request failed; retrying"
        );
        clock.sleep(delay).await;
    }
}

/// `initial × 2^(n-1)`, capped at `max`.
pub(crate) fn exponential(initial: Duration, max: Duration, n: u32) -> Duration {
    let factor = 2u32.saturating_pow(n.saturating_sub(1).min(31));
    initial.saturating_mul(factor).min(max)
}

/// Uniform in `[0, ceiling]`.
pub(crate) fn full_jitter(ceiling: Duration) -> Duration {
    ceiling.mul_f64(fastrand::f64())
}

/// Uniform in `[ceiling / 2, ceiling]`: jitter that still guarantees half the wait.
pub(crate) fn equal_jitter(ceiling: Duration) -> Duration {
    ceiling / 2 + (ceiling / 2).mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_max_attempts() {
        let policy = RetryPolicy::default().with_max_attempts(3);
        assert!(policy.next_delay(1, Duration::ZERO, None).is_some());
        assert!(policy.next_delay(2, Duration::ZERO, None).is_some());
        assert_eq!(policy.next_delay(3, Duration::ZERO, None), None);
        assert_eq!(
            RetryPolicy::never().next_delay(1, Duration::ZERO, None),
            None
        );
    }

    #[test]
    fn backoff_is_full_jitter_under_an_exponential_cap() {
        let policy = RetryPolicy::default()
            .with_backoff(Duration::from_millis(100), Duration::from_millis(350));
        for _ in 0..1_000 {
            assert!(policy.backoff(1) <= Duration::from_millis(100));
            assert!(policy.backoff(2) <= Duration::from_millis(200));
            assert!(policy.backoff(3) <= Duration::from_millis(350));
            assert!(policy.backoff(40) <= Duration::from_millis(350));
        }
        // Full jitter reaches well below half the ceiling.
        assert!((0..1_000).any(|_| policy.backoff(3) < Duration::from_millis(100)));
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let policy = RetryPolicy::default().with_max_retry_after(Duration::from_secs(10));
        let asked = Some(Duration::from_secs(7));
        assert_eq!(
            policy.next_delay(1, Duration::ZERO, asked),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            policy.next_delay(1, Duration::ZERO, Some(Duration::from_secs(11))),
            None
        );
    }

    #[test]
    fn total_time_is_bounded() {
        let policy = RetryPolicy::default().with_max_elapsed(Duration::from_secs(10));
        assert_eq!(
            policy.next_delay(1, Duration::from_secs(8), Some(Duration::from_secs(3))),
            None
        );
    }

    #[tokio::test]
    async fn the_loop_retries_transient_failures_within_the_policy() {
        let clock = crate::clock::SharedClock::system();
        let policy = RetryPolicy::default()
            .with_max_attempts(3)
            .with_backoff(Duration::ZERO, Duration::ZERO);
        let mut calls = 0;
        let result: Result<(), &str> = run(&policy, &clock, "test", |_| {
            calls += 1;
            async { Err(Failed::transient("busy", None)) }
        })
        .await;
        assert_eq!((result, calls), (Err("busy"), 3));

        let mut calls = 0;
        let result: Result<(), &str> = run(&policy, &clock, "test", |_| {
            calls += 1;
            async { Err(Failed::fatal("no")) }
        })
        .await;
        assert_eq!((result, calls), (Err("no"), 1));

        let result: Result<u32, &str> = run(&policy, &clock, "test", |n| async move {
            if n < 2 {
                Err(Failed::transient("once", None))
            } else {
                Ok(n)
            }
        })
        .await;
        assert_eq!(result, Ok(2));
    }

    #[test]
    fn equal_jitter_keeps_half() {
        for _ in 0..1_000 {
            let d = equal_jitter(Duration::from_secs(2));
            assert!(d >= Duration::from_secs(1) && d <= Duration::from_secs(2));
        }
    }
}
