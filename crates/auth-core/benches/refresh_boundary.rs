//! Callers at the refresh boundary: 50 tasks call `token()` every millisecond for 6 s against a
//! loopback token endpoint that answers 2 s tokens after 50 ms, with the cache's defaults,
//! and the same traffic against a naive `tokio::sync::Mutex<Option<…>>` cache in the same run.
//!
//! Prints, per cache: calls, p50 / p99 / max latency of `token()`, calls that took 10 ms or
//! more, and token requests. Run it with
//! `cargo bench -p auth-core --bench refresh_boundary`.
// Benchmarks time real work on the real clock.
#![allow(clippy::disallowed_methods)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_core::{
    AccessToken, AuthError, ClientCredentials, Clock as _, SharedClock, TokenCache, TokenSource,
    TokenUrl,
};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const TASKS: usize = 50;
const RUN: Duration = Duration::from_secs(6);
const BEAT: Duration = Duration::from_millis(1);
const LIFETIME_SECS: u64 = 2;
const ENDPOINT_DELAY: Duration = Duration::from_millis(50);

/// What a cache without this crate usually looks like: one async mutex around an optional
/// token, fetched in line by whoever finds it stale (with the same 200 ms margin the cache
/// keeps for a 2 s token).
struct NaiveCache {
    source: ClientCredentials,
    clock: SharedClock,
    slot: tokio::sync::Mutex<Option<(Arc<AccessToken>, i64)>>,
}

impl NaiveCache {
    async fn token(&self) -> Result<Arc<AccessToken>, AuthError> {
        let mut slot = self.slot.lock().await;
        if let Some((token, refresh_at)) = &*slot
            && self.clock.now_unix_nanos() < *refresh_at
        {
            return Ok(Arc::clone(token));
        }
        let token = Arc::new(self.source.fetch_token().await?);
        let expires = token.expires_at().unwrap().timestamp_nanos_opt().unwrap();
        *slot = Some((Arc::clone(&token), expires - 200_000_000));
        Ok(token)
    }
}

struct Report {
    name: &'static str,
    latencies: Vec<Duration>,
    token_requests: usize,
}

impl Report {
    fn print(&mut self) {
        self.latencies.sort_unstable();
        let at = |q: f64| self.latencies[((self.latencies.len() - 1) as f64 * q) as usize];
        let slow = self
            .latencies
            .iter()
            .filter(|l| **l >= Duration::from_millis(10))
            .count();
        println!(
            "{:<14} {:>8} {:>10.1?} {:>10.1?} {:>10.1?} {:>12} {:>15}",
            self.name,
            self.latencies.len(),
            at(0.5),
            at(0.99),
            self.latencies.last().copied().unwrap_or_default(),
            slow,
            self.token_requests,
        );
    }
}

async fn endpoint() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({
                    "access_token": "bench-token-value", "token_type": "Bearer",
                    "expires_in": LIFETIME_SECS,
                }))
                .set_delay(ENDPOINT_DELAY),
        )
        .mount(&server)
        .await;
    server
}

fn source(server: &MockServer) -> ClientCredentials {
    ClientCredentials::builder(
        TokenUrl::parse(&format!("{}/token", server.uri())).unwrap(),
        "bench",
        "secret",
    )
    .build()
    .unwrap()
}

/// Runs the traffic against `token` and collects every call's latency.
async fn traffic<F, Fut>(token: F) -> Vec<Duration>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let end = Instant::now() + RUN;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let token = token.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut beat = tokio::time::interval(BEAT);
                beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                while Instant::now() < end {
                    beat.tick().await;
                    let started = Instant::now();
                    token().await;
                    latencies.push(started.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "{TASKS} tasks, token() every {BEAT:?} for {RUN:?}; endpoint: {LIFETIME_SECS} s tokens after {ENDPOINT_DELAY:?}\n"
        );
        println!(
            "{:<14} {:>8} {:>10} {:>10} {:>10} {:>12} {:>15}",
            "cache", "calls", "p50", "p99", "max", "calls>=10ms", "token requests"
        );

        let server = endpoint().await;
        let cache = TokenCache::new(source(&server));
        cache.token().await.unwrap();
        let timed = cache.clone();
        let latencies = traffic(move || {
            let cache = timed.clone();
            async move {
                cache.token().await.unwrap();
            }
        })
        .await;
        let requests = server.received_requests().await.unwrap().len();
        Report {
            name: "token_cache",
            latencies,
            token_requests: requests,
        }
        .print();
        let metrics = cache.metrics();

        let server = endpoint().await;
        let naive = Arc::new(NaiveCache {
            source: source(&server),
            clock: SharedClock::system(),
            slot: tokio::sync::Mutex::new(None),
        });
        naive.token().await.unwrap();
        let timed = Arc::clone(&naive);
        let latencies = traffic(move || {
            let naive = Arc::clone(&timed);
            async move {
                naive.token().await.unwrap();
            }
        })
        .await;
        let requests = server.received_requests().await.unwrap().len();
        Report {
            name: "naive_mutex",
            latencies,
            token_requests: requests,
        }
        .print();
        println!(
            "\ntoken_cache counters: waits {} (the first, cold call included), refreshes ahead {}, failures {}",
            metrics.waits, metrics.refreshes_ahead, metrics.failures
        );
    });
}
