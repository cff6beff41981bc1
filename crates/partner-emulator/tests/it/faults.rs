//! Fault injection at the HTTP level: statuses, delays and connections closed without an
//! answer.

use std::time::Duration;

use partner_emulator::{Emulator, Endpoint, Fault};
use serde_json::json;

use crate::support::*;

fn injected(status: u16) -> Expect {
    expect(status, json!({"error": "injected", "status": status}))
        .header("content-type", "application/json")
}

#[tokio::test]
async fn status_faults_apply_to_exactly_the_next_n_requests_in_order() {
    let emulator = Emulator::builder().start().await.unwrap();
    let token = podero_token(&emulator).await;
    let url = users_url(&emulator);
    emulator.inject_fault(
        Endpoint::ListUsers,
        Fault::status(503).retry_after(7).times(2),
    );
    emulator.inject_fault(Endpoint::ListUsers, Fault::status(429));
    let rows = [
        injected(503).header("retry-after", "7"),
        injected(503).header("retry-after", "7"),
        injected(429).no_header("retry-after"),
        expect(200, json!([]))
            .no_header("retry-after")
            .header("content-type", "application/json"),
    ];
    for (n, expect) in rows.iter().enumerate() {
        let got = send(http().get(&url).bearer_auth(&token)).await;
        expect.check(&got, &format!("request {n}"));
    }
    assert_eq!(emulator.request_count(Endpoint::ListUsers), 4);
    // Faults come before authentication, and other endpoints are untouched.
    emulator.inject_fault(Endpoint::ListUsers, Fault::status(500));
    injected(500).check(&send(http().get(&url)).await, "unauthenticated");
    status(401).check(&send(http().get(&url)).await, "no fault left");
    podero_token(&emulator).await;
    assert_eq!(
        logged_statuses(&emulator, Endpoint::ListUsers),
        [503, 503, 429, 200, 500, 401]
    );
}

#[tokio::test]
async fn a_delay_fault_delays_then_answers_normally() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject_fault(
        Endpoint::PoderoToken,
        Fault::delay(Duration::from_millis(50)),
    );
    let started = tokio::time::Instant::now();
    let token = podero_token(&emulator).await;
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(token.len(), 30);
    // Only once.
    assert_eq!(podero_token(&emulator).await.len(), 30);
    let statuses: Vec<u16> = emulator.request_log().iter().map(|e| e.status).collect();
    assert_eq!(statuses, [200, 200]);
}

#[tokio::test]
async fn a_close_connection_fault_answers_nothing() {
    let emulator = Emulator::builder().start().await.unwrap();
    let token = podero_token(&emulator).await;
    emulator.inject_fault(Endpoint::CreateUser, Fault::close_connection().times(2));
    // One client, so the second attempt may reuse a pooled connection: still no answer.
    let client = http();
    let create = || {
        client
            .post(users_url(&emulator))
            .bearer_auth(&token)
            .json_body(&json!({"email": "a@b.co", "role": "user"}))
    };
    for _ in 0..2 {
        let error = create().send().await.unwrap_err();
        assert!(
            error.status().is_none(),
            "a connection error, not a status: {error:?}"
        );
        assert!(error.is_request(), "{error:?}");
        assert!(!error.is_timeout(), "{error:?}");
    }
    // The request never reached the handler: nothing was created, and the next request is
    // served normally.
    expect(200, json!([])).check(
        &send(client.get(users_url(&emulator)).bearer_auth(&token)).await,
        "list",
    );
    status(201).check(&send(create()).await, "create");
    assert_eq!(
        logged_statuses(&emulator, Endpoint::CreateUser),
        [0, 0, 201]
    );
    assert_eq!(emulator.request_count(Endpoint::CreateUser), 3);
}
