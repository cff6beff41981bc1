//! Runtime independence, with real runtimes: a fetch stranded on a runtime nobody drives, a
//! runtime that stops mid-fetch or shuts down, one runtime per call, a runtime without a time
//! driver, a synchronous `block_on` inside a runtime context. Callers always get an answer
//! within a bounded time, and a stopping runtime is never a failure of the token endpoint.

use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Duration;

use auth_core::{AuthError, ClientCredentials, ConfigError, ManualClock, TokenCache, TokenUrl};
use tokio::runtime::{Builder, Runtime};

use crate::support::{CountingSource, DEADLINE};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Refresh ahead from 740 s, must refresh from 940 s (1000 s tokens, no jitter); fetches time
/// out after `timeout` (and a task not polled within the shorter of that and 1 s is stranded).
fn cache_with(
    clock: &ManualClock,
    source: &CountingSource,
    timeout: Duration,
) -> TokenCache<CountingSource> {
    TokenCache::builder(source.clone())
        .clock(clock.clone())
        .refresh_jitter(0.0)
        .fetch_timeout(timeout)
        .build()
}

/// As [`cache_with`], with a 300 ms fetch timeout: for the tests that wait it out.
fn cache(clock: &ManualClock, source: &CountingSource) -> TokenCache<CountingSource> {
    cache_with(clock, source, Duration::from_millis(300))
}

#[test]
fn a_background_refresh_stranded_on_an_idle_runtime_is_started_again_elsewhere() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(1000)));
    // Stranded after the 1 s grace; the fetch timeout is far enough not to race a busy test run.
    let cache = cache_with(&clock, &source, secs(30));
    let idle = current_thread();
    assert_eq!(
        idle.block_on(cache.token()).unwrap().expose_secret(),
        "token-1"
    );
    // In the refresh-ahead window: served at once, and the background refresh is spawned on
    // `idle`, which nobody drives once `block_on` returns.
    clock.advance(secs(750));
    assert_eq!(
        idle.block_on(cache.token()).unwrap().expose_secret(),
        "token-1"
    );
    assert_eq!(cache.metrics().refreshes_ahead, 1);

    clock.advance(secs(200));
    let busy = multi_thread();
    let token = busy
        .block_on(async { tokio::time::timeout(DEADLINE, cache.token()).await })
        .expect("a caller on another runtime must not hang")
        .unwrap();
    assert_eq!(token.expose_secret(), "token-2");
    assert_eq!(
        source.calls(),
        2,
        "the stranded fetch never called the source"
    );
    let metrics = cache.metrics();
    assert_eq!((metrics.abandoned, metrics.failures), (1, 0));
    drop(idle);
}

#[test]
fn a_fetch_on_a_runtime_that_stops_mid_fetch_ends_at_the_fetch_timeout() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(1000)));
    // Long enough for the new flight at the end on a loaded machine (300 ms was not).
    let timeout = secs(2);
    let cache = cache_with(&clock, &source, timeout);
    source.hold();
    let idle = current_thread();
    idle.block_on(async {
        tokio::spawn({
            let cache = cache.clone();
            async move { cache.token().await }
        });
        source.wait_for_calls(1, DEADLINE).await;
    });
    // The fetch is inside the source on `idle`, which nobody drives any more.
    let busy = multi_thread();
    let error = busy
        .block_on(async { tokio::time::timeout(DEADLINE, cache.token()).await })
        .expect("the waiting side enforces the fetch timeout")
        .unwrap_err();
    assert!(
        matches!(error, AuthError::Timeout { after, .. } if after == timeout),
        "{error:?}"
    );
    // After the probe interval a new flight runs where callers are.
    source.release();
    clock.advance(secs(1));
    let token = busy.block_on(cache.token()).unwrap();
    assert_eq!(token.expose_secret(), "token-2");
    drop(idle);
}

#[test]
fn a_runtime_shutting_down_mid_fetch_is_not_a_failure() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(1000)));
    // No deadline may end the held fetch before the runtime is dropped, however slow the run.
    let cache = cache_with(&clock, &source, secs(30));
    source.hold();
    let dying = current_thread();
    dying.block_on(async {
        tokio::spawn({
            let cache = cache.clone();
            async move { cache.token().await }
        });
        source.wait_for_calls(1, DEADLINE).await;
    });
    // A caller on another runtime waits for that fetch.
    let busy = multi_thread();
    let waiter = busy.spawn({
        let cache = cache.clone();
        async move { cache.token().await }
    });
    let waits = cache.clone();
    busy.block_on(crate::support::wait_until(DEADLINE, move || {
        waits.metrics().waits == 2
    }));
    source.release();
    drop(dying);
    let token = busy
        .block_on(async { tokio::time::timeout(DEADLINE, waiter).await })
        .expect("the waiter starts a new flight on its own runtime")
        .unwrap()
        .unwrap();
    assert_eq!(token.expose_secret(), "token-2");
    let metrics = cache.metrics();
    assert_eq!((metrics.abandoned, metrics.failures), (1, 0));
    // No backoff: the next call is served at once.
    assert!(busy.block_on(cache.token()).is_ok());
}

#[test]
fn a_cache_shared_by_a_runtime_per_call_never_backs_off() {
    // A cache in a static used by many `#[tokio::test]`s: every runtime ends right after its
    // call, dropping the background refresh it spawned.
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(1000)));
    let cache = cache_with(&clock, &source, secs(30));
    current_thread().block_on(cache.token()).unwrap();
    clock.advance(secs(745));
    for _ in 0..20 {
        let runtime = current_thread();
        assert_eq!(
            runtime.block_on(cache.token()).unwrap().expose_secret(),
            "token-1"
        );
        drop(runtime);
        clock.advance(secs(5));
    }
    let metrics = cache.metrics();
    assert_eq!(metrics.failures, 0, "{metrics:?}");
    assert_eq!(metrics.abandoned, metrics.refreshes_ahead);
    // Past the margin, a fresh runtime gets a new token with no error.
    clock.advance(secs(100));
    let token = current_thread().block_on(cache.token()).unwrap();
    assert_eq!(token.generation(), 2);
}

#[test]
fn without_a_time_driver_a_timer_free_source_works() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(1000)));
    let cache = cache_with(&clock, &source, secs(30));
    let runtime = Builder::new_current_thread().build().unwrap();
    assert_eq!(
        runtime.block_on(cache.token()).unwrap().expose_secret(),
        "token-1"
    );
}

#[test]
fn without_a_time_driver_the_http_exchange_fails_with_a_typed_error() {
    let server_runtime = multi_thread();
    let server = server_runtime.block_on(wiremock::MockServer::start());
    let source = ClientCredentials::builder(
        TokenUrl::parse(&format!("{}/token", server.uri())).unwrap(),
        "client",
        "secret",
    )
    .build()
    .unwrap();
    let cache = TokenCache::new(source);
    let runtime = Builder::new_current_thread().enable_io().build().unwrap();
    let error = runtime.block_on(cache.token()).unwrap_err();
    assert!(
        matches!(
            error,
            AuthError::Config(ConfigError::DisabledDriver {
                enable: "enable_time",
                ..
            })
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("enable_time()"), "{error}");
}

/// A minimal `block_on` that parks the thread: what a synchronous wrapper around async code
/// does.
fn park_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

#[test]
fn a_synchronous_block_on_inside_a_runtime_context_gets_an_answer() {
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(secs(1000)));
    let cache = cache(&clock, &source);
    let runtime = current_thread();
    let _context = runtime.enter();
    // The fetch lands on a runtime whose only thread is blocked right here, so it never runs:
    // the caller gets a typed error within a bounded time instead of hanging.
    let error = park_on(cache.token()).unwrap_err();
    assert!(matches!(error, AuthError::FetchAborted), "{error:?}");
    assert_eq!(source.calls(), 0);
    assert_eq!(cache.metrics().failures, 0);
}
