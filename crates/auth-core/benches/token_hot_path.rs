//! The cost of a cached `token()`: the token cache (directly, and through the type-erased
//! `SharedTokenProvider` the SDK holds) against a naive
//! `tokio::sync::Mutex<Option<Arc<AccessToken>>>` cache, on one task and with two threads
//! reading at once, in the same run.
//!
//! Both caches read the same clock (`SystemClock`), so the difference is the locking and
//! sharing scheme alone. Two-thread figures are the time per read on each thread while both
//! read concurrently.
// Benchmark setup: a failed unwrap is a broken benchmark, not a production crash.
// Benchmarks time real work on the real clock.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_core::{
    AccessToken, AuthError, Clock, SharedTokenProvider, SystemClock, TokenCache, TokenSource,
};
use chrono::TimeDelta;
use criterion::{Criterion, criterion_group, criterion_main};

/// A source issuing day-long tokens: every benchmarked read is a cache hit.
struct DayLong(SystemClock);

impl TokenSource for DayLong {
    async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
        let now = self.0.now();
        Ok(AccessToken::bearer("bench-token-value", now)
            .unwrap()
            .with_expires_at(now + TimeDelta::days(1)))
    }
}

/// What a cache without this crate usually looks like.
struct NaiveCache {
    clock: SystemClock,
    source: DayLong,
    slot: tokio::sync::Mutex<Option<(Arc<AccessToken>, i64)>>,
}

impl NaiveCache {
    async fn token(&self) -> Result<Arc<AccessToken>, AuthError> {
        let mut slot = self.slot.lock().await;
        if let Some((token, must_refresh_at)) = &*slot
            && self.clock.now_unix_nanos() < *must_refresh_at
        {
            return Ok(Arc::clone(token));
        }
        let token = Arc::new(self.source.fetch_token().await?);
        let must_refresh_at =
            token.expires_at().unwrap().timestamp_nanos_opt().unwrap() - 60_000_000_000;
        *slot = Some((Arc::clone(&token), must_refresh_at));
        Ok(token)
    }
}

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `iters` reads on each of `threads` tasks at once; returns the time per read per task.
fn concurrent<F, Fut>(rt: &tokio::runtime::Runtime, threads: usize, iters: u64, read: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    rt.block_on(async {
        let barrier = Arc::new(tokio::sync::Barrier::new(threads));
        let tasks: Vec<_> = (0..threads)
            .map(|_| {
                let read = read.clone();
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    let started = Instant::now();
                    for _ in 0..iters {
                        read().await;
                    }
                    started.elapsed()
                })
            })
            .collect();
        let mut longest = Duration::ZERO;
        for task in tasks {
            longest = longest.max(task.await.unwrap());
        }
        longest
    })
}

fn token_hot_path(c: &mut Criterion) {
    let rt = runtime(2);
    let cache = rt.block_on(async {
        let cache = TokenCache::new(DayLong(SystemClock::new()));
        cache.token().await.unwrap();
        cache
    });
    let naive = Arc::new(NaiveCache {
        clock: SystemClock::new(),
        source: DayLong(SystemClock::new()),
        slot: tokio::sync::Mutex::new(None),
    });
    rt.block_on(naive.token()).unwrap();
    let provider = SharedTokenProvider::from(cache.clone());

    let mut group = c.benchmark_group("token_hot_path");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));

    for threads in [1, 2] {
        let name = if threads == 1 { "1_task" } else { "2_threads" };
        group.bench_function(format!("token_cache/{name}"), |b| {
            b.iter_custom(|iters| {
                let cache = cache.clone();
                concurrent(&rt, threads, iters, move || {
                    let cache = cache.clone();
                    async move {
                        black_box(cache.token().await.unwrap());
                    }
                })
            });
        });
        group.bench_function(format!("naive_mutex/{name}"), |b| {
            b.iter_custom(|iters| {
                let naive = Arc::clone(&naive);
                concurrent(&rt, threads, iters, move || {
                    let naive = Arc::clone(&naive);
                    async move {
                        black_box(naive.token().await.unwrap());
                    }
                })
            });
        });
    }
    // Through the type-erased handle the SDK holds: the fresh token comes from the
    // synchronous fast path, so no future is boxed.
    for threads in [1, 2] {
        let name = if threads == 1 { "1_task" } else { "2_threads" };
        group.bench_function(format!("shared_provider/{name}"), |b| {
            b.iter_custom(|iters| {
                let provider = provider.clone();
                concurrent(&rt, threads, iters, move || {
                    let provider = provider.clone();
                    async move {
                        black_box(provider.token().await.unwrap());
                    }
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, token_hot_path);
criterion_main!(benches);
