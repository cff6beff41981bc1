//! The token cache: single flight, cancellation, the three token states, compare-and-
//! invalidate, failures, default lifetime, the erased handle. Time comes from a manual clock;
//! waits are on conditions with a deadline, never on a number of yields.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use auth_core::{
    AccessToken, AuthError, ConfigError, ManualClock, MockClock, MockTokenSource,
    SharedTokenProvider, TokenCache, TokenSource,
};
use chrono::{DateTime, TimeDelta, Utc};

use crate::support::{CountingSource, DEADLINE, eventually, unavailable, wait_until};

const HOUR: Duration = Duration::from_secs(3600);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A cache with deterministic deadlines: no jitter, and no refresh ahead unless asked.
fn cache(
    clock: &ManualClock,
    source: &CountingSource,
    refresh_ahead: f64,
) -> TokenCache<CountingSource> {
    TokenCache::builder(source.clone())
        .clock(clock.clone())
        .refresh_ahead(refresh_ahead)
        .refresh_jitter(0.0)
        .failure_backoff(secs(1), secs(8))
        .build()
}

#[tokio::test]
async fn a_fresh_token_is_served_from_the_cache() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(HOUR));
    let cache = cache(&clock, &source, 0.2);
    let first = cache.token().await.unwrap();
    for _ in 0..100 {
        let again = cache.token().await.unwrap();
        assert!(again.is(&first));
        assert_eq!(again.generation(), 1);
    }
    assert_eq!(source.calls(), 1);
    let metrics = cache.metrics();
    assert_eq!((metrics.fetches, metrics.hits, metrics.waits), (1, 100, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_cold_callers_cause_exactly_one_fetch() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(HOUR));
    let cache = cache(&clock, &source, 0.2);
    source.hold();
    let callers: Vec<_> = (0..10_000)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.token().await })
        })
        .collect();
    // Every caller is waiting for the one held fetch.
    wait_until(DEADLINE, || cache.metrics().waits == 10_000).await;
    assert_eq!(source.calls(), 1);
    source.release();
    for caller in callers {
        let token = caller.await.unwrap().unwrap();
        assert_eq!(token.expose_secret(), "token-1");
    }
    assert_eq!(source.calls(), 1);
    assert_eq!(cache.metrics().fetches, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_first_caller_neither_cancels_the_fetch_nor_wedges_the_cache() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(HOUR));
    let cache = cache(&clock, &source, 0.2);
    source.hold();
    let first = tokio::spawn({
        let cache = cache.clone();
        async move { cache.token().await }
    });
    source.wait_for_calls(1, DEADLINE).await;
    let others: Vec<_> = (0..10)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.token().await })
        })
        .collect();
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    source.release();
    for other in others {
        assert_eq!(other.await.unwrap().unwrap().expose_secret(), "token-1");
    }
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-1");
    assert_eq!(source.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_whose_callers_all_left_still_fills_the_cache() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(HOUR));
    let cache = cache(&clock, &source, 0.2);
    source.hold();
    let caller = tokio::spawn({
        let cache = cache.clone();
        async move { cache.token().await }
    });
    source.wait_for_calls(1, DEADLINE).await;
    caller.abort();
    assert!(caller.await.unwrap_err().is_cancelled());
    source.release();
    // The fetch finishes on its own: the next caller joins it or is served from the cache.
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-1");
    assert_eq!(source.calls(), 1);
}

#[tokio::test]
async fn expiry_and_safety_margin_boundaries() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(1000)));
    let cache = cache(&clock, &source, 0.0);
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-1");

    // The safety margin is 60 s: the token is served until 940 s, not at 940 s.
    clock.advance(secs(940) - Duration::from_nanos(1));
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-1");
    assert_eq!(source.calls(), 1);
    clock.advance(Duration::from_nanos(1));
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-2");
    assert_eq!(source.calls(), 2);
}

#[tokio::test]
async fn the_margin_scales_down_to_a_tenth_of_short_lifetimes() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(100)));
    let cache = cache(&clock, &source, 0.0);
    cache.token().await.unwrap();
    clock.advance(secs(89));
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-1");
    clock.advance(secs(1));
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-2");
}

#[tokio::test]
async fn an_expired_token_is_never_served() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(1000)));
    let cache = cache(&clock, &source, 0.2);
    cache.token().await.unwrap();
    clock.advance(secs(5000));
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-2");
    assert_eq!(cache.metrics().refreshes_ahead, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ahead_serves_the_old_token_while_one_background_fetch_runs() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(1000)));
    // Margin 60 s, window 200 s before it: refresh ahead from 740 s, must refresh from 940 s.
    let cache = cache(&clock, &source, 0.2);
    cache.token().await.unwrap();
    clock.advance(secs(739));
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-1");
    assert_eq!(source.calls(), 1);

    clock.advance(secs(51));
    source.hold();
    // Every caller gets the old token at once, although the refresh is held open.
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.token().await })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap().expose_secret(), "token-1");
    }
    source.wait_for_calls(2, DEADLINE).await;
    let metrics = cache.metrics();
    assert_eq!((metrics.fetches, metrics.refreshes_ahead), (2, 1));
    assert_eq!(metrics.waits, 1, "only the first, cold call waited");

    source.release();
    // The new token replaces the old one as soon as the background fetch is done.
    eventually(DEADLINE, || async {
        cache.token().await.unwrap().generation() == 2
    })
    .await;
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-2");
    assert_eq!(source.calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_invalidations_cause_one_new_fetch() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(HOUR));
    let cache = cache(&clock, &source, 0.2);
    let rejected = cache.token().await.unwrap();
    let callers: Vec<_> = (0..1_000)
        .map(|_| {
            let cache = cache.clone();
            let rejected = rejected.clone();
            tokio::spawn(async move {
                cache.invalidate(&rejected);
                cache.token().await
            })
        })
        .collect();
    for caller in callers {
        let token = caller.await.unwrap().unwrap();
        assert_eq!(token.expose_secret(), "token-2");
        assert!(token.generation() > rejected.generation());
    }
    assert_eq!(source.calls(), 2);
    assert_eq!(cache.metrics().invalidations, 1);
}

#[tokio::test]
async fn invalidating_a_replaced_token_changes_nothing() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(HOUR));
    let cache = cache(&clock, &source, 0.2);
    let old = cache.token().await.unwrap();
    cache.invalidate(&old);
    let new = cache.token().await.unwrap();
    cache.invalidate(&old);
    assert!(cache.token().await.unwrap().is(&new));
    assert_eq!(source.calls(), 2);
    assert_eq!(cache.metrics().invalidations, 1);
}

#[tokio::test]
async fn a_token_of_another_generation_does_not_invalidate() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(HOUR));
    let cache = cache(&clock, &source, 0.2);
    let token = cache.token().await.unwrap();
    // Same value, different provenance (generation 0: not from this cache).
    let lookalike = auth_core::Token::new(
        AccessToken::bearer(token.expose_secret(), token.obtained_at()).unwrap(),
    );
    cache.invalidate(&lookalike);
    assert!(cache.token().await.unwrap().is(&token));
    assert_eq!(cache.metrics().invalidations, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_reaches_every_waiter_and_new_fetches_wait_for_the_probe_interval() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(HOUR));
    let cache = cache(&clock, &source, 0.2);
    source.hold();
    source.fail_next(unavailable());
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.token().await })
        })
        .collect();
    wait_until(DEADLINE, || cache.metrics().waits == 100).await;
    source.release();
    for caller in callers {
        let error = caller.await.unwrap().unwrap_err();
        assert_eq!(
            error.status(),
            Some(reqwest::StatusCode::SERVICE_UNAVAILABLE)
        );
    }
    assert_eq!(source.calls(), 1);

    // No token: the next fetch comes one probe interval (1 s) later; until then, the error.
    clock.advance(Duration::from_millis(999));
    for _ in 0..100 {
        let error = cache.token().await.unwrap_err();
        assert_eq!(
            error.status(),
            Some(reqwest::StatusCode::SERVICE_UNAVAILABLE)
        );
    }
    assert_eq!(source.calls(), 1);

    clock.advance(Duration::from_millis(1));
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-2");
    let metrics = cache.metrics();
    assert_eq!((metrics.fetches, metrics.failures), (2, 1));
}

#[tokio::test]
async fn rejected_credentials_are_not_retried_until_the_maximum_backoff() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(HOUR));
    let cache = cache(&clock, &source, 0.2);
    source.fail_next(AuthError::rejected_credentials(
        reqwest::StatusCode::UNAUTHORIZED,
        None,
    ));
    assert!(cache.token().await.unwrap_err().is_rejected_credentials());
    clock.advance(secs(8) - Duration::from_millis(1));
    assert!(cache.token().await.unwrap_err().is_rejected_credentials());
    assert_eq!(source.calls(), 1);
    clock.advance(Duration::from_millis(1));
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_background_refresh_keeps_serving_the_valid_token() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(1000)));
    let cache = cache(&clock, &source, 0.2);
    cache.token().await.unwrap();
    clock.advance(secs(850));
    source.fail_next(unavailable());
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-1");
    wait_until(DEADLINE, || {
        let metrics = cache.metrics();
        metrics.failures == 1 && metrics.refresh_failures == 1
    })
    .await;
    assert_eq!(cache.metrics().waits, 1);
    // Within the backoff: still the valid token, no new fetch.
    for _ in 0..10 {
        assert_eq!(cache.token().await.unwrap().expose_secret(), "token-1");
    }
    assert_eq!(source.calls(), 2);
    // Inside the safety margin, with the backoff over, callers wait for a new token.
    clock.advance(secs(100));
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_background_refresh_counts_no_hit() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(1000)));
    let cache = cache(&clock, &source, 0.2);
    cache.token().await.unwrap();
    clock.advance(secs(850));
    source.fail_next(unavailable());
    // One hit: this call, served at once while it starts the background refresh.
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-1");
    wait_until(DEADLINE, || cache.metrics().failures == 1).await;
    let metrics = cache.metrics();
    assert_eq!(
        (metrics.hits, metrics.refresh_failures),
        (1, 1),
        "the failed refresh served nobody: {metrics:?}"
    );
}

#[tokio::test]
async fn the_waiters_of_a_failed_fetch_get_a_still_valid_token() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(1000)));
    let cache = cache(&clock, &source, 0.0);
    cache.token().await.unwrap();
    // Inside the margin but not expired: the failed fetch falls back to the old token.
    clock.advance(secs(950));
    source.fail_next(unavailable());
    source.fail_next(unavailable());
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-1");
    // Once it has expired, the next failed fetch's error.
    clock.advance(secs(50));
    let error = cache.token().await.unwrap_err();
    assert_eq!(
        error.status(),
        Some(reqwest::StatusCode::SERVICE_UNAVAILABLE)
    );
}

#[tokio::test]
async fn a_token_without_expiry_gets_the_default_lifetime() {
    let clock = ManualClock::at_epoch_2025();
    let mut source = MockTokenSource::new();
    let start = {
        use auth_core::Clock as _;
        clock.now()
    };
    let mut n = 0;
    source.expect_fetch_token().times(2).returning(move || {
        n += 1;
        // No expiry: the server sent no `expires_in`.
        Ok(AccessToken::bearer(format!("token-{n}"), start).unwrap())
    });
    let cache = TokenCache::builder(source)
        .clock(clock.clone())
        .refresh_ahead(0.0)
        .default_lifetime(secs(600))
        .build();
    cache.token().await.unwrap();
    clock.advance(secs(539));
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-1");
    clock.advance(secs(1));
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-2");
}

#[tokio::test]
async fn the_cache_reads_time_only_from_its_clock() {
    // A mocked clock: the cache must decide expiry from it alone.
    let now = Arc::new(AtomicI64::new(1_735_689_600));
    let mut clock = MockClock::new();
    clock.expect_now().returning({
        let now = Arc::clone(&now);
        move || DateTime::from_timestamp(now.load(Ordering::SeqCst), 0).unwrap()
    });
    let start: DateTime<Utc> = DateTime::from_timestamp(1_735_689_600, 0).unwrap();
    let mut source = MockTokenSource::new();
    let mut n = 0;
    source.expect_fetch_token().times(2).returning(move || {
        n += 1;
        Ok(AccessToken::bearer(format!("token-{n}"), start)
            .unwrap()
            .with_expires_at(start + TimeDelta::seconds(100)))
    });
    let cache = TokenCache::builder(source)
        .clock(clock)
        .refresh_ahead(0.0)
        .build();
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-1");
    now.fetch_add(89, Ordering::SeqCst);
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-1");
    now.fetch_add(1, Ordering::SeqCst);
    assert_eq!(cache.token().await.unwrap().expose_secret(), "token-2");
}

struct Panicking;

impl TokenSource for Panicking {
    async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
        panic!("the source broke");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_source_fails_the_flight_instead_of_wedging_it() {
    let clock = ManualClock::at_epoch_2025();
    let cache = TokenCache::builder(Panicking)
        .clock(clock.clone())
        .failure_backoff(secs(1), secs(1))
        .build();
    let error = tokio::time::timeout(DEADLINE, cache.token())
        .await
        .expect("waiters of a panicked fetch must not hang")
        .unwrap_err();
    assert!(matches!(error, AuthError::FetchAborted), "{error:?}");
    clock.advance(secs(2));
    let error = tokio::time::timeout(DEADLINE, cache.token())
        .await
        .expect("a new flight starts after the backoff")
        .unwrap_err();
    assert!(matches!(error, AuthError::FetchAborted));
    let metrics = cache.metrics();
    assert_eq!((metrics.fetches, metrics.failures), (2, 2));
}

#[test]
fn outside_a_tokio_runtime_the_error_is_typed() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(HOUR));
    let cache = cache(&clock, &source, 0.2);
    let mut future = std::pin::pin!(cache.token());
    let Poll::Ready(result) = future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    else {
        panic!("the cache must answer at once without a runtime");
    };
    assert!(matches!(
        result.unwrap_err(),
        AuthError::Config(ConfigError::NoRuntime)
    ));
    assert_eq!(source.calls(), 0);
}

#[tokio::test]
async fn the_erased_handle_delegates_to_the_cache() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(HOUR));
    let provider = SharedTokenProvider::from(cache(&clock, &source, 0.2));
    assert!(provider.fresh_token().is_none());
    let token = provider.clone().token().await.unwrap();
    // Served once through the slow path (which fills this thread's replica), then fast.
    assert!(provider.token().await.unwrap().is(&token));
    assert!(provider.fresh_token().unwrap().is(&token));
    provider.invalidate(&token);
    let next = provider.token().await.unwrap();
    assert_eq!(next.expose_secret(), "token-2");
    assert!(next.generation() > token.generation());
    use auth_core::Clock as _;
    assert_eq!(provider.clock().now(), clock.now());
    assert!(format!("{provider:?}").contains("TokenCache"));
}

struct Hanging;

impl TokenSource for Hanging {
    async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_hanging_source_is_cut_off_by_the_fetch_timeout() {
    let clock = ManualClock::at_epoch_2025();
    let cache = TokenCache::builder(Hanging)
        .clock(clock.clone())
        .fetch_timeout(Duration::from_millis(200))
        .build();
    let error = tokio::time::timeout(DEADLINE, cache.token())
        .await
        .expect("the fetch timeout ends the flight")
        .unwrap_err();
    assert!(
        matches!(error, AuthError::Timeout { after, .. } if after == Duration::from_millis(200)),
        "{error:?}"
    );
    // The flight is over: after the probe interval a new one starts.
    clock.advance(secs(2));
    let error = tokio::time::timeout(DEADLINE, cache.token())
        .await
        .expect("the second flight times out too")
        .unwrap_err();
    assert!(matches!(error, AuthError::Timeout { .. }));
    let metrics = cache.metrics();
    assert_eq!((metrics.fetches, metrics.failures), (2, 2));
}
