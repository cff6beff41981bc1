//! Time: the [`Clock`] seam behind every expiry decision and every retry wait.
//!
//! The cache reads the clock on its hot path, so [`SystemClock`] is built to be cheap (a
//! coarse monotonic read, no calendar arithmetic) and immune to wall-clock jumps. Tests swap in
//! [`ManualClock`] (feature `test-util`) and move time explicitly.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A source of time, and of waiting.
///
/// Implement [`now`](Self::now); the other methods have defaults that are right for clocks
/// following real time. A clock that controls time itself (like [`ManualClock`]) overrides
/// [`sleep`](Self::sleep) too.
#[async_trait]
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// The current time as nanoseconds since the Unix epoch, saturating outside the years
    /// 1677 to 2262. The token cache's hot path compares deadlines in this unit; override it
    /// when it can be computed more cheaply than through [`now`](Self::now).
    fn now_unix_nanos(&self) -> i64 {
        unix_nanos(self.now())
    }

    /// Waits for `duration`: used between retries.
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Nanoseconds since the Unix epoch, saturating.
pub(crate) fn unix_nanos(at: DateTime<Utc>) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(if at.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// Converts a duration to nanoseconds, saturating.
pub(crate) fn duration_nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

/// The real clock, advancing monotonically.
///
/// It reads the wall clock once, when created, and from then on adds the time elapsed on the
/// monotonic clock. A wall-clock jump (NTP step, manual change) therefore neither expires nor
/// revives a token. On Linux it reads `CLOCK_MONOTONIC_COARSE` (a few nanoseconds, resolution
/// of one scheduler tick, 1 to 10 ms), which is far finer than any expiry decision needs.
///
/// The monotonic clock does not advance while the machine is suspended; after a resume a
/// token may look younger than it is. The server then answers 401 and the SDK's
/// compare-and-invalidate fetches a new one.
#[derive(Clone)]
pub struct SystemClock {
    anchor_unix_nanos: i64,
    anchor_monotonic: i64,
}

impl SystemClock {
    /// A clock anchored to the wall time now.
    pub fn new() -> Self {
        Self {
            anchor_unix_nanos: unix_nanos(Utc::now()),
            anchor_monotonic: monotonic::now_nanos(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SystemClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemClock")
            .field(
                "anchor",
                &DateTime::from_timestamp_nanos(self.anchor_unix_nanos),
            )
            .finish()
    }
}

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.now_unix_nanos())
    }

    fn now_unix_nanos(&self) -> i64 {
        let elapsed = monotonic::now_nanos().saturating_sub(self.anchor_monotonic);
        self.anchor_unix_nanos.saturating_add(elapsed)
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod monotonic {
    /// Nanoseconds on the coarse monotonic clock: a vDSO read, no system call.
    pub(super) fn now_nanos() -> i64 {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
        now.tv_sec
            .saturating_mul(1_000_000_000)
            .saturating_add(now.tv_nsec)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod monotonic {
    use std::sync::OnceLock;
    use std::time::Instant;

    /// Nanoseconds on `std`'s monotonic clock, from a process-wide origin.
    pub(super) fn now_nanos() -> i64 {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        let origin = ORIGIN.get_or_init(Instant::now);
        i64::try_from(origin.elapsed().as_nanos()).unwrap_or(i64::MAX)
    }
}

#[cfg(feature = "test-util")]
pub use manual::ManualClock;

#[cfg(feature = "test-util")]
mockall::mock! {
    /// A mockall mock of [`Clock`] (feature `test-util`). Only [`Clock::now`] is mocked; the
    /// other methods keep their defaults, so `sleep` really sleeps.
    pub Clock {}

    #[async_trait]
    impl Clock for Clock {
        fn now(&self) -> DateTime<Utc>;
    }
}

#[cfg(feature = "test-util")]
mod manual {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;
    use chrono::{DateTime, Utc};

    use super::{Clock, duration_nanos, unix_nanos};

    /// A clock that moves only when told to (feature `test-util`).
    ///
    /// Clones share the same time. [`sleep`](Clock::sleep) does not wait: it advances the clock
    /// by the duration, yields once, and adds the duration to [`slept`](Self::slept), so retry
    /// waits are instant and observable.
    #[derive(Clone, Debug, Default)]
    pub struct ManualClock {
        now: Arc<AtomicI64>,
        slept: Arc<AtomicI64>,
    }

    impl ManualClock {
        /// A clock standing at `start`.
        pub fn new(start: DateTime<Utc>) -> Self {
            Self {
                now: Arc::new(AtomicI64::new(unix_nanos(start))),
                slept: Arc::default(),
            }
        }

        /// A clock standing at 2025-01-01T00:00:00Z, so snapshots are reproducible.
        pub fn at_epoch_2025() -> Self {
            Self::new(DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default())
        }

        /// Moves the clock forward.
        pub fn advance(&self, by: Duration) {
            self.now.fetch_add(duration_nanos(by), Ordering::SeqCst);
        }

        /// Sets the clock to `at` (backwards too, to test that nothing relies on it).
        pub fn set(&self, at: DateTime<Utc>) {
            self.now.store(unix_nanos(at), Ordering::SeqCst);
        }

        /// The total duration passed to [`sleep`](Clock::sleep) so far.
        pub fn slept(&self) -> Duration {
            Duration::from_nanos(u64::try_from(self.slept.load(Ordering::SeqCst)).unwrap_or(0))
        }
    }

    #[async_trait]
    impl Clock for ManualClock {
        fn now(&self) -> DateTime<Utc> {
            DateTime::from_timestamp_nanos(self.now_unix_nanos())
        }

        fn now_unix_nanos(&self) -> i64 {
            self.now.load(Ordering::SeqCst)
        }

        async fn sleep(&self, duration: Duration) {
            self.slept
                .fetch_add(duration_nanos(duration), Ordering::SeqCst);
            self.advance(duration);
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_tracks_wall_time_and_never_goes_back() {
        let clock = SystemClock::new();
        let wall = Utc::now();
        let drift = (clock.now() - wall).num_milliseconds().abs();
        assert!(drift < 1_000, "drift {drift} ms");
        let mut last = clock.now_unix_nanos();
        for _ in 0..10_000 {
            let now = clock.now_unix_nanos();
            assert!(now >= last);
            last = now;
        }
    }

    #[test]
    fn now_and_nanos_agree() {
        let clock = SystemClock::new();
        let a = clock.now_unix_nanos();
        let b = unix_nanos(clock.now());
        let c = clock.now_unix_nanos();
        assert!(a <= b && b <= c);
    }

    #[test]
    fn nanos_saturate_far_from_the_epoch() {
        let far = DateTime::from_timestamp(20_000_000_000, 0).unwrap();
        assert_eq!(unix_nanos(far), i64::MAX);
        let before = DateTime::from_timestamp(-20_000_000_000, 0).unwrap();
        assert_eq!(unix_nanos(before), i64::MIN);
    }
}
