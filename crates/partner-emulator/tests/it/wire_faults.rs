//! Faults written byte by byte on the socket, as a plain reqwest client (and, where the bytes
//! matter, a plain TCP client) observes them, with short deadlines. Each test also shows that
//! the fault's connection is gone once the client is.

use std::io::ErrorKind;
use std::time::Duration;

use partner_emulator::{Emulator, Endpoint, Fault};

use crate::support::*;

const SHORT: Duration = Duration::from_millis(300);
const DEADLINE: Duration = Duration::from_secs(5);

/// Waits until the emulator has closed every connection.
async fn all_closed(emulator: &Emulator) {
    wait_until(DEADLINE, "every connection is closed", || {
        emulator.open_connections() == 0
    })
    .await;
}

fn token_request(emulator: &Emulator, client: &reqwest::Client) -> reqwest::RequestBuilder {
    let credentials = emulator.podero_credentials();
    client
        .post(format!("{}/oauth2/token/", emulator.base_url()))
        .header(
            "authorization",
            basic(&credentials.client_id, &credentials.client_secret),
        )
        .header("content-type", "application/json")
        .body(GRANT)
}

/// A transport error: no status, not a timeout.
#[track_caller]
fn assert_broken(error: &reqwest::Error) {
    assert!(error.status().is_none(), "{error:?}");
    assert!(!error.is_timeout(), "{error:?}");
}

#[tokio::test]
async fn reset_mid_headers() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject_fault(Endpoint::PoderoToken, Fault::reset_mid_headers().times(2));
    let error = token_request(&emulator, &http()).send().await.unwrap_err();
    assert_broken(&error);
    // The bytes: the start of a head, then a reset.
    let (received, end) =
        raw_exchange(&emulator, &raw_token_request(&emulator), DEADLINE, 1 << 20).await;
    assert_eq!(received, b"HTTP/1.1 200 OK\r\nContent-Type: application/js");
    assert_eq!(end, Some(ErrorKind::ConnectionReset));
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 2);
    assert_eq!(logged_statuses(&emulator, Endpoint::PoderoToken), [0, 0]);
    // The next request is served.
    assert_eq!(podero_token(&emulator).await.len(), 30);
    all_closed(&emulator).await;
}

#[tokio::test]
async fn truncated_body() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject_fault(Endpoint::PoderoToken, Fault::truncated_body());
    let mut response = token_request(&emulator, &http()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let promised: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut received = Vec::new();
    let error = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => panic!("the body ended normally after {} bytes", received.len()),
            Err(error) => break error,
        }
    };
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    assert_eq!(received.len(), promised / 2, "half the token response");
    assert!(received.starts_with(br#"{"access_token":""#));
    assert_eq!(logged_statuses(&emulator, Endpoint::PoderoToken), [200]);
    drop(response);
    all_closed(&emulator).await;
}

#[tokio::test]
async fn slow_headers_and_slow_body() {
    let emulator = Emulator::builder().start().await.unwrap();
    // 20 bytes a second: the head does not arrive within the client's timeout.
    emulator.inject_fault(Endpoint::PoderoToken, Fault::slow_headers(20));
    let error = token_request(&emulator, &impatient(SHORT))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    // Fast enough, the answer is whole and valid.
    emulator.inject_fault(Endpoint::PoderoToken, Fault::slow_headers(20_000));
    let got = send(token_request(&emulator, &http())).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["expires_in"], 36000);

    // The head at once, the body a byte at a time: the client has the status, then only a
    // few bytes before its deadline.
    emulator.inject_fault(Endpoint::PoderoToken, Fault::slow_body(20));
    let mut response = token_request(&emulator, &http()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let promised: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut received = 0;
    let _ = tokio::time::timeout(SHORT, async {
        while let Ok(Some(chunk)) = response.chunk().await {
            received += chunk.len();
        }
    })
    .await;
    assert!(
        received >= 1 && received < promised,
        "{received} of {promised}"
    );
    drop(response);
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 3);
    all_closed(&emulator).await;
}

#[tokio::test]
async fn never_answer_holds_until_the_client_goes_away() {
    let emulator = Emulator::builder().start().await.unwrap();
    let token = podero_token(&emulator).await;
    emulator.inject_fault(Endpoint::ListUsers, Fault::never_answer());
    let error = impatient(SHORT)
        .get(users_url(&emulator))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(logged_statuses(&emulator, Endpoint::ListUsers), [0]);
    // The client dropped its connection on the timeout: the emulator's side ends too.
    all_closed(&emulator).await;
}

#[tokio::test]
async fn an_endless_informational_flood() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject_fault(Endpoint::PoaToken, Fault::informational_flood().times(2));
    let credentials = emulator.poa_credentials();
    let body = poa_form(&credentials.client_id, &credentials.client_secret);
    // hyper skips informational responses and waits for a final one that never comes.
    let error = impatient(SHORT)
        .post(format!("{}{}", emulator.base_url(), POA_PATHS[0]))
        .header("content-type", FORM)
        .body(body.clone())
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    all_closed(&emulator).await;
    // (Counted only if the emulator read it before the client gave up: on a loaded machine
    // it may not have.)
    let before = emulator.request_count(Endpoint::PoaToken);
    // The bytes: `100 Continue`, again and again.
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\nContent-Length: {}\r\n\r\n{body}",
        POA_PATHS[0],
        body.len()
    );
    let (received, end) = raw_exchange(&emulator, request.as_bytes(), DEADLINE, 64 * 1024).await;
    assert_eq!(
        end,
        Some(ErrorKind::FileTooLarge),
        "more than 64 KiB of them"
    );
    let one = b"HTTP/1.1 100 Continue\r\n\r\n";
    assert!(received.chunks(one.len()).all(|c| one.starts_with(c)));
    assert_eq!(emulator.request_count(Endpoint::PoaToken), before + 1);
    all_closed(&emulator).await;
}

#[tokio::test]
async fn oversized_bodies_plain_and_chunked() {
    let emulator = Emulator::builder().start().await.unwrap();
    let size = 1 << 20;
    emulator.inject_fault(Endpoint::PoderoToken, Fault::oversized_body(size));
    emulator.inject_fault(Endpoint::PoderoToken, Fault::oversized_chunked_body(size));
    for chunked in [false, true] {
        let response = token_request(&emulator, &http()).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let length = response.headers().get("content-length").cloned();
        let encoding = response.headers().get("transfer-encoding").cloned();
        if chunked {
            assert_eq!(
                (length, encoding.unwrap()),
                (None, "chunked".parse().unwrap())
            );
        } else {
            assert_eq!(length.unwrap(), size.to_string().as_str());
        }
        let body = response.bytes().await.unwrap();
        assert_eq!(body.len() as u64, size, "chunked: {chunked}");
        assert!(body.starts_with(br#"{"error":"oversized"} "#));
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["error"], "oversized");
    }
    // Far more than anyone reads: a client that stops reading and leaves ends the stream.
    emulator.inject_fault(
        Endpoint::PoderoToken,
        Fault::oversized_chunked_body(u64::MAX),
    );
    let mut response = token_request(&emulator, &http()).send().await.unwrap();
    let mut received = 0;
    while received < 256 * 1024 {
        received += response.chunk().await.unwrap().unwrap().len();
    }
    drop(response);
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 3);
    assert_eq!(
        logged_statuses(&emulator, Endpoint::PoderoToken),
        [200, 200, 200]
    );
    all_closed(&emulator).await;
}

#[tokio::test]
async fn conflicting_content_lengths() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject_fault(
        Endpoint::PoderoToken,
        Fault::conflicting_content_length().times(2),
    );
    let error = token_request(&emulator, &http()).send().await.unwrap_err();
    assert_broken(&error);
    let (received, end) =
        raw_exchange(&emulator, &raw_token_request(&emulator), DEADLINE, 1 << 20).await;
    assert_eq!(end, None, "the emulator closes the connection");
    let text = String::from_utf8(received).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let lengths: Vec<&str> = head
        .lines()
        .filter_map(|line| line.strip_prefix("content-length: "))
        .collect();
    assert_eq!(
        lengths,
        [body.len().to_string(), (body.len() + 1).to_string()]
    );
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    all_closed(&emulator).await;
}

/// Dropping the emulator ends every fault in progress at once, however long it would last.
#[tokio::test]
async fn dropping_the_emulator_ends_every_fault_in_progress() {
    let emulator = Emulator::builder().start().await.unwrap();
    let token = podero_token(&emulator).await;
    emulator.inject_fault(Endpoint::ListUsers, Fault::never_answer());
    emulator.inject_fault(Endpoint::PoaToken, Fault::informational_flood());
    emulator.inject_fault(Endpoint::PoderoToken, Fault::slow_body(1));
    emulator.inject_fault(Endpoint::GetUser, Fault::oversized_body(u64::MAX));
    let base = emulator.base_url().to_owned();
    let client = http();
    let calls = [
        tokio::spawn(client.get(users_url(&emulator)).bearer_auth(&token).send()),
        tokio::spawn(client.post(format!("{base}{}", POA_PATHS[0])).send()),
        tokio::spawn(token_request(&emulator, &client).send()),
        tokio::spawn(
            client
                .get(format!("{}/{}", users_url(&emulator), uuid::Uuid::new_v4()))
                .send(),
        ),
    ];
    wait_until(DEADLINE, "every faulted request arrived", || {
        emulator.counters().total() == 5
    })
    .await;
    drop(emulator);
    for call in calls {
        let outcome = tokio::time::timeout(DEADLINE, async {
            let response = call.await.unwrap()?;
            response.bytes().await
        })
        .await
        .expect("the faulted request must end with the emulator");
        assert!(outcome.is_err(), "{outcome:?}");
    }
}

/// A graceful shutdown waits up to 5 s for requests in flight, but not for faults: they stop
/// at once.
#[tokio::test]
async fn shutdown_does_not_wait_for_faults() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject_fault(Endpoint::PoderoToken, Fault::never_answer());
    emulator.inject_fault(Endpoint::PoaToken, Fault::informational_flood());
    let client = http();
    let held = tokio::spawn(token_request(&emulator, &client).send());
    let flooded = tokio::spawn(
        client
            .post(format!("{}{}", emulator.base_url(), POA_PATHS[0]))
            .send(),
    );
    wait_until(DEADLINE, "both requests arrived", || {
        emulator.counters().total() == 2
    })
    .await;
    tokio::time::timeout(Duration::from_secs(3), emulator.shutdown())
        .await
        .expect("shutdown must not wait for the faults");
    for call in [held, flooded] {
        let outcome = tokio::time::timeout(DEADLINE, call).await.unwrap().unwrap();
        assert!(outcome.is_err(), "{outcome:?}");
    }
}
