//! Benchmarks of the shared token store, each with its baseline in the same run:
//!
//! - `fleet`: 16 `fleet-worker` processes calling the emulator's users API every 20 ms for
//!   20 s with 2 s tokens: token requests with the Redis store against without any store.
//! - `miss`: a local cache miss (a cold `TokenCache`) answered by a `SharedSource` from Redis,
//!   against the same miss answered by the token endpoint (the emulator delaying it 50 ms).
//! - `hot_path` (criterion): `TokenCache::token` on a fresh token, with a `SharedSource` over
//!   Redis behind the cache and without.
//!
//! `cargo bench -p fleet-tests --bench fleet`; `FLEET_BENCH=fleet,miss,hot` picks some.
// Benchmarks time real work on the real clock; a failed unwrap is a broken benchmark.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::print_stdout, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use auth_core::store::SharedSource;
use auth_core::{AccessToken, AuthError, Clock as _, SystemClock, TokenCache, TokenSource};
use auth_redis::RedisStore;
use auth_redis::test_util::RedisServer;
use chrono::TimeDelta;
use criterion::Criterion;
use fleet_tests::{Backend, DEADLINE, Fleet};
use partner_emulator::{Emulator, Endpoint, Fault};
use podero_auth::{Environment, PoderoAuth, SourceConfig as _};

const WORKER: &str = env!("CARGO_BIN_EXE_fleet-worker");

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn wanted(name: &str) -> bool {
    std::env::var("FLEET_BENCH").map_or(true, |list| list.split(',').any(|n| n.trim() == name))
}

/// (a) 16 processes, 2 s tokens, 20 s of traffic: token requests with Redis and without.
async fn fleet() {
    const PROCESSES: usize = 16;
    let lifetime = Duration::from_secs(2);
    let run = Duration::from_secs(20);
    println!(
        "\n## fleet: {PROCESSES} processes, {lifetime:?} tokens, {run:?} of calls every 20 ms"
    );
    println!("| store | token requests | per token lifetime | API calls | errors |");
    println!("|---|---|---|---|---|");
    for (name, backend) in [("redis", Backend::redis()), ("none", Backend::None)] {
        let emulator = Emulator::builder()
            .podero_token_lifetime(lifetime)
            .start()
            .await
            .unwrap();
        let mut fleet = Fleet::spawn(WORKER, PROCESSES, &emulator, &backend, &[]).await;
        let reports = fleet
            .command(&format!("run {} 20", run.as_millis()), run + DEADLINE)
            .await;
        let requests = emulator.request_count(Endpoint::PoderoToken);
        let calls: u64 = reports.iter().map(|r| r.ok).sum();
        let errors: usize = reports.iter().map(|r| r.errors.len()).sum();
        let per_lifetime = requests as f64 / (run.as_secs_f64() / lifetime.as_secs_f64());
        println!("| {name} | {requests} | {per_lifetime:.1} | {calls} | {errors} |");
    }
}

fn stats(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let median = samples[samples.len() / 2];
    let mean = samples.iter().sum::<Duration>() / u32::try_from(samples.len()).unwrap();
    (median, mean)
}

/// (b) A cold cache's first token: from Redis through a `SharedSource`, or from the token
/// endpoint (delayed 50 ms by the emulator).
async fn miss() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject_fault(
        Endpoint::PoderoToken,
        Fault::delay(Duration::from_millis(50)).times(u32::MAX),
    );
    let redis = RedisServer::start();
    let credentials = emulator.podero_credentials();
    let auth = || {
        PoderoAuth::new(
            credentials.client_id.clone(),
            credentials.client_secret.clone(),
        )
        .environment(Environment::Custom(emulator.base_url().to_owned()))
    };
    let shared = auth()
        .shared(RedisStore::open(&redis.url()).unwrap())
        .into_source()
        .unwrap();
    let direct = auth().into_source().unwrap();
    // One fetch puts the token in Redis; every cold cache below reads it from there.
    TokenCache::new(shared.clone()).token().await.unwrap();
    let before = emulator.request_count(Endpoint::PoderoToken);

    let mut from_redis = Vec::new();
    for _ in 0..500 {
        let cache = TokenCache::new(shared.clone());
        let start = Instant::now();
        black_box(cache.token().await.unwrap());
        from_redis.push(start.elapsed());
    }
    assert_eq!(
        emulator.request_count(Endpoint::PoderoToken),
        before,
        "every miss was answered by Redis"
    );
    let mut from_endpoint = Vec::new();
    for _ in 0..40 {
        let cache = TokenCache::new(direct.clone());
        let start = Instant::now();
        black_box(cache.token().await.unwrap());
        from_endpoint.push(start.elapsed());
    }
    let (redis_median, redis_mean) = stats(&mut from_redis);
    let (endpoint_median, endpoint_mean) = stats(&mut from_endpoint);
    println!("\n## miss: a cold TokenCache's first token");
    println!("| answered by | samples | median | mean |");
    println!("|---|---|---|---|");
    println!(
        "| Redis (SharedSource hit) | {} | {redis_median:?} | {redis_mean:?} |",
        from_redis.len()
    );
    println!(
        "| token endpoint (50 ms delay) | {} | {endpoint_median:?} | {endpoint_mean:?} |",
        from_endpoint.len()
    );
    println!(
        "ratio of medians: {:.0}x faster from Redis",
        endpoint_median.as_secs_f64() / redis_median.as_secs_f64()
    );
}

/// A source of day-long tokens: every benchmarked read is a hit.
#[derive(Clone)]
struct DayLong;

impl TokenSource for DayLong {
    async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
        let now = SystemClock::new().now();
        Ok(
            AccessToken::bearer("bench-token-value", now)?
                .with_expires_at(now + TimeDelta::days(1)),
        )
    }
}

/// (c) `TokenCache::token` on a fresh token, with a `SharedSource` over Redis behind the
/// cache and without.
fn hot_path(criterion: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let redis = RedisServer::start();
    let (plain, shared) = rt.block_on(async {
        let store = RedisStore::open(&redis.url()).unwrap();
        let identity = auth_core::store::SourceIdentity::new(
            ["bench"],
            auth_core::ClientSecret::new("bench-secret"),
        );
        let shared = TokenCache::new(
            SharedSource::builder(DayLong, store)
                .identity(identity)
                .build()
                .unwrap(),
        );
        let plain = TokenCache::new(DayLong);
        plain.token().await.unwrap();
        shared.token().await.unwrap();
        (plain, shared)
    });
    let mut group = criterion.benchmark_group("hot_path");
    group.bench_function("without_store", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(plain.token().await.unwrap());
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("with_shared_source_over_redis", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(shared.token().await.unwrap());
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

fn main() {
    let rt = runtime();
    if wanted("fleet") {
        rt.block_on(fleet());
    }
    if wanted("miss") {
        rt.block_on(miss());
    }
    if wanted("hot") {
        let mut criterion = Criterion::default()
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .configure_from_args();
        hot_path(&mut criterion, &rt);
        criterion.final_summary();
    }
}
