//! The cache's counters: read with [`TokenCache::metrics`](super::TokenCache::metrics), and,
//! with the `metrics` feature, published through the `metrics` facade so that a service's
//! exporter (Prometheus or any other) picks them up with no glue.
//!
//! Published names (all counters, labelled `cache` with the cache's name):
//!
//! | name | what |
//! |---|---|
//! | `auth_token_cache_fetches_total` | fetches started (background refreshes included) |
//! | `auth_token_cache_hits_total` | tokens served without waiting (published in batches of 1,024 per thread slot, and in full at every slow-path call) |
//! | `auth_token_cache_refreshes_ahead_total` | background refreshes started |
//! | `auth_token_cache_invalidations_total` | invalidations that dropped the cached token |
//! | `auth_token_cache_failures_total` | fetches that failed |
//! | `auth_token_cache_refresh_failures_total` | background refreshes that failed |
//! | `auth_token_cache_waits_total` | callers that waited for a fetch |
//! | `auth_token_cache_abandoned_total` | fetches abandoned because their runtime stopped or never ran them |
//!
//! and one histogram, `auth_token_cache_wait_seconds` (same label): how long each waiting
//! caller waited.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counters of what the cache did, since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheMetrics {
    /// Calls to the token source (fetches started), background refreshes included.
    pub fetches: u64,
    /// Tokens served without waiting for a fetch.
    pub hits: u64,
    /// Background refreshes started in the refresh-ahead window.
    pub refreshes_ahead: u64,
    /// Invalidations that dropped the cached token (reports about an already replaced token
    /// are not counted).
    pub invalidations: u64,
    /// Fetches that failed (background refreshes included).
    pub failures: u64,
    /// Background refreshes that failed (while the cached token was still served).
    pub refresh_failures: u64,
    /// Callers that waited for a fetch (each call counted once, however long it waited).
    pub waits: u64,
    /// The time those callers waited, in all, on the cache's clock.
    pub wait_time: Duration,
    /// Fetches abandoned without a result because their task's runtime shut down or never ran
    /// it (their waiters started a new one; not failures).
    pub abandoned: u64,
}

/// One counter: an atomic, and with the `metrics` feature its published twin.
struct Counter {
    value: AtomicU64,
    #[cfg(feature = "metrics")]
    published: metrics::Counter,
}

impl Counter {
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    fn new(name: &'static str, label: &str) -> Self {
        Self {
            value: AtomicU64::new(0),
            #[cfg(feature = "metrics")]
            published: metrics::counter!(name, "cache" => label.to_owned()),
        }
    }

    fn add(&self, n: u64) {
        self.value.fetch_add(n, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        self.published.increment(n);
    }

    fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

/// Every counter but hits, which live in the read path's slots.
pub(super) struct Counters {
    fetches: Counter,
    refreshes_ahead: Counter,
    invalidations: Counter,
    failures: Counter,
    refresh_failures: Counter,
    waits: Counter,
    /// Nanoseconds.
    wait_time: AtomicU64,
    #[cfg(feature = "metrics")]
    wait_seconds: metrics::Histogram,
    abandoned: Counter,
    #[cfg(feature = "metrics")]
    hits: HitsPublisher,
}

impl Counters {
    pub(super) fn new(label: &str) -> Self {
        Self {
            fetches: Counter::new("auth_token_cache_fetches_total", label),
            refreshes_ahead: Counter::new("auth_token_cache_refreshes_ahead_total", label),
            invalidations: Counter::new("auth_token_cache_invalidations_total", label),
            failures: Counter::new("auth_token_cache_failures_total", label),
            refresh_failures: Counter::new("auth_token_cache_refresh_failures_total", label),
            waits: Counter::new("auth_token_cache_waits_total", label),
            wait_time: AtomicU64::new(0),
            #[cfg(feature = "metrics")]
            wait_seconds: metrics::histogram!(
                "auth_token_cache_wait_seconds",
                "cache" => label.to_owned()
            ),
            abandoned: Counter::new("auth_token_cache_abandoned_total", label),
            #[cfg(feature = "metrics")]
            hits: HitsPublisher::new(label),
        }
    }

    pub(super) fn fetch(&self, background: bool) {
        self.fetches.add(1);
        if background {
            self.refreshes_ahead.add(1);
        }
    }

    pub(super) fn invalidation(&self) {
        self.invalidations.add(1);
    }

    pub(super) fn failure(&self, background: bool) {
        // The narrower counter first: a reader that sees the failure sees its kind too.
        if background {
            self.refresh_failures.add(1);
        }
        self.failures.add(1);
    }

    pub(super) fn wait(&self) {
        self.waits.add(1);
    }

    pub(super) fn waited(&self, time: Duration) {
        let nanos = u64::try_from(time.as_nanos()).unwrap_or(u64::MAX);
        self.wait_time.fetch_add(nanos, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        self.wait_seconds.record(time.as_secs_f64());
    }

    pub(super) fn abandoned(&self) {
        self.abandoned.add(1);
    }

    /// Publishes hits counted by the read path: `total` is the sum over every slot.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    #[inline]
    pub(super) fn publish_hits(&self, total: u64) {
        #[cfg(feature = "metrics")]
        self.hits.publish(total);
    }

    pub(super) fn snapshot(&self, hits: u64) -> CacheMetrics {
        CacheMetrics {
            fetches: self.fetches.get(),
            hits,
            refreshes_ahead: self.refreshes_ahead.get(),
            invalidations: self.invalidations.get(),
            failures: self.failures.get(),
            refresh_failures: self.refresh_failures.get(),
            waits: self.waits.get(),
            wait_time: Duration::from_nanos(self.wait_time.load(Ordering::Relaxed)),
            abandoned: self.abandoned.get(),
        }
    }
}

/// Publishes the hit count by differences, so that the hot path never touches the facade:
/// every publication adds what no earlier one added.
#[cfg(feature = "metrics")]
struct HitsPublisher {
    published: AtomicU64,
    hits: metrics::Counter,
}

#[cfg(feature = "metrics")]
impl HitsPublisher {
    fn new(label: &str) -> Self {
        Self {
            published: AtomicU64::new(0),
            hits: metrics::counter!("auth_token_cache_hits_total", "cache" => label.to_owned()),
        }
    }

    fn publish(&self, total: u64) {
        let before = self.published.fetch_max(total, Ordering::Relaxed);
        if total > before {
            self.hits.increment(total - before);
        }
    }
}
