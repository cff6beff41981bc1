//! SDK overhead: `users().get(id)` through the SDK against a raw `reqwest` GET with a fixed
//! bearer header, both against the emulator on loopback, in the same run.
//!
//! Both sides decode the answer into the same `User` type, so the difference is what the SDK
//! adds: the token cache lookup, URL building, the retry loop, the per-attempt timeout, bounded
//! body reading and tracing spans. A second baseline, raw reqwest with the same 30 s timeout
//! the SDK sets, separates the cost of having a timeout at all from the SDK's own.
//!
//! Measuring a few percent on a 2-core machine needs care: the emulator runs on its own
//! one-worker runtime, the client on a current-thread runtime, and every measured call is made
//! in a round with one call of each other kind, so drift (connection state, CPU frequency, the
//! other core's load) hits all sides alike.
// Benchmark setup: a failed unwrap is a broken benchmark, not a production crash.
// Benchmarks time real work on the real clock.
#![allow(clippy::disallowed_methods)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use partner_emulator::Emulator;
use partner_sdk::PoderoClient;
use partner_sdk::podero::{NewUser, OrgId, Role, User, UserId};
use podero_auth::{Environment, PoderoAuth};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};

struct Bench {
    client: PoderoClient,
    user: UserId,
    raw: reqwest::Client,
    url: String,
    bearer: HeaderValue,
}

impl Bench {
    async fn sdk(&self) {
        black_box(self.client.users().get(&self.user).await.unwrap());
    }

    async fn raw(&self, timeout: Option<Duration>) {
        let mut request = self
            .raw
            .get(&self.url)
            .header(AUTHORIZATION, self.bearer.clone())
            .header(ACCEPT, "application/json");
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success());
        let user: User = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        black_box(user);
    }

    /// One call of `side`, timed.
    async fn timed(&self, side: Side) -> Duration {
        let started = Instant::now();
        match side {
            Side::Sdk => self.sdk().await,
            Side::Raw => self.raw(None).await,
            Side::RawWithTimeout => self.raw(Some(partner_sdk::DEFAULT_TIMEOUT)).await,
        }
        started.elapsed()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Sdk,
    Raw,
    RawWithTimeout,
}

const SIDES: [Side; 3] = [Side::Raw, Side::RawWithTimeout, Side::Sdk];

/// The order of round `round`: rotated each round, so that no side always follows the same
/// other side (a call's latency depends a little on what the connection and the server did
/// just before).
fn order(round: u64) -> impl Iterator<Item = Side> {
    let start = usize::try_from(round % 3).unwrap_or(0);
    SIDES.into_iter().cycle().skip(start).take(3)
}

/// `iters` measured calls of `side`, each in a round that also makes one unmeasured call of
/// each other side, so every measurement window carries the same mix of traffic.
async fn measure(bench: &Bench, side: Side, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for round in 0..iters {
        for each in order(round) {
            let elapsed = bench.timed(each).await;
            if each == side {
                total += elapsed;
            }
        }
    }
    total
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn users_get(c: &mut Criterion) {
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let emulator = server.block_on(Emulator::builder().start()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bench = rt.block_on(async {
        let credentials = emulator.podero_credentials();
        let auth = PoderoAuth::new(
            credentials.client_id.as_str(),
            credentials.client_secret.as_str(),
        )
        .environment(Environment::Custom(emulator.base_url().to_owned()));
        let client = PoderoClient::from_auth(auth, OrgId::new(emulator.org_id())).unwrap();
        let user = client
            .users()
            .create(&NewUser::new("bench@example.com", Role::User).town("Berlin"))
            .await
            .unwrap();
        let token = client.api().tokens().token().await.unwrap();
        Bench {
            url: format!(
                "{}/api/partners/v2.0/org/{}/users/{}",
                emulator.base_url(),
                emulator.org_id(),
                user.id
            ),
            bearer: token.authorization().clone(),
            // The same kind of client the SDK builds (pool, no redirects).
            raw: auth_core::http::default_client().unwrap(),
            client,
            user: user.id,
        }
    });

    let mut group = c.benchmark_group("users_get");
    group.measurement_time(Duration::from_secs(6));
    for (name, side) in [
        ("raw_reqwest", Side::Raw),
        ("raw_reqwest_with_timeout", Side::RawWithTimeout),
        ("sdk", Side::Sdk),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| rt.block_on(measure(&bench, side, iters)));
        });
    }
    group.finish();

    // Criterion's windows run one after another, and on a small machine their conditions drift
    // by more than the few percent looked for. The ratio is therefore also measured pairwise:
    // every round times all three sides call by call, and the median of the rounds' ratios is
    // reported.
    let mut sdk_over_raw = Vec::new();
    let mut sdk_over_timeout = Vec::new();
    for _ in 0..7 {
        let (mut raw, mut raw_timeout, mut sdk) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        rt.block_on(async {
            for round in 0..2_000 {
                for side in order(round) {
                    let elapsed = bench.timed(side).await;
                    match side {
                        Side::Raw => raw += elapsed,
                        Side::RawWithTimeout => raw_timeout += elapsed,
                        Side::Sdk => sdk += elapsed,
                    }
                }
            }
        });
        sdk_over_raw.push(sdk.as_secs_f64() / raw.as_secs_f64());
        sdk_over_timeout.push(sdk.as_secs_f64() / raw_timeout.as_secs_f64());
    }
    println!(
        "users_get paired ratios (median of 7 rounds of 2000 calls each): sdk/raw_reqwest = {:.3}, sdk/raw_reqwest_with_timeout = {:.3}",
        median(&mut sdk_over_raw),
        median(&mut sdk_over_timeout)
    );
    drop(bench);
    server.block_on(emulator.shutdown());
}

criterion_group!(benches, users_get);
criterion_main!(benches);
