//! Time: the [`Clock`] seam behind every expiry decision and every retry wait, and
//! [`SharedClock`], the one handle every part of the workspace holds.
//!
//! The cache reads the clock on its hot path, so [`SystemClock`] is built to be cheap (a
//! coarse monotonic read, no calendar arithmetic) and immune to wall-clock jumps. Tests swap in
//! [`ManualClock`] (feature `test-util`) and move time explicitly.
//!
//! This is the only module that reads the operating system's clocks (`clippy.toml` forbids
//! `Utc::now`, `SystemTime::now` and `Instant::now` everywhere else).

use std::any::Any;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A source of time, and of waiting.
///
/// Implement [`now`](Self::now); the other methods have defaults that are right for clocks
/// following real time. A clock that controls time itself (like [`ManualClock`]) overrides
/// [`sleep`](Self::sleep) too, with a plain `async fn`:
///
/// ```
/// use std::time::Duration;
/// use auth_core::Clock;
/// use chrono::{DateTime, Utc};
///
/// struct Frozen(DateTime<Utc>);
///
/// impl Clock for Frozen {
///     fn now(&self) -> DateTime<Utc> {
///         self.0
///     }
///
///     async fn sleep(&self, _duration: Duration) {
///         // Time never moves: waiting is instant.
///     }
/// }
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// The current time as nanoseconds since the Unix epoch, saturating outside the years
    /// 1677 to 2262. The token cache's hot path compares deadlines in this unit; override it
    /// when it can be computed more cheaply than through [`now`](Self::now).
    fn now_unix_nanos(&self) -> i64 {
        unix_nanos(self.now())
    }

    /// Waits for `duration`: used between retries. The default waits on Tokio's timer.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
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

/// Converts nanoseconds to a duration; negative values become zero.
pub(crate) fn nanos_duration(nanos: i64) -> Duration {
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
}

/// The real clock, advancing monotonically.
///
/// Every `SystemClock` in a process reads the same anchor: the wall clock, read once when the
/// first one is used, plus the time elapsed since on the monotonic clock. A wall-clock jump (NTP
/// step, manual change) therefore neither expires nor revives a token, and two parts of a
/// program that each made their own `SystemClock` still agree to the nanosecond. On Linux it
/// reads `CLOCK_MONOTONIC_COARSE` (a few nanoseconds, resolution of one scheduler tick, 1 to
/// 10 ms), which is far finer than any expiry decision needs.
///
/// The monotonic clock does not advance while the machine is suspended; after a resume a
/// token may look younger than it is. The server then answers 401 and the SDK's
/// compare-and-invalidate fetches a new one.
#[derive(Clone, Copy, Default)]
pub struct SystemClock {
    _private: (),
}

/// The process-wide anchor of every [`SystemClock`].
struct Anchor {
    unix_nanos: i64,
    monotonic: i64,
}

fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| Anchor {
        #[allow(clippy::disallowed_methods)] // The one place the wall clock is read.
        unix_nanos: unix_nanos(Utc::now()),
        monotonic: monotonic::now_nanos(),
    })
}

impl SystemClock {
    /// The system clock (every instance reads the same process-wide anchor).
    pub fn new() -> Self {
        Self::default()
    }
}

impl fmt::Debug for SystemClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemClock")
            .field(
                "anchor",
                &DateTime::from_timestamp_nanos(anchor().unix_nanos),
            )
            .finish()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.now_unix_nanos())
    }

    #[inline]
    fn now_unix_nanos(&self) -> i64 {
        let anchor = anchor();
        let elapsed = monotonic::now_nanos().saturating_sub(anchor.monotonic);
        anchor.unix_nanos.saturating_add(elapsed)
    }
}

/// Real elapsed time for deadlines that must hold whatever clock a cache is given (the fetch
/// watchdog): `std`'s monotonic clock.
pub(crate) fn real_instant() -> std::time::Instant {
    #[allow(clippy::disallowed_methods)] // Deadlines of real I/O follow real time.
    std::time::Instant::now()
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod monotonic {
    /// Nanoseconds on the coarse monotonic clock: a vDSO read, no system call.
    #[inline]
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
        #[allow(clippy::disallowed_methods)] // The monotonic clock behind `SystemClock`.
        let origin = ORIGIN.get_or_init(Instant::now);
        i64::try_from(origin.elapsed().as_nanos()).unwrap_or(i64::MAX)
    }
}

/// The dyn-compatible twin of [`Clock`], implemented for every clock.
trait DynClock: Send + Sync + 'static {
    fn dyn_now(&self) -> DateTime<Utc>;
    fn dyn_now_unix_nanos(&self) -> i64;
    fn dyn_sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
    fn as_any(&self) -> &dyn Any;
}

impl<C: Clock> DynClock for C {
    fn dyn_now(&self) -> DateTime<Utc> {
        self.now()
    }

    fn dyn_now_unix_nanos(&self) -> i64 {
        self.now_unix_nanos()
    }

    fn dyn_sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.sleep(duration))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A cheap-to-clone handle to any [`Clock`]: what the cache, the exchange and the SDK hold, so
/// that one clock decides everything.
///
/// [`SharedClock::default`] is the [`SystemClock`]; every component built without an explicit
/// clock uses it, so default-built parts of a program always agree on the time.
#[derive(Clone)]
pub struct SharedClock(Arc<dyn DynClock>);

impl SharedClock {
    /// Wraps `clock` (a `SharedClock` is taken as it is, not wrapped again).
    pub fn new(clock: impl Clock) -> Self {
        if let Some(shared) = (&clock as &dyn Any).downcast_ref::<SharedClock>() {
            return shared.clone();
        }
        Self(Arc::new(clock))
    }

    /// The system clock, shared.
    pub fn system() -> Self {
        static SYSTEM: OnceLock<SharedClock> = OnceLock::new();
        SYSTEM
            .get_or_init(|| Self(Arc::new(SystemClock::new())))
            .clone()
    }

    /// The clock inside, if it is a `C`.
    pub fn downcast_ref<C: Clock>(&self) -> Option<&C> {
        self.0.as_any().downcast_ref()
    }
}

impl Default for SharedClock {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedClock")
            .field(&self.0.dyn_now())
            .finish()
    }
}

impl Clock for SharedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.dyn_now()
    }

    #[inline]
    fn now_unix_nanos(&self) -> i64 {
        self.0.dyn_now_unix_nanos()
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        self.0.dyn_sleep(duration)
    }
}

#[cfg(feature = "test-util")]
pub use manual::ManualClock;

#[cfg(feature = "test-util")]
mockall::mock! {
    /// A mockall mock of [`Clock`] (feature `test-util`). Only [`Clock::now`] is mocked; the
    /// other methods keep their defaults, so `sleep` really sleeps.
    pub Clock {}

    impl Clock for Clock {
        fn now(&self) -> DateTime<Utc>;
    }
}

#[cfg(feature = "test-util")]
mod manual {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::time::Duration;

    use chrono::{DateTime, Utc};

    use super::{Clock, duration_nanos, nanos_duration, unix_nanos};

    /// A clock that moves only when told to (feature `test-util`).
    ///
    /// Clones share the same time. [`sleep`](Clock::sleep) does not wait: it advances the clock
    /// by the duration, yields once, and adds the duration to [`slept`](Self::slept), so retry
    /// waits are instant and observable. Moving it saturates at the ends of the range a
    /// [`Clock`] can express (years 1677 to 2262) instead of wrapping.
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

        /// Moves the clock forward, saturating.
        pub fn advance(&self, by: Duration) {
            let by = duration_nanos(by);
            // `fetch_update` with a closure that always returns `Some` cannot fail.
            let _ = self
                .now
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                    Some(now.saturating_add(by))
                });
        }

        /// Moves the clock backwards, saturating (to test that nothing relies on it).
        pub fn rewind(&self, by: Duration) {
            let by = duration_nanos(by);
            let _ = self
                .now
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                    Some(now.saturating_sub(by))
                });
        }

        /// Sets the clock to `at` (backwards too, to test that nothing relies on it).
        pub fn set(&self, at: DateTime<Utc>) {
            self.now.store(unix_nanos(at), Ordering::SeqCst);
        }

        /// The total duration passed to [`sleep`](Clock::sleep) so far.
        pub fn slept(&self) -> Duration {
            nanos_duration(self.slept.load(Ordering::SeqCst))
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> DateTime<Utc> {
            DateTime::from_timestamp_nanos(self.now_unix_nanos())
        }

        fn now_unix_nanos(&self) -> i64 {
            self.now.load(Ordering::SeqCst)
        }

        async fn sleep(&self, duration: Duration) {
            let nanos = duration_nanos(duration);
            let _ = self
                .slept
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |slept| {
                    Some(slept.saturating_add(nanos))
                });
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
        #[allow(clippy::disallowed_methods)]
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
    fn every_system_clock_agrees() {
        let a = SystemClock::new();
        let b = SystemClock::new();
        let (x, y, z) = (a.now_unix_nanos(), b.now_unix_nanos(), a.now_unix_nanos());
        assert!(x <= y && y <= z);
        assert!(SharedClock::default().now_unix_nanos() >= x);
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

    #[test]
    fn a_shared_clock_is_not_wrapped_twice() {
        let shared = SharedClock::new(SystemClock::new());
        let again = SharedClock::new(shared.clone());
        assert!(Arc::ptr_eq(&shared.0, &again.0));
        assert!(again.downcast_ref::<SystemClock>().is_some());
    }

    #[cfg(feature = "test-util")]
    #[test]
    fn the_manual_clock_saturates() {
        let clock = ManualClock::at_epoch_2025();
        clock.advance(Duration::MAX);
        assert_eq!(clock.now_unix_nanos(), i64::MAX);
        clock.set(DateTime::from_timestamp(0, 0).unwrap());
        clock.rewind(Duration::MAX);
        clock.rewind(Duration::MAX);
        assert_eq!(clock.now_unix_nanos(), i64::MIN);
    }
}
