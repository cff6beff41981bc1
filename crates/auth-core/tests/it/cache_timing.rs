//! When the cache fetches: refresh ahead for every lifetime (no caller waits in steady state),
//! probing a failing endpoint, `Retry-After`, clocks that go backwards, tokens expired on
//! arrival. Under `tokio::time::pause` with a clock that follows Tokio's, hours of traffic run
//! in milliseconds and deterministically.

use std::time::Duration;

use auth_core::{AccessToken, AuthError, Clock, ManualClock, TokenCache};
use chrono::TimeDelta;

use crate::support::{CountingSource, TokioClock, unavailable};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Tasks calling `token()` on a steady beat for `lifetimes` token lifetimes, with a source
/// that takes 50 ms per fetch, on the default settings.
async fn steady_traffic(lifetime: Duration, lifetimes: u32) -> (auth_core::CacheMetrics, usize) {
    let clock = TokioClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(lifetime));
    source.set_latency(Duration::from_millis(50));
    let cache = TokenCache::builder(source.clone()).clock(clock).build();
    cache.token().await.unwrap();
    let beat = lifetime / 400;
    let end = tokio::time::Instant::now() + lifetime * lifetimes;
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move {
                while tokio::time::Instant::now() < end {
                    cache.token().await.unwrap();
                    tokio::time::sleep(beat).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (cache.metrics(), source.calls())
}

#[tokio::test(start_paused = true)]
async fn no_caller_waits_at_a_refresh_for_any_lifetime() {
    for lifetime in [2, 60, 300, 1800, 36_000].map(secs) {
        let (metrics, calls) = steady_traffic(lifetime, 4).await;
        // Only the first, cold call waited; every later token came from a background refresh.
        assert_eq!(metrics.waits, 1, "lifetime {lifetime:?}: {metrics:?}");
        assert!(
            metrics.refreshes_ahead >= 4,
            "lifetime {lifetime:?}: {metrics:?}"
        );
        assert_eq!(
            calls as u64,
            metrics.refreshes_ahead + 1,
            "lifetime {lifetime:?}: one fetch per lifetime, all of them ahead"
        );
        assert_eq!(metrics.failures, 0);
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_endpoint_is_probed_once_per_interval_and_recovery_is_quick() {
    let clock = TokioClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(3600)));
    for _ in 0..5 {
        source.fail_next(unavailable());
    }
    let cache = TokenCache::builder(source.clone())
        .clock(clock.clone())
        .build();
    // Callers every 10 ms through a five-probe outage.
    let started = clock.now_unix_nanos();
    let mut first_token_at = None;
    for _ in 0..1_000 {
        if cache.token().await.is_ok() {
            first_token_at = Some(clock.now_unix_nanos() - started);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Five failed probes one second apart, then the sixth succeeds: no more requests than
    // one per interval, and the token comes at the first probe after recovery.
    assert_eq!(source.calls(), 6);
    let at = Duration::from_nanos(first_token_at.unwrap() as u64);
    assert!(
        at >= secs(5) && at < secs(5) + Duration::from_millis(20),
        "{at:?}"
    );
    assert_eq!(cache.metrics().failures, 5);
}

#[tokio::test]
async fn retry_after_from_the_token_endpoint_is_honoured_up_to_the_cap() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(3600)));
    let cache = TokenCache::builder(source.clone())
        .clock(clock.clone())
        .failure_backoff(secs(1), secs(30))
        .build();
    let asked = |s| {
        AuthError::unexpected_status(reqwest::StatusCode::TOO_MANY_REQUESTS)
            .with_retry_after(Some(secs(s)))
    };
    source.fail_next(asked(5));
    cache.token().await.unwrap_err();
    clock.advance(secs(4));
    cache.token().await.unwrap_err();
    assert_eq!(source.calls(), 1);
    // A Retry-After beyond the cap waits the cap.
    source.fail_next(asked(3600));
    clock.advance(secs(1));
    cache.token().await.unwrap_err();
    assert_eq!(source.calls(), 2);
    clock.advance(secs(29));
    cache.token().await.unwrap_err();
    assert_eq!(source.calls(), 2);
    clock.advance(secs(1));
    assert!(cache.token().await.is_ok());
}

#[tokio::test]
async fn a_clock_set_back_never_extends_a_backoff() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(3600)));
    source.fail_next(unavailable());
    let cache = TokenCache::builder(source.clone())
        .clock(clock.clone())
        .build();
    cache.token().await.unwrap_err();
    clock.rewind(secs(3600));
    // Not refused for an hour: the backoff began after "now", so it is over.
    assert!(cache.token().await.is_ok());
    assert_eq!(source.calls(), 2);
}

#[tokio::test]
async fn a_token_expired_on_arrival_is_never_served() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(3600)));
    let now = clock.now();
    source.return_next(
        AccessToken::bearer("stale", now - TimeDelta::seconds(10))
            .unwrap()
            .with_expires_at(now - TimeDelta::seconds(1)),
    );
    let cache = TokenCache::builder(source.clone())
        .clock(clock.clone())
        .failure_backoff(secs(1), secs(60))
        .build();
    for _ in 0..100 {
        let error = cache.token().await.unwrap_err();
        assert!(
            matches!(error, AuthError::ExpiredOnArrival { expired_for, .. } if expired_for == secs(1)),
            "{error:?}"
        );
    }
    // One fetch, backed off like any failure that retrying soon cannot fix.
    assert_eq!(source.calls(), 1);
    clock.advance(secs(60));
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-2");
}

#[tokio::test]
async fn a_token_with_no_lifetime_is_expired_on_arrival() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), None);
    let now = clock.now();
    source.return_next(
        AccessToken::bearer("zero", now)
            .unwrap()
            .with_expires_at(now),
    );
    let cache = TokenCache::builder(source).clock(clock).build();
    assert!(matches!(
        cache.token().await.unwrap_err(),
        AuthError::ExpiredOnArrival { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn waits_and_wait_time_are_counted() {
    let clock = TokioClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(3600)));
    source.set_latency(Duration::from_millis(50));
    let cache = TokenCache::builder(source).clock(clock).build();
    let callers: Vec<_> = (0..3)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.token().await })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap().unwrap();
    }
    cache.token().await.unwrap();
    let metrics = cache.metrics();
    assert_eq!(metrics.waits, 3);
    assert_eq!(metrics.wait_time, Duration::from_millis(150));
    assert_eq!(metrics.hits, 1);
}
