//! When a cached token is refreshed: the one scheduling rule, as a pure function of the
//! token's lifetime, the settings and the measured fetch latency.
//!
//! With `L` the token's lifetime (from `obtained_at` to `expires_at`, or the default lifetime),
//! `M` the safety margin and `W` the refresh-ahead window:
//!
//! ```text
//!  obtained_at                 refresh_at     must_refresh_at   expires_at
//!      |---------- fresh -----------|--- ahead ---|---- margin ----|
//!                            [ W, jittered to W/2..W ]     M
//!
//!  M = min(safety margin, L / 10)
//!  W = max(refresh-ahead fraction × L, 6 × slowest recent fetch)
//!  refresh_at = must_refresh_at − W × (1 − jitter × u),  u uniform in [0, 1)
//!             (never before the middle of obtained_at..must_refresh_at)
//! ```
//!
//! - **fresh**: served from the read path.
//! - **ahead** (`refresh_at..must_refresh_at`): still served at once; the first caller starts
//!   one background fetch.
//! - **margin** (`must_refresh_at..`), and expired: callers wait for the single flight.
//!
//! The margin scales with short tokens (a 2 s token keeps 200 ms, a 10 h token 60 s), and the
//! window always lies before the margin and is at least six times the slowest recent fetch, so
//! with the default jitter a background refresh starts at least three fetch times before anyone
//! would have to wait: tokens of 2 s and of 10 h alike are refreshed without any caller waiting.

use chrono::{DateTime, Utc};

use crate::clock::{duration_nanos, unix_nanos};
use crate::token::AccessToken;

use super::CacheConfig;

/// The margin is at most this fraction of the lifetime.
const MARGIN_FRACTION: i64 = 10;
/// The window is at least this many times the slowest recent fetch.
const LATENCY_FACTOR: i64 = 6;
/// How many recent fetch durations the latency estimate remembers.
const LATENCY_SAMPLES: usize = 8;

/// The deadlines of one cached token, in Unix nanoseconds of the cache's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Deadlines {
    pub(crate) refresh_at: i64,
    pub(crate) must_refresh_at: i64,
    pub(crate) expires_at: i64,
}

/// The scheduling rule's inputs: the cache's settings and its latency estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Schedule {
    refresh_ahead: f64,
    refresh_jitter: f64,
    safety_margin: i64,
    default_lifetime: i64,
    latency: i64,
}

impl Default for Schedule {
    fn default() -> Self {
        Self::new(&CacheConfig::default(), 0)
    }
}

impl Schedule {
    pub(crate) fn new(config: &CacheConfig, latency: i64) -> Self {
        Self {
            refresh_ahead: config.refresh_ahead,
            refresh_jitter: config.refresh_jitter,
            safety_margin: duration_nanos(config.safety_margin),
            default_lifetime: duration_nanos(config.default_lifetime),
            latency: latency.max(0),
        }
    }

    /// The deadlines of a token obtained at `obtained_at` and expiring at `expires_at` (the
    /// default lifetime if `None`), with `u` in `[0, 1)` choosing the jitter.
    pub(crate) fn deadlines(&self, obtained_at: i64, expires_at: Option<i64>, u: f64) -> Deadlines {
        let expires_at =
            expires_at.unwrap_or_else(|| obtained_at.saturating_add(self.default_lifetime));
        let lifetime = expires_at.saturating_sub(obtained_at).max(0);
        let margin = self.safety_margin.min(lifetime / MARGIN_FRACTION);
        let must_refresh_at = expires_at.saturating_sub(margin);
        if self.refresh_ahead <= 0.0 {
            return Deadlines {
                refresh_at: must_refresh_at,
                must_refresh_at,
                expires_at,
            };
        }
        let window = (lifetime as f64 * self.refresh_ahead)
            .max(self.latency.saturating_mul(LATENCY_FACTOR) as f64);
        let lead = window * (1.0 - self.refresh_jitter * u.clamp(0.0, 1.0));
        let usable = must_refresh_at.saturating_sub(obtained_at).max(0);
        let earliest = obtained_at.saturating_add(usable / 2);
        let refresh_at = must_refresh_at
            .saturating_sub(lead as i64)
            .max(earliest)
            .min(must_refresh_at);
        Deadlines {
            refresh_at,
            must_refresh_at,
            expires_at,
        }
    }

    /// `token`'s expiry, or the default lifetime after it was obtained.
    pub(crate) fn expires_at(&self, token: &AccessToken) -> DateTime<Utc> {
        token.expires_at().unwrap_or_else(|| {
            token
                .obtained_at()
                .checked_add_signed(chrono::TimeDelta::nanoseconds(self.default_lifetime))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        })
    }

    /// Whether a cache with this schedule would serve `token` at `now` without starting a
    /// refresh: `now` is before the token's earliest possible refresh point.
    pub(crate) fn is_fresh(&self, token: &AccessToken, now: DateTime<Utc>) -> bool {
        let deadlines = self.deadlines(
            unix_nanos(token.obtained_at()),
            token.expires_at().map(unix_nanos),
            0.0,
        );
        unix_nanos(now) < deadlines.refresh_at
    }
}

/// The slowest of the last few fetch durations.
#[derive(Clone, Debug, Default)]
pub(crate) struct Latency {
    samples: [i64; LATENCY_SAMPLES],
    next: usize,
}

impl Latency {
    pub(crate) fn record(&mut self, nanos: i64) {
        self.samples[self.next % LATENCY_SAMPLES] = nanos.max(0);
        self.next = self.next.wrapping_add(1);
    }

    pub(crate) fn slowest(&self) -> i64 {
        self.samples.iter().copied().max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const S: i64 = 1_000_000_000;
    const MS: i64 = 1_000_000;

    fn schedule(latency: i64) -> Schedule {
        Schedule::new(&CacheConfig::default(), latency)
    }

    #[test]
    fn every_lifetime_gets_a_window_before_its_margin() {
        for lifetime in [2 * S, 60 * S, 300 * S, 1800 * S, 36_000 * S] {
            for u in [0.0, 0.5, 0.999_999] {
                let d = schedule(50 * MS).deadlines(0, Some(lifetime), u);
                let margin = d.expires_at - d.must_refresh_at;
                assert_eq!(margin, (60 * S).min(lifetime / 10), "L={lifetime}");
                assert!(d.refresh_at < d.must_refresh_at, "L={lifetime} u={u}");
                // The background fetch starts at least three fetch times before the margin.
                assert!(
                    d.must_refresh_at - d.refresh_at >= 3 * 50 * MS,
                    "L={lifetime} u={u}: {d:?}"
                );
            }
        }
    }

    #[test]
    fn defaults_for_a_keycloak_token() {
        // 300 s: margin 30 s, window 60 s, so the refresh starts between 210 s and 240 s.
        let early = schedule(0).deadlines(0, Some(300 * S), 0.0);
        let late = schedule(0).deadlines(0, Some(300 * S), 0.999_999_999);
        assert_eq!(early.must_refresh_at, 270 * S);
        assert_eq!(early.refresh_at, 210 * S);
        assert!((late.refresh_at - 240 * S).abs() < MS);
    }

    #[test]
    fn a_slow_endpoint_widens_the_window_but_never_before_mid_life() {
        let d = schedule(S).deadlines(0, Some(2 * S), 0.5);
        assert_eq!(d.must_refresh_at, 1_800 * MS);
        assert_eq!(d.refresh_at, 900 * MS);
    }

    #[test]
    fn no_refresh_ahead_means_refresh_at_the_margin() {
        let config = CacheConfig {
            refresh_ahead: 0.0,
            ..CacheConfig::default()
        };
        let d = Schedule::new(&config, 0).deadlines(0, Some(1000 * S), 0.3);
        assert_eq!(d.refresh_at, d.must_refresh_at);
    }

    #[test]
    fn freshness_uses_the_earliest_refresh_point() {
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        let token = AccessToken::bearer("t", at(0))
            .unwrap()
            .with_expires_at(at(1000));
        // Margin 60 s, window 200 s: the earliest refresh point is 740 s.
        assert!(schedule(0).is_fresh(&token, at(739)));
        assert!(!schedule(0).is_fresh(&token, at(740)));
        let _ = Duration::ZERO;
    }

    #[test]
    fn latency_remembers_the_slowest_recent_fetch() {
        let mut latency = Latency::default();
        latency.record(5);
        latency.record(50);
        latency.record(7);
        assert_eq!(latency.slowest(), 50);
        for _ in 0..LATENCY_SAMPLES {
            latency.record(1);
        }
        assert_eq!(latency.slowest(), 1);
    }
}
