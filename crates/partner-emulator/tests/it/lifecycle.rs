//! Starting, configuring, sharing, stopping, and hostile input that must never stop the
//! server.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use partner_emulator::{Emulator, EmulatorError, Endpoint, Vendor};
use serde_json::json;

use crate::support::*;

#[test]
fn the_emulator_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Emulator>();
    assert_send_sync::<EmulatorError>();
}

#[test]
fn starting_outside_a_runtime_is_an_error_not_a_panic() {
    let mut start = pin!(Emulator::builder().start());
    let mut context = Context::from_waker(Waker::noop());
    match start.as_mut().poll(&mut context) {
        Poll::Ready(Err(EmulatorError::NoRuntime)) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_builder_is_honoured_and_checked() {
    let org = uuid::Uuid::new_v4();
    let emulator = Emulator::builder()
        .addr("127.0.0.1:0".parse().unwrap())
        .org_id(org)
        .podero_client("pid", "psecret")
        .poa_client("aid", "asecret")
        .podero_token_lifetime(Duration::from_secs(10))
        .poa_token_lifetime(Duration::from_secs(20))
        .start()
        .await
        .unwrap();
    assert_eq!(emulator.org_id(), org);
    assert_eq!(emulator.base_url(), format!("http://{}", emulator.addr()));
    assert!(!emulator.base_url().ends_with('/'));
    assert_eq!(emulator.podero_credentials().client_id, "pid");
    assert_eq!(emulator.poa_credentials().client_secret, "asecret");
    let got = send(podero_token_request(
        &emulator,
        &basic("pid", "psecret"),
        "application/json",
        GRANT,
    ))
    .await;
    assert_eq!(got.json()["expires_in"], 10);
    assert_eq!(poa_token(&emulator).await["expires_in"], 20);

    // Generated credentials differ between emulators; ids are vendor-prefixed.
    let other = Emulator::builder().start().await.unwrap();
    let third = Emulator::builder().start().await.unwrap();
    assert_ne!(other.podero_credentials(), third.podero_credentials());
    assert_ne!(other.org_id(), third.org_id());
    assert!(other.podero_credentials().client_id.starts_with("podero-"));
    assert!(other.poa_credentials().client_id.starts_with("poa-"));

    match Emulator::builder().poa_client("id", "").start().await {
        Err(EmulatorError::EmptyCredentials {
            vendor: Vendor::Poa,
        }) => {}
        other => panic!("{other:?}"),
    }
    match Emulator::builder().addr(emulator.addr()).start().await {
        Err(error @ EmulatorError::Bind { .. }) => {
            assert!(
                error.to_string().contains(&emulator.addr().to_string()),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn shutdown_frees_the_port() {
    let emulator = Emulator::builder().start().await.unwrap();
    let base = emulator.base_url().to_owned();
    let addr = emulator.addr();
    // A pooled keep-alive connection does not hold the shutdown up.
    let client = http();
    assert_eq!(
        send(client.get(format!("{base}/nowhere"))).await.status,
        404
    );
    emulator.shutdown().await;
    // The address can be bound again at once. (Checked by binding it, not by a refused
    // connection: a port freed is free for every test running beside this one, and another
    // test's emulator took it once between the shutdown and the check.)
    let again = Emulator::builder().addr(addr).start().await.unwrap();
    assert_eq!(again.addr(), addr);
    assert_eq!(
        send(http().get(format!("{base}/nowhere"))).await.status,
        404
    );
}

/// Whether a new TCP connection to `addr` is refused within a short deadline, giving the
/// runtime time to drop the aborted server task.
async fn refused_soon(addr: SocketAddr) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while tokio::time::Instant::now() < deadline {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return true;
        }
        tokio::task::yield_now().await;
    }
    false
}

#[tokio::test]
async fn dropping_the_emulator_stops_the_server_and_its_connections() {
    let emulator = Emulator::builder().start().await.unwrap();
    let addr = emulator.addr();
    // A request in flight (a long delay) is cut off by the drop.
    emulator.inject_fault(
        Endpoint::PoderoToken,
        partner_emulator::Fault::delay(Duration::from_secs(600)),
    );
    let pending = tokio::spawn(
        http()
            .post(format!("{}/oauth2/token/", emulator.base_url()))
            .send(),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while emulator.request_count(Endpoint::PoderoToken) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the request never arrived"
        );
        tokio::task::yield_now().await;
    }
    drop(emulator);
    assert!(
        refused_soon(addr).await,
        "the port still accepts connections"
    );
    let error = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .expect("the in-flight request must end with the emulator")
        .unwrap()
        .unwrap_err();
    assert!(error.status().is_none(), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_on_a_multi_thread_runtime_are_all_counted() {
    let emulator = Arc::new(Emulator::builder().start().await.unwrap());
    let token = podero_token(&emulator).await;
    let client = http();
    let calls: Vec<_> = (0..200)
        .map(|n| {
            let (client, emulator, token) = (client.clone(), Arc::clone(&emulator), token.clone());
            tokio::spawn(async move {
                let url = users_url(&emulator);
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json_body(&json!({"email": format!("user{n}@example.com"), "role": "user"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                client
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    assert_eq!(emulator.request_count(Endpoint::CreateUser), 200);
    assert_eq!(emulator.request_count(Endpoint::ListUsers), 200);
    let listed = send(http().get(users_url(&emulator)).bearer_auth(&token))
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 200);
}

#[tokio::test]
async fn hostile_input_gets_json_errors_and_never_stops_the_server() {
    let emulator = Emulator::builder().start().await.unwrap();
    let base = emulator.base_url();
    let token = podero_token(&emulator).await;
    let credentials = emulator.podero_credentials();
    let garbage = reqwest::header::HeaderValue::from_bytes(b"Basic \xff\xfe").unwrap();
    let big = vec![b' '; 100 * 1024];
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let rows = [
        // Non-UTF-8 header values: Podero's token endpoint reads the (empty) body first, so
        // it finds no grant type; the users API finds no token.
        (
            http()
                .post(format!("{base}/oauth2/token/"))
                .header("authorization", garbage.clone())
                .header(
                    "content-type",
                    reqwest::header::HeaderValue::from_bytes(b"\xff").unwrap(),
                ),
            expect(400, json!({"error": "unsupported_grant_type"})),
        ),
        (
            http()
                .get(users_url(&emulator))
                .header("authorization", garbage.clone()),
            status(401),
        ),
        (
            http()
                .post(format!("{base}/v2/auth/cybrillarta/token"))
                .header("authorization", garbage)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials"),
            status(401).field("error", json!("invalid_client")),
        ),
        // Oversized bodies are 413 as JSON, before any credential is looked at.
        (
            http()
                .post(format!("{base}/oauth2/token/"))
                .body(big.clone()),
            expect(
                413,
                json!({"detail": "Request body larger than 65536 bytes."}),
            ),
        ),
        (
            http()
                .post(format!("{base}/oauth2/token/"))
                .header(
                    "authorization",
                    basic(&credentials.client_id, &credentials.client_secret),
                )
                .header("content-type", "application/json")
                .body(big.clone()),
            expect(
                413,
                json!({"detail": "Request body larger than 65536 bytes."}),
            ),
        ),
        (
            http()
                .post(format!("{base}/poa/auth/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(big.clone()),
            status(413),
        ),
        (
            http()
                .post(users_url(&emulator))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(big),
            status(413),
        ),
        // Deep nesting, unknown methods.
        (
            http()
                .post(users_url(&emulator))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(deep),
            expect(400, json!({"detail": "JSON parse error"})),
        ),
        (
            http().patch(users_url(&emulator)),
            status(405).header("content-type", "application/json"),
        ),
    ];
    for (n, (request, expect)) in rows.into_iter().enumerate() {
        expect.check(&send(request).await, &format!("request {n}"));
    }
    // Raw bytes that are not HTTP at all.
    let mut stream = std::net::TcpStream::connect(emulator.addr()).unwrap();
    std::io::Write::write_all(&mut stream, b"\x00\xffNOT HTTP\r\n\r\n").unwrap();
    drop(stream);
    // Still serving.
    assert_eq!(podero_token(&emulator).await.len(), 30);
}
