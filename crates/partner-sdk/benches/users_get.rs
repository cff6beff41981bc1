//! SDK overhead: `users().get(id)` through the SDK against a raw `reqwest` GET with a fixed
//! bearer header, both against the emulator on loopback, in the same run.
//!
//! Both sides decode the answer into the same `User` type, so the difference is what the SDK
//! adds: the token cache lookup, URL building, the retry loop, bounded body reading and
//! tracing spans.
// Benchmark setup: a failed unwrap is a broken benchmark, not a production crash.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use partner_emulator::Emulator;
use partner_sdk::PoderoClient;
use partner_sdk::podero::{NewUser, OrgId, Role, User};
use podero_auth::{Environment, PoderoAuth};
use reqwest::header::{ACCEPT, AUTHORIZATION};

fn users_get(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (emulator, client, user, url, bearer) = rt.block_on(async {
        let emulator = Emulator::builder().start().await.unwrap();
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
        let url = format!(
            "{}/api/partners/v2.0/org/{}/users/{}",
            emulator.base_url(),
            emulator.org_id(),
            user.id
        );
        (emulator, client, user, url, token.authorization().clone())
    });
    // The raw side gets the same kind of client (pool, no redirects) as the SDK.
    let raw = auth_core::http::default_client().unwrap();

    let mut group = c.benchmark_group("users_get");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("raw_reqwest", |b| {
        b.to_async(&rt).iter(|| async {
            let response = raw
                .get(&url)
                .header(AUTHORIZATION, bearer.clone())
                .header(ACCEPT, "application/json")
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            let user: User = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            black_box(user);
        });
    });
    group.bench_function("sdk", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(client.users().get(&user.id).await.unwrap());
        });
    });
    group.finish();
    drop(emulator);
}

criterion_group!(benches, users_get);
criterion_main!(benches);
